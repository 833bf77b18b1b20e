"""Spec cases of the scorer: hand-placed alerts around hand-made episodes, and the scores worked out by
hand. Only prediction counts: an alert at or after an episode's start, or inside an episode, predicts
nothing."""

from __future__ import annotations

import pytest

from guichet.cgm.episodes import episodes
from guichet.cgm.readings import Recording, Subject
from guichet.cgm.report import analyse
from guichet.cgm.rules import Alert, ConsensusRule, LevelRule, TrendRule
from guichet.cgm.scoring import Scores, score_subject
from tests.cgm_support import curve

H, L, VL = 100, 65, 50


def alerts_at(s: Subject, *indices: int) -> list[Alert]:
    return [Alert(s.id, i, "hand", {}, (i, i)) for i in indices]


def score(s: Subject, *indices: int, level: int = 1, horizon: float = 30) -> Scores:
    found = episodes(s)
    level1 = [e for e in found if e.level == 1]
    return score_subject(s, alerts_at(s, *indices), [e for e in found if e.level == level], level1, horizon)


# 24 readings high (two hours), then 15 minutes low from reading 24 (at 120 min), then high again.
ONE_EPISODE = [H] * 24 + [L, L, L] + [H] * 21


def test_an_alert_within_the_horizon_before_the_start_predicts_it() -> None:
    s = curve(ONE_EPISODE)
    # At 100 min: 20 minutes ahead of the start.
    got = score(s, 20)
    assert (got.sensitivity, got.ppv, got.median_lead_time_min) == (1.0, 1.0, 20.0)
    assert got.false_alerts_per_day == 0.0


def test_an_alert_at_the_start_or_later_has_no_lead_time() -> None:
    s = curve(ONE_EPISODE)
    for index in (24, 25, 26):  # the start, inside the episode
        got = score(s, index)
        assert (got.sensitivity, got.ppv, got.true_alerts, got.median_lead_time_min) == (0.0, 0.0, 0, None)


def test_an_alert_at_the_start_predicts_nothing_even_outside_the_in_episode_rule() -> None:
    s = curve(ONE_EPISODE)
    [episode] = episodes(s)
    got = score_subject(s, alerts_at(s, 24), [episode], [], 30)
    assert (got.predicted, got.true_alerts) == (0, 0)
    assert score_subject(s, alerts_at(s, 23), [episode], [], 30).median_lead_time_min == 5.0


def test_an_alert_earlier_than_the_horizon_is_false() -> None:
    s = curve(ONE_EPISODE)
    got = score(s, 17)  # 35 minutes ahead, horizon 30
    assert (got.sensitivity, got.ppv) == (0.0, 0.0)
    assert score(s, 18).sensitivity == 1.0  # 30 minutes ahead: the horizon is inclusive
    assert score(s, 17, horizon=60).median_lead_time_min == 35.0


def test_scores_worked_out_by_hand() -> None:
    s = curve(ONE_EPISODE)
    # 40 min ahead (false), 25 and 10 min ahead (true, lead 25 from the earliest), at the start, inside.
    got = score(s, 16, 19, 22, 24, 26)
    days = 48 * 5 / 1440
    assert (got.episodes, got.predicted, got.alerts, got.true_alerts) == (1, 1, 5, 2)
    assert got.sensitivity == 1.0
    assert got.ppv == pytest.approx(2 / 5)
    assert got.false_alerts_per_day == pytest.approx(3 / days)
    assert got.median_lead_time_min == 25.0


def test_an_alert_inside_one_episode_does_not_predict_the_next() -> None:
    # Episode A at readings 10-12, back above for 15 minutes, episode B from reading 16.
    s = curve([H] * 10 + [L, L, L, H, H, H, L, L, L] + [H] * 10)
    assert score(s, 12).true_alerts == 0  # inside A, 20 minutes before B
    assert score(s, 14).true_alerts == 1  # after A ended, 10 minutes before B
    assert score(s, 14).sensitivity == 0.5


