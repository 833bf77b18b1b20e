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
import re
import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.audit.log import append_event
from guichet.audit.mirror import complete_mirror
from guichet.errors import BadInput, GuichetError, NotFound, Refused, Unavailable
from guichet.governance import Unit, query, service
from guichet.hub import Hub
from guichet.permits.state import effective_state
from guichet.permits.tables import Permit
from guichet.workspace import session_lab
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


@dataclass
class _Prepared:
    """What a session needs once access is checked: the sandbox's user, folders, keys and limits."""

    manifest: dict[str, Any]
    user: tuple[int, int] | None
    outputs: Path
    keys: dict[str, str]
    limits: sandbox.Limits


def _prepare(unit: Unit, permit_id: str, kind: str, code: str, job: dict[str, Any],
             started: datetime) -> _Prepared:
    """Check access and set the session up (``job`` gets its files, a query its checked SQL); a refusal is
    logged, then raised."""
    hub, who = unit.hub, unit.actor.username
    try:
        if kind in ("lab", "notebook") and (missing := session_lab.notebook_missing()):
            raise Unavailable(missing)
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
    return _Prepared(manifest, user, outputs, keys, limits)


def _sandbox(unit: Unit, permit_id: str, kind: str, code: str, job: dict[str, Any], p: _Prepared,
             started: datetime, *, lab: Path | None = None,
             watch: Callable[[], str | None] | None = None) -> sandbox.Outcome:
    """Run the prepared job in its sandbox; a sandbox that could not start is logged, then answered in one line."""
    hub, who = unit.hub, unit.actor.username
    access = _access_check(hub, permit_id, who)

    def check() -> str | None:
        return access() or (watch() if watch is not None else None)

    try:
        return sandbox.run(job, p.keys, extract=extract_dir(hub, permit_id), outputs=p.outputs, user=p.user,
                           limits=p.limits, brought=_brought_dir(hub, permit_id, p.manifest), access=check, lab=lab)
    except (GuichetError, OSError) as exc:  # no bubblewrap, no process: logged, then answered in one line
        message = exc.message if isinstance(exc, GuichetError) else f"the session could not start ({type(exc).__name__})"
        _log(hub, permit_id, who, kind, code, rows=None, outcome="failed", out=None, message=message, started=started)
        if isinstance(exc, GuichetError):
            raise
        raise SessionFailed(message) from None
    finally:
        p.keys.clear()


_WHAT = {"sql": "query", "python": "script", "notebook": "notebook", "lab": "lab"}


def _run(unit: Unit, permit_id: str, kind: str, code: str, job: dict[str, Any]) -> tuple[sandbox.Outcome, int]:
    """Check access, run the job in a sandbox, log it; answer (outcome, run id). Refusals and failures are
    logged, then raised."""
    hub, who = unit.hub, unit.actor.username
    started = datetime.now(UTC)
    prepared = _prepare(unit, permit_id, kind, code, job, started)
    limits = prepared.limits
    out = _sandbox(unit, permit_id, kind, code, job, prepared, started)
    unit.note(kind=kind, exit=out.exit, cpu_s=out.cpu_s, peak_kb=out.peak_kb)
    if out.killed and out.ended_access:
        message = f"access ended: the {_WHAT[kind]} was stopped ({out.ended_access})"
        _log(hub, permit_id, who, kind, code, rows=None, outcome="killed", out=out, message=message, started=started)
        raise SessionFailed(message, out.stdout, out.stderr)
    if out.killed:
        message = f"the {_WHAT[kind]} was stopped past its time limit ({limits.seconds:g} s)"
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
    elif kind == "notebook":
        if out.exit == 0 and answer.get("ok"):
            return _log(hub, permit_id, who, kind, code, rows=None, outcome="ok", out=out, message=None,
                        started=started)
        message = _failure_message(out, "the notebook failed")
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


MAX_NOTEBOOK = 16 << 20  # bytes
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,99}")


