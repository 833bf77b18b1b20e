"""Demo stage "deposit": the three producers are registered, the delivery is pseudonymised on the
producer's side with the domain's level-1 key, and the level-1 delivery is deposited into the hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guichet.config import write_private_file
from guichet.custodian.keys import write_domain_key_file
from guichet.custodian.local import LocalCustodian
from guichet.custodian.producer import pseudonymise_delivery
from guichet.demo.run import DemoRun, demo_stage
from guichet.deposit import services as deposits
from guichet.deposit.manifest import read_manifest
from guichet.deposit.model import DepositRequest

DEMO_PRODUCERS = (
    ("cnam", "Assurance Maladie (synthetic producer)"),  # DCIR and beneficiaries
    ("atih", "ATIH (synthetic producer)"),  # PMSI
    ("cepidc", "CépiDC (synthetic producer)"),  # causes of death
)


@demo_stage("deposit")
def deposit(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    hub = run.hub
    delivery = Path(run.extra["delivery"])
    producer_home = delivery.parent
    for name, org in DEMO_PRODUCERS:
        _info, private = deposits.add_producer(hub, run.operator, name=name, org=org)
        if private:
            write_private_file(producer_home / f"{name}-private.pem", private)
    # The domain key goes to the producers as a sealed file (development custodian, in-process).
    key = LocalCustodian(hub.config.custodian_home, caller="demo").domain_key("snds")
    key_file = producer_home / "snds.key"
    write_domain_key_file(key_file, key)
    level1 = producer_home / "delivery-level1"
    pseudonymise_delivery(delivery, delivery / "manifest.toml", key, level1)
    _domain, tables = read_manifest(level1, level1 / "manifest.toml")
    results = deposits.deposit(hub, run.operator, request=DepositRequest(tuple(tables), delivery=True))
    rows_in = sum(r.rows_in for r in results)
    accepted = sum(r.rows_accepted for r in results)
    quarantined = sum(r.rows_quarantined for r in results)
    run.extra["delivery_level1"] = str(level1)
    lines = [f"deposit    producers cnam, atih, cepidc registered; delivery pseudonymised at the producer "
             f"(level 1) in {level1.name}",
             f"           {len(results)} tables deposited: {rows_in:,} rows in, {accepted:,} accepted, "
             f"{quarantined:,} quarantined (encrypted Parquet in lake/; versions: guichet catalogue versions ER_PRS_F --all)"]
    part = {"tables": len(results), "rows_in": rows_in, "rows_accepted": accepted, "rows_quarantined": quarantined,
            "datasets": {r.dataset: {"version": r.version, "rows_accepted": r.rows_accepted,
                                     "rows_quarantined": r.rows_quarantined} for r in results}}
    return part, lines
