"""The in-process custodian: keys in the custodian home, on the hub's machine.

*Development only*: whoever operates the hub can read the custodian home too, so it gives no
protection against the hub's operator. Production hubs run ``guichet custodian serve`` on another host
and name it in their configuration (see ``custodian_for``).

Every operation checks its caller's grant (``grants``) and is logged with its outcome, refusals
included, so that the in-process custodian refuses what the HTTP one refuses.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from guichet.audit.checkpoint import SignedCheckpoint
from guichet.custodian import auditkey
from guichet.custodian import nir as nirs
from guichet.custodian import pseudonyms as ps
from guichet.custodian.correspondence import Correspondence
from guichet.custodian.grants import (
    AUDIT_CHECKPOINT,
    DATA_KEYS,
    DEFAULT_MAX_BATCH,
    DOMAIN_KEY,
    KIND_CUSTODIAN,
    OPTOUT,
    ROTATION,
    SHRED,
    STATUS,
    UNWRAP,
    Grant,
    check_batch,
    check_pseudonymise_purpose,
    pseudonymise_scope,
)
from guichet.custodian.home import CustodianHome, now_iso
from guichet.custodian.interface import Level, RotationHandover
from guichet.custodian.keys import DataKey, DomainKey, Keyring, check_domain, check_project, check_purpose
from guichet.custodian.tokens import token_counts
from guichet.errors import BadInput, Conflict, NotFound, Refused, Unavailable

DEVELOPMENT_LABEL = "development only: no protection against the hub's operator"
_OUTCOMES = ((Refused, "refused"), (NotFound, "not-found"), (BadInput, "bad-input"), (Conflict, "conflict"),
             (Unavailable, "unavailable"))


@dataclass
class _Call:
    """What the call log may say of a call: its purpose once checked, and how many values it carried."""

    purpose: str = "-"
    count: int = 0


def _outcome(exc: BaseException) -> str:
    return next((name for cls, name in _OUTCOMES if isinstance(exc, cls)), "error")


class LocalCustodian:
    """The custodian's logic over its home. The HTTP service runs exactly this, on the custodian's host.

    ``caller`` is a ``Grant``, or a name for the custodian's own operator (every scope: whoever can open
    the home holds the master secret anyway). The hub gets a hub grant from ``custodian_for``."""

    mode = "in-process"

    def __init__(self, home: Path | CustodianHome, caller: str | Grant = "custodian", *,
                 max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.home = home if isinstance(home, CustodianHome) else CustodianHome(Path(home))
        self.home.check()
        self.grant = caller if isinstance(caller, Grant) else Grant(caller, KIND_CUSTODIAN)
        self.max_batch = max_batch
        self.keys = Keyring(self.home)
        self.correspondence = Correspondence(self.home, self.keys)

    @property
    def caller(self) -> str:
        return self.grant.caller

    @contextlib.contextmanager
    def _call(self, operation: str, scope: str) -> Iterator[_Call]:
        """Check the grant, then log the call with its outcome whatever happens."""
        call = _Call()
        try:
            self.grant.require(scope)
            yield call
        except Exception as exc:
            self.home.log_call(self.caller, operation, call.purpose, call.count, _outcome(exc))
            raise
        self.home.log_call(self.caller, operation, call.purpose, call.count)

    # -- status ---------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self._call("status", STATUS):
            state = self.home.state()
            gen = state["hub_generation"]
            # Only the custodian's own operator sees how many tokens of each kind exist (old ones included).
            tokens = {"tokens": token_counts(self.home)} if self.grant.kind == KIND_CUSTODIAN else {}
            return {
                "mode": self.mode,
                "label": DEVELOPMENT_LABEL,
                "home": str(self.home.path),
                "caller": self.caller,
                "kind": self.grant.kind,
                "hub_generation": gen,
                "rotation_pending": state.get("rotation") is not None,
                "domains": list(state.get("domains", [])),
                "correspondence_segments": len(self.correspondence.segments(gen)),
                "shredded_projects": len(self.keys.shredded()),
                "escrow": state.get("escrow"),
                "escrow_current": bool(state.get("escrow")) and state["escrow"].get("hub_generation") == gen,
                "max_batch": self.max_batch,
                **tokens,
            }

    # -- level 1 --------------------------------------------------------------------------------------
    def domain_key(self, domain: str) -> DomainKey:
        """The level-1 key of a pseudonymisation domain (the same for every producer of the domain). A
        producer gets its own domain's only; the hub never gets one."""
        with self._call("domain-key", DOMAIN_KEY) as call:
            check_domain(domain)
            call.purpose, call.count = domain, 1
            self.grant.require_domain(domain)
            with self.home.lock():
                state = self.home.state()
                if domain not in state["domains"]:
                    state["domains"] = sorted([*state["domains"], domain])
                    self.home.save_state(state)
            return self.keys.domain_key(domain)

    # -- hub and project pseudonyms -------------------------------------------------------------------
    def _generation(self) -> int:
        state = self.home.state()
        if state.get("rotation") is not None:
            raise Unavailable("custodian: a rotation of hub pseudonyms is in progress; retry when it is done")
        return int(state["hub_generation"])

    def pseudonymise(self, values: pa.Array, level: Level, purpose: str, project: str | None = None) -> pa.Array:
        scope = pseudonymise_scope(level)
        with self._call(scope, scope) as call:
            if level not in ("hub", "project"):
                raise BadInput("level: must be hub or project")
            call.count = len(values)
            call.purpose = check_pseudonymise_purpose(level, purpose, project)
            check_batch(len(values), self.max_batch)
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            if level == "hub":
                return self._hub(values)
            assert project is not None  # checked with the purpose
            return self._project(values, project)

    def _hub(self, values: pa.Array) -> pa.Array:
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            raise BadInput("hub pseudonyms: values must be strings (level-1 pseudonyms)")
        # Every check and every HMAC runs on the distinct values only (a person fills many rows).
        encoded = pc.dictionary_encode(values.cast(pa.string()))
        distinct, rows = encoded.dictionary, encoded.indices
        passthrough = pc.or_(pc.equal(distinct, ""), pc.is_in(distinct, pa.array(nirs.MARKERS)))
        ok = pc.match_substring_regex(distinct, ps.PSEUDONYM_RE.pattern)
        wrong = pc.and_not(pc.invert(ok), passthrough)
        if pc.any(wrong).as_py():
            bad = pc.sum(wrong.take(rows)).as_py() or 0
            raise BadInput(f"hub pseudonyms: {bad} values are not level-1 pseudonyms, markers or empty")
        gen = self._generation()
        fresh = distinct.filter(ok)
        hashed = ps.pseudonymise_distinct(self.keys.hub_key(gen), ps.LABEL_HUB, fresh)
        self.correspondence.append(gen, fresh, hashed)
        answers = pc.if_else(passthrough, distinct, pc.replace_with_mask(distinct, ok, hashed))
        return answers.take(rows)

    def _project(self, values: pa.Array, project: str) -> pa.Array:
        binary = (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)
                  or pa.types.is_fixed_size_binary(values.type))
        if not (binary or pa.types.is_string(values.type) or pa.types.is_integer(values.type)):
            raise BadInput("project pseudonyms: person ids must be strings or integers, record keys bytes")
        if binary and values.null_count:
            raise BadInput(f"project pseudonyms: {values.null_count} record keys are null")
        key = self.keys.project_pseudonym_key(project)
        if binary:  # a record key's canonical encoding (another domain than the text values)
            return ps.project_key_pseudonyms(key, values)
        return ps.project_pseudonyms(key, values.cast(pa.string()))

    # -- the opt-out register's path ------------------------------------------------------------------
    def optout_pseudonyms(self, nir: str, birth_date: str, rights_nir: str | None = None) -> list[str]:
        """Hub pseudonyms of a person, for every domain issued and both kinds; the same work for a person
        found in no dataset as for one found in many. Their level-1 values join the correspondence table
        so that a later rotation carries the objection forward."""
        with self._call("optout-pseudonyms", OPTOUT) as call:
            call.purpose, call.count = "optout", 1
            if not nirs.key_ok(nir) or (rights_nir is not None and not nirs.key_ok(rights_nir)):
                raise BadInput("--nir: not a valid NIR (length or control key)")
            birth = ps.canonical_birth_date(birth_date)
            sex = nirs.sex_of(nir)
            if birth is None or sex is None:
                raise BadInput("--birth-date: not a date YYYY-MM-DD (or the NIR has no sex digit)")
            gen = self._generation()
            hub_key = self.keys.hub_key(gen)
            state = self.home.state()
            level1: list[str] = []
            for domain in state.get("domains", []):
                dk = self.keys.domain_key(domain).key
                level1.append(ps.level1_ano(dk, nir))
                level1.append(ps.level1_psa(dk, rights_nir or nir, birth, sex))
            arr = pa.array(sorted(set(level1)), pa.string())
            hub = ps.pseudonymise_column(hub_key, ps.LABEL_HUB, arr)
            self.correspondence.append(gen, arr, hub)
            return sorted(hub.to_pylist())

    # -- encryption keys ------------------------------------------------------------------------------
    def new_data_key(self, purpose: str) -> DataKey:
        with self._call("new-data-key", DATA_KEYS) as call:
            check_purpose(purpose)
            call.purpose, call.count = purpose, 1
            return self.keys.new_data_key(purpose)

    def unwrap(self, key_id: str, wrapped: str) -> bytes:
        with self._call("unwrap", UNWRAP) as call:
            call.count = 1
            purpose = wrapped.split(":")[1] if wrapped.count(":") >= 2 else ""
            with contextlib.suppress(BadInput):  # an unknown purpose stays "-" in the log; unwrap refuses it
                check_purpose(purpose)
                call.purpose = purpose
            return self.keys.unwrap(key_id, wrapped)

    def shred(self, project: str) -> bool:
        """Destroy a project's keys: True now, False if already destroyed, NotFound if never held."""
        with self._call("shred", SHRED) as call:
            call.purpose, call.count = f"project:{check_project(project)}", 1
            return self.keys.shred(project)

    # -- rotation -------------------------------------------------------------------------------------
    def begin_rotation(self) -> RotationHandover:
        with self._call("rotation-begin", ROTATION) as call:
            call.purpose = "rotation"
            handover = self._begin_rotation()
            call.count = handover.mapping.num_rows
            return handover

    def _begin_rotation(self) -> RotationHandover:
        with self.home.lock():
            state = self.home.state()
            if state.get("rotation") is not None:
                raise Conflict("custodian: a rotation is already in progress (complete or abort it first)")
            old = int(state["hub_generation"])
            new = old + 1
            table = self.correspondence.read(old)
            new_hub = ps.pseudonymise_column(self.keys.hub_key(new), ps.LABEL_HUB, table.column("level1"))
            rotation_id = "rot-" + secrets.token_hex(8)
            state["rotation"] = {"id": rotation_id, "new_generation": new, "started_at": now_iso()}
            self.home.save_state(state)
        mapping = pa.table({"old": table.column("hub"), "new": new_hub})
        return RotationHandover(rotation_id, old, new, mapping)

    def _pending(self, state: dict[str, Any], rotation_id: str) -> dict[str, Any]:
        pending = state.get("rotation")
        if pending is None or pending["id"] != rotation_id:
            raise Conflict("custodian: no such rotation in progress")
        return pending

    def complete_rotation(self, rotation_id: str) -> dict[str, Any]:
        with self._call("rotation-complete", ROTATION) as call:
            call.purpose = "rotation"
            done = self._complete_rotation(rotation_id)
            call.count = int(done["pseudonyms"])
            return done

    def _complete_rotation(self, rotation_id: str) -> dict[str, Any]:
        with self.home.lock():
            state = self.home.state()
            pending = self._pending(state, rotation_id)
            old, new = int(state["hub_generation"]), int(pending["new_generation"])
            table = self.correspondence.read(old)
            level1 = table.column("level1").combine_chunks() if table.num_rows else pa.array([], pa.string())
            new_hub = ps.pseudonymise_column(self.keys.hub_key(new), ps.LABEL_HUB, level1)
            self.correspondence.write_generation(new, pa.table({"level1": level1, "hub": new_hub}),
                                                 replace=self.correspondence.segments(old))
            state["hub_generation"] = new
            state["rotation"] = None
            state.setdefault("rotations", []).append({"id": rotation_id, "generation": new, "at": now_iso()})
            self.home.save_state(state)
        return {"rotation_id": rotation_id, "generation": new, "pseudonyms": table.num_rows}

    def abort_rotation(self, rotation_id: str) -> None:
        with self._call("rotation-abort", ROTATION) as call, self.home.lock():
            call.purpose = "rotation"
            state = self.home.state()
            self._pending(state, rotation_id)
            state["rotation"] = None
            self.home.save_state(state)

    # -- audit checkpoints ----------------------------------------------------------------------------
    def sign_audit_checkpoint(self, seq: int, head: str) -> SignedCheckpoint:
        """Sign the hub's audit head (``seq`` events, head hash ``head``) with the audit key and keep it as
        the latest checkpoint. Refused (``Conflict``) when it goes back from the latest one."""
        with self._call("audit-checkpoint-sign", AUDIT_CHECKPOINT) as call:
            call.purpose, call.count = "audit", 1
            with self.home.lock():
                return auditkey.sign(self.home, seq, head)

    def latest_audit_checkpoint(self) -> tuple[SignedCheckpoint | None, str]:
        """The latest checkpoint signed (or None) and the audit public key (base64), computed now from the
        master secret: a checkpoint file replaced by one signed with another key does not verify."""
        with self._call("audit-checkpoint-latest", AUDIT_CHECKPOINT) as call:
            call.purpose = "audit"
            return auditkey.latest(self.home), auditkey.public_key(self.home)
