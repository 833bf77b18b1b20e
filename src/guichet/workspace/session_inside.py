"""What runs inside a session's sandbox (started by ``session_sandbox``; never imported by the hub itself).

It reads its job from an inherited file descriptor (numbers in ``main``'s arguments: the extract's files,
the query or the script, the limits) and closes it; a child process it forks alone reads the data keys from
another descriptor and decrypts the extract's tables with PyArrow (the reader
``custodian.read_encrypted_parquet`` uses: uniform encryption, the file's data key as footer key), while the
uid may still open them, and hands them over as Arrow IPC — the keys never enter the process that runs the
researcher's code; then sets its resource limits, drops to the session's unprivileged
uid when it runs as root (the dedicated-user mode), opens DuckDB with external access off, extension
installing and loading off, Python replacement scans off, threads, memory limit, ``max_execution_time`` and
its spill folder on the sandbox's tmpfs, registers each table as a view named as the extract names it,
locks the configuration, and only then runs the researcher's query or script.

A query's answer goes back as one JSON document on the answer's descriptor; a script's stdout and stderr are its own.
It imports only the standard library, DuckDB and PyArrow (a session starts in a fraction of a second).
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
import os
import resource
import struct
import sys
from typing import Any

# the inherited descriptors: the job (read, then closed) and the answer (a query's)
_FDS = {"job": 3, "result": 4, "keys": 5}
PRIVATE = "/tmp/session"  # noqa: S108 - on the sandbox's own tmpfs, wiped when the session ends
SPILL = PRIVATE + "/duckdb"
OUTPUTS = "/workspace/outputs"
MAX_CELL = 10_000  # characters of one value in a query's answer

# exit codes of the sandboxed process (the hub reads them)
EXIT_OK, EXIT_SCRIPT_FAILED, EXIT_QUERY_FAILED, EXIT_SETUP_FAILED = 0, 1, 3, 4

LAB = "/workspace/lab"  # a lab's own folder (its Unix socket), bound read-write from the hub's side
KEPT = "/tmp/tables"  # noqa: S108 - lab and notebook modes: the decrypted tables as Arrow files on the tmpfs
ENV_TABLES, ENV_DUCKDB = "GUICHET_SESSION_TABLES", "GUICHET_SESSION_DUCKDB"  # what a kernel reads them from

_CONNECTION: Any = None
_TABLES: dict[str, list[str]] = {}


def _read_all(fd: int) -> bytes:
    chunks = []
    with os.fdopen(fd, "rb", closefd=True) as fh:
        while True:
            chunk = fh.read(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _read_job() -> dict[str, Any]:
    job: dict[str, Any] = json.loads(_read_all(_FDS["job"]))
    return job


def _limits(limits: dict[str, Any], drop_nproc: bool) -> None:
    def set_limit(which: int, value: int) -> None:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))

    set_limit(resource.RLIMIT_CPU, int(limits["cpu_s"]))
    set_limit(resource.RLIMIT_AS, int(limits["address_space"]))
    set_limit(resource.RLIMIT_DATA, int(limits["address_space"]))  # the heap and private mappings too
    set_limit(resource.RLIMIT_FSIZE, int(limits["file_size"]))
    set_limit(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    set_limit(resource.RLIMIT_CORE, 0)
    if drop_nproc:
        set_limit(resource.RLIMIT_NPROC, int(limits["processes"]))


def _drop(uid: int | None, gid: int | None) -> None:
    """Become the session's unprivileged user (dedicated-user mode: the sandbox started as root with only
    CAP_SETUID and CAP_SETGID; after the switch it holds no capability at all)."""
    os.makedirs(SPILL, mode=0o700)
    if uid is None or gid is None:
        return
    for path in (PRIVATE, SPILL):
        os.chown(path, uid, gid)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:  # pragma: no cover - the kernel refused
        raise OSError("could not drop to the session's user")
    _die_with_parent()


def _die_with_parent() -> None:
    """Changing the user clears the parent-death signal bubblewrap set: set it again (SIGKILL when the hub's
    side of the sandbox goes)."""
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)


def _decrypt(files: dict[str, dict[str, str]], keys_fd: int, sink: int) -> None:
    """In a child process: read the keys, decrypt each file with PyArrow, send each table as an Arrow IPC
    stream (length-prefixed, with its name) — the keys never enter the process that runs the researcher's code."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyarrow.parquet.encryption as pe

    keys = json.loads(_read_all(keys_fd))
    with os.fdopen(sink, "wb") as out:
        for name, meta in files.items():
            props = pe.create_decryption_properties(footer_key=base64.b64decode(keys.pop(name)))
            table = pq.read_table(meta["path"], decryption_properties=props)
            buf = pa.BufferOutputStream()
            with pa.ipc.new_stream(buf, table.schema) as writer:
                writer.write_table(table)
            data = buf.getvalue()
            encoded = name.encode()
            out.write(struct.pack("<IQ", len(encoded), data.size) + encoded)
            out.write(memoryview(data))


