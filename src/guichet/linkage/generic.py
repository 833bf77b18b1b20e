"""A generic two-table Fellegi–Sunter linker (Splink on the engine's connection, one-to-one resolution):
the same machinery as the death matching, for any pair of tables — smoke-tested on FEBRL4."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from guichet.engine import Engine
from guichet.linkage.splinkrun import SplinkLineage, capture_sql
from guichet.linkage.sqlkit import create_table, rows


@dataclass(frozen=True)
class GenericSpec:
    left: str  # table names in the engine
    right: str
    id_column: str
    fuzzy: tuple[str, ...] = ()  # compared by Jaro-Winkler (≥ 0.92, ≥ 0.8)
    exact: tuple[str, ...] = ()  # compared by equality
    blocking: tuple[tuple[str, ...], ...] = ()  # each: columns equal on both sides
    seed: int = 42
    threshold: float = 0.5
    rounds: int = 6
    lineage: SplinkLineage = field(default_factory=lambda: SplinkLineage(model="generic"))


def link_two_tables(engine: Engine, spec: GenericSpec) -> list[tuple[str, str, float]]:
    """(left id, right id, probability) one-to-one pairs above the threshold."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink.internals.exceptions import EMTrainingException

    comps: list[Any] = [cl.JaroWinklerAtThresholds(c, [0.92, 0.8]) for c in spec.fuzzy]
    comps += [cl.ExactMatch(c) for c in spec.exact]
    rules: list[Any] = [block_on(*cols) for cols in spec.blocking]
    settings = SettingsCreator(link_type="link_only", unique_id_column_name=spec.id_column, comparisons=comps,
                               blocking_rules_to_generate_predictions=rules, retain_matching_columns=False)
    spec.lineage.seeds["u_random_sampling"] = spec.seed
    db = DuckDBAPI(engine.con)
    with capture_sql(spec.lineage):
        linker = Linker([db.register(spec.left, table_name=f"a_{spec.left}"),
                         db.register(spec.right, table_name=f"b_{spec.right}")], settings, log_level=None)
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=spec.seed)
        for rule in rules:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(rule)
            except EMTrainingException:
                continue
        pred = linker.inference.predict(threshold_match_probability=spec.threshold, warning_mode="never")
        uid = spec.id_column
        create_table(engine, "gl_pairs", f"""SELECT CAST({uid}_l AS VARCHAR) AS l, CAST({uid}_r AS VARCHAR) AS r,
            match_probability AS p FROM {pred.physical_name}""", "generic: predictions")
        pred.drop_table_from_database_and_remove_from_cache()
    create_table(engine, "gl_kept", "SELECT * FROM gl_pairs WHERE false", "generic: one-to-one")
    for i in range(spec.rounds):
        create_table(engine, "gl_best", """SELECT * FROM gl_pairs AS x
            WHERE NOT EXISTS (SELECT 1 FROM gl_kept AS k WHERE k.l = x.l OR k.r = x.r)
            QUALIFY row_number() OVER (PARTITION BY l ORDER BY p DESC, r) = 1
                AND row_number() OVER (PARTITION BY r ORDER BY p DESC, l) = 1""", f"generic: round {i + 1}")
        got = rows(engine, "SELECT count(*) FROM gl_best", "generic: round size")[0][0]
        if not got:
            break
        create_table(engine, "gl_kept", "SELECT * FROM gl_kept UNION ALL SELECT * FROM gl_best", "generic: keep")
    return [(str(a), str(b), float(p)) for a, b, p in rows(engine, "SELECT l, r, p FROM gl_kept ORDER BY l",
                                                           "generic: pairs")]
