"""Hypothesis: the metrics do not depend on the order of rows and their percentages add up; the episode
detector agrees with an independent oracle; rules are causal; the episode definition as a rule never scores."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guichet.cgm.episodes import episodes
from guichet.cgm.metrics import subject_metrics
from guichet.cgm.read import read_recording
from guichet.cgm.readings import Recording, Subject
from guichet.cgm.report import analyse
from guichet.cgm.rules import RULES, ConsensusRule
from tests.cgm_support import START, curve, oracle_episodes

# Glucose in whole mg/dL, dense around the thresholds so that episodes are common.
glucose = st.one_of(st.integers(40, 400), st.sampled_from([53, 54, 55, 65, 69, 70, 71, 180, 181, 250, 251]))
curves = st.lists(glucose, min_size=1, max_size=120)
walks = st.lists(st.integers(-12, 12), min_size=3, max_size=150).map(
    lambda steps: np.clip(90 + np.cumsum(steps), 40, 400).tolist())


@st.composite
def irregular(draw: st.DrawFn) -> Subject:
    values = draw(curves)
    gaps = draw(st.lists(st.floats(0, 90), min_size=len(values), max_size=len(values)))
    seconds = START + np.cumsum(np.asarray(gaps)) * 60.0
    return Subject("s", seconds, seconds.copy(), np.asarray(values, dtype=np.float64))


@given(irregular(), st.randoms(use_true_random=False))
def test_metrics_do_not_depend_on_row_order(s: Subject, rnd) -> None:  # type: ignore[no-untyped-def]
    order = list(range(s.n))
    rnd.shuffle(order)
    shuffled = Subject("s", s.seconds[order], s.local[order], s.glucose[order])
    assert subject_metrics("d", shuffled) == subject_metrics("d", s)
    assert episodes(shuffled) == episodes(s)


@given(irregular())
def test_range_percentages_add_up(s: Subject) -> None:
    m = subject_metrics("d", s)
    assert m.tbr_lt70 + m.tir_70_180 + m.tar_gt180 == pytest.approx(100.0)
    assert 0 <= m.tbr_lt54 <= m.tbr_lt70 <= 100
    assert 0 <= m.tar_gt250 <= m.tar_gt180 <= 100
    assert 0 < m.active_percent <= 100
    assert 0 <= m.gri <= 100


@given(st.one_of(curves, walks))
def test_episodes_agree_with_the_oracle(values: list[int]) -> None:
    s = curve(values)
    for level, threshold in ((1, 70), (2, 54)):
        got = [(e.start, e.end, e.ended) for e in episodes(s, (level,))]
        assert got == oracle_episodes(values, threshold)


@given(st.one_of(curves, walks))
def test_every_level_2_episode_lies_inside_a_level_1_episode(values: list[int]) -> None:
    found = episodes(curve(values))
    level1 = [e for e in found if e.level == 1]
    for e in (e for e in found if e.level == 2):
        assert any(o.start <= e.start and e.end <= o.end for o in level1)


@given(walks, st.sampled_from(sorted(RULES)), st.data())
def test_rules_are_causal(values: list[int], name: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(1, len(values)))
    full = [a for a in RULES[name].scan(curve(values)) if a.index < cut]
    assert RULES[name].scan(curve(values[:cut])) == full


@given(st.lists(walks, min_size=1, max_size=4))
def test_the_episode_definition_as_a_rule_never_scores(subjects: list[list[int]]) -> None:
    recording = Recording("d", "long", "mg/dL", "header", tuple(curve(v, sid=f"s{i}") for i, v in enumerate(subjects)))
    report = analyse(recording, ConsensusRule())
    for level in (1, 2):
        scores = report.overall(level)
        assert scores.true_alerts == 0 and scores.predicted == 0
        assert scores.median_lead_time_min is None


@settings(max_examples=40)
@given(st.lists(st.integers(40, 400), min_size=2, max_size=60))
def test_mmol_per_litre_files_give_the_same_metrics(values: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        mg, mmol = Path(tmp) / "mg.csv", Path(tmp) / "mmol.csv"
        times = [f"2024-03-01 {h:02d}:{m:02d}:00" for h, m in (divmod(5 * i, 60) for i in range(len(values)))]
        mg.write_text("id,time,gl\n" + "".join(f"a,{t},{v}\n" for t, v in zip(times, values, strict=True)))
        mmol.write_text("id,time,glucose (mmol/L)\n" + "".join(f"a,{t},{v / 18!r}\n"
                                                             for t, v in zip(times, values, strict=True)))
        a, b = read_recording(mg), read_recording(mmol)
    assert b.unit == "mmol/L"
    ma, mb = subject_metrics("d", a.subjects[0]), subject_metrics("d", b.subjects[0])
    assert ma == mb


# ---- the two parsers agree -------------------------------------------------------------------------------

cells = st.sampled_from(["a", "b", "Subject 1", '"q,uoted"', "x y"])
values_text = st.one_of(st.integers(1, 600).map(str), st.floats(0.5, 600, allow_nan=False).map(lambda v: f"{v:.3f}"),
                        st.sampled_from(["NA", "", "Low", "High", "nan", " 95 ", "1e2", "0", "-3", "abc"]))
times_text = st.one_of(
    st.builds(lambda d, m, s, sep: f"2024-03-{d:02d}{sep}{m // 60:02d}:{m % 60:02d}" + (f":{s:02d}" if s >= 0 else ""),
              st.integers(1, 28), st.integers(0, 1439), st.integers(-1, 59), st.sampled_from([" ", "T"])),
    st.sampled_from(["NA", "2024-03-01T10:00:00+01:00", "2024-03-01", "2024-13-01 10:00", "2024-03-01T10:00:00Z"]))


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, str]:
    sep = draw(st.sampled_from([",", ";"]))
    header = sep.join(["id", "time", "gl", "diagnosis"])
    rows = draw(st.lists(st.tuples(cells, times_text, values_text, st.sampled_from(["", "t1", "t2"])), min_size=1,
                         max_size=30))
    lines = [sep.join([sid if sep == "," or "," not in sid else sid.replace(",", ";").replace(";", ""), t,
                       v.replace(".", ",") if sep == ";" else v, g]) for sid, t, v, g in rows]
    return sep, "\n".join([header, *lines]) + "\n"


@settings(max_examples=150)
@given(csv_files())
def test_the_column_parser_agrees_with_the_row_parser(made: tuple[str, str]) -> None:
    from guichet.cgm.layout import find_columns
    from guichet.cgm.parse import Source, parse_rows
    from guichet.cgm.parse_arrow import parse_columns
    from guichet.errors import BadInput

    sep, text = made
    path = Path("f.csv")
    columns, _ = find_columns(path, ["id", "time", "gl", "diagnosis"], None)
    fast = parse_columns(text.encode(), 4, sep, columns, "f", decimal_comma=sep != ",")
    try:
        slow = parse_rows(Source(path, text, sep), columns, decimal_comma=sep != ",")
    except BadInput:
        assert fast is None  # the column parser never accepts what the row parser refuses
        return
    if fast is None:
        return
    assert (fast.subject_names, fast.group_names, fast.skipped) == (slow.subject_names, slow.group_names, slow.skipped)
    for name in ("subject_codes", "group_codes", "seconds", "local", "values"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
