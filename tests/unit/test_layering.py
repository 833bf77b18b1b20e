"""Every package imports alone in a fresh interpreter (no import order hides a cycle), and the layering
contract declared in pyproject.toml for import-linter holds."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import guichet

REPO = Path(__file__).resolve().parents[2]
PACKAGES = sorted(f"guichet.{m.name}" for m in pkgutil.iter_modules(guichet.__path__) if m.name != "__main__")


def test_every_package_and_module_is_listed() -> None:
    assert {"guichet.lake", "guichet.delivery", "guichet.audit", "guichet.governance", "guichet.actor"} <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_imports_alone_in_a_fresh_interpreter(name: str) -> None:
    proc = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"python -c 'import {name}' failed:\n{proc.stderr[-2000:]}"


def test_the_layering_contract_holds() -> None:
    pytest.importorskip("importlinter", reason="import-linter is a development dependency")
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--no-cache", "--config", str(REPO / "pyproject.toml")], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
