"""A producer writes only its own datasets, by every route, and answers never reveal another producer's
deposits (issue: "Security of the data plane", item 1). Each attempt is refused (exit 2), changes no version,
and is in the audit trail as a refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from guichet.hub import Hub, open_hub
from guichet.lake.versions import versions
from guichet.store.models import AuditEvent
from tests.conftest import make_hub, run_cli

SCHEMA = {"name": "IR_BEN_R", "fields": [{"name": "ID", "type": "integer"}, {"name": "V", "type": "string"}]}


@pytest.fixture
def two_producers(tmp_path: Path) -> tuple[Hub, Path, Path]:
    hub = make_hub(tmp_path)
    home = str(hub.home)
    for name, org in (("cnam", "Assurance Maladie"), ("atih", "ATIH")):
        key = tmp_path / f"{name}.pem"
        assert run_cli(["producer", "add", name, "--org", org, "--key-out", str(key), "--home", home]).code == 0
        assert run_cli(["user", "add", f"{name}.producer", "--role", "producer", "--org", org, "--home", home]).code == 0
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    f = tmp_path / "IR_BEN_R.csv"
    f.write_text("ID;V\n1;a\n2;b\n")
    out = run_cli(["deposit", "run", str(f), "--dataset", "IR_BEN_R", "--schema", str(schema),
                   "--as", "cnam.producer", "--home", home, "--json"])
    assert out.code == 0, out.stderr  # the producer is the account's organisation's only one
    assert json.loads(out.stdout)["status"] == "published"
    return hub, f, schema


def _versions(hub: Hub) -> list[tuple[int, str | None]]:
    return [(v.version, v.producer) for v in versions(hub, "IR_BEN_R", include_all=True)]


def _refusals(hub: Hub, actor: str) -> list[AuditEvent]:
    with hub.store.read() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.actor == actor,
                                                       AuditEvent.outcome == "refused")).scalars())


@pytest.mark.parametrize("extra", [[], ["--producer", "atih"], ["--producer", "cnam"]])
def test_another_producer_cannot_replace_a_dataset_by_the_cli(two_producers: tuple[Hub, Path, Path],
                                                              extra: list[str]) -> None:
    hub, f, schema = two_producers
    before = _versions(hub)
    for file in (f, f.with_name("other.csv")):  # the same file again (was: "unchanged" with cnam's deposit id)
        if not file.exists():
            file.write_text("ID;V\n9;z\n")
        out = run_cli(["deposit", "run", str(file), "--dataset", "IR_BEN_R", "--schema", str(schema), *extra,
                       "--as", "atih.producer", "--home", str(hub.home), "--json"])
        assert out.code == 2, out.stdout
        assert out.stdout == "" and "dp" not in out.stderr  # no deposit id, no counts of cnam's deposit
    assert _versions(hub) == before
    refused = _refusals(hub, "atih.producer")
    assert len(refused) == 2 and all(e.action == "deposit.run" and e.reason for e in refused)


def test_a_manifest_naming_another_producer_is_refused(two_producers: tuple[Hub, Path, Path], tmp_path: Path) -> None:
    hub, _f, _schema = two_producers
    folder = tmp_path / "delivery"
    folder.mkdir()
    (folder / "IR_BEN_R.csv").write_text("ID;V\n5;e\n")
    (folder / "IR_BEN_R.json").write_text(json.dumps(SCHEMA))
    (folder / "manifest.toml").write_text('format = "guichet-delivery/1"\n[[tables]]\nname = "IR_BEN_R"\n'
                                          'file = "IR_BEN_R.csv"\nschema = "IR_BEN_R.json"\nproducer = "atih"\n')
    before = _versions(hub)
    out = run_cli(["deposit", "run", str(folder), "--manifest", str(folder / "manifest.toml"),
                   "--as", "atih.producer", "--home", str(hub.home)])
    assert out.code == 2 and "belongs to another producer" in out.stderr
    assert _versions(hub) == before


def test_an_operator_deposits_only_in_the_owner_name_and_may_reassign(two_producers: tuple[Hub, Path, Path],
                                                                     tmp_path: Path) -> None:
    hub, _f, schema = two_producers
    home = str(hub.home)
    g = tmp_path / "g.csv"
    g.write_text("ID;V\n3;c\n")
    base = ["deposit", "run", str(g), "--dataset", "IR_BEN_R", "--schema", str(schema), "--home", home, "--json"]
    assert run_cli([*base, "--producer", "atih"]).code == 2  # the operator, for another producer
    ok = run_cli(base)  # the operator, in the owner's name (inferred)
    assert ok.code == 0, ok.stderr
    assert _versions(hub)[-1][1] == "cnam"
    assert run_cli(["lake", "assign", "IR_BEN_R", "--producer", "atih", "--reason", "ATIH delivers it from now on",
                    "--as", "atih.producer", "--home", home]).code == 2  # only operators assign
    assert run_cli(["lake", "assign", "IR_BEN_R", "--producer", "atih", "--reason", "ATIH delivers it from now on",
                    "--home", home]).code == 0
    h = tmp_path / "h.csv"
    h.write_text("ID;V\n4;d\n")
    out = run_cli(["deposit", "run", str(h), "--dataset", "IR_BEN_R", "--schema", str(schema),
                   "--as", "atih.producer", "--home", home, "--json"])
    assert out.code == 0, out.stderr
    assert run_cli(["deposit", "run", str(h), "--dataset", "IR_BEN_R", "--schema", str(schema),
                    "--as", "cnam.producer", "--home", home]).code == 2  # cnam no longer writes it


def test_the_portal_refuses_another_producer(two_producers: tuple[Hub, Path, Path], tmp_path: Path) -> None:
    import hashlib

    from guichet.accounts.auth import actor_for
    from guichet.delivery import services as deliveries
    from guichet.delivery.uploads import UploadRequest

    hub, _f, _schema = two_producers
    atih = actor_for(hub, "atih.producer")
    data = b"ID;V\n7;g\n"
    before = _versions(hub)
    opened = deliveries.open_delivery(hub, atih, request=UploadRequest("IR_BEN_R.csv", len(data),
                                                                       hashlib.sha256(data).hexdigest(), "file",
                                                                       "IR_BEN_R", "replace"))
    deliveries.upload_chunk(hub, atih, delivery_id=opened.id, number=0, data=data)
    done = deliveries.submit_delivery(hub, atih, delivery_id=opened.id)
    assert done.status == "failed" and "another producer" in str(done.result.get("error"))
    assert _versions(hub) == before
    hub2 = open_hub(hub.home)
    assert _refusals(hub2, "atih.producer")


def test_a_manifest_path_outside_its_folder_is_a_refusal_in_the_audit_trail(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    folder = tmp_path / "delivery"
    folder.mkdir()
    (tmp_path / "secret.csv").write_text("ID;V\n1;a\n")
    (folder / "s.json").write_text(json.dumps(SCHEMA))
    (folder / "manifest.toml").write_text('format = "guichet-delivery/1"\n[[tables]]\nname = "IR_BEN_R"\n'
                                          'file = "../secret.csv"\nschema = "s.json"\nproducer = "cnam"\n')
    out = run_cli(["deposit", "run", str(folder), "--manifest", str(folder / "manifest.toml"), "--home", str(hub.home)])
    assert out.code == 2 and "outside the delivery folder" in out.stderr
    refused = _refusals(hub, hub.config.operator)
    assert [e.action for e in refused] == ["cli.deposit_run"] and "outside" in (refused[0].reason or "")
