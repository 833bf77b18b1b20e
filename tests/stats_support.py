"""A hub holding the handcrafted lake (``tests/criteria_support.py``: 21 people, 19 of them with a claim or a
stay in 2023) with accounts of every role (``tests/access_support.py``), for statistics requests driven through
the command line; and the synthetic truth the answers are checked against."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.access_support import CliCalls, hub_with_lake, prepare

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "statistics-request.json"
YEAR_2023 = {"period": {"from": "2023-01-01", "to": "2023-12-31"}}
STATIN = {"all": [YEAR_2023, {"codes": ["C10AA05"], "system": "ATC", "match": "prefix"}]}


def spec(statistics: list[dict[str, Any]], criteria: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    """A specification on the example's frame with these statistics (and criteria)."""
    s: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    s["statistics"] = statistics
    s["criteria"] = criteria if criteria is not None else YEAR_2023
    s.update(more)
    return s


def truth_2023() -> dict[str, Any]:
    """The persons with a claim or a stay in 2023 (every one but bob and hal), from the delivery's own table of
    people: their count, sexes and ages at the end of 2023."""
    from tests.criteria_support import people

    out = [p for p in people() if p.name not in ("bob", "hal")]
    return {"persons": len(out), "female": sum(1 for p in out if p.sex == 2),
            "ages": [2023 - int(p.born[:4]) for p in out]}


@dataclass
class StatsDesk(CliCalls):
    home: Path
    hub: Any
    root: Path

    def request(self, content: dict[str, Any], who: str = "alice", name: str = "spec") -> str:
        path = self.root / f"{name}.json"
        path.write_text(json.dumps(content), encoding="utf-8")
        return str(self.ok("stats", "request", "--file", str(path), who=who)["id"])

    def accepted(self, content: dict[str, Any], who: str = "alice") -> str:
        rid = self.request(content, who=who)
        self.ok("stats", "assess", rid, "--accept", "--reason", "complete and proportionate", who="operator")
        return rid

    def answered(self, content: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rid = self.accepted(content)
        return rid, self.ok("stats", "answer", rid, who="operator")


def make_desk(root: Path) -> StatsDesk:
    hub = hub_with_lake(root)
    prepare(hub, root)
    return StatsDesk(hub.home, hub, root)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    import csv

    with Path(path).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))
