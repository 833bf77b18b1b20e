"""A session's sandbox: one OS process under bubblewrap, seeing only its runtime (read-only), its extract
(read-only), its workspace's ``outputs/`` (its working folder, writable) and a private tmpfs; no network
interface, no other process, no environment from the hub; its data keys through an inherited file
descriptor; a seccomp filter (``session_seccomp``); resource limits; a watchdog that kills the whole
process group past the time limit.

Two modes (``docs/workspace.md``, "Sessions"):

- **dedicated user** (the hub runs as root and ``workspace_session_uid`` is not ``off``): bubblewrap runs
  privileged without a user namespace and keeps only ``CAP_SETUID``/``CAP_SETGID`` for the launcher, which
  reads the extract, sets its limits and switches to the session's uid (default 62019, no account, no home,
  owning nothing but ``outputs/``) before any researcher code runs;
- **user namespace** (otherwise): bubblewrap as the hub's own user, in a new user namespace; the sandbox's
  processes are the hub's uid outside it (no process-count limit: it would count every hub process).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guichet.errors import Refused
from guichet.workspace import session_seccomp as seccomp

BWRAP = "bwrap"
DEFAULT_UID = 62019
OUTPUT_CAP = 1 << 20  # bytes of stdout, stderr and the answer kept (the rest is drained and dropped)
MB = 1 << 20
SANDBOX_TMP = "/tmp"  # noqa: S108 - the sandbox's own tmpfs (not the host's /tmp), wiped when it ends


class GracefulStop(str):
    """A watchdog's reason to stop a sandbox that was asked to end by itself first (``Limits.end_grace_seconds``)."""

    __slots__ = ()


