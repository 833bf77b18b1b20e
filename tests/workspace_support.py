"""A hub with the handcrafted lake (``tests/access_support.py``: 21 people) and permits issued on it through
the command line, for the workspace extract tests. ``Desk.permit(content)`` runs an application through to
its signed permit and answers the permit id."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.access_support import CliCalls, example, hub_with_lake, prepare

TODAY = datetime.now(UTC).date()

# Everyone with a claim or a stay in 2023 (19 of the 21: not bob, whose only claim is of 2022, nor hal).
CONTENT_2023: dict[str, Any] = {
    "data": [
        {"product": "dcir", "table": "ER_PRS_F",
         "variables": ["BEN_NAI_ANN", "BEN_SEX_COD", "BEN_RES_DPT", "EXE_SOI_DTD", "DCT_ORD_NUM", "BEN_NIR_PSA"]},
        {"product": "dcir", "table": "ER_PHA_F", "variables": ["PHA_PRS_C13", "PHA_ACT_QSN"]},
        {"product": "beneficiaire", "table": "IR_BEN_R",
         "variables": ["BEN_NAI_ANN", "BEN_NAI_MOI", "BEN_SEX_COD", "BEN_RES_DPT", "BEN_RES_COM"]},
    ],
    "criteria": {"period": {"from": "2023-01-01", "to": "2023-12-31"}},
}


@dataclass
class Desk(CliCalls):
    home: Path
    hub: Any
    root: Path

    def permit(self, content: dict[str, Any] | None = None, name: str = "app") -> str:
        app_content = example()
        app_content.update(copy.deepcopy(content or {}))
        path = self.root / f"{name}.json"
        path.write_text(json.dumps(app_content), encoding="utf-8")
        app = str(self.ok("application", "create", "--file", str(path), who="alice")["id"])
        self.ok("application", "submit", app, who="alice")
        self.ok("application", "check", app, "--complete", "--reason", "all sections present")
        self.ok("review", "opinion", app, "--favourable", "--reason", "sound design", "--present", "marc",
                "--vote", "2,0,0", who="claire")
        self.ok("review", "decide", app, "--authorise", "--reason", "favourable opinion", who="arthur")
        self.ok("permit", "estimate", app, who="alice")
        self.ok("permit", "accept-estimate", app, who="alice")
        return str(self.ok("permit", "issue", app)["permit"]["id"])


def make_desk(root: Path) -> Desk:
    hub = hub_with_lake(root)
    prepare(hub, root)
    d = Desk(hub.home, hub, root)
    d.ok("user", "attest", "alice", "--until", (TODAY + timedelta(days=400)).isoformat())
    return d


class Sessions:
    """Workspace sessions of a desk's permit ``pid`` (``other``: a second permit of the same population), run
    through the services as a named person, and their logged runs."""

    def __init__(self, desk: Desk, pid: str, other: str) -> None:
        self.desk, self.hub, self.pid, self.other = desk, desk.hub, pid, other

    def actor(self, who: str) -> Any:
        from guichet.accounts.auth import actor_for

        return actor_for(self.hub, who).with_strong_auth()

    def sql(self, sql: str, who: str = "alice", **kw: Any) -> dict[str, Any]:
        from guichet.workspace import session_services

        return session_services.run_sql(self.hub, self.actor(who), permit_id=self.pid, sql=sql, **kw)

    def python(self, code: str, who: str = "alice") -> dict[str, Any]:
        from guichet.workspace import session_services

        return session_services.run_python(self.hub, self.actor(who), permit_id=self.pid, script=code)

    def runs(self) -> list[Any]:
        from sqlalchemy import select

        from guichet.workspace.tables import SessionRun

        with self.hub.store.read() as s:
            return list(s.execute(select(SessionRun).order_by(SessionRun.id)).scalars())
