"""The linkage review pages in-process: operators only, the queue lists a pair, a decision needs its CSRF
token and is recorded and audited."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from guichet.hub import Hub
from guichet.linkage.tables import ReviewPair
from guichet.store.models import AuditEvent
from guichet.web import create_app
from tests.web_support import add_person, csrf_of, sign_in


def test_queue_and_decision(hub: Hub, tmp_path: Path) -> None:
    operator = add_person(hub, hub.config.operator, "operator")
    with hub.store.write() as s:
        s.add(ReviewPair(version=1, cert_table="KI_CCI_R", cert_row=4, person_id="p-test-1", probability=0.61,
                         calibrated=0.55, status="open"))
    with hub.store.read() as s:
        pair_id = s.execute(select(ReviewPair.id)).scalar_one()
    with TestClient(create_app(hub.config), raise_server_exceptions=False) as c:
        c.headers["Accept-Language"] = "en"
        assert c.get("/linkage/review").status_code == 401
        sign_in(c, operator)
        queue = c.get("/linkage/review")
        assert queue.status_code == 200 and f'href="/linkage/review/{pair_id}"' in queue.text
        assert "p-test-1" not in queue.text
        # the run's evidence file does not exist here: the pair page says so, it does not invent a comparison
        assert c.get(f"/linkage/review/{pair_id}").status_code == 404
        token = csrf_of(queue.text)
        assert c.post(f"/linkage/review/{pair_id}", data={"decision": "match"}).status_code == 403
        r = c.post(f"/linkage/review/{pair_id}", data={"decision": "non_match", "note": "other town",
                                                       "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/linkage/review?decided={pair_id}"
        decided = c.get("/linkage/review?status=non_match")
        assert f'href="/linkage/review/{pair_id}"' in decided.text and "Decision on pair" not in decided.text
    with hub.store.read() as s:
        pair = s.get(ReviewPair, pair_id)
        assert pair is not None and pair.status == "non_match" and pair.decided_by == hub.config.operator
        actions = [a for (a,) in s.execute(select(AuditEvent.action).where(AuditEvent.action.like("linkage.review%")))]
    assert "linkage.review_decide" in actions and "linkage.review_list" in actions