@dataclass
class Limits:
    """A session's limits (hub properties ``workspace_session_*``)."""

    seconds: float
    address_space: int = 4096 * MB
    memory_limit: str = "1024MiB"  # DuckDB's
    spill_limit: str = "768MB"
    file_size: int = 1024 * MB
    processes: int = 256
    open_files: int = 256
    threads: int = 2
    tmpfs_size: int = 1024 * MB  # a tmpfs lives in the host's memory
    recheck_seconds: float = 15.0  # the watchdog asks again whether access is open, this often
    # after the watchdog's check answered a ``GracefulStop`` (a lab asked to shut down, which reports its peak
    # memory as it ends), how long the sandbox may still end by itself before it is killed; any other reason
    # (access ended) kills it at once
    end_grace_seconds: float = 10.0

    @classmethod
    def of(cls, properties: dict[str, Any], kind: str) -> Limits:
        default = {"sql": 60.0, "python": 1800.0, "notebook": 1800.0, "lab": 8 * 3600.0}[kind]
        p = properties
        memory_mb = int(p.get("workspace_session_memory_mb", 4096))
        # DuckDB's own limit stays within the process's: at most half its address space (the rest holds the
        # interpreter, the libraries, the decrypted Arrow tables and the threads' reservations)
        duck_mb = min(int(p.get("workspace_session_duckdb_memory_mb", 1024)), memory_mb // 2)
        return cls(seconds=float(p.get(f"workspace_session_{kind}_seconds", default)),
                   address_space=memory_mb * MB,
                   memory_limit=f"{duck_mb}MiB",
                   spill_limit=f"{int(p.get('workspace_session_spill_mb', 768))}MB",
                   file_size=int(p.get("workspace_session_file_mb", 1024)) * MB,
                   processes=int(p.get("workspace_session_processes", 256)),
                   threads=int(p.get("workspace_session_threads", 2)),
                   tmpfs_size=int(p.get("workspace_session_tmpfs_mb", 1024)) * MB,
                   recheck_seconds=max(0.1, float(p.get("workspace_session_recheck_seconds", 15))))


@dataclass
class Outcome:
    """What came back from a session: exit status, the answer (a query's), output, usage."""

    exit: int
    killed: bool
    answer: dict[str, Any] | None
    stdout: bytes
    stderr: bytes
    cpu_s: float
    peak_kb: int
    seconds: float
    truncated_output: bool = False
    notes: list[str] = field(default_factory=list)
    ended_access: str | None = None  # why the watchdog killed it when access ended meanwhile (else None)


def session_user(properties: dict[str, Any]) -> tuple[int, int] | None:
    """The dedicated uid and gid when the host allows it (the hub runs as root), else None."""
    value = str(properties.get("workspace_session_uid", DEFAULT_UID)).strip().lower()
    if value in ("off", "none", "") or os.geteuid() != 0:
        return None
    uid = int(value)
    gid = int(properties.get("workspace_session_gid", uid))
    if uid <= 0 or gid <= 0:
        raise Refused("workspace_session_uid: must be an unprivileged uid (> 0) or off")
    return uid, gid


def runtime_paths() -> list[Path]:
    """What the session needs to run Python with the hub's libraries: the interpreter's prefix, the
    environment's site-packages, and guichet's own package (wherever each is installed)."""
    import guichet

    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    import duckdb
    import pyarrow

    for mod in (duckdb, pyarrow):
        paths.add(Path(str(mod.__file__)).resolve().parent.parent)
    paths.add(Path(guichet.__file__).resolve().parent)
    # a folder inside another one is bound by the outer one
    out: list[Path] = []
    for p in sorted(paths, key=lambda p: len(p.parts)):
        if not any(p.is_relative_to(q) for q in out):
            out.append(p)
    return out


def _site_dirs() -> list[str]:
    import duckdb
    import pyarrow

    import guichet

    return sorted({str(Path(str(m.__file__)).resolve().parent.parent) for m in (duckdb, pyarrow, guichet)})


def bwrap_command(*, extract: Path, outputs: Path, user: tuple[int, int] | None, limits: Limits,
                  fds: tuple[int, int, int], brought: Path | None = None, lab: Path | None = None) -> list[str]:
    """The bubblewrap command line of one session (no secret in it): the job comes on the file descriptor
    ``fds[0]``, the answer goes back on ``fds[1]``, the data keys come on ``fds[2]``."""
    bwrap = shutil.which(BWRAP)
    if bwrap is None:
        raise Refused("workspace sessions need bubblewrap (bwrap), which is not installed on this host")
    cmd = [bwrap, "--die-with-parent", "--new-session", "--as-pid-1", "--unshare-ipc", "--unshare-pid", "--unshare-net",
           "--unshare-uts", "--unshare-cgroup-try", "--hostname", "session", "--clearenv"]
    if user is None:
        # the hub's uid appears as an ordinary one inside (never 0, even for a hub run as root)
        cmd += ["--unshare-user", "--disable-userns", "--uid", str(DEFAULT_UID), "--gid", str(DEFAULT_UID)]
    else:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    cmd += ["--perms", "0755", "--dir", "/usr"]
    for usr in ("/usr/lib", "/usr/lib64", "/usr/bin"):
        if Path(usr).is_dir():
            cmd += ["--ro-bind", usr, usr]
    cmd += ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin"]
    # the private tmpfs first: a runtime installed under the host's /tmp (a clone or a venv there) is bound on
    # top of it below, instead of being hidden by it
    cmd += ["--size", str(limits.tmpfs_size), "--tmpfs", SANDBOX_TMP]
    runtime = runtime_paths()
    made: set[Path] = set()
    for p in [*runtime, Path("/workspace/outputs")]:  # bubblewrap makes missing folders 0700: the session's
        for parent in reversed(p.parents):  # user must traverse them
            if parent != Path("/") and parent not in made and not parent.is_relative_to("/usr"):
                made.add(parent)
                cmd += ["--perms", "0755", "--dir", str(parent)]
    for p in runtime:
        cmd += ["--ro-bind", str(p), str(p)]
    cmd += ["--dev", "/dev",
            "--ro-bind", str(extract), "/workspace/extract",
            *(["--ro-bind", str(brought), "/workspace/brought"] if brought is not None else []),
            *(["--bind", str(lab), "/workspace/lab"] if lab is not None else []),  # a lab's socket folder
            "--bind", str(outputs), "/workspace/outputs", "--chdir", "/workspace/outputs",
            "--remount-ro", "/"]  # the sandbox's own root (its folders, /usr, /workspace) read-only too
    env = {"PATH": "/usr/bin:/bin", "HOME": "/workspace/outputs", "LANG": "C.UTF-8", "TZ": "UTC",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1",
           "OMP_NUM_THREADS": str(limits.threads), "OPENBLAS_NUM_THREADS": str(limits.threads),
           "ARROW_DEFAULT_MEMORY_POOL": "system", "MPLBACKEND": "Agg", "MPLCONFIGDIR": SANDBOX_TMP + "/session/mpl",
           "TMPDIR": SANDBOX_TMP + "/session"}
    for k, v in env.items():
        cmd += ["--setenv", k, v]
    boot = ("import sys; sys.path[:0] = " + json.dumps(_site_dirs()) + "; "
            f"from guichet.workspace.session_inside import main; sys.exit(main({fds[0]}, {fds[1]}, {fds[2]}))")
    cmd += [str(Path(sys.executable)), "-I", "-S", "-c", boot]
    return cmd


class _Drain(threading.Thread):
    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.data, self.overflow = fd, bytearray(), False

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            room = OUTPUT_CAP - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > max(room, 0):
                self.overflow = True
        os.close(self.fd)


def _kill_sandbox(info: bytearray) -> None:
    """SIGKILL the sandbox's first process (bubblewrap's ``--info-fd`` names it): it is the init of the
    sandbox's pid namespace, whose every other process the kernel then kills — those that left the process
    group, and those whose parent-death signal the switch of user cleared, too."""
    try:
        pid = int(json.loads(bytes(info).decode() or "{}").get("child-pid", 0))
    except ValueError:
        return
    if pid > 1:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(job: dict[str, Any], keys: dict[str, str], *, extract: Path, outputs: Path, user: tuple[int, int] | None,
        limits: Limits, brought: Path | None = None, access: Callable[[], str | None] | None = None,
        lab: Path | None = None) -> Outcome:
    """Run one job in a fresh sandbox and wait for it (or kill it past ``limits.seconds``). ``keys``: each
    table's data key (base64), written into a pipe that only the sandbox's decrypting child reads.
    ``brought``: the workspace's brought datasets (encrypted), bound read-only at ``/workspace/brought``.
    ``access``: asked every ``limits.recheck_seconds`` while the sandbox runs; when it answers a reason (the
    permit's access ended, a lab idle), the watchdog kills the sandbox and the outcome carries that reason.
    ``lab``: a lab's folder, bound read-write at ``/workspace/lab`` (its Unix socket)."""
    job = dict(job)
    job["uid"], job["gid"] = (user if user else (None, None))
    job["limits"] = {"cpu_s": int(limits.seconds) + 5, "address_space": limits.address_space,
                     "file_size": limits.file_size, "open_files": limits.open_files, "processes": limits.processes}
    job["site"] = _site_dirs()
    job["duckdb"] = {"threads": limits.threads, "memory_limit": limits.memory_limit, "spill_limit": limits.spill_limit,
                     "max_execution_time_ms": max(1, int(limits.seconds * 1000))}
    payload = json.dumps(job).encode()
    job_r, job_w = os.pipe()
    res_r, res_w = os.pipe()
    info_r, info_w = os.pipe()
    keys_r, keys_w = os.pipe()
    secret = json.dumps(keys).encode()
    if len(secret) >= 65536:  # pragma: no cover - a pipe's buffer; thousands of tables
        raise Refused("workspace sessions: too many tables in one extract")
    os.write(keys_w, secret)
    os.close(keys_w)
    del secret
    cmd = bwrap_command(extract=extract, outputs=outputs, user=user, limits=limits, fds=(job_r, res_w, keys_r),
                        brought=brought, lab=lab)
    cmd[1:1] = ["--info-fd", str(info_w)]
    passed = [job_r, res_w, info_w, keys_r]
    if seccomp.supported():  # the filter through a pipe, read once by bubblewrap
        filter_r, filter_w = os.pipe()
        os.write(filter_w, seccomp.program())
        os.close(filter_w)
        cmd[1:1] = ["--seccomp", str(filter_r)]
        passed.append(filter_r)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()

    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, close_fds=True,
                            pass_fds=tuple(passed), start_new_session=True, env={})
    for fd in (*passed, out_w, err_w):
        os.close(fd)
    drains = [_Drain(res_r), _Drain(out_r), _Drain(err_r), _Drain(info_r)]
    for d in drains:
        d.start()
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        _kill_sandbox(drains[3].data)
        _kill_group(proc.pid)

    timer = threading.Timer(limits.seconds, kill)
    timer.start()
    done = threading.Event()
    ended: list[str] = []

    def recheck(ask: Callable[[], str | None]) -> None:
        while not done.wait(limits.recheck_seconds):
            try:
                reason = ask()
            except Exception:  # noqa: BLE001, S112 - a failed check (the store busy) is asked again next time
                continue
            if reason and not done.is_set():
                if isinstance(reason, GracefulStop) and done.wait(limits.end_grace_seconds):
                    return  # it ended by itself (a graceful stop): not killed
                ended.append(reason)
                kill()
                return

    watcher = threading.Thread(target=recheck, args=(access,), daemon=True) if access is not None else None
    if watcher is not None:
        watcher.start()
    try:
        try:
            with os.fdopen(job_w, "wb") as fh:
                fh.write(payload)
        except BrokenPipeError:
            pass
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        done.set()
        if watcher is not None:
            watcher.join(timeout=limits.recheck_seconds + 5)
        for d in drains[3:]:
            d.join(timeout=5)
        _kill_sandbox(drains[3].data)  # whatever the sandbox left behind: its pid namespace goes with its init
        _kill_group(proc.pid)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for d in drains:
        d.join(timeout=5)
    answer: dict[str, Any] | None = None
    lines = [line for line in bytes(drains[0].data).split(b"\n") if line.strip()]
    if drains[0].overflow:
        answer = {"ok": False, "error": f"the answer is larger than {OUTPUT_CAP // MB} MB: ask for fewer rows"}
    elif lines:
        try:
            answer = json.loads(lines[-1])
        except ValueError:
            answer = None
    seconds = round(time.monotonic() - started, 3)
    cpu = round(usage.ru_utime + usage.ru_stime, 3)
    if killed.is_set():  # the killed processes were reaped by nobody that reports: count the wall time
        cpu = max(cpu, seconds)
    # the peak memory is the session's own (RUSAGE_SELF inside): wait4's would count the hub's size at fork
    peak = int(answer.get("peak_kb", 0)) if isinstance(answer, dict) and isinstance(answer.get("peak_kb"), int) else 0
    return Outcome(exit=proc.returncode, killed=killed.is_set(), answer=answer, stdout=bytes(drains[1].data),
                   stderr=bytes(drains[2].data), cpu_s=cpu, peak_kb=peak, seconds=seconds,
                   truncated_output=drains[1].overflow or drains[2].overflow, ended_access=ended[0] if ended else None)
