"""Whatever a CSV holds, the airlock answers a verdict or a one-line BadInput, never another exception; a
plain CSV is never "pass"; and a cell under the threshold never passes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guichet.airlock.check import check_file
from guichet.errors import BadInput

pytestmark = pytest.mark.property

cell = st.one_of(st.integers(-5, 500).map(str), st.sampled_from(["", "Total", "ALL", "x", "1,5", "2.5", "NA"]),
                 st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567;,\"\n", max_size=20))


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(cell, min_size=1, max_size=5), min_size=0, max_size=12), st.sampled_from([",", ";"]))
def test_any_csv_gets_a_verdict_or_bad_input(rows: list[list[str]], sep: str) -> None:
    text = "\n".join(sep.join(r) for r in rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_text(text, encoding="utf-8")
        try:
            result = check_file(path)
        except BadInput:
            return
        assert result.status in ("review", "fail")  # no helper metadata: never pass
        for c in result.cells:
            assert c.verdict in ("pass", "review", "fail")
            if c.value.strip().isdigit() and 0 < int(c.value) < 11 and "identifier" not in c.reasons:
                assert c.verdict == "fail", (c, result.header)
