"""Splink on the engine's DuckDB connection, with its SQL and seeds kept for the lineage.

Splink builds its own SQL (the one exception to "SQL built with SQLGlot", DESIGN.md): it logs every
statement it runs at level 5 on the ``splink`` logger; ``capture_sql`` collects them while a model trains
and predicts, so that an auditor can read and re-run them, together with the seeds that drew its samples.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

SPLINK_SQL_LEVEL = 5  # splink.internals.database_api logs each executed statement at this level


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=SPLINK_SQL_LEVEL)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == SPLINK_SQL_LEVEL:
            text = record.getMessage().strip()
            if text:
                self.statements.append(text)


@dataclass
class SplinkLineage:
    model: str
    seeds: dict[str, int] = field(default_factory=dict)
    statements: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)  # the trained model (m/u per level)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "seeds": self.seeds, "statements": len(self.statements),
                "sql": self.statements, "parameters": self.parameters}


@contextmanager
def capture_sql(lineage: SplinkLineage) -> Iterator[None]:
    logger = logging.getLogger("splink")
    collector = _Collector()
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(collector)
    logger.setLevel(SPLINK_SQL_LEVEL)
    logger.propagate = False  # Splink's chatter (and its SQL) stays out of the hub's logs
    try:
        yield
    finally:
        logger.removeHandler(collector)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
        lineage.statements.extend(collector.statements)
