"""Spec cases of the consensus hypoglycaemia episodes: a curve in (one reading every five minutes unless
said), the episodes out as (level, first reading, last reading, ended, onset seen)."""

from __future__ import annotations

import pytest

from guichet.cgm.episodes import episodes
from tests.cgm_support import curve

H, L, VL = 100, 65, 50  # high, level 1 low, level 2 low

CASES = [
    ("ten minutes below is not an episode", [H, L, L, H, H, H], {}, []),
    ("fifteen minutes below is", [H, L, L, L, H, H, H], {}, [(1, 1, 3, True, True)]),
    ("70 exactly is not below 70", [H, 70, 70, 70, H], {}, []),
    ("69.9 is", [H, 69.9, 69.9, 69.9, H, H, H], {}, [(1, 1, 3, True, True)]),
    ("a return above shorter than 15 minutes stays inside",
     [H, L, L, L, H, H, L, H, H, H], {}, [(1, 1, 6, True, True)]),
    ("15 minutes above ends it; the next low opens another",
     [H, L, L, L, H, H, H, L, L, L, H, H, H], {}, [(1, 1, 3, True, True), (1, 7, 9, True, True)]),
    ("a level 2 episode lies inside a level 1 episode",
     [H, L, VL, VL, VL, L, H, H, H], {}, [(1, 1, 5, True, True), (2, 2, 4, True, True)]),
    ("54 exactly is level 1 only", [H, 54, 54, 54, H, H, H], {}, [(1, 1, 3, True, True)]),
    ("the data end inside an episode: it ends at its last low reading, not ended",
     [H, L, L, L, H], {}, [(1, 1, 3, False, True)]),
    ("low from the first reading: the onset was not seen", [L, L, L, H, H, H], {}, [(1, 0, 2, True, False)]),
    ("a gap over 45 minutes splits a run", [H, L, L, L, L, H], {3: 60}, []),
    ("a gap over 45 minutes ends an episode without the end criterion",
     [H, L, L, L, L, H, H, H], {4: 60}, [(1, 1, 3, False, True)]),
    ("after such a gap a new episode's onset is not seen",
     [H, H, L, L, L, H, H, H], {2: 60}, [(1, 2, 4, True, False)]),
    ("a 30-minute gap inside a low run counts as time below (iglu interpolates it)",
     [H, L, L, H, H, H], {2: 25}, [(1, 1, 2, True, True)]),
]


@pytest.mark.parametrize("glucose,gaps,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_episode_cases(glucose: list[float], gaps: dict[int, float], expected: list[tuple]) -> None:
    s = curve(glucose, gaps=gaps)
    got = [(e.level, e.start, e.end, e.ended, e.onset_seen) for e in episodes(s)]
    assert got == expected


def test_timestamp_jitter_neither_makes_nor_breaks_an_episode() -> None:
    # Readings at 0, 4:59, 9:58 below 70 (three readings, 15 minutes on the grid).
    s = curve([H, L, L, L, H, H, H], gaps={2: -1 / 60, 3: -1 / 60})
    assert [(e.start, e.end) for e in episodes(s, (1,))] == [(1, 3)]
    s = curve([H, L, L, H, H, H], gaps={2: 1})  # 0, 6 min: still two readings, 10 minutes
    assert episodes(s, (1,)) == []


@pytest.mark.parametrize("step,below,expected", [(1, 14, 0), (1, 15, 1), (15, 1, 1), (10, 1, 0), (10, 2, 1)])
def test_the_duration_follows_the_grid_step(step: float, below: int, expected: int) -> None:
    # One-minute sensors need 15 readings, 15-minute sensors one, 10-minute sensors two.
    s = curve([H] * 20 + [L] * below + [H] * 20, step_min=step)
    assert len(episodes(s, (1,))) == expected


def test_episode_to_dict_shows_times_duration_and_nadir() -> None:
    s = curve([H, L, 60, L, H, H, H])
    [e] = episodes(s, (1,))
    assert e.to_dict(s) == {
        "id": "s", "level": 1, "threshold_mgdl": 70.0, "start": "2023-11-14T22:18:20", "end": "2023-11-14T22:28:20",
        "duration_min": 15.0, "nadir_mgdl": 60.0, "ended": True, "onset_seen": True,
    }
