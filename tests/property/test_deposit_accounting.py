"""Hypothesis: whatever bytes a CSV holds, the deposit either rejects the file whole or accounts for every
row (rows in = accepted + quarantined), and never crashes."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.actor import system_actor
from guichet.deposit import services as deposits
from guichet.deposit.run import single_file_request
from guichet.errors import GuichetError
from tests.conftest import make_hub, test_producer

cell = st.one_of(st.sampled_from(["1", "x", "", "2020-01-01", '"q;"', '"a\nb"', "é", "01/02/2020", "-3"]),
                 st.text(alphabet="ab1;\"\n\r", max_size=4))
row = st.lists(cell, min_size=1, max_size=5).map(lambda cells: ";".join(cells))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=12), crlf=st.booleans())
def test_every_row_is_accounted_for(tmp_path_factory, rows: list[str], crlf: bool) -> None:
    tmp: Path = tmp_path_factory.mktemp("p")
    hub = make_hub(tmp)
    try:
        schema = tmp / "s.json"
        schema.write_text(json.dumps({"name": "T", "primaryKey": ["A"], "fields": [
            {"name": "A", "type": "integer"}, {"name": "B", "type": "date"}, {"name": "C", "type": "string"}]}))
        nl = "\r\n" if crlf else "\n"
        f = tmp / "t.csv"
        f.write_text(nl.join(["A;B;C", *rows]) + nl, encoding="utf-8")
        try:
            [r] = deposits.deposit(hub, system_actor(), request=single_file_request(f, "T", schema, test_producer(hub),
                                                                                      "replace", []))
        except GuichetError as exc:
            assert "not a table" in exc.message or "engine" in exc.message
            return
        assert r.rows_in == r.rows_accepted + r.rows_quarantined
    finally:
        hub.close()
