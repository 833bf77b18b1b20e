"""The in-process custodian: keys in the custodian home, on the hub's machine.

*Development only*: whoever operates the hub can read the custodian home too, so it gives no
protection against the hub's operator. Production hubs run ``guichet custodian serve`` on another host
and name it in their configuration (see ``custodian_for``).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from guichet.custodian import nir as nirs
from guichet.custodian import pseudonyms as ps
from guichet.custodian.correspondence import Correspondence
from guichet.custodian.home import CustodianHome, now_iso
from guichet.custodian.interface import Level, RotationHandover
from guichet.custodian.keys import DataKey, DomainKey, Keyring, check_domain, check_project
from guichet.errors import BadInput, Conflict, Unavailable

PURPOSE_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,80}$")
DEVELOPMENT_LABEL = "development only: no protection against the hub's operator"


def check_label(purpose: str) -> str:
    if not PURPOSE_RE.match(purpose):
        raise BadInput("purpose: 1-80 characters from [A-Za-z0-9_.:/-]")
    return purpose


class LocalCustodian:
    """The custodian's logic over its home. The HTTP service runs exactly this, on the custodian's host."""

    mode = "in-process"

    def __init__(self, home: Path | CustodianHome, caller: str = "hub") -> None:
        self.home = home if isinstance(home, CustodianHome) else CustodianHome(Path(home))
        self.home.check()
        self.caller = caller
        self.keys = Keyring(self.home)
        self.correspondence = Correspondence(self.home, self.keys)

    # -- status ---------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        state = self.home.state()
        gen = state["hub_generation"]
        return {
            "mode": self.mode,
            "label": DEVELOPMENT_LABEL,
            "home": str(self.home.path),
            "hub_generation": gen,
            "rotation_pending": state.get("rotation") is not None,
            "domains": list(state.get("domains", [])),
            "correspondence_segments": len(self.correspondence.segments(gen)),
            "shredded_projects": len(self.keys.shredded()),
            "escrow": state.get("escrow"),
            "escrow_current": bool(state.get("escrow")) and state["escrow"].get("hub_generation") == gen,
        }

    # -- level 1 --------------------------------------------------------------------------------------
    def domain_key(self, domain: str) -> DomainKey:
        """The level-1 key of a pseudonymisation domain (the same for every producer of the domain)."""
        check_domain(domain)
        with self.home.lock():
            state = self.home.state()
            if domain not in state["domains"]:
                state["domains"] = sorted([*state["domains"], domain])
                self.home.save_state(state)
        self.home.log_call(self.caller, "domain-key", domain, 1)
        return self.keys.domain_key(domain)

    # -- hub and project pseudonyms -------------------------------------------------------------------
    def _generation(self) -> int:
        state = self.home.state()
        if state.get("rotation") is not None:
            raise Unavailable("custodian: a rotation of hub pseudonyms is in progress; retry when it is done")
        return int(state["hub_generation"])

    def pseudonymise(self, values: pa.Array, level: Level, purpose: str, project: str | None = None) -> pa.Array:
        check_label(purpose)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if level == "hub":
            out = self._hub(values)
        elif level == "project":
            if project is None:
                raise BadInput("project pseudonyms need a project")
            out = self._project(values, check_project(project))
        else:
            raise BadInput(f"level {level!r}: must be hub or project")
        self.home.log_call(self.caller, f"pseudonymise:{level}", purpose, len(values))
        return out

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
        if not (pa.types.is_string(values.type) or pa.types.is_integer(values.type)):
            raise BadInput("project pseudonyms: person ids must be strings or integers")
        key = self.keys.project_pseudonym_key(project)
        return ps.pseudonymise_column(key, ps.LABEL_PROJECT, values.cast(pa.string()))

    # -- the opt-out register's path ------------------------------------------------------------------
    def optout_pseudonyms(self, nir: str, birth_date: str, rights_nir: str | None = None) -> list[str]:
        """Hub pseudonyms of a person, for every domain issued and both kinds; the same work for a person
        found in no dataset as for one found in many. Their level-1 values join the correspondence table
        so that a later rotation carries the objection forward."""
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
        self.home.log_call(self.caller, "optout-pseudonyms", "optout", 1)
        return sorted(hub.to_pylist())

    # -- encryption keys ------------------------------------------------------------------------------
    def new_data_key(self, purpose: str) -> DataKey:
        dk = self.keys.new_data_key(purpose)
        self.home.log_call(self.caller, "new-data-key", purpose, 1)
        return dk

    def unwrap(self, key_id: str, wrapped: str) -> bytes:
        key = self.keys.unwrap(key_id, wrapped)
        self.home.log_call(self.caller, "unwrap", wrapped.split(":")[1] if ":" in wrapped else "?", 1)
        return key

    def shred(self, project: str) -> bool:
        existed = self.keys.shred(project)
        self.home.log_call(self.caller, "shred", f"project:{project}", 1)
        return existed

    # -- rotation -------------------------------------------------------------------------------------
    def begin_rotation(self) -> RotationHandover:
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
        self.home.log_call(self.caller, "rotation-begin", "rotation", table.num_rows)
        mapping = pa.table({"old": table.column("hub"), "new": new_hub})
        return RotationHandover(rotation_id, old, new, mapping)

    def _pending(self, state: dict[str, Any], rotation_id: str) -> dict[str, Any]:
        pending = state.get("rotation")
        if pending is None or pending["id"] != rotation_id:
            raise Conflict("custodian: no such rotation in progress")
        return pending

    def complete_rotation(self, rotation_id: str) -> dict[str, Any]:
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
        self.home.log_call(self.caller, "rotation-complete", "rotation", table.num_rows)
        return {"rotation_id": rotation_id, "generation": new, "pseudonyms": table.num_rows}

    def abort_rotation(self, rotation_id: str) -> None:
        with self.home.lock():
            state = self.home.state()
            self._pending(state, rotation_id)
            state["rotation"] = None
            self.home.save_state(state)
        self.home.log_call(self.caller, "rotation-abort", "rotation", 0)
