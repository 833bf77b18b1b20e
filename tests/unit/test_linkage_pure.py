"""Linkage's pure parts: components, calibration, key graph, rotation of index keys."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from guichet.errors import Conflict
from guichet.linkage import keygraph
from guichet.linkage.calibration import MIN_LABELS, fit, reliability
from guichet.linkage.components import components
from guichet.linkage.rotation import rotate_keys

pytestmark = pytest.mark.unit


def test_components_join_nodes_sharing_an_ano_transitively() -> None:
    # nodes 0-1 share ano 0, nodes 1-2 share ano 1, node 3 alone, node 4-5 share ano 2
    label = components(6, np.array([0, 1, 1, 2, 4, 5]), np.array([0, 0, 1, 1, 2, 2]))
    assert label.tolist() == [0, 0, 0, 3, 4, 4]


def test_components_without_edges_are_singletons() -> None:
    assert components(3, np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == [0, 1, 2]


def test_long_chain_converges() -> None:
    n = 200
    nodes = np.repeat(np.arange(n), 2)[1:-1]
    anos = np.repeat(np.arange(n - 1), 2)
    assert set(components(n, nodes, anos).tolist()) == {0}


def test_calibration_is_identity_below_the_minimum_of_labels() -> None:
    cal = fit([(0.9, True)] * (MIN_LABELS - 1))
    assert not cal.active and cal.apply(0.42) == 0.42


def test_calibration_pulls_overconfident_scores_down_and_is_monotone() -> None:
    pairs = [(0.95, i % 2 == 0) for i in range(100)] + [(0.55, i % 10 == 0) for i in range(100)]
    pairs += [(0.999, True)] * 100
    cal = fit(pairs)
    assert cal.active
    assert 0.4 < cal.apply(0.95) < 0.6
    assert cal.apply(0.55) < cal.apply(0.95) <= cal.apply(0.999)
    values = cal.calibrated
    assert values == sorted(values)


def test_reliability_bins_count_every_pair() -> None:
    pairs = [(i / 100, i % 3 == 0) for i in range(100)]
    assert sum(b.n for b in reliability(pairs)) == 100


def test_key_graph_from_the_snds_join_graph() -> None:
    e = keygraph.edge("ER_PHA_F", "ER_PRS_F")
    assert len(e.columns) == 9 and ("FLX_DIS_DTD", "FLX_DIS_DTD") in e.columns
    assert keygraph.edge("T_MCOaaC", "IR_BEN_R").columns == (("NIR_ANO_17", "BEN_NIR_PSA"),)
    assert keygraph.edge("T_MCOaaB", "T_MCOaaC").columns == (("ETA_NUM", "ETA_NUM"), ("RSA_NUM", "RSA_NUM"))
    # a stay's diagnoses follow the stay's chaining row on the stay key, not the stay row (which quarantine may drop)
    assert keygraph.propagation_edge("T_MCOaaD") == keygraph.Edge(
        "T_MCOaaD", "T_MCOaaC", (("ETA_NUM", "ETA_NUM"), ("RSA_NUM", "RSA_NUM")))
    assert keygraph.propagation_edge("T_MCOaaB").target == "T_MCOaaC"  # type: ignore[union-attr]
    assert keygraph.propagation_edge("IR_BEN_R") is None  # an anchor
    assert keygraph.logical_table("T_MCO23C") == "T_MCOaaC" and keygraph.table_year("T_MCO23C") == "23"


def test_rotation_rewrites_pseudonym_keys_only_and_is_idempotent() -> None:
    table = pa.table({"kind": ["psa_rank", "ano", "hospital_psa", "death_certificate"],
                      "key": ["OLDPSA:2", "OLDANO", "OLDPSA", "DC1"], "person_id": ["P1", "P1", "P1", "P1"]})
    mapping = {"OLDPSA": "NEWPSA", "OLDANO": "NEWANO"}
    rotated, changed = rotate_keys(table, mapping, set(mapping.values()))
    assert rotated.column("key").to_pylist() == ["NEWPSA:2", "NEWANO", "NEWPSA", "DC1"] and changed == 3
    again, changed_again = rotate_keys(rotated, mapping, set(mapping.values()))
    assert again.equals(rotated) and changed_again == 0
    with pytest.raises(Conflict):
        rotate_keys(table, {"OLDPSA": "NEWPSA"}, {"NEWPSA"})