def _read_exactly(fh: Any, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise OSError("the decrypting process stopped early")
    return bytes(data)


def _tables(files: dict[str, dict[str, str]], keys_fd: int) -> dict[str, Any]:
    """The extract's tables in clear, decrypted by a child process that alone reads the keys' descriptor."""
    import pyarrow as pa

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the decrypting child
        status = 1
        try:
            os.close(read_end)
            _decrypt(files, keys_fd, write_end)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    os.close(keys_fd)  # this process never reads the keys
    out = {}
    with os.fdopen(read_end, "rb") as fh:
        for _ in files:
            name_len, size = struct.unpack("<IQ", _read_exactly(fh, 12))
            name = _read_exactly(fh, name_len).decode()
            data = _read_exactly(fh, size)
            out[name] = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    _, status = os.waitpid(pid, 0)
    if status != 0 or set(out) != set(files):
        raise OSError("the extract could not be decrypted")
    return out


def _connect(tables: dict[str, Any], duck: dict[str, Any], writable: bool) -> Any:
    """DuckDB over the tables; ``writable``: a script's connection may read and write its working folder
    (``outputs/``: the analysis helpers write their tables and persons files there with ``COPY``) and
    nothing else; a query's may touch no file at all."""
    import duckdb

    conn = duckdb.connect(":memory:", config={
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_persistent_secrets": False,
        "python_enable_replacements": False,
        "threads": int(duck["threads"]),
        "memory_limit": str(duck["memory_limit"]),
        "temp_directory": SPILL,
        "max_temp_directory_size": str(duck["spill_limit"]),
        "max_execution_time": int(duck["max_execution_time_ms"]),
    })
    if writable:  # before external access goes off: DuckDB refuses to change the list afterwards
        conn.execute("SET allowed_directories = ?", [[OUTPUTS + "/"]])
    conn.execute("SET enable_external_access = false")
    for name, table in tables.items():
        conn.register(name, table)
    conn.execute("SET lock_configuration = true")
    return conn


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value[:MAX_CELL] if isinstance(value, str) else value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, _dt.date | _dt.datetime | _dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)[:MAX_CELL]).decode("ascii")
    if isinstance(value, list | tuple):
        return [_cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _cell(v) for k, v in value.items()}
    return str(value)[:MAX_CELL]


def _peak_kb() -> int:
    """The session's peak resident memory: the larger of the launcher's own and its largest waited-for child's
    (the decrypting child, a script's subprocesses, a notebook's kernel) — ``ru_maxrss``, in KB."""
    return max(int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
               int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))


_MEMORY: dict[str, int] = {}


def _out_of_memory() -> str:
    mb = _MEMORY.get("address_space", 0) >> 20
    return (f"out of memory: the session's limit is {mb} MB of address space per process "
            "(workspace_session_memory_mb)")


def _write_result(result: dict[str, Any]) -> None:
    """The session's answer: one JSON line, last on its descriptor (the hub reads the last line)."""
    result["peak_kb"] = _peak_kb()
    data = b"\n" + json.dumps(result, separators=(",", ":")).encode() + b"\n"
    with os.fdopen(_FDS["result"], "wb", closefd=True) as fh:
        fh.write(data)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _run_sql(conn: Any, sql: str, max_rows: int) -> int:
    try:
        cur = conn.execute(sql)
        columns = [d[0] for d in cur.description or []]
        rows = cur.fetchmany(max_rows + 1)
    except Exception as exc:  # noqa: BLE001 - DuckDB's refusal or error, reported in one line
        _write_result({"ok": False, "error": _one_line(exc)})
        return EXIT_QUERY_FAILED
    truncated = len(rows) > max_rows
    rows = rows[:max_rows]
    _write_result({"ok": True, "columns": columns, "rows": [[_cell(v) for v in r] for r in rows],
                   "truncated": truncated})
    return EXIT_OK


