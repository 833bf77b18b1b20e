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
import pyarrow.compute as pc

from guichet.engine import Engine
from guichet.linkage import keygraph
from guichet.linkage.components import components
from guichet.linkage.prepare import PSEUDONYM
from guichet.linkage.sqlkit import build, create_table, scalar
from guichet.linkage.stable import assign

LINKS_COLUMNS = "_table, _row, logical, person_id, method, confidence, reason"
LINKS_TABLE = "lk_row_links"  # where later stages insert their row links (``lk_links`` is a view)
KEY_HINT = "hash({t}psa, {t}rng)"  # a node key's 64-bit hash, only ever a hint (see build_nodes)


def _valid(col: str) -> str:
    return f"({col} IS NOT NULL AND regexp_full_match({col}, :pseudonym))"


def build_nodes(engine: Engine, *, exact: bool = False) -> None:
    """Nodes, with one grouped pass over the beneficiaries and one anti-join over the claims:

    - ``lk_ben_nodes``: the beneficiaries' keys (valid ``psa``, rank) with their attributes and the list of
      their valid ``ano`` pseudonyms (what rights-change matching and the ``ano`` edges need; made distinct
      per node only for the edges, on the short lists, not while grouping);
    - ``lk_claim_nodes``: the claims' keys no beneficiary holds. The anti-join probes the 64-bit hashes of
      the beneficiaries' keys (integers, not 17-character strings): a key whose hash no beneficiary's key has
      is surely not theirs; a key colliding with one would be missed, which ``link`` detects (a claim with a
      valid key and no person) and then redoes with ``exact=True`` (the anti-join on the keys themselves);
    - ``lk_nodes(node, psa, rng)``: both, numbered by their row id (no window over the rows)."""
    create_table(engine, "lk_ben_nodes", f"""
        SELECT psa, rng, any_value(sex) AS sex, any_value(birth_year) AS birth_year,
               any_value(birth_month) AS birth_month, any_value(res_dpt) AS res_dpt, any_value(res_com) AS res_com,
               list(ano) FILTER (WHERE {_valid('ano')}) AS anos
        FROM lk_ben WHERE NOT fict AND psa IS NOT NULL GROUP BY psa, rng HAVING {_valid('psa')}""",
                 "linkage: beneficiaries' nodes", pseudonym=PSEUDONYM)
    unknown = ("ANTI JOIN lk_ben_nodes AS b ON b.psa = c.psa AND b.rng = c.rng WHERE" if exact else
               f"WHERE {KEY_HINT.format(t='c.')} NOT IN (SELECT {KEY_HINT.format(t='')} FROM lk_ben_nodes) AND")
    create_table(engine, "lk_claim_nodes", f"""
        SELECT psa, rng FROM (
          SELECT DISTINCT c.psa, c.rng FROM lk_claims AS c
          {unknown} NOT c.fict AND c.psa IS NOT NULL)
        WHERE {_valid('psa')}""", "linkage: claims' nodes no beneficiary holds", pseudonym=PSEUDONYM)
    n_ben = int(scalar(engine, "SELECT count(*) FROM lk_ben_nodes", "linkage: beneficiaries' node count") or 0)
    create_table(engine, "lk_nodes", """
        SELECT rowid AS node, psa, rng FROM lk_ben_nodes
        UNION ALL SELECT :n_ben + rowid, psa, rng FROM lk_claim_nodes""", "linkage: nodes (psa, rank)", n_ben=n_ben)
    create_table(engine, "lk_ano_edges", """
        SELECT node, ano, 'ano' AS via FROM (SELECT rowid AS node, unnest(list_distinct(anos)) AS ano FROM lk_ben_nodes)""",
                 "linkage: ano edges")
    rights_change(engine)


def rights_change(engine: Engine) -> None:
    """A child insured on a parent's rights has a ``psa`` of the parent's NIR, often without their own NIR
    recorded (no ``ano``); on their own rights, a new ``psa`` and an ``ano``. Such a node without ``ano``
    joins the node with an ``ano`` that has the same sex, birth year and month, rank and residence
    (commune) — only when each is the other's single candidate, never for twins, who share all of it."""
    create_table(engine, "lk_rights_pairs", """
        WITH attr AS (
          SELECT rowid AS node, psa, rng, sex, birth_year, birth_month, res_dpt, res_com,
                 coalesce(len(anos), 0) > 0 AS has_ano, anos[1] AS ano
          FROM lk_ben_nodes)
        SELECT a.node AS a, b.node AS b, b.ano FROM attr AS a JOIN attr AS b
          ON a.sex = b.sex AND a.birth_year = b.birth_year AND a.birth_month = b.birth_month
         AND a.rng = b.rng AND a.res_dpt = b.res_dpt AND a.res_com = b.res_com AND a.psa <> b.psa
        WHERE NOT a.has_ano AND b.has_ano
        QUALIFY count(*) OVER (PARTITION BY a.node) = 1 AND count(*) OVER (PARTITION BY b.node) = 1""",
                 "linkage: rights-change candidates")
    engine.execute(build("INSERT INTO lk_ano_edges SELECT a, ano, 'rights_change' FROM lk_rights_pairs"),
                   purpose="linkage: rights-change edges")


