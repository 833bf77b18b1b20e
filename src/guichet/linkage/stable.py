"""Stable person ids across runs (SQL over the previous index).

Each component of this run holds keys (``psa_rank``, ``ano``). A previous person id is *owned* by the
component holding most of its keys (ties: the smallest key). A component keeps the smallest previous id
it owns; the other ids it owns are *merged* into it (an event with its reason); a component that owns no
previous id gets a new one — a *split* event when some of its keys belonged to a previous person. Ids
are ``P`` + 10 digits, numbered after the largest ever issued, in the order of each component's
smallest key, so that a run is deterministic.
"""

from __future__ import annotations

from guichet.engine import Engine
from guichet.linkage.sqlkit import create_table, rows, scalar


def assign(engine: Engine, next_number: int) -> tuple[int, list[dict[str, str]]]:
    """From ``lk_comp_keys(comp, kind, key)`` and ``lk_prev(kind, key, person_id)`` make
    ``lk_comp_person(comp, person_id)``; returns the next free number and the events."""
    create_table(engine, "lk_cp", """
        SELECT k.comp, p.person_id AS prev, count(*) AS n, min(k.key) AS min_key
        FROM lk_comp_keys AS k JOIN lk_prev AS p ON p.kind = k.kind AND p.key = k.key
        WHERE p.person_id IS NOT NULL GROUP BY 1, 2""", "linkage: previous ids per component")
    create_table(engine, "lk_owner", """
        SELECT prev, comp FROM (
          SELECT prev, comp, row_number() OVER (PARTITION BY prev ORDER BY n DESC, min_key) AS r FROM lk_cp)
        WHERE r = 1""", "linkage: owner of each previous id")
    create_table(engine, "lk_kept", "SELECT comp, min(prev) AS person_id FROM lk_owner GROUP BY comp",
                 "linkage: ids kept")
    create_table(engine, "lk_comp_min", "SELECT comp, min(kind || ':' || key) AS min_key FROM lk_comp_keys "
                 "GROUP BY comp", "linkage: component order")
    create_table(engine, "lk_comp_person", """
        SELECT c.comp, coalesce(k.person_id, 'P' || lpad(cast(:start + row_number() OVER (
                 PARTITION BY k.person_id IS NULL ORDER BY c.min_key) - 1 AS VARCHAR), 10, '0')) AS person_id,
               k.person_id IS NULL AS is_new
        FROM lk_comp_min AS c LEFT JOIN lk_kept AS k ON k.comp = c.comp""", "linkage: person ids",
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