def test_level_2_must_be_predicted_before_the_hypoglycaemia_begins() -> None:
    # Level 1 from reading 10, level 2 from reading 12.
    s = curve([H] * 10 + [L, L, VL, VL, VL, L] + [H] * 6)
    assert score(s, 11, level=2).sensitivity == 0.0  # between the two starts: already hypoglycaemic
    got = score(s, 8, level=2)
    assert (got.sensitivity, got.median_lead_time_min) == (1.0, 20.0)


def test_median_lead_time_over_predicted_episodes() -> None:
    s = curve([H] * 10 + [L, L, L] + [H] * 10 + [L, L, L] + [H] * 10 + [L, L, L] + [H] * 5)
    got = score(s, 9, 19, 29)  # leads 5 and 20; 35 minutes before the third: missed
    assert (got.episodes, got.predicted, got.median_lead_time_min) == (3, 2, 12.5)
    assert got.sensitivity == pytest.approx(2 / 3)


def test_undefined_scores_are_none_not_zero() -> None:
    s = curve([H] * 30)
    got = score(s)
    assert got.sensitivity is None and got.ppv is None and got.median_lead_time_min is None
    assert got.false_alerts_per_day == 0.0


def test_pooling_sums_counts_and_joins_lead_times() -> None:
    a = Scores(episodes=2, predicted=1, alerts=4, true_alerts=1, patient_days=1.0, lead_times_min=(10.0,))
    b = Scores(episodes=1, predicted=1, alerts=1, true_alerts=1, patient_days=3.0, lead_times_min=(30.0,))
    pooled = Scores.pooled([a, b])
    assert (pooled.sensitivity, pooled.ppv, pooled.false_alerts_per_day, pooled.median_lead_time_min) == (
        2 / 3, 2 / 5, 3 / 4, 20.0)


def _recording(*subjects: Subject) -> Recording:
    return Recording(dataset="d", layout="long", unit="mg/dL", unit_source="header", subjects=subjects,
                     group_column="diagnosis")


FALL = [H] * 20 + [150, 140, 130, 120, 110, 100, 90, 80, 75, L, L, L, 60, L] + [H] * 10


def test_the_episode_definition_as_a_rule_scores_nothing() -> None:
    report = analyse(_recording(curve(FALL)), ConsensusRule())
    scores = report.overall()
    assert scores.alerts == 1 and scores.episodes == 1
    assert (scores.sensitivity, scores.ppv, scores.median_lead_time_min) == (0.0, 0.0, None)


def test_the_trend_rule_predicts_a_steady_fall() -> None:
    report = analyse(_recording(curve(FALL)), TrendRule())
    scores = report.overall()
    assert scores.sensitivity == 1.0 and scores.ppv == 1.0
    [alert] = report.results[0].alerts
    assert alert.index < 29  # before the first reading below 70
    assert alert.inputs["slope_mgdl_per_min"] == pytest.approx(-2.0)


def test_scores_by_subgroup_pool_their_subjects() -> None:
    a = curve(FALL, sid="a", group="x")
    b = curve([H] * 40, sid="b", group="y")
    c = curve(FALL, sid="c", group="x")
    groups = analyse(_recording(a, b, c), LevelRule()).by_subgroup()
    assert set(groups) == {"x", "y"}
    assert groups["x"].episodes == 2 and groups["x"].sensitivity == 1.0
    assert groups["y"].episodes == 0 and groups["y"].sensitivity is None


def test_duplicated_times_cannot_blow_up_the_trend_window() -> None:
    # Two thousand readings at one instant, then a steady fall: each window holds at most 64 readings.
    s = curve([150] * 2000 + [140, 130, 120, 110, 100, 90, 80, 75, L, L, L] + [H] * 5,
              gaps={k: -5 for k in range(1, 2000)})
    alerts = TrendRule().scan(s)
    assert alerts and all(a.inputs["readings"] <= 64 for a in alerts)
