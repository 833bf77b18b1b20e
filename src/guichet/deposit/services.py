"""Deposit services: register producers, deposit files and deliveries, read rejection reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from guichet.deposit.model import DepositRequest, DepositResult, ProducerInfo
from guichet.deposit.run import run_deposit
from guichet.deposit.sealing import Opener, fingerprint, load_public_key, new_key_pair
from guichet.errors import Conflict, Hidden, NotFound
from guichet.governance import Unit, query, service
from guichet.lake import read_quarantine
from guichet.lake.tables import Producer
from guichet.lake.versions import by_deposit_in


@service("producer.add", unguarded=("public_key_pem",))
def add_producer(unit: Unit, name: str, org: str, public_key_pem: str | None = None) -> tuple[ProducerInfo, str | None]:
    """Register a producer with its X25519 public key (made here when none is given: the private half is
    returned once, for the producer, and never stored)."""
    private = None
    if public_key_pem is None:
        private, public_key_pem = new_key_pair()
    load_public_key(public_key_pem)
    if unit.session.execute(select(Producer).where(Producer.name == name)).scalar_one_or_none() is not None:
        raise Conflict(f"producer {name} is already registered")
    fp = fingerprint(public_key_pem)
    unit.session.add(Producer(name=name, org=org, public_key=public_key_pem, key_fingerprint=fp,
                              created_at=datetime.now(UTC)))
    unit.note(obj=f"producer:{name}", org=org)
    return ProducerInfo(name, org, fp), private


@service("deposit.run", transactional=False)
def deposit(unit: Unit, request: DepositRequest) -> list[DepositResult]:
    unit.note(obj="deposit:" + ",".join(sorted({t.dataset for t in request.tables})))  # refusals name it too
    results = run_deposit(unit.hub, unit.actor, request)
    unit.note(obj="deposit:" + ",".join(sorted({r.dataset for r in results})),
              deposits=[{"deposit_id": r.deposit_id, "dataset": r.dataset, "version": r.version,
                         "status": r.status, "rows_in": r.rows_in, "rows_accepted": r.rows_accepted,
                         "rows_quarantined": r.rows_quarantined} for r in results])
    return results


@query("deposit.rejections", unguarded=("private_key_pem",))
def rejections(unit: Unit, deposit_id: str, private_key_pem: str | None = None) -> list[dict[str, Any]]:
    """A deposit's rejection report: row, rules, the cells the hub may read, and the sealed identifier cells
    (opened here only with the producer's private key, on the producer's side)."""
    v = by_deposit_in(unit.session, deposit_id)
    if not (unit.actor.roles & {"operator", "system"}):
        p = unit.session.execute(select(Producer).where(Producer.name == v.producer)).scalar_one_or_none()
        if p is None or p.org != unit.actor.org:
            raise Hidden(f"deposit {deposit_id} does not exist",
                         f"deposit.rejections: {unit.actor.username} is not of the producer of the deposit")
    if v.purged:
        raise NotFound(f"deposit {deposit_id}: its quarantine was purged after the retention period")
    opener = Opener(private_key_pem, bytes.fromhex(v.sealed_with)) if private_key_pem and v.sealed_with else None
    out: list[dict[str, Any]] = []
    table = read_quarantine(unit.hub, v)
    if table is not None:
        for rec in table.to_pylist():
            item: dict[str, Any] = {"row": rec["_source_row"], "rules": rec["rules"].split("|"),
                                    "cells": json.loads(rec["cells"])}
            if opener is not None:
                item["identifiers"] = json.loads(opener.open(rec["sealed"]))
            out.append(item)
    unit.note(obj=f"deposit:{deposit_id}", rows=len(out), opened=opener is not None)
    return sorted(out, key=lambda r: r["row"])
