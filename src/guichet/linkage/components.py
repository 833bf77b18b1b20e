"""Connected components of the node–``ano`` graph (pure, numpy): a person with several ``psa`` pseudonyms
over life (a child on a parent's rights, then on their own) is one component through their ``ano``."""

from __future__ import annotations

import numpy as np


def components(n_nodes: int, edge_node: np.ndarray, edge_ano: np.ndarray) -> np.ndarray:
    """Label each node with the smallest node id of its component (min-label propagation over the
    bipartite graph; converges in as many rounds as the longest chain, two or three in practice)."""
    label = np.arange(n_nodes, dtype=np.int64)
    if edge_node.size == 0:
        return label
    edge_node = edge_node.astype(np.int64)
    edge_ano = edge_ano.astype(np.int64)
    n_ano = int(edge_ano.max()) + 1
    while True:
        ano_label = np.full(n_ano, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(ano_label, edge_ano, label[edge_node])
        new = label.copy()
        np.minimum.at(new, edge_node, ano_label[edge_ano])
        # pointer jumping keeps long chains short
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new
