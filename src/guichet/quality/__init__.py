"""Quality ("mise en qualité"): checks on every deposit, across tables and over time; reports producers can
read; a quality label (EHDS Art 78); publication held on blocking failures.

Quality gates the lake: ``guichet.quality.gate`` registers a gate with ``guichet.lake.gates``, which the
deposit asks before publishing a committed version. A version with a blocking failure is left ``held`` until
fixed or overridden (``guichet quality override``).
"""

from guichet.quality.model import Check, CheckResult, RunOutcome

__all__ = ["Check", "CheckResult", "RunOutcome"]
