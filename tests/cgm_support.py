"""Hand-made CGM curves for the tests, and an oracle for the episode definition written independently of
``guichet.cgm.episodes`` (a reading-by-reading state machine rather than runs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from guichet.cgm.readings import Subject
from tests.conftest import TEST_DATA

CGM_DATA = TEST_DATA / "cgm"  # laid out as shared/data/cgm: examples/cgm_pilot.py reads it with GUICHET_SHARED=tests
REFERENCE = CGM_DATA / "reference_metrics.csv"
START = 1_700_000_000.0  # 2023-11-14T22:13:20, a Tuesday evening


def curve(glucose: Sequence[float], step_min: float = 5.0, gaps: dict[int, float] | None = None,
          sid: str = "s", group: str | None = None, start: float = START) -> Subject:
    """Readings every ``step_min`` minutes; ``gaps`` adds minutes before the reading at that index."""
    minutes = np.arange(len(glucose), dtype=np.float64) * step_min
    for index, extra in (gaps or {}).items():
        minutes[index:] += extra
    seconds = start + minutes * 60.0
    return Subject(id=sid, seconds=seconds, local=seconds.copy(), glucose=np.asarray(glucose, dtype=np.float64),
                   group=group)


def oracle_episodes(glucose: Sequence[float], threshold: float, need: int = 3) -> list[tuple[int, int, bool]]:
    """(first, last, ended) of the consensus episodes of a regular curve without gaps: an episode opens at
    a reading followed by ``need`` - 1 more below the threshold, and closes before ``need`` readings at or
    above it."""
    g = list(glucose)
    out: list[tuple[int, int, bool]] = []
    i, n = 0, len(g)
    while i < n:
        if all(v < threshold for v in g[i:i + need]) and i + need <= n:
            last_low = i
            k = i
            while k < n:
                if k + need <= n and all(v >= threshold for v in g[k:k + need]):
                    break
                if g[k] < threshold:
                    last_low = k
                k += 1
            ended = k < n
            out.append((i, last_low, ended))
            i = k + need if ended else n
        else:
            i += 1
    return out
