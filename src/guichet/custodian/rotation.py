"""Rotation of hub pseudonyms: the hook through which every store of hub pseudonyms is rewritten.

``guichet custodian rotate`` asks the custodian for a one-time old → new mapping, hands it to every
registered *applier* (the opt-out register here; the lake's files and the person index register theirs
from the lake and linkage packages), then tells the custodian to complete the rotation; the mapping is
dropped from memory and never written anywhere. An applier receives the hub and the mapping (an Arrow
table with string columns ``old`` and ``new``) and returns how many values it rewrote. It must rewrite
*every* stored hub pseudonym it owns (a value missing from the mapping is an error: raise), and it must
be safe to run again on already-rotated data (old and new values never collide), because a failed
rotation is aborted and may be retried.

Register at import time of your package's module::

    from guichet.custodian.rotation import register_applier
    register_applier("lake", rewrite_lake_files)

and make sure that module is imported by ``ROTATION_MODULES`` below (one line per package).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TypedDict

import pyarrow as pa

from guichet.hub import Hub

RotationApplier = Callable[[Hub, pa.Table], int]


class RotationResult(TypedDict):
    """What a rotation reports: the new hub generation, the pairs mapped and what each applier rewrote."""

    generation: int
    pseudonyms: int
    applied: dict[str, int]


_APPLIERS: dict[str, RotationApplier] = {}

# Modules that register appliers (imported before a rotation runs). Add yours with a one-line edit.
ROTATION_MODULES: tuple[str, ...] = ("guichet.custodian.optout", "guichet.lake.rotation", "guichet.linkage.rotation")


def register_applier(name: str, fn: RotationApplier) -> None:
    if name in _APPLIERS and _APPLIERS[name] is not fn:
        raise RuntimeError(f"two rotation appliers named {name!r}")
    _APPLIERS[name] = fn


def appliers() -> dict[str, RotationApplier]:
    for module in ROTATION_MODULES:
        import_module(module)
    return dict(_APPLIERS)


def apply_mapping(hub: Hub, mapping: pa.Table) -> dict[str, int]:
    """Run every applier; returns the count each rewrote."""
    return {name: fn(hub, mapping) for name, fn in sorted(appliers().items())}


def mapping_dict(mapping: pa.Table) -> dict[str, str]:
    return dict(zip(mapping.column("old").to_pylist(), mapping.column("new").to_pylist(), strict=True))
