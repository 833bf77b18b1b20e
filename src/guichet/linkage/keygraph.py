"""The SNDS key graph: which columns join which tables (``data/snds_join_graph.csv``, from dico-snds via
``shared/data/snds/derived/snds_join_graph_from_dico.csv``, MPL-2.0 — see ``data/LICENSE-schema-snds.txt``).

Linkage gives a person id to three *anchor* tables — beneficiaries (``IR_BEN_R``, on ``psa`` pseudonym +
rank), hospital patients (``T_MCOaaC``, on the hospital pseudonym after the return-code filter) and death
certificates (``KI_CCI_R``, by indirect matching) — and every other delivered table receives its person
through a join of this graph towards an anchor (``IR_IMB_R`` → ``IR_BEN_R``, ``ER_PHA_F`` → ``ER_PRS_F`` on
the 9-key DCIR join, ``T_MCOaaB``/``T_MCOaaD`` → the stay...). One edge is the hub's own: a cause line
(``KI_ECD_R``) belongs to its certificate (``KI_CCI_R``) on ``DCD_IDT_ENC``, which the graph lacks; and a stay's
diagnoses (``T_MCOaaD``) take their person from the stay's chaining row (``T_MCOaaC``) on the stay key
``ETA_NUM + RSA_NUM`` that every MCO table shares, rather than through the stay row (``T_MCOaaB``): a stay row
quarantined for a defect of its own would otherwise leave its sound diagnoses without a person.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Hub additions to the published graph (documented in docs/linkage.md).
EXTRA_EDGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("KI_ECD_R", "KI_CCI_R", ("DCD_IDT_ENC",)),
    ("T_MCOaaD", "T_MCOaaC", ("ETA_NUM", "RSA_NUM")),
)
# Tables whose rows get their person through the graph, towards these targets (first found wins).
PROPAGATION: dict[str, str] = {
    "IR_IMB_R": "IR_BEN_R",
    "ER_PHA_F": "ER_PRS_F",
    "T_MCOaaB": "T_MCOaaC",
    "T_MCOaaD": "T_MCOaaC",
    "KI_ECD_R": "KI_CCI_R",
}
# Claims (ER_PRS_F) carry the psa pseudonym and rank themselves: they link on the nodes, like IR_BEN_R.
ANCHORS = ("IR_BEN_R", "ER_PRS_F", "T_MCOaaC", "KI_CCI_R")
_YEARLY = re.compile(r"^(T_(?:MCO|HAD|SSR|RIP))(\d\d)([A-Z]+)$")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    columns: tuple[tuple[str, str], ...]  # (source column, target column)


def logical_table(name: str) -> str:
    """``T_MCO23C`` → ``T_MCOaaC``; other names unchanged."""
    m = _YEARLY.match(name)
    return f"{m.group(1)}aa{m.group(3)}" if m else name


def table_year(name: str) -> str | None:
    m = _YEARLY.match(name)
    return m.group(2) if m else None


def _columns(spec: str) -> tuple[tuple[str, str], ...]:
    first = spec.split("|")[0].strip()
    pairs = []
    if "=>" in first:
        left, right = (side.strip() for side in first.split("=>"))
        lcols, rcols = [c.strip().upper() for c in left.split("+")], [c.strip().upper() for c in right.split("+")]
        pairs = list(zip(lcols, rcols, strict=True))
    else:
        pairs = [(c.strip().upper(), c.strip().upper()) for c in first.split("+")]
    return tuple(pairs)


@lru_cache(maxsize=1)
def edges() -> tuple[Edge, ...]:
    found: list[Edge] = []
    text = resources.files("guichet.linkage").joinpath("data/snds_join_graph.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines(), delimiter=";"):
        spec = row["join_vars"]
        found.append(Edge(row["source_table"], row["target_table"], _columns(spec)))
        if "Bidirectionnel" in spec:
            found.append(Edge(row["target_table"], row["source_table"],
                              tuple((b, a) for a, b in _columns(spec))))
    for source, target, cols in EXTRA_EDGES:
        found.insert(0, Edge(source, target, tuple((c, c) for c in cols)))  # the hub's edges win
    return tuple(found)


def edge(source: str, target: str) -> Edge:
    for e in edges():
        if e.source == source and e.target == target:
            return e
    raise KeyError(f"no join from {source} to {target} in the SNDS key graph")


def propagation_edge(table: str) -> Edge | None:
    """The join through which ``table``'s rows receive their person (None for anchors and unknown tables)."""
    target = PROPAGATION.get(table)
    return edge(table, target) if target else None


def propagation_order() -> list[str]:
    """Tables in an order where each one's target is done before it."""
    done: list[str] = list(ANCHORS)
    pending = dict(PROPAGATION)
    while pending:
        ready = [t for t, target in pending.items() if target in done]
        if not ready:  # pragma: no cover - a cycle in PROPAGATION
            raise RuntimeError("cycle in the propagation plan")
        for t in sorted(ready):
            done.append(t)
            del pending[t]
    return done[len(ANCHORS):]