def _fetch(engine: Engine, sql: str, purpose: str) -> pa.Table:
    return engine.arrow_table(build(sql), purpose=purpose)


def _register_table(engine: Engine, name: str, table: pa.Table, purpose: str) -> None:
    engine.con.register(name + "_arrow", table)
    create_table(engine, name, f"SELECT * FROM {name}_arrow", purpose)
    engine.con.unregister(name + "_arrow")


def build_components(engine: Engine) -> None:
    """Components in numpy, from the edges: ``lk_comp(node, comp)`` and ``lk_comp_stats(comp, nodes, rights,
    rank)``. The edges come sorted by ``ano`` (DuckDB sorts), so that an ``ano`` is numbered where it differs
    from the previous one (no window, no string hashing in Python). ``rank`` orders the components by their
    smallest key (``ano:<ano>`` before ``psa_rank:<psa>:<rank>``), the order in which new person ids are
    numbered (``stable``); ``lk_comp_keys`` (every key as text, for the index) is a view."""
    n_nodes = int(scalar(engine, "SELECT count(*) FROM lk_nodes", "linkage: node count") or 0)
    edges = _fetch(engine, "SELECT node, ano, via = 'rights_change' AS rights FROM lk_ano_edges ORDER BY ano, node",
                   "linkage: edges for components (sorted by ano)")
    edge_node = np.asarray(edges["node"].to_numpy(), dtype=np.int64)
    rights_edge = np.asarray(edges["rights"].to_numpy(zero_copy_only=False), dtype=bool)
    ano = edges["ano"].combine_chunks() if edges.num_rows else pa.array([], pa.string())
    new_ano = np.ones(len(ano), dtype=bool)
    if len(ano) > 1:
        new_ano[1:] = np.asarray(pc.not_equal(ano[1:], ano[:-1]).to_numpy(zero_copy_only=False), dtype=bool)
    ano_id = np.cumsum(new_ano, dtype=np.int64) - 1
    label = components(n_nodes, edge_node, ano_id)
    sizes = np.bincount(label, minlength=n_nodes)
    rights = np.zeros(n_nodes, dtype=bool)
    rights[label[edge_node[rights_edge]]] = True
    # order of the components by their smallest key: every 'ano:' key sorts before every 'psa_rank:' key;
    # psa pseudonyms have a fixed width, so (psa, rank as text) sorts as 'psa:rank' does
    by_psa = engine.execute(build("SELECT node FROM lk_nodes ORDER BY psa, CAST(rng AS VARCHAR)"),
                            purpose="linkage: nodes in key order").fetchnumpy()
    key_nodes = np.concatenate([edge_node[~rights_edge], np.asarray(by_psa["node"], dtype=np.int64)])
    first = np.full(n_nodes, key_nodes.size, dtype=np.int64)
    np.minimum.at(first, label[key_nodes], np.arange(key_nodes.size, dtype=np.int64))
    comps = np.flatnonzero(sizes)
    # first[comps] are distinct positions: rank = how many components start before (no sort)
    starts = np.zeros(key_nodes.size + 1, dtype=np.int64)
    starts[first[comps]] = 1
    rank = np.cumsum(starts)[first[comps]] - 1
    _register_table(engine, "lk_comp", pa.table({"node": pa.array(np.arange(n_nodes, dtype=np.int64)),
                                                 "comp": pa.array(label)}), "linkage: components")
    _register_table(engine, "lk_comp_stats", pa.table({"comp": pa.array(comps), "nodes": pa.array(sizes[comps]),
                                                       "rights": pa.array(rights[comps]), "rank": pa.array(rank)}),
                    "linkage: component sizes and order")
    engine.execute(build("""
        CREATE OR REPLACE TEMP VIEW lk_comp_keys AS
        SELECT c.comp, 'psa_rank' AS kind, n.psa || ':' || n.rng AS key
        FROM lk_nodes AS n JOIN lk_comp AS c ON c.node = n.node
        UNION ALL
        SELECT DISTINCT c.comp, 'ano' AS kind, e.ano AS key
        FROM lk_ano_edges AS e JOIN lk_comp AS c ON c.node = e.node WHERE e.via = 'ano'"""),
                   purpose="linkage: component keys (view)")


