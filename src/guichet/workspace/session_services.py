"""Workspace sessions: ``workspace.sql`` (one query), ``workspace.python`` (one script), each in a fresh
sandbox (``session_sandbox``) over the permit's extract, for a person named in the permit while it is in
force; ``workspace.history`` (every run, logged whatever its outcome).

Access follows the permit at every call: the person named in its current document, the permit issued and
in force (not before its first day, not expired, revoked or suspended), their training attestation valid,
the extract built and ``ready`` (a ``held`` extract is not queried until an operator releases it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.errors import BadInput, GuichetError, NotFound, Refused
from guichet.governance import Unit, query, service
from guichet.hub import Hub
from guichet.permits.state import effective_state
from guichet.permits.tables import Permit
from guichet.workspace import session_sandbox as sandbox
from guichet.workspace.build import extract_dir, load_manifest, workspace_dir
from guichet.workspace.extras import BROUGHT_DIR
from guichet.workspace.services import _permit_resource
from guichet.workspace.session_access import SessionFailed, outputs_dir, require_access
from guichet.workspace.session_sql import check_sql
from guichet.workspace.tables import SessionRun

MAX_ROWS = 10_000
MAX_SCRIPT = 1 << 20  # bytes


def _extract(hub: Hub, permit_id: str) -> dict[str, Any]:
    manifest = load_manifest(hub, permit_id)
    if manifest is None:
        raise Refused(f"permit {permit_id} has no extract yet: an operator builds it (guichet workspace build)")
    status = manifest["result"].get("status")
    if status != "ready":
        raise Refused(f"the extract of permit {permit_id} is {status}: an operator must release it before sessions")
    return manifest


def _prepare_outputs(hub: Hub, permit_id: str, user: tuple[int, int] | None) -> Path:
    out = outputs_dir(hub, permit_id)
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        out.mkdir(mode=0o700)
        st = os.lstat(out)
    if not stat.S_ISDIR(st.st_mode):
        raise Refused(f"workspace of {permit_id}: outputs/ is not a folder")
    owner = user if user is not None else (os.geteuid(), os.getegid())
    if (st.st_uid, st.st_gid) != owner:  # given to the session's user (or back to the hub's, after a mode change)
        os.chown(out, *owner)
    return out


def _check_runtime(hub: Hub) -> None:
    """The session sees its runtime read-only at its own paths: refuse when the hub home or the custodian
    home lies inside it (the session would see them)."""
    for root in [*sandbox.runtime_paths(), Path("/usr/lib"), Path("/usr/lib64"), Path("/usr/bin")]:
        for what, path in (("hub home", hub.home), ("custodian home", hub.config.custodian_home)):
            if Path(path).resolve().is_relative_to(root):
                raise Refused(f"workspace sessions: the {what} is inside the session's runtime ({root}); "
                              "move it out of the interpreter's and libraries' folders")


def _brought_views(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The datasets brought into the workspace (``workspace bring``) that a session shows as views, named as
    the manifest lists them — but never one whose name is an extract table's (DuckDB's names ignore case:
    the extract's table wins)."""
    extract = {str(n).upper() for n in manifest["files"]}
    return {name: meta for name, meta in sorted((manifest.get("brought") or {}).items())
            if str(name).upper() not in extract and isinstance(meta, dict) and "path" in meta}


def _views(manifest: dict[str, Any]) -> list[str]:
    return [*manifest["files"], *_brought_views(manifest)]


