"""Deterministic linkage along the key graph.

1. *Nodes* are the (``psa`` pseudonym, rank) pairs of beneficiaries and claims — rows under a fictitious
   NIR (``BEN_CDI_NIR`` ≠ ``00``) are not nodes: such a NIR covers anonymous care and is shared by design,
   so its rows stay unlinked with the reason ``fictitious_nir``.
2. Nodes sharing an ``ano`` pseudonym (the person's own NIR) are one person: components of that graph.
3. Hospital stays whose return codes are all ``0`` link on the hospital pseudonym (a ``psa``, no rank):
   one person → linked; several (same-sex twins share the pseudonym) → ``ambiguous_twins``, not guessed.
4. Every other table gets its person through the key graph (``keygraph.PROPAGATION``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from guichet.engine import Engine
from guichet.linkage import keygraph
from guichet.linkage.components import components
from guichet.linkage.prepare import PSEUDONYM
from guichet.linkage.sqlkit import build, create_table
from guichet.linkage.stable import assign

LINKS_COLUMNS = "_table, _row, logical, person_id, method, confidence, reason"
LINKS_TABLE = "lk_row_links"  # where later stages insert their row links (``lk_links`` is a view)


def _valid(col: str) -> str:
    return f"({col} IS NOT NULL AND regexp_full_match({col}, :pseudonym))"


def build_nodes(engine: Engine) -> None:
    """Nodes without a DISTINCT over the claims: the beneficiaries' keys (a small table), then only the
    claims' keys no beneficiary holds — an anti-join probing the beneficiaries' keys, whose result (claims
    under an unknown key) is small enough to be made distinct cheaply."""
    create_table(engine, "lk_ben_keys", "SELECT DISTINCT psa, rng FROM lk_ben WHERE NOT fict AND psa IS NOT NULL",
                 "linkage: beneficiaries' keys")
    create_table(engine, "lk_nodes", f"""
        SELECT psa, rng, row_number() OVER () - 1 AS node FROM (
          SELECT psa, rng FROM lk_ben_keys
          UNION ALL
          SELECT DISTINCT c.psa, c.rng FROM lk_claims AS c
          ANTI JOIN lk_ben_keys AS b ON b.psa = c.psa AND b.rng = c.rng
          WHERE NOT c.fict AND c.psa IS NOT NULL)
        WHERE {_valid('psa')}""",
                 "linkage: nodes (psa, rank)", pseudonym=PSEUDONYM)
    create_table(engine, "lk_ano_edges", f"""
        SELECT DISTINCT n.node, b.ano, 'ano' AS via FROM lk_ben AS b
        JOIN lk_nodes AS n ON n.psa = b.psa AND n.rng = b.rng
        WHERE {_valid('b.ano')} AND NOT b.fict""", "linkage: ano edges", pseudonym=PSEUDONYM)
    rights_change(engine)


def rights_change(engine: Engine) -> None:
    """A child insured on a parent's rights has a ``psa`` of the parent's NIR, often without their own NIR
    recorded (no ``ano``); on their own rights, a new ``psa`` and an ``ano``. Such a node without ``ano``
    joins the node with an ``ano`` that has the same sex, birth year and month, rank and residence
    (commune) — only when each is the other's single candidate, never for twins, who share all of it."""
    create_table(engine, "lk_node_attr", """
        SELECT n.node, any_value(b.sex) AS sex, any_value(b.birth_year) AS birth_year,
               any_value(b.birth_month) AS birth_month, any_value(b.res_dpt) AS res_dpt,
               any_value(b.res_com) AS res_com, n.rng, n.psa,
               bool_or(e.node IS NOT NULL) AS has_ano, any_value(e.ano) AS ano
        FROM lk_nodes AS n JOIN lk_ben AS b ON b.psa = n.psa AND b.rng = n.rng AND NOT b.fict
        LEFT JOIN lk_ano_edges AS e ON e.node = n.node
        GROUP BY n.node, n.rng, n.psa""", "linkage: node attributes")
    create_table(engine, "lk_rights_pairs", """
        SELECT a.node AS a, b.node AS b, b.ano FROM lk_node_attr AS a JOIN lk_node_attr AS b
          ON a.sex = b.sex AND a.birth_year = b.birth_year AND a.birth_month = b.birth_month
         AND a.rng = b.rng AND a.res_dpt = b.res_dpt AND a.res_com = b.res_com AND a.psa <> b.psa
        WHERE NOT a.has_ano AND b.has_ano
        QUALIFY count(*) OVER (PARTITION BY a.node) = 1 AND count(*) OVER (PARTITION BY b.node) = 1""",
                 "linkage: rights-change candidates")
    engine.execute(build("INSERT INTO lk_ano_edges SELECT a, ano, 'rights_change' FROM lk_rights_pairs"),
                   purpose="linkage: rights-change edges")