def _notebook_text(notebook: str) -> str:
    if len(notebook.encode("utf-8")) > MAX_NOTEBOOK:
        raise BadInput(f"notebook: larger than {MAX_NOTEBOOK >> 20} MB")
    try:
        doc = json.loads(notebook)
    except ValueError:
        raise BadInput("notebook: not a Jupyter notebook (invalid JSON)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list) or not isinstance(doc.get("nbformat"), int):
        raise BadInput("notebook: not a Jupyter notebook (no cells or nbformat)")
    return notebook


@service("workspace.notebook", resource=_permit_resource, transactional=False, unguarded=("notebook",))
def run_notebook(unit: Unit, permit_id: str, notebook: str, name: str) -> dict[str, Any]:
    """Execute a notebook headless (nbclient, its kernel in a fresh sandbox like a script's); the executed
    notebook is kept in the workspace's ``outputs/`` as ``<name>.executed.ipynb`` — also when a cell failed."""
    stem = name[:-6] if name.endswith(".ipynb") else name
    if not _NAME.fullmatch(stem):
        raise BadInput("notebook name: letters, digits, dots, dashes, underscores and spaces (at most 100)")
    output = f"{stem}.executed.ipynb"
    text = _notebook_text(notebook)
    out, run_id = _run(unit, permit_id, "notebook", text, {"mode": "notebook", "notebook": text, "output": output})
    return {"permit": permit_id, "output": f"outputs/{output}", "run": run_id, "cpu_s": out.cpu_s,
            "peak_kb": out.peak_kb}


def _lab_folder(unit: Unit, permit_id: str, user: tuple[int, int] | None) -> Path:
    """The person's lab folder, fresh (a lab of theirs already answering there is refused)."""
    who = unit.actor.username
    folder = session_lab.lab_dir(unit.hub, permit_id, who)
    state = session_lab.read_state(unit.hub, permit_id, who)
    if state is not None and session_lab.api(folder, str(state.get("token")), str(state.get("base_url")) + "api/status",
                                              timeout=2.0) is not None:
        raise Refused(f"a lab of {who} on permit {permit_id} is already running (stop it first)")
    if folder.is_symlink():
        raise Refused(f"workspace of {permit_id}: its lab folder is not a folder")
    if folder.exists():
        for entry in folder.iterdir():  # what a stopped lab left (its state, its socket)
            if entry.is_dir() and not entry.is_symlink():
                raise Refused(f"workspace of {permit_id}: unexpected folder in a lab folder")
            entry.unlink()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    owner = user if user is not None else (os.geteuid(), os.getegid())
    os.chown(folder, *owner)
    os.chmod(folder, 0o700)
    return folder


@service("workspace.lab", resource=_permit_resource, transactional=False)
def lab(unit: Unit, permit_id: str, announce: Callable[[dict[str, Any]], None] | None = None,
        stop: threading.Event | None = None) -> dict[str, Any]:
    """Run JupyterLab in a sandbox of the permit's workspace, for a person named on it, until it stops: the
    caller interrupts it, it is idle for ``workspace_session_lab_idle_seconds``, it reaches its time limit, or
    access ends (the watchdog). It listens on a Unix socket only; ``announce`` is called once it answers, with
    where to reach it (its base URL is ``/workspaces/PERMIT/lab/``). ``stop``: set to stop it (at the
    watchdog's next check), as the caller's Ctrl-C does at once. The start and the stop are audited and the
    lab is one run of the history."""
    hub, who = unit.hub, unit.actor.username
    started = datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    base = session_lab.base_url(permit_id)
    job: dict[str, Any] = {"mode": "lab", "lab": {"token": token, "base_url": base}}
    code = f"jupyterlab:{base}"
    prepared = _prepare(unit, permit_id, "lab", code, job, started)
    try:
        folder = _lab_folder(unit, permit_id, prepared.user)
    except GuichetError as exc:
        prepared.keys.clear()
        _log(hub, permit_id, who, "lab", code, rows=None, outcome="refused", out=None, message=exc.message,
             started=started)
        raise
    run_id = _log(hub, permit_id, who, "lab", code, rows=None, outcome="running", out=None, message=None,
                  started=started)
    with hub.store.write() as s:  # the start, audited now (the decorator audits the stop)
        append_event(s, unit.actor, "workspace.lab", obj=unit.object, details={"event": "started", "run": run_id})
    complete_mirror(hub.store, hub.audit_dir)
    session_lab.write_state(folder, {"permit": permit_id, "who": who, "run": run_id, "token": token,
                                     "base_url": base, "socket": str(folder / session_lab.SOCKET),
                                     "started": started.isoformat(timespec="seconds")})
    idle_limit = float(hub.config.properties.get("workspace_session_lab_idle_seconds", 1800))
    ended = threading.Event()
    stop_reason: list[str] = []

    def watch() -> str | None:
        if stop is not None and stop.is_set():
            reason, message = "user", "stopped by its user"
        else:
            idle = session_lab.idle_seconds(folder, token, base)
            if idle is None or idle < idle_limit:
                return None
            reason, message = "idle", f"the lab was stopped: idle for {idle_limit:g} s"
        stop_reason.append(message)
        # a graceful end first (its kernels shut down, the launcher reports the peak memory); the sandbox is
        # killed anyway if it has not ended within the grace time
        session_lab.shutdown(folder, token, base)
        return sandbox.GracefulStop(reason)  # it has Limits.end_grace_seconds to end by itself, then is killed

    def ready() -> None:
        deadline = time.monotonic() + 120
        while not ended.is_set() and time.monotonic() < deadline:
            if session_lab.api(folder, token, base + "api/status", timeout=2.0) is not None:
                if announce is not None:
                    announce({"permit": permit_id, "run": run_id, "socket": str(folder / session_lab.SOCKET),
                              "base_url": base, "token_file": str(folder / session_lab.STATE)})
                return
            ended.wait(0.3)

    waiter = threading.Thread(target=ready, daemon=True)
    waiter.start()
    out: sandbox.Outcome | None = None
    try:
        out = _sandbox(unit, permit_id, "lab", code, job, prepared, started, lab=folder, watch=watch)
    except KeyboardInterrupt:  # the caller's Ctrl-C: the sandbox is already killed (``sandbox.run``'s finally)
        out = None
    finally:
        ended.set()
        for name in (session_lab.STATE, session_lab.SOCKET):
            (folder / name).unlink(missing_ok=True)
    if out is None:
        outcome, message = "stopped", "stopped by its user"
    elif stop_reason:  # ended by the graceful shutdown, or killed after it
        outcome, message = "stopped", stop_reason[0]
    elif out.killed and out.ended_access:
        outcome, message = "killed", f"access ended: the lab was stopped ({out.ended_access})"
    elif out.killed:
        outcome, message = "killed", f"the lab was stopped past its time limit ({prepared.limits.seconds:g} s)"
    else:
        outcome = "stopped" if out.exit == 0 else "failed"
        message = _failure_message(out, f"the lab exited with status {out.exit}")
    seconds = round((datetime.now(UTC) - started).total_seconds(), 3)
    with hub.store.write() as s:
        run = s.get(SessionRun, run_id)
        assert run is not None
        run.outcome, run.message = outcome, message
        run.exit = 0 if outcome == "stopped" else 2
        run.seconds = out.seconds if out else seconds
        run.cpu_s, run.peak_kb = (out.cpu_s, out.peak_kb) if out else (0.0, 0)
    unit.note(kind="lab", event="stopped", run=run_id, outcome=outcome)
    if outcome in ("killed", "failed"):
        raise SessionFailed(message, out.stdout if out else b"", out.stderr if out else b"")
    return {"permit": permit_id, "run": run_id, "outcome": outcome, "message": message, "seconds": seconds}


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