def _files(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    files = {name: {"path": f"/workspace/extract/{meta['path']}"} for name, meta in sorted(manifest["files"].items())}
    files.update({name: {"path": f"/workspace/brought/{Path(str(meta['path'])).name}"}
                  for name, meta in _brought_views(manifest).items()})
    return files


def _keys(hub: Hub, manifest: dict[str, Any]) -> dict[str, str]:
    """Each table's (and brought dataset's) data key, unwrapped by the custodian (the project's key), base64 —
    for the sandbox's keys pipe."""
    from guichet.custodian import custodian_for

    custodian = custodian_for(hub.config, caller="workspace")
    metas = {**dict(sorted(manifest["files"].items())), **_brought_views(manifest)}
    return {name: base64.b64encode(custodian.unwrap(meta["key_id"], meta["wrapped"])).decode("ascii")
            for name, meta in metas.items()}


def _access_check(hub: Hub, permit_id: str, who: str) -> Callable[[], str | None]:
    """What the watchdog asks while a session runs: None while ``who``'s access to the permit is open, else
    why it ended (the permit revoked, suspended or expired, the person removed, their attestation lapsed)."""
    def check() -> str | None:
        try:
            with hub.store.read() as s:
                require_access(s, permit_id, who, datetime.now(UTC).date())
        except GuichetError as exc:
            return exc.message
        return None

    return check


def _brought_dir(hub: Hub, permit_id: str, manifest: dict[str, Any]) -> Path | None:
    """The workspace's ``brought/`` folder (bound read-only in the sandbox) when a session shows some of it."""
    folder = workspace_dir(hub, permit_id) / BROUGHT_DIR
    if not _brought_views(manifest):
        return None
    if folder.is_symlink() or not folder.is_dir():
        raise Refused(f"workspace of {permit_id}: brought/ is not a folder")
    return folder


def _log(hub: Hub, permit_id: str, who: str, kind: str, code: str, *, rows: int | None, outcome: str,
         out: sandbox.Outcome | None, message: str | None, started: datetime) -> int:
    run = SessionRun(permit_id=permit_id, who=who, kind=kind, started_at=started,
                     code_sha256=hashlib.sha256(code.encode("utf-8")).hexdigest(), rows=rows,
                     exit=0 if outcome == "ok" else 2, outcome=outcome,
                     cpu_s=out.cpu_s if out else 0.0, peak_kb=out.peak_kb if out else 0,
                     seconds=out.seconds if out else 0.0, message=(message or None) and str(message)[:500])
    with hub.store.write() as s:
        s.add(run)
        s.flush()
        return int(run.id)


def _run(unit: Unit, permit_id: str, kind: str, code: str, job: dict[str, Any]) -> tuple[sandbox.Outcome, int]:
    """Check access, run the job in a sandbox, log it; answer (outcome, run id). Refusals and failures are
    logged, then raised."""
    hub, who = unit.hub, unit.actor.username
    started = datetime.now(UTC)
    try:
        require_access(unit.session, permit_id, who, started.date())
        manifest = _extract(hub, permit_id)
        if kind == "sql":
            job["sql"] = check_sql(code, _views(manifest))
        _check_runtime(hub)
        user = sandbox.session_user(hub.config.properties)
        outputs = _prepare_outputs(hub, permit_id, user)
        job["files"] = _files(manifest)
        keys = _keys(hub, manifest)
        limits = sandbox.Limits.of(hub.config.properties, kind)
    except GuichetError as exc:
        _log(hub, permit_id, who, kind, code, rows=None, outcome="refused", out=None, message=exc.message,
             started=started)
        raise
    try:
        out = sandbox.run(job, keys, extract=extract_dir(hub, permit_id), outputs=outputs, user=user, limits=limits,
                          brought=_brought_dir(hub, permit_id, manifest), access=_access_check(hub, permit_id, who))
    except (GuichetError, OSError) as exc:  # no bubblewrap, no process: logged, then answered in one line
        message = exc.message if isinstance(exc, GuichetError) else f"the session could not start ({type(exc).__name__})"
        _log(hub, permit_id, who, kind, code, rows=None, outcome="failed", out=None, message=message, started=started)
        if isinstance(exc, GuichetError):
            raise
        raise SessionFailed(message) from None
    finally:
        keys.clear()
    unit.note(kind=kind, exit=out.exit, cpu_s=out.cpu_s, peak_kb=out.peak_kb)
    if out.killed and out.ended_access:
        message = f"access ended: the {'query' if kind == 'sql' else 'script'} was stopped ({out.ended_access})"
        _log(hub, permit_id, who, kind, code, rows=None, outcome="killed", out=out, message=message, started=started)
        raise SessionFailed(message, out.stdout, out.stderr)
    if out.killed:
        message = f"the {'query' if kind == 'sql' else 'script'} was stopped past its time limit ({limits.seconds:g} s)"
        _log(hub, permit_id, who, kind, code, rows=None, outcome="killed", out=out, message=message, started=started)
        raise SessionFailed(message, out.stdout, out.stderr)
    return out, _log_later(hub, permit_id, who, kind, code, out, started)


def _log_later(hub: Hub, permit_id: str, who: str, kind: str, code: str, out: sandbox.Outcome,
               started: datetime) -> int:
    answer = out.answer or {}
    if kind == "sql":
        if out.exit == 0 and answer.get("ok"):
            return _log(hub, permit_id, who, kind, code, rows=len(answer.get("rows", [])), outcome="ok", out=out,
                        message=None, started=started)
        message = _failure_message(out, "the query failed")
    else:
        if out.exit == 0:
            return _log(hub, permit_id, who, kind, code, rows=None, outcome="ok", out=out, message=None,
                        started=started)
        message = _failure_message(out, f"the script exited with status {out.exit}")
    _log(hub, permit_id, who, kind, code, rows=None, outcome="failed", out=out, message=message, started=started)
    raise SessionFailed(message, out.stdout, out.stderr)


def _failure_message(out: sandbox.Outcome, default: str) -> str:
    answer = out.answer or {}
    error = answer.get("error") if isinstance(answer.get("error"), str) else None
    if error:
        return f"{default}: {error}"
    if out.exit < 0:
        return f"{default}: stopped by signal {-out.exit} (a resource limit)"
    return default


@service("workspace.sql", resource=_permit_resource, transactional=False, unguarded=("sql",))
def run_sql(unit: Unit, permit_id: str, sql: str, max_rows: int = 1000) -> dict[str, Any]:
    """Run one query (checked against the allowlist) on the permit's extract in a fresh sandbox; answer its
    columns and at most ``max_rows`` rows."""
    if not 1 <= int(max_rows) <= MAX_ROWS:
        raise BadInput(f"--max-rows: between 1 and {MAX_ROWS}")
    out, run_id = _run(unit, permit_id, "sql", sql, {"mode": "sql", "max_rows": int(max_rows)})
    answer = out.answer or {}
    return {"permit": permit_id, "columns": answer.get("columns", []), "rows": answer.get("rows", []),
            "truncated": bool(answer.get("truncated")), "run": run_id, "cpu_s": out.cpu_s}


@service("workspace.python", resource=_permit_resource, transactional=False, unguarded=("script",))
def run_python(unit: Unit, permit_id: str, script: str) -> dict[str, Any]:
    """Run one Python script on the permit's extract in a fresh sandbox (its working folder the workspace's
    ``outputs/``); answer what it printed."""
    if len(script.encode("utf-8")) > MAX_SCRIPT:
        raise BadInput(f"script: larger than {MAX_SCRIPT // 1024} KB")
    out, run_id = _run(unit, permit_id, "python", script, {"mode": "python", "code": script})
    return {"permit": permit_id, "exit": out.exit, "stdout": out.stdout.decode("utf-8", "replace"),
            "stderr": out.stderr.decode("utf-8", "replace"), "run": run_id, "cpu_s": out.cpu_s}


def _may_read(unit: Unit, permit: Permit) -> None:
    named = any(p.get("name") == unit.actor.username for p in permit.document.get("people", []))
    if not named and not unit.actor.roles & {"operator", "auditor"}:
        raise Refused(f"{unit.actor.username} is not named on permit {permit.id}: its workspace is not theirs")


def _runs(session: Session, permit_id: str) -> list[dict[str, Any]]:
    runs = session.execute(select(SessionRun).where(SessionRun.permit_id == permit_id).order_by(SessionRun.id)).scalars()
    return [{"who": r.who, "when": (r.started_at if r.started_at.tzinfo else r.started_at.replace(tzinfo=UTC))
             .astimezone(UTC).isoformat(timespec="seconds"),
             "code_sha256": r.code_sha256, "rows": r.rows, "exit": r.exit, "cpu_s": r.cpu_s,
             "kind": r.kind, "outcome": r.outcome, "peak_kb": r.peak_kb} for r in runs]


@query("workspace.history", resource=_permit_resource)
def history(unit: Unit, permit_id: str) -> list[dict[str, Any]]:
    """Every session run of a permit, oldest first — for the permit's people, operators and auditors."""
    permit = unit.session.get(Permit, permit_id)
    if permit is None:
        raise NotFound(f"no permit {permit_id}")
    _may_read(unit, permit)
    return _runs(unit.session, permit_id)


@query("workspace.show", resource=_permit_resource)
def show(unit: Unit, permit_id: str) -> dict[str, Any]:
    """A permit's workspace as its pages show it: the permit's state, validity and people, the extract's
    status and data dictionary, the files in ``outputs/`` (not followed when they are links), the history."""
    permit = unit.session.get(Permit, permit_id)
    if permit is None:
        raise NotFound(f"no permit {permit_id}")
    _may_read(unit, permit)
    today = datetime.now(UTC).date()
    state = effective_state(unit.session, permit, today)
    manifest = load_manifest(unit.hub, permit_id)
    dictionary: dict[str, Any] = {}
    path = workspace_dir(unit.hub, permit_id) / "dictionary.json"
    if manifest is not None and path.is_file() and not path.is_symlink():
        dictionary = json.loads(path.read_text(encoding="utf-8"))
    files = []
    out = outputs_dir(unit.hub, permit_id)
    if out.is_dir() and not out.is_symlink():
        for entry in sorted(os.scandir(out), key=lambda e: e.name)[:500]:
            st = entry.stat(follow_symlinks=False)
            kind = "link" if entry.is_symlink() else "folder" if entry.is_dir(follow_symlinks=False) else "file"
            files.append({"name": entry.name, "kind": kind, "bytes": st.st_size if kind == "file" else None})
    me = unit.actor.username
    return {"permit": {"id": permit.id, "state": state, "valid_from": permit.valid_from.isoformat(),
                       "valid_until": permit.valid_until.isoformat(),
                       "title": str(permit.document.get("title", "")),
                       "people": [str(p.get("name")) for p in permit.document.get("people", [])]},
            "extract": {"status": manifest["result"].get("status") if manifest else None,
                        "tables": dict(manifest["result"].get("tables", {})) if manifest else {}},
            "dictionary": dictionary.get("tables", {}), "files": files,
            "brought": {name: (dictionary.get("brought") or {}).get(name, {"columns": meta.get("columns", [])})
                        for name, meta in (_brought_views(manifest) if manifest else {}).items()},
            "history": _runs(unit.session, permit_id),
            "may_query": any(p.get("name") == me for p in permit.document.get("people", []))
            and "researcher" in unit.actor.roles}