def build_components(engine: Engine) -> None:
    """Components (``lk_comp``: node → comp) and their sizes and rights-change flag (``lk_comp_stats``),
    both computed in numpy from the edges (no count-distinct over the nodes in SQL)."""
    n_nodes = engine.fetch_all(build("SELECT count(*) FROM lk_nodes"), purpose="linkage: node count")[0][0]
    edges = engine.execute(build("SELECT node, dense_rank() OVER (ORDER BY ano) - 1 AS ano_id, "
                                 "via = 'rights_change' AS rights FROM lk_ano_edges"),
                           purpose="linkage: edges for components").fetchnumpy()
    edge_node = np.asarray(edges["node"], dtype=np.int64)
    label = components(int(n_nodes), edge_node, np.asarray(edges["ano_id"]))
    sizes = np.bincount(label, minlength=int(n_nodes))
    rights = np.zeros(int(n_nodes), dtype=bool)
    rights[label[edge_node[np.asarray(edges["rights"], dtype=bool)]]] = True
    comps = np.flatnonzero(sizes)
    engine.con.register("lk_comp_arrow", pa.table({"node": pa.array(np.arange(n_nodes, dtype=np.int64)),
                                                   "comp": pa.array(label)}))
    create_table(engine, "lk_comp", "SELECT node, comp FROM lk_comp_arrow", "linkage: components")
    engine.con.unregister("lk_comp_arrow")
    engine.con.register("lk_comp_stats_arrow", pa.table({"comp": pa.array(comps), "nodes": pa.array(sizes[comps]),
                                                         "rights": pa.array(rights[comps])}))
    create_table(engine, "lk_comp_stats", "SELECT comp, nodes, rights FROM lk_comp_stats_arrow",
                 "linkage: component sizes")
    engine.con.unregister("lk_comp_stats_arrow")
    create_table(engine, "lk_comp_keys", """
        SELECT c.comp, 'psa_rank' AS kind, n.psa || ':' || n.rng AS key
        FROM lk_nodes AS n JOIN lk_comp AS c ON c.node = n.node
        UNION ALL
        SELECT DISTINCT c.comp, 'ano' AS kind, e.ano AS key
        FROM lk_ano_edges AS e JOIN lk_comp AS c ON c.node = e.node WHERE e.via = 'ano'""", "linkage: component keys")


def person_ids(engine: Engine, next_number: int) -> tuple[int, list[dict[str, str]]]:
    """Assign stable ids; make ``lk_node_person(psa, rng, person_id, method)``."""
    nxt, events = assign(engine, next_number)
    create_table(engine, "lk_node_person", """
        SELECT n.psa, n.rng, cp.person_id,
               CASE WHEN s.rights THEN 'rights_change' WHEN s.nodes > 1 THEN 'ano' ELSE 'psa_rank' END AS method
        FROM lk_nodes AS n JOIN lk_comp AS c ON c.node = n.node
        JOIN lk_comp_person AS cp ON cp.comp = c.comp
        JOIN lk_comp_stats AS s ON s.comp = c.comp""",
                 "linkage: person of each node")
    create_table(engine, "lk_psa_persons", """
        SELECT psa, count(DISTINCT person_id) AS persons, min(person_id) AS person_id
        FROM lk_node_person GROUP BY psa""", "linkage: persons per hospital pseudonym")
    return nxt, events