def _run_script(code: str) -> int:
    import runpy
    import traceback

    path = os.path.join(PRIVATE, "script.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(code)
    sys.argv = ["script.py"]
    error = None
    try:
        runpy.run_path(path, run_name="__main__")
        status = EXIT_OK
    except SystemExit as exc:
        code_ = exc.code
        status = code_ if isinstance(code_, int) else (0 if code_ is None else EXIT_SCRIPT_FAILED)
    except MemoryError:  # past the address-space limit: one line, no traceback (it may not even fit)
        error = _out_of_memory()
        sys.stderr.write(error + "\n")
        status = EXIT_SCRIPT_FAILED
    except BaseException as exc:  # noqa: BLE001 - the script's own failure: its traceback is its stderr
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != path:  # the launcher's frames are not the script's
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
        status = EXIT_SCRIPT_FAILED
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    # the launcher's last word: the peak memory (a script could write on this descriptor too; only this last
    # line is read, and it meters the script's own run)
    try:
        _write_result({"ok": status == EXIT_OK, **({"error": error} if error else {})})
    except OSError:
        pass
    return status


def _keep_tables(tables: dict[str, Any]) -> None:
    """Lab and notebook modes: the researcher's code runs in kernels (other processes), so the decrypted tables
    are written once as Arrow IPC files on the sandbox's tmpfs (read-only: made before the switch of user in
    the dedicated-user mode), which each kernel memory-maps (``connection``). Never the keys."""
    import pyarrow as pa

    os.makedirs(KEPT)
    os.chmod(KEPT, 0o755)  # noqa: S103 - whatever the umask: the session's user reads it (its tmpfs)
    index = {}
    for i, (name, table) in enumerate(tables.items()):
        path = os.path.join(KEPT, f"t{i}.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.chmod(path, 0o444)
        index[name] = path
    with open(os.path.join(KEPT, "index.json"), "w", encoding="utf-8") as fh:
        json.dump(index, fh)
    os.chmod(os.path.join(KEPT, "index.json"), 0o444)


def _open_kept() -> Any:
    """In a kernel of a lab or notebook session: DuckDB over the tables the launcher kept (memory-mapped), with
    the same configuration as a script's connection."""
    import pyarrow as pa

    folder, duck = os.environ.get(ENV_TABLES), os.environ.get(ENV_DUCKDB)
    if not folder or not duck:
        return None
    with open(os.path.join(folder, "index.json"), encoding="utf-8") as fh:
        index = json.load(fh)
    tables = {name: pa.ipc.open_file(pa.memory_map(path)).read_all() for name, path in index.items()}
    _TABLES.update({n: list(t.column_names) for n, t in tables.items()})
    return _connect(tables, json.loads(duck), writable=True)


def connection() -> Any:
    """The session's DuckDB connection (``sandbox_api.connect`` answers it)."""
    global _CONNECTION
    if _CONNECTION is None:
        _CONNECTION = _open_kept()
    if _CONNECTION is None:
        raise RuntimeError("no session: guichet.workspace.sandbox_api works only inside a workspace session")
    return _CONNECTION


def table_columns() -> dict[str, list[str]]:
    if _CONNECTION is None:
        connection()
    return dict(_TABLES)


def _jupyter_env(job: dict[str, Any]) -> None:
    """Where Jupyter and IPython keep their state (the private tmpfs, not ``outputs/``), how kernels find the
    runtime (guichet's folder is on no default path) and the kept tables."""
    jup = PRIVATE + "/jupyter"
    os.environ.update({
        "JUPYTER_CONFIG_DIR": jup + "/config", "JUPYTER_DATA_DIR": jup + "/data", "JUPYTER_RUNTIME_DIR": jup + "/runtime",
        "JUPYTERLAB_SETTINGS_DIR": jup + "/lab-settings", "JUPYTERLAB_WORKSPACES_DIR": jup + "/lab-workspaces",
        "IPYTHONDIR": PRIVATE + "/ipython", "XDG_CACHE_HOME": PRIVATE + "/cache", "PYTHONNOUSERSITE": "1",
        "PYTHONPATH": os.pathsep.join(str(p) for p in job.get("site", [])),
        ENV_TABLES: KEPT, ENV_DUCKDB: json.dumps(job["duckdb"]),
    })
    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "XDG_CACHE_HOME"):
        os.makedirs(os.environ[key], mode=0o700, exist_ok=True)
    # the only kernel: ours (``session_kernel``: ipykernel without its TCP pipe), in place of ipykernel's own
    spec = os.path.join(os.environ["JUPYTER_DATA_DIR"], "kernels", "python3")
    os.makedirs(spec, mode=0o700)
    with open(os.path.join(spec, "kernel.json"), "w", encoding="utf-8") as fh:
        json.dump({"argv": [sys.executable, "-m", "guichet.workspace.session_kernel", "-f", "{connection_file}"],
                   "display_name": "Python 3 (workspace session)", "language": "python",
                   "metadata": {"debugger": False}}, fh)


def _ipc_config() -> Any:
    """Kernels talk to their server over ZeroMQ ``ipc`` (Unix sockets on the tmpfs): no TCP in a sandbox."""
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport = "ipc"
    return config


def _run_lab(job: dict[str, Any]) -> int:
    """JupyterLab, listening on the Unix socket ``/workspace/lab/lab.sock`` only (no TCP port), its token from
    the job, its root the working folder; it runs until the hub stops the sandbox."""
    from jupyterlab.labapp import LabApp

    _jupyter_env(job)
    lab = job["lab"]
    argv = [f"--ServerApp.sock={LAB}/lab.sock", "--ServerApp.sock_mode=0600",
            f"--ServerApp.base_url={lab['base_url']}", f"--ServerApp.root_dir={OUTPUTS}",
            "--ServerApp.ip=localhost",  # never bound (a socket is): its default probes TCP, which seccomp refuses
            "--ServerApp.open_browser=False", "--ServerApp.terminals_enabled=False",
            "--ServerApp.allow_remote_access=True",  # the portal's proxy forwards the browser's Host header
            "--KernelManager.transport=ipc", "--LabApp.news_url=",
            # checkpoints (JupyterLab's saved copies, to revert to) on the sandbox's tmpfs, gone when the lab
            # stops: not in outputs/ (they are not outputs of the study), nor in the lab folder (its socket only)
            f"--FileCheckpoints.checkpoint_dir={PRIVATE}/checkpoints",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.log_level=WARN",
            f"--IdentityProvider.token={lab['token']}"]  # a list in memory: the process's command line is the boot's
    sys.argv = ["jupyter-lab"]
    LabApp.launch_instance(argv=argv)
    _write_result({"ok": True})  # asked to end (the hub's graceful stop): the peak memory, its kernels' included
    return EXIT_OK


def _run_notebook(job: dict[str, Any]) -> int:
    """Execute a notebook headless with nbclient (its kernel in this sandbox), keep the executed notebook in
    the working folder — also when a cell failed; answer the failing cell in one line."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    _jupyter_env(job)
    nb = nbformat.reads(str(job["notebook"]), as_version=4)
    client = NotebookClient(nb, timeout=None, kernel_name="python3", config=_ipc_config(),
                            resources={"metadata": {"path": OUTPUTS}})
    result: dict[str, Any] = {"ok": True, "output": job["output"]}
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as exc:
        failed = next((i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"
                       and any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        name = getattr(exc, "ename", None) or type(exc).__name__
        value = str(getattr(exc, "evalue", "") or "").strip().splitlines()
        where = f"cell {failed + 1}" if failed is not None else "a cell"
        result = {"ok": False, "output": job["output"],
                  "error": f"{where} failed: {name}" + (f": {value[0][:300]}" if value else "")}
    except Exception as exc:  # noqa: BLE001 - the kernel did not start, the notebook is invalid: one line
        result = {"ok": False, "output": job["output"], "error": _one_line(exc)}
    finally:
        path = os.path.join(OUTPUTS, str(job["output"]))
        nbformat.write(nb, path)
    _write_result(result)
    return EXIT_OK if result["ok"] else EXIT_SCRIPT_FAILED


def main(job_fd: int = 3, result_fd: int = 4, keys_fd: int = 5) -> int:
    global _CONNECTION
    _FDS.update(job=job_fd, result=result_fd, keys=keys_fd)
    try:
        job = _read_job()
        tables = _tables(job["files"], _FDS["keys"])
        kernels = job["mode"] in ("lab", "notebook")
        if kernels:
            _keep_tables(tables)
        root_mode = job.get("uid") is not None
        _limits(job["limits"], drop_nproc=root_mode)
        _MEMORY["address_space"] = int(job["limits"]["address_space"])
        _drop(job.get("uid"), job.get("gid"))
        os.chdir(OUTPUTS)
        if not kernels:
            _CONNECTION = _connect(tables, job["duckdb"], writable=job["mode"] == "python")
        _TABLES.update({n: list(t.column_names) for n, t in tables.items()})
        del tables
    except Exception as exc:  # noqa: BLE001 - reported in one line, never with the job (it holds keys)
        try:
            _write_result({"ok": False, "error": f"the session could not start ({_one_line(exc)})"})
        except OSError:
            pass
        return EXIT_SETUP_FAILED
    mode = job["mode"]
    if mode == "sql":
        code = _run_sql(_CONNECTION, str(job["sql"]), int(job["max_rows"]))
    elif mode == "lab":
        code = _run_lab(job)
    elif mode == "notebook":
        code = _run_notebook(job)
    else:
        code = _run_script(str(job["code"]))
    return code


if __name__ == "__main__":
    sys.exit(main())
