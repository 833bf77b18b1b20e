"""Custodian services that change the hub's state: the opt-out register, rotation, crypto-shredding.

Each goes through ``@service`` (permission checked, audit event written); audit details carry counts
and generations, never a NIR, a pseudonym, a receipt or a key.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from guichet.custodian import custodian_for
from guichet.custodian import optout as register
from guichet.custodian.rotation import RotationResult, apply_mapping
from guichet.custodian.tables import OptOut, OptOutPseudonym
from guichet.errors import BadInput, NotFound
from guichet.governance import Unit, query, service


@service("optout.add", unguarded=("nir", "birth_date", "rights_nir", "client"))
def add_optout(unit: Unit, nir: str, birth_date: str, scope: str = "all", rights_nir: str | None = None,
               client: str | None = None, min_seconds: float = register.MIN_SECONDS) -> register.Receipt:
    """Record an objection: the person's hub pseudonyms (computed by the custodian, the only path from a
    clear NIR to a hub pseudonym), the date and the scope. Public; the web form passes ``client`` and is
    rate-limited, an operator acting for a citizen is audited instead."""
    started = time.monotonic()
    if scope not in register.SCOPES:
        raise BadInput(f"--scope: must be one of {', '.join(register.SCOPES)}")
    if client is not None and not unit.actor.has("operator"):
        register.PUBLIC_LIMITER.check(client)
    if not register.verifier_for(unit.hub)(nir, birth_date):
        raise BadInput("opt-out: the NIR and the birth date could not be verified together")
    custodian = custodian_for(unit.hub.config, caller=unit.actor.username)
    pseudonyms = custodian.optout_pseudonyms(nir, birth_date, rights_nir=rights_nir)
    receipt = register.new_receipt()
    today = datetime.now(UTC).date()
    row = OptOut(receipt_hash=register.receipt_hash(receipt), scope=scope, recorded_on=today,
                 channel=unit.actor.channel)
    unit.session.add(row)
    unit.session.flush()
    for p in pseudonyms:
        unit.session.add(OptOutPseudonym(optout_id=row.id, pseudonym=p))
    unit.note(obj=f"optout:{row.id}", scope=scope, on_behalf=unit.actor.has("operator"))
    # The same answer in the same time whether or not the person is in any dataset: the work above does
    # not depend on it, and the floor hides what is left of the variance.
    time.sleep(max(0.0, min_seconds - (time.monotonic() - started)))
    return register.Receipt(receipt, today, scope)


@service("optout.withdraw", unguarded=("receipt",))
def withdraw_optout(unit: Unit, receipt: str) -> None:
    row = unit.session.execute(select(OptOut).where(
        OptOut.receipt_hash == register.receipt_hash(receipt), OptOut.withdrawn_on.is_(None))).scalar_one_or_none()
    if row is None:
        raise NotFound("--receipt: no active objection with this receipt")
    row.withdrawn_on = datetime.now(UTC).date()
    unit.note(obj=f"optout:{row.id}")


@query("optout.count")
def count_optouts(unit: Unit) -> dict[str, int]:
    active = unit.session.execute(select(func.count()).select_from(OptOut).where(OptOut.withdrawn_on.is_(None)))
    withdrawn = unit.session.execute(select(func.count()).select_from(OptOut).where(OptOut.withdrawn_on.is_not(None)))
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
