"""The airlock's service over a hub: the check of an output in a permit's workspace
(``<home>/workspaces/<permit>/outputs/``), read by an operator or a checker and audited."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from guichet.airlock.check import Result, check_file
from guichet.airlock.rules import DEFAULT, load, names
from guichet.errors import BadInput, NotFound
from guichet.governance.decorators import Unit, query
from guichet.permits.tables import Permit

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


def _conditions(unit: Unit, permit: str) -> dict[str, Any]:
    """The permit's output conditions (``rule_set``, ``min_cell``, ``rounding``...), if the hub has it."""
    row = unit.session.get(Permit, permit)
    if row is None:
        return {}
    conditions = (row.document or {}).get("output_conditions") or {}
    return dict(conditions) if isinstance(conditions, dict) else {}


@query("airlock.check")
def check_output(unit: Unit, permit: str, file: str, rules: str | None = None) -> Result:
    """The automatic check of one output of ``permit``'s workspace. The rule set is ``rules``, else the one
    the permit's output conditions name (``default``: snds); the threshold is the rule set's, or the hub's
    ``disclosure_threshold``, raised to the permit's ``min_cell`` when that is higher."""
    path = _output_path(unit.hub.config.home, permit, file)
    conditions = _conditions(unit, permit)
    wanted = rules or str(conditions.get("rule_set") or DEFAULT)
    name = wanted if wanted in names() else DEFAULT
    properties = dict(unit.hub.config.properties or {})
    threshold = load(name, properties).threshold
    if isinstance(conditions.get("min_cell"), int) and conditions["min_cell"] > threshold:
        properties["disclosure_threshold"] = conditions["min_cell"]
    result = check_file(path, name, properties)
    if conditions:
        result.notes.append(f"permit {permit}: output conditions {json.dumps(conditions, sort_keys=True)}")
    unit.note(obj=f"permit {permit}: output {file}", status=result.status, rules=name)
    return result