def anchor_links(engine: Engine) -> None:
    """Row links of beneficiaries, claims and hospital stays: ``lk_links``, a view over ``lk_claim_links``
    (the claims: one join to the node persons, only the columns that vary materialised) and
    ``lk_row_links`` (every other table; later stages insert into it, see ``LINKS_TABLE``)."""
    pid_join = "LEFT JOIN lk_node_person AS np ON np.psa = t.psa AND np.rng = t.rng"
    # the pattern is only tried on rows left without a person (a regex per row would cost a scan)
    why = f"""CASE WHEN t.fict THEN 'fictitious_nir' WHEN np.person_id IS NOT NULL THEN NULL
                   WHEN NOT {_valid('t.psa')} THEN 'invalid_pseudonym' ELSE 'no_key' END"""
    create_table(engine, "lk_row_links", f"""
        SELECT t._table, t._row, 'IR_BEN_R' AS logical,
               CASE WHEN NOT t.fict THEN np.person_id END AS person_id,
               CASE WHEN NOT t.fict AND np.person_id IS NOT NULL THEN np.method END AS method,
               CASE WHEN NOT t.fict AND np.person_id IS NOT NULL
                    THEN CASE WHEN np.method = 'rights_change' THEN 0.95 ELSE 1.0 END END AS confidence,
               {why} AS reason
        FROM lk_ben AS t {pid_join}
        UNION ALL
        SELECT s._table, s._row, 'T_MCOaaC',
               CASE WHEN s.ret_ok AND p.persons = 1 THEN p.person_id END,
               CASE WHEN s.ret_ok AND p.persons = 1 THEN 'hospital_psa' END,
               CASE WHEN s.ret_ok AND p.persons = 1 THEN 1.0 END,
               CASE WHEN NOT s.ret_ok THEN 'return_code'
                    WHEN NOT {_valid('s.psa')} THEN 'invalid_pseudonym'
                    WHEN p.persons > 1 THEN 'ambiguous_twins'
                    WHEN p.person_id IS NULL THEN 'no_key' END
        FROM lk_stays AS s LEFT JOIN lk_psa_persons AS p ON p.psa = s.psa""",
                 "linkage: anchor row links (beneficiaries, stays)", pseudonym=PSEUDONYM)
    # fictitious NIRs never join (their keys are no node); method and confidence follow from the person
    create_table(engine, "lk_claim_links", f"""
        SELECT t._table, t._row, np.person_id, np.method, {why} AS reason
        FROM lk_claims AS t LEFT JOIN lk_node_person AS np
          ON np.psa = t.psa AND np.rng = t.rng AND NOT t.fict""",
                 "linkage: claim row links", pseudonym=PSEUDONYM)
    engine.execute(build(f"""
        CREATE OR REPLACE TEMP VIEW lk_links AS
        SELECT {LINKS_COLUMNS} FROM lk_row_links
        UNION ALL
        SELECT _table, _row, 'ER_PRS_F' AS logical, person_id, method,
               CASE WHEN method = 'rights_change' THEN 0.95 WHEN method IS NOT NULL THEN 1.0 END AS confidence,
               reason
        FROM lk_claim_links"""), purpose="linkage: row links (view)")


def propagate(engine: Engine, present: set[str]) -> None:
    """Give every other table's rows the person of the row they join to (key graph)."""
    for table in keygraph.propagation_order():
        e = keygraph.propagation_edge(table)
        if e is None or table not in present:
            continue
        yearly = table.startswith("T_") and e.target.startswith("T_")
        src_cols = ", ".join(f"trim({s}) AS k{i}" for i, (s, _) in enumerate(e.columns))
        tgt_cols = ", ".join(f"trim({t}) AS k{i}" for i, (_, t) in enumerate(e.columns))
        on = " AND ".join(f"s.k{i} = t.k{i}" for i in range(len(e.columns)))
        if yearly:
            on += " AND s._year IS NOT DISTINCT FROM t._year"
        create_table(engine, "lk_prop", f"""
            SELECT s._table, s._row, :logical AS logical, t.person_id,
                   CASE WHEN t.person_id IS NOT NULL THEN 'key_graph' END AS method, t.confidence,
                   CASE WHEN t._row IS NULL THEN 'no_key' WHEN t.person_id IS NULL THEN t.reason END AS reason
            FROM (SELECT _table, _row, _year, {src_cols} FROM raw_{table}) AS s
            LEFT JOIN (SELECT r._year, {tgt_cols.replace('trim(', 'trim(r.')}, any_value(l.person_id) AS person_id,
                              any_value(l.confidence) AS confidence, any_value(l.reason) AS reason,
                              any_value(r._row) AS _row
                       FROM raw_{e.target} AS r JOIN lk_links AS l ON l._table = r._table AND l._row = r._row
                       GROUP BY ALL) AS t ON {on}""", f"linkage: {table} through the key graph", logical=table)
        engine.execute(build(f"INSERT INTO {LINKS_TABLE} SELECT {LINKS_COLUMNS} FROM lk_prop"),
                       purpose=f"linkage: {table} links")
