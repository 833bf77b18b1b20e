"""Every deposited row keeps the name its file has in the producer's layout (as the synthetic truth names it)."""

from __future__ import annotations

from pathlib import Path

from guichet.deposit.manifest import _label, _series_prefix


def test_label_is_the_path_under_the_deposited_folder(tmp_path: Path) -> None:
    root = tmp_path / "delivery"
    assert _label(root, root / "delivery-02" / "ER_PRS_F.csv", "") == "delivery-02/ER_PRS_F"
    assert _label(root, root / "ER_PRS_F.csv", "") == "ER_PRS_F"


def test_a_delivery_of_a_series_deposited_from_its_own_folder_keeps_its_rank(tmp_path: Path) -> None:
    one = tmp_path / "delivery-02-level1"
    assert _series_prefix(one, one, {"sequence": 2, "of": 3}) == "delivery-02/"
    assert _label(one, one / "ER_PRS_F.csv", "delivery-02/") == "delivery-02/ER_PRS_F"
    assert _series_prefix(one, one, {"sequence": 1, "of": 1}) == ""
    assert _series_prefix(one, one, None) == ""
    # deposited from the series' root: the folder already says which delivery
    assert _series_prefix(tmp_path, one, {"sequence": 2, "of": 3}) == ""