METHOD_CODES = ("psa_rank", "ano", "rights_change")  # lk_claim_links.method_code → method


def person_ids(engine: Engine, next_number: int) -> tuple[int, list[dict[str, str]]]:
    """Assign stable ids; make ``lk_node_person(node, psa, rng, person_no, person_id, method, method_code)``."""
    nxt, events = assign(engine, next_number)
    create_table(engine, "lk_node_person", """
        SELECT n.node, n.psa, n.rng, cp.person_no, cp.person_id,
               CASE WHEN s.rights THEN 'rights_change' WHEN s.nodes > 1 THEN 'ano' ELSE 'psa_rank' END AS method,
               CAST(CASE WHEN s.rights THEN 2 WHEN s.nodes > 1 THEN 1 ELSE 0 END AS UTINYINT) AS method_code
        FROM lk_nodes AS n JOIN lk_comp AS c ON c.node = n.node
        JOIN lk_comp_person AS cp ON cp.comp = c.comp
        JOIN lk_comp_stats AS s ON s.comp = c.comp""",
                 "linkage: person of each node")
    create_table(engine, "lk_psa_persons", """
        SELECT psa, count(DISTINCT person_no) AS persons, min(person_id) AS person_id
        FROM lk_node_person GROUP BY psa""", "linkage: persons per hospital pseudonym")
    return nxt, events


def anchor_links(engine: Engine) -> None:
    """Row links of beneficiaries, claims and hospital stays: ``lk_links``, a view over ``lk_claim_links``
    (the claims: one join to the node persons; person number and method code materialised as integers, the
    ``P``-id text and the method name made by the view) and ``lk_row_links`` (every other table; later
    stages insert into it, see ``LINKS_TABLE``)."""
    pid_join = "LEFT JOIN lk_node_person AS np ON np.psa = t.psa AND np.rng = t.rng"
    # the pattern is only tried on rows left without a person (a regex per row would cost a scan)
    why = f"""CASE WHEN t.fict THEN 'fictitious_nir' WHEN np.person_no IS NOT NULL THEN NULL
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
        SELECT t._table, t._row, np.person_no, np.method_code, {why} AS reason
        FROM lk_claims AS t LEFT JOIN lk_node_person AS np
          ON np.psa = t.psa AND np.rng = t.rng AND NOT t.fict""",
                 "linkage: claim row links", pseudonym=PSEUDONYM)
    engine.execute(build(f"""
        CREATE OR REPLACE TEMP VIEW lk_links AS
        SELECT {LINKS_COLUMNS} FROM lk_row_links
        UNION ALL
        SELECT _table, _row, 'ER_PRS_F' AS logical, 'P' || lpad(CAST(person_no AS VARCHAR), 10, '0') AS person_id,
               CASE method_code WHEN 0 THEN 'psa_rank' WHEN 1 THEN 'ano' WHEN 2 THEN 'rights_change' END AS method,
               CASE WHEN method_code = 2 THEN 0.95 WHEN method_code IS NOT NULL THEN 1.0 END AS confidence,
               reason
        FROM lk_claim_links"""), purpose="linkage: row links (view)")


def missed_claim_keys(engine: Engine) -> int:
    """Claims with a valid key and no person: impossible unless the hashed anti-join of ``build_nodes`` met a
    64-bit collision (every valid key not held by a beneficiary is a node of its own)."""
    return int(scalar(engine, "SELECT count(*) FROM lk_claim_links WHERE reason = 'no_key'",
                      "linkage: claims whose key was missed") or 0)


def link(engine: Engine, next_number: int) -> tuple[int, list[dict[str, str]]]:
    """Nodes → components → stable ids → anchor row links; redone with the exact anti-join if the hashed
    one missed a key (see ``build_nodes``). Returns the next free id number and the merge/split events."""
    exact = False
    while True:
        build_nodes(engine, exact=exact)
        build_components(engine)
        nxt, events = person_ids(engine, next_number)
        anchor_links(engine)
        if exact or missed_claim_keys(engine) == 0:
            return nxt, events
        exact = True


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
