"""The producers' channel in-process (TestClient): a resumable chunked upload through the API, a truncated or
altered upload refused without losing anything, the receipt and the deposit's result, the rejection report
with identifier cells only the producer's key opens, another producer seeing nothing, and the browser form."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.config import save_config
from guichet.delivery.model import open_report
from guichet.hub import Hub
from guichet.store.models import AuditEvent
from guichet.web import create_app
from tests.conftest import SYNTHETIC_SNDS, make_hub
from tests.web_support import Person, add_person, csrf_of, register_producer, sign_in

SAMPLE = SYNTHETIC_SNDS / "BENEFICIAIRE"
GOOD_PSA = ["ABCDEFGHIJKLMNOP" + c for c in "QRSTUVWXYZ"]


def delivery_zip(bad_rows: int = 2) -> bytes:
    """A delivery folder, zipped: IR_BEN_R with 10 rows, ``bad_rows`` of them with a malformed pseudonym."""
    rows = list(csv.reader((SAMPLE / "IR_BEN_R.csv").read_text(encoding="utf-8").splitlines()))
    header, body = rows[0], rows[1:11]
    psa = header.index("BEN_NIR_PSA")
    for i, row in enumerate(body):
        row[psa] = "not-a-pseudonym" if i < bad_rows else GOOD_PSA[i]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    data = out.getvalue().encode()
    manifest = (
        'format = "guichet-delivery/1"\n\n[[tables]]\nname = "IR_BEN_R"\nfile = "IR_BEN_R.csv"\n'
        'schema = "schemas/IR_BEN_R.json"\nproducer = "cnam"\ndelimiter = ","\n'
        'identifiers = [{ column = "BEN_NIR_PSA", kind = "psa", state = "level1" },'
        ' { column = "BEN_NAI_ANN", kind = "quasi" }]\n')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("delivery/manifest.toml", manifest)
        zf.writestr("delivery/IR_BEN_R.csv", data)
        zf.writestr("delivery/schemas/IR_BEN_R.json", (SAMPLE / "IR_BEN_R.json").read_text(encoding="utf-8"))
    return buf.getvalue()


@pytest.fixture(params=["sqlite", "postgresql"])
def producer_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Hub, str | None]]:
    db_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    hub = make_hub(tmp_path, db_url=db_url)
    config = hub.config.with_properties(delivery_chunk_bytes=1024)
    save_config(config)
    hub.config = config
    yield hub, db_url
    hub.close()


@pytest.fixture
def producer(producer_hub: tuple[Hub, str | None]) -> tuple[Person, str, str]:
    """A producer account (in the producer's organisation), its registered producer cnam, its private key, a
    token."""
    hub, _ = producer_hub
    person = add_person(hub, "paula.producer", "producer")
    private = register_producer(hub, person.org, "cnam")
    assert private is not None
    token = accounts.issue_token(hub, system_actor(), username="paula.producer", scopes=("api",)).token
    return person, private, token


def _client(hub: Hub, db_url: str | None) -> TestClient:
    return TestClient(create_app(hub.config, db_url), raise_server_exceptions=False)


def _open(c: TestClient, auth: dict[str, str], data: bytes, **extra: object) -> dict:
    body = {"filename": "delivery.zip", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **extra}
    r = c.post("/api/deliveries", json=body, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


def _put(c: TestClient, auth: dict[str, str], d: dict, data: bytes, n: int) -> int:
    chunk = d["chunk_size"]
    return c.put(f"/api/deliveries/{d['id']}/chunks/{n}", content=data[n * chunk:(n + 1) * chunk],
                 headers={**auth, "Content-Type": "application/octet-stream"}).status_code


def test_resumable_upload_receipt_result_and_sealed_rejections(producer_hub: tuple[Hub, str | None],
                                                               producer: tuple[Person, str, str]) -> None:
    hub, db_url = producer_hub
    _person, private, token = producer
    auth = {"Authorization": f"Bearer {token}"}
    data = delivery_zip()
    with _client(hub, db_url) as c:
        d = _open(c, auth, data)
        assert d["status"] == "open" and d["chunks"] >= 3 and d["chunk_size"] == 1024
        last = d["chunks"] - 1
        # Chunks in any order; one is cut short (refused), then the client asks what is missing and resumes.
        assert _put(c, auth, d, data, last) == 200
        assert _put(c, auth, d, data, 1) == 200
        short = c.put(f"/api/deliveries/{d['id']}/chunks/0", content=data[:100], headers=auth)
        assert short.status_code == 400 and "100 bytes received, 1024 expected" in short.json()["error"]["message"]
        state = c.get(f"/api/deliveries/{d['id']}", headers=auth).json()
        assert 0 in state["missing"] and 1 not in state["missing"] and state["received"] < len(data)
        refused = c.post(f"/api/deliveries/{d['id']}/submit", headers=auth)
        assert refused.status_code == 409 and "incomplete" in refused.json()["error"]["message"]
        assert c.get(f"/api/deliveries/{d['id']}", headers=auth).json()["received"] == state["received"], \
            "a refused submit loses nothing"
        for n in state["missing"]:
            assert _put(c, auth, d, data, n) == 200
        assert _put(c, auth, d, data, 1) == 200, "sending a chunk again is harmless"
        done = c.post(f"/api/deliveries/{d['id']}/submit", headers=auth)
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["status"] == "deposited"
        receipt = body["receipt"]
        assert receipt["sha256"] == hashlib.sha256(data).hexdigest() and receipt["size"] == len(data)
        assert receipt["submitted_by"] == "paula.producer" and receipt["producer"] == "cnam" and receipt["received_at"]
        [dep] = body["result"]["deposits"]
        assert dep["dataset"] == "IR_BEN_R" and dep["rows_in"] == 10 and dep["rows_quarantined"] >= 2
        assert receipt["deposits"] == [dep["deposit_id"]]
        assert not (hub.home / "uploads" / d["id"]).exists(), "uploaded bytes are removed after the deposit"
        again = c.post(f"/api/deliveries/{d['id']}/submit", headers=auth)
        assert again.status_code == 409

        rejections = c.get(f"/api/deliveries/{d['id']}/rejections", headers=auth).json()
        assert {r["row"] for r in rejections} >= {1, 2}  # data rows, from 1
        flagged = [x for r in rejections for x in r["rules"] if x["field"] == "BEN_NIR_PSA"]
        assert flagged, rejections
        assert all("BEN_NIR_PSA" not in r["cells"] for r in rejections), "identifier cells stay sealed"
        sealed = c.get(f"/api/deliveries/{d['id']}/sealed-report", headers=auth)
        assert sealed.status_code == 200 and "attachment" in sealed.headers["content-disposition"]
        assert "not-a-pseudonym" not in sealed.text
        opened = open_report(sealed.json(), private)
        assert [r["cells"]["BEN_NIR_PSA"] for r in opened if r["row"] in (1, 2)] == ["not-a-pseudonym"] * 2
    with hub.store.read() as s:
        actions = [a for a, in s.execute(select(AuditEvent.action).where(AuditEvent.action.like("delivery.%")))]
    assert {"delivery.open", "delivery.upload", "delivery.submit", "delivery.report"} <= set(actions)
    assert actions.count("delivery.upload") >= d["chunks"] + 1


def test_an_altered_upload_is_refused_and_another_producer_sees_nothing(producer_hub: tuple[Hub, str | None],
                                                                        producer: tuple[Person, str, str]) -> None:
    hub, db_url = producer_hub
    _person, _private, token = producer
    auth = {"Authorization": f"Bearer {token}"}
    data = delivery_zip()
    with _client(hub, db_url) as c:
        d = _open(c, auth, data)
        altered = bytearray(data)
        altered[5] ^= 0xFF
        for n in range(d["chunks"]):
            assert _put(c, auth, d, bytes(altered), n) == 200
        r = c.post(f"/api/deliveries/{d['id']}/submit", headers=auth)
        assert r.status_code == 409 and "SHA-256" in r.json()["error"]["message"]
        assert c.get(f"/api/deliveries/{d['id']}", headers=auth).json()["status"] == "open"
        assert _put(c, auth, d, data, 0) == 200  # resend the bad chunk: now it deposits
        assert c.post(f"/api/deliveries/{d['id']}/submit", headers=auth).json()["status"] == "deposited"
        too_big = c.post("/api/deliveries", headers=auth, json={"filename": "x.zip", "size": 10**13, "sha256": "a" * 64})
        assert too_big.status_code == 400 and "limit" in too_big.json()["error"]["message"]
        bad_name = c.post("/api/deliveries", headers=auth, json={"filename": "../x.zip", "size": 3, "sha256": "a" * 64})
        assert bad_name.status_code == 400
        # Another producer's account: the delivery does not exist for it.
        accounts.add_user(hub, system_actor(), username="oscar.other", roles=["producer"], org="Other org")
        other = accounts.issue_token(hub, system_actor(), username="oscar.other", scopes=("api",)).token
        o_auth = {"Authorization": f"Bearer {other}"}
        assert c.get(f"/api/deliveries/{d['id']}", headers=o_auth).status_code == 404
        assert c.get("/api/deliveries", headers=o_auth).json() == []
        assert c.put(f"/api/deliveries/{d['id']}/chunks/0", content=data[:1024], headers=o_auth).status_code == 404
        assert c.post("/api/deliveries", headers=o_auth, json={"filename": "x.zip", "size": 3,
                                                               "sha256": "a" * 64}).status_code == 403


def test_the_browser_form_deposits_and_shows_receipt_and_rejection_report(
        producer_hub: tuple[Hub, str | None], producer: tuple[Person, str, str]) -> None:
    hub, db_url = producer_hub
    person, _private, _token = producer
    data = delivery_zip(bad_rows=1)
    with _client(hub, db_url) as c:
        sign_in(c, person)
        page = c.get("/deliveries")
        assert page.status_code == 200 and 'action="/deliveries"' in page.text
        token = csrf_of(page.text)
        no_csrf = c.post("/deliveries", files={"file": ("delivery.zip", data, "application/zip")})
        assert no_csrf.status_code == 403
        wrong = c.post("/deliveries", data={"csrf_token": token, "sha256": "0" * 64},
                       files={"file": ("delivery.zip", data, "application/zip")})
        assert wrong.status_code == 400 and "nothing was deposited" in wrong.text
        r = c.post("/deliveries", data={"csrf_token": token}, files={"file": ("delivery.zip", data, "application/zip")},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        receipt = c.get(r.headers["location"])
        text = receipt.text
        assert receipt.status_code == 200 and hashlib.sha256(data).hexdigest() in text
        assert "Rapport de rejet" in text and "BEN_NIR_PSA" in text and "open-report" in text
        assert "not-a-pseudonym" not in text
        assert c.get("/linkage/review").status_code == 403  # operators only
