"""Every cell ACRO flags, the airlock flags too (the issue's target, on a small set of tables; the full
comparison and its figures are benchmarks/airlock_acro.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("acro", reason="ACRO is the airlock-bench extra (pip install guichet[airlock-bench])")

from tests.airlock_acro_support import COUNT_SPECS, MAGNITUDE_SPECS, compare, make_acro, microdata

pytestmark = pytest.mark.spec


def test_every_cell_acro_flags_is_flagged_and_safe_tables_mostly_agree() -> None:
    acro = make_acro()
    unsafe = compare(microdata(120, seed=1, rare=0.05, dominant=2, zeros=True, negatives=0),
                     COUNT_SPECS[:2] + MAGNITUDE_SPECS[:3], acro)
    assert unsafe.acro_flagged >= 5, "the unsafe tables must give ACRO something to flag"
    assert unsafe.missed == []
    multi = compare(microdata(80, seed=2, rare=0.1, dominant=1, records_per_person=3),
                    COUNT_SPECS[:1] + MAGNITUDE_SPECS[:1], acro)
    assert multi.missed == []  # persons, not records: stricter, never looser
    safe = compare(microdata(3000, seed=3), COUNT_SPECS[1:3] + MAGNITUDE_SPECS[:1], acro)
    assert safe.missed == []
    assert safe.extra_cells <= 0.02 * safe.cells, safe.extra
