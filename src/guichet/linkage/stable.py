"""Stable person ids across runs (SQL over the previous index).

Each component of this run holds keys (``psa_rank``, ``ano``). A previous person id is *owned* by the
component holding most of its keys (ties: the smallest key). A component keeps the smallest previous id
it owns; the other ids it owns are *merged* into it (an event with its reason); a component that owns no
previous id gets a new one — a *split* event when some of its keys belonged to a previous person. Ids
are ``P`` + 10 digits, numbered after the largest ever issued, in the order of each component's
smallest key (``lk_comp_stats.rank``, see ``deterministic.build_components``), so that a run is
deterministic.

The previous index's keys are matched to this run's nodes and ``ano`` edges as they are (``psa:rank`` split
back into its two parts), so that no key text is built for the ~one node per person of this run.
"""

from __future__ import annotations

from guichet.engine import Engine
from guichet.linkage.sqlkit import create_table, rows, scalar


def assign(engine: Engine, next_number: int) -> tuple[int, list[dict[str, str]]]:
    """From ``lk_nodes``, ``lk_ano_edges``, ``lk_comp``, ``lk_comp_stats`` and ``lk_prev(kind, key,
    person_id)`` make ``lk_comp_person(comp, person_id, person_no, is_new)``; returns the next free number
    and the events."""
    create_table(engine, "lk_cp", """
        SELECT comp, prev, count(*) AS n, min(key) AS min_key FROM (
          SELECT c.comp, p.person_id AS prev, p.key
          FROM (SELECT person_id, key, split_part(key, ':', 1) AS psa, split_part(key, ':', 2) AS rng
                FROM lk_prev WHERE kind = 'psa_rank' AND person_id IS NOT NULL) AS p
          JOIN lk_nodes AS n ON n.psa = p.psa AND CAST(n.rng AS VARCHAR) = p.rng
          JOIN lk_comp AS c ON c.node = n.node
          UNION ALL
          SELECT DISTINCT c.comp, p.person_id, p.key
          FROM (SELECT person_id, key FROM lk_prev WHERE kind = 'ano' AND person_id IS NOT NULL) AS p
          JOIN lk_ano_edges AS e ON e.ano = p.key AND e.via = 'ano'
          JOIN lk_comp AS c ON c.node = e.node)
        GROUP BY 1, 2""", "linkage: previous ids per component")
    create_table(engine, "lk_owner", """
        SELECT prev, comp FROM (
          SELECT prev, comp, row_number() OVER (PARTITION BY prev ORDER BY n DESC, min_key) AS r FROM lk_cp)
        WHERE r = 1""", "linkage: owner of each previous id")
    create_table(engine, "lk_kept", "SELECT comp, min(prev) AS person_id FROM lk_owner GROUP BY comp",
                 "linkage: ids kept")
    create_table(engine, "lk_comp_person", """
        SELECT comp, person_id, CAST(substr(person_id, 2) AS BIGINT) AS person_no, is_new FROM (
          SELECT s.comp, coalesce(k.person_id, 'P' || lpad(CAST(:start + row_number() OVER (
                   PARTITION BY k.person_id IS NULL ORDER BY s.rank) - 1 AS VARCHAR), 10, '0')) AS person_id,
                 k.person_id IS NULL AS is_new
          FROM lk_comp_stats AS s LEFT JOIN lk_kept AS k ON k.comp = s.comp)""", "linkage: person ids",
                 start=next_number)
    new = int(scalar(engine, "SELECT count(*) FROM lk_comp_person WHERE is_new", "linkage: new ids") or 0)
    events: list[dict[str, str]] = []
    for person_id, absorbed in rows(engine, """
            SELECT k.person_id, o.prev FROM lk_owner AS o JOIN lk_kept AS k ON k.comp = o.comp
            WHERE o.prev <> k.person_id ORDER BY 1, 2""", "linkage: merges"):
        events.append({"kind": "merge", "person_id": person_id, "other": absorbed,
                       "reason": "their keys are now connected through a shared ano pseudonym"})
    for person_id, prev in rows(engine, """
            SELECT DISTINCT cp.person_id, c.prev FROM lk_cp AS c JOIN lk_comp_person AS cp ON cp.comp = c.comp
            WHERE cp.is_new ORDER BY 1, 2""", "linkage: splits"):
        events.append({"kind": "split", "person_id": person_id, "other": prev,
                       "reason": "keys of a previous person are no longer connected to the rest"})
    return next_number + new, events
