"""Custodian services that change the hub's state: the opt-out register, rotation, crypto-shredding.

Each goes through ``@service`` (permission checked, audit event written); audit details carry counts
and generations, never a NIR, a pseudonym, a receipt or a key.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from guichet.custodian import custodian_for
from guichet.custodian import optout as register
from guichet.custodian.rotation import RotationResult, apply_mapping
from guichet.custodian.tables import OptOut, OptOutPseudonym
from guichet.errors import BadInput, NotFound
from guichet.governance import Unit, query, service


def _today() -> date:
    return datetime.now(UTC).date()


def _record(unit: Unit, kind: str, nir: str, birth_date: str, scope: str, rights_nir: str | None,
            client: str | None, min_seconds: float, **details: Any) -> register.Receipt:
    """The work of every entry of the register (objection or findings preference), the same whether or not
    the person is in any dataset. The rate limit is checked first, in a transaction of its own (the unit's
    session has not touched the database yet), so that a call that fails verification still counts."""
    started = time.monotonic()
    if scope not in register.SCOPES:
        raise BadInput(f"--scope: must be one of {', '.join(register.SCOPES)}")
    if client is not None and not unit.actor.has("operator"):
        register.PUBLIC_LIMITER.check(unit.hub, client)
    if not register.verifier_for(unit.hub)(nir, birth_date):
        raise BadInput("opt-out: the NIR and the birth date could not be verified together")
    custodian = custodian_for(unit.hub.config, caller=unit.actor.username)
    pseudonyms = custodian.optout_pseudonyms(nir, birth_date, rights_nir=rights_nir)
    receipt = register.new_receipt()
    today = _today()
    row = OptOut(receipt_hash=register.receipt_hash(receipt), scope=scope, recorded_on=today,
                 channel=unit.actor.channel, kind=kind)
    unit.session.add(row)
    unit.session.flush()
    for p in pseudonyms:
        unit.session.add(OptOutPseudonym(optout_id=row.id, pseudonym=p))
    unit.note(obj=f"optout:{row.id}", scope=scope, kind=kind, on_behalf=unit.actor.has("operator"), **details)
    # The same answer in the same time whether or not the person is in any dataset: the work above does
    # not depend on it, and the floor hides what is left of the variance.
    time.sleep(max(0.0, min_seconds - (time.monotonic() - started)))
    return register.Receipt(receipt, today, scope)


def _withdraw(unit: Unit, kind: str, receipt: str) -> None:
    row = unit.session.execute(select(OptOut).where(
        OptOut.receipt_hash == register.receipt_hash(receipt), OptOut.withdrawn_on.is_(None),
        OptOut.kind == kind)).scalar_one_or_none()
    if row is None:
        raise NotFound("--receipt: no active entry with this receipt")
    row.withdrawn_on = _today()
    unit.note(obj=f"optout:{row.id}", kind=kind)


@service("optout.add", unguarded=("nir", "birth_date", "rights_nir", "client"))
def add_optout(unit: Unit, nir: str, birth_date: str, scope: str = "all", rights_nir: str | None = None,
               client: str | None = None, min_seconds: float = register.MIN_SECONDS) -> register.Receipt:
    """Record an objection: the person's hub pseudonyms (computed by the custodian, the only path from a
    clear NIR to a hub pseudonym), the date and the scope. Public; the web form passes ``client`` and is
    rate-limited (in the database, shared by every worker), an operator acting for a citizen is audited
    instead."""
    return _record(unit, "objection", nir, birth_date, scope, rights_nir, client, min_seconds)


RECEIVED_BY = ("post", "counter", "phone")


@service("optout.record", unguarded=("nir", "birth_date", "rights_nir"))
def record_optout(unit: Unit, nir: str, birth_date: str, received_by: str, scope: str = "all",
                  kind: str = "objection", rights_nir: str | None = None,
                  min_seconds: float = register.MIN_SECONDS) -> register.Receipt:
    """An operator records an objection (or a findings preference) received by post, at a counter or by
    phone, on the citizen's behalf: audited with how it came, never with the NIR."""
    if received_by not in RECEIVED_BY:
        raise BadInput(f"--received-by: one of {', '.join(RECEIVED_BY)}")
    if kind not in register.KINDS:
        raise BadInput(f"--kind: one of {', '.join(register.KINDS)}")
    return _record(unit, kind, nir, birth_date, scope, rights_nir, None, min_seconds, received_by=received_by)


@service("optout.withdraw", unguarded=("receipt",))
def withdraw_optout(unit: Unit, receipt: str) -> None:
    _withdraw(unit, "objection", receipt)


@service("findings.decline", unguarded=("nir", "birth_date", "rights_nir", "client"))
def decline_findings(unit: Unit, nir: str, birth_date: str, rights_nir: str | None = None,
                     client: str | None = None, min_seconds: float = register.MIN_SECONDS) -> register.Receipt:
    """Record the preference not to be informed of significant findings about one's health (EHDS Arts 58,
    61): held like an objection (hub pseudonyms only, a receipt, the same answer and time whether or not the
    person is known, the shared rate limit), and without effect on extracts."""
    return _record(unit, "no-findings", nir, birth_date, "all", rights_nir, client, min_seconds)


@service("findings.withdraw", unguarded=("receipt",))
def withdraw_findings(unit: Unit, receipt: str) -> None:
    """Withdraw the findings preference with its receipt (one is informed again)."""
    _withdraw(unit, "no-findings", receipt)


@query("optout.count")
def count_optouts(unit: Unit) -> dict[str, int]:
    objections = select(func.count()).select_from(OptOut).where(OptOut.kind == "objection")
    active = unit.session.execute(objections.where(OptOut.withdrawn_on.is_(None)))
    withdrawn = unit.session.execute(objections.where(OptOut.withdrawn_on.is_not(None)))
    return {"active": int(active.scalar_one()), "withdrawn": int(withdrawn.scalar_one())}


@service("custodian.rotate", transactional=False)
def rotate(unit: Unit) -> RotationResult:
    """Rotate hub pseudonyms: one-time mapping from the custodian, applied by every registered applier,
    then completed (or aborted if an applier fails). The mapping is never written anywhere."""
    custodian = custodian_for(unit.hub.config, caller=unit.actor.username)
    handover = custodian.begin_rotation()
    try:
        applied = apply_mapping(unit.hub, handover.mapping)
    except BaseException:
        custodian.abort_rotation(handover.rotation_id)
        raise
    done = custodian.complete_rotation(handover.rotation_id)
    pairs = handover.mapping.num_rows
    del handover  # the one-time mapping goes no further
    unit.note(obj="custodian", generation=done["generation"], pseudonyms=pairs, applied=applied)
    return {"generation": done["generation"], "pseudonyms": pairs, "applied": applied}


@service("custodian.shred")
def shred_project(unit: Unit, project: str) -> dict[str, object]:
    """Crypto-shred a project: the custodian destroys its keys, so its extracts cannot be read again."""
    custodian = custodian_for(unit.hub.config, caller=unit.actor.username)
    existed = custodian.shred(project)
    unit.note(obj=f"project:{project}", had_keys=existed)
    return {"project": project, "shredded": True, "had_keys": existed}
