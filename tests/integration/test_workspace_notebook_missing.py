"""Without the ``notebook`` extra, ``guichet workspace notebook`` answers one line saying to install it, and
nothing else needs it: ``import guichet``, the workspace services, the portal's app. The extra is made
unavailable the way Python blocks a module (``sys.modules[name] = None``), in a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from guichet.hub import Hub

BLOCK = ("import sys\n"
         "for m in ('jupyterlab', 'jupyter_server', 'ipykernel', 'nbclient', 'nbformat'): sys.modules[m] = None\n")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=300)


def test_the_notebook_commands_answer_one_line_without_the_extra(hub: Hub, tmp_path: Path) -> None:
    from guichet.accounts import services as accounts
    from guichet.actor import system_actor

    accounts.add_user(hub, system_actor(), username="alice", roles=["researcher"], org="Lab", org_kind="academic")
    nb = tmp_path / "a.ipynb"
    nb.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}', encoding="utf-8")
    for args in (["notebook", "run", "P-2026-0001", str(nb)], ["notebook", "P-2026-0001"]):
        argv = ["workspace", *args, "--home", str(hub.home), "--as", "alice"]
        r = _run(f"from guichet.cli.main import main\nmain({argv!r})")
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert "JupyterLab is not installed" in lines[0] and "guichet[notebook]" in lines[0]


def test_guichet_and_its_portal_import_without_the_extra() -> None:
    r = _run("import guichet, guichet.workspace.session_services, guichet.cli.workspace, guichet.web.app\n"
             "print([m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in "
             "('jupyterlab', 'jupyter_server', 'ipykernel', 'nbclient', 'nbformat', 'zmq', 'tornado')])")
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr
