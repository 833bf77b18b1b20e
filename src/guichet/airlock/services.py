"""The airlock's service over a hub: the check of an output in a permit's workspace
(``<home>/workspaces/<permit>/outputs/``), read by an operator or a checker and audited."""

from __future__ import annotations

import re
from pathlib import Path

from guichet.airlock.check import Result, check_file
from guichet.errors import BadInput, NotFound
from guichet.governance.decorators import Unit, query

_PERMIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,119}$")


def _output_path(home: Path, permit: str, file: str) -> Path:
    """The output ``file`` (relative to the workspace's ``outputs/``), refusing any way out of that folder."""
    if not _PERMIT.match(permit):
        raise BadInput("permit: letters, digits, '.', '-' or '_'")
    parts = file.split("/")
    if not file or len(parts) > 8 or not all(_PART.match(p) for p in parts):
        raise BadInput("file: a path inside the workspace's outputs folder")
    base = (home / "workspaces" / permit / "outputs").resolve()
    path = (base / file).resolve()
    if base not in path.parents:
        raise BadInput("file: a path inside the workspace's outputs folder")
    if not path.is_file():
        raise NotFound(f"output {file} of permit {permit}: not found")
    return path


@query("airlock.check")
def check_output(unit: Unit, permit: str, file: str, rules: str = "snds") -> Result:
    """The automatic check of one output of ``permit``'s workspace, under the hub's disclosure threshold."""
    path = _output_path(unit.hub.config.home, permit, file)
    result = check_file(path, rules, dict(unit.hub.config.properties or {}))
    unit.note(obj=f"permit {permit}: output {file}", status=result.status, rules=rules)
    return result
