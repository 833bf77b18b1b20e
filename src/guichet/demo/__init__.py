"""``guichet demo``: a complete hub from synthetic data, in a fresh folder, deterministically.

The demo is a list of stages (``STAGES``); each issue that adds a step of the data flow adds its stage
here, and its part of the JSON answer under ``stages``. Stages run in order and share a ``DemoRun``.
"""

from guichet.demo.run import (
    DEFAULT_PERSONS,
    DEMO_VERSION,
    STAGES,
    DemoRequest,
    DemoResult,
    DemoRun,
    demo_stage,
    run_demo,
)

__all__ = ["DEFAULT_PERSONS", "DEMO_VERSION", "STAGES", "DemoRequest", "DemoResult", "DemoRun", "demo_stage", "run_demo"]
