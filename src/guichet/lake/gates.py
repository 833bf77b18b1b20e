"""Gates: what a committed version must pass before it is published.

A deposit commits a version as ``held`` (complete, invisible), then asks every registered gate; the version
is published only when none holds it. The deposit does not know which stages gate (quality does today);
a stage registers its gate at import time of a module listed in ``GATE_MODULES`` — the pattern of the
custodian's rotation appliers::

    from guichet.lake.gates import GateVerdict, register_gate
    register_gate("quality", check_version)

A gate receives the hub, the actor of the deposit, the dataset and the version, and answers a
``GateVerdict``. A gate that raises holds the version (with the error's kind, never its message, which may
carry data); an operator can then run it again or publish by override.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from guichet.actor import Actor
from guichet.hub import Hub

log = logging.getLogger("guichet.lake")


@dataclass(frozen=True)
class GateVerdict:
    gate: str
    passed: bool
    why: str  # recorded in the version's status history (never a value)


Gate = Callable[[Hub, Actor, str, int], GateVerdict]
_GATES: dict[str, Gate] = {}

# Modules that register gates (imported before the first gate runs). One line per stage.
GATE_MODULES: tuple[str, ...] = ("guichet.quality.gate",)


def register_gate(name: str, fn: Gate) -> None:
    if name in _GATES and _GATES[name] is not fn:
        raise RuntimeError(f"two lake gates named {name!r}")
    _GATES[name] = fn


def gates() -> dict[str, Gate]:
    for module in GATE_MODULES:
        import_module(module)
    return dict(_GATES)


def run_gates(hub: Hub, actor: Actor, dataset: str, version: int) -> list[GateVerdict]:
    """Every registered gate's verdict on a committed version, in name order."""
    out = []
    for name, fn in sorted(gates().items()):
        try:
            out.append(fn(hub, actor, dataset, version))
        except Exception as exc:  # noqa: BLE001 - whatever fails, the version stays held (complete, invisible)
            log.warning("lake: gate %s of %s v%s failed: %s", name, dataset, version, type(exc).__name__)
            out.append(GateVerdict(name, False, f"{name} gate could not run ({type(exc).__name__}); "
                                                f"run it again (e.g. 'guichet {name} run {dataset}')"))
    return out
