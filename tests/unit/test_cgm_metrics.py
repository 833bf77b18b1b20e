"""The consensus metrics on hand-made curves whose answers are worked out by hand (iglu's definitions)."""

from __future__ import annotations

import pytest

from guichet.cgm.metrics import active_percent, gri, subject_metrics
from tests.cgm_support import curve


def test_range_percentages_follow_iglus_boundaries() -> None:
    # 54 is not below 54; 70 and 180 are in range; 250 is above 180 but not above 250.
    m = subject_metrics("d", curve([50, 54, 69, 70, 180, 181, 250, 251]))
    assert m.tbr_lt54 == pytest.approx(100 / 8)
    assert m.tbr_lt70 == pytest.approx(300 / 8)
    assert m.tir_70_180 == pytest.approx(200 / 8)
    assert m.tar_gt180 == pytest.approx(300 / 8)
    assert m.tar_gt250 == pytest.approx(100 / 8)


def test_mean_sd_cv_and_gmi() -> None:
    m = subject_metrics("d", curve([100, 120, 140, 160]))
    assert m.mean_mgdl == 130
    assert m.sd_mgdl == pytest.approx(25.819888974716115)  # sample SD, as R's sd()
    assert m.cv_percent == pytest.approx(100 * 25.819888974716115 / 130)
    assert m.gmi_percent == pytest.approx(3.31 + 0.02392 * 130)


def test_gri_weights_and_cap() -> None:
    assert gri(below54=1, below70=3, above180=10, above250=2) == pytest.approx(3 * 1 + 2.4 * 2 + 1.6 * 2 + 0.8 * 8)
    m = subject_metrics("d", curve([50, 50, 60, 300, 300, 300]))
    assert m.gri == 100.0  # 3*33.3 + 2.4*16.7 + 1.6*50 = 220 before the cap


def test_active_percent_counts_grid_points_lost_in_gaps() -> None:
    # Readings at 0, 5, 15, 20, 25 min: the grid 0..25 has 6 points, the 10-minute gap loses one.
    assert active_percent(curve([100] * 5, gaps={2: 5})) == pytest.approx(500 / 6)
    # A reading 0:30 late rounds to the grid and loses nothing.
    assert active_percent(curve([100] * 6, gaps={3: 0.5})) == 100.0
    assert active_percent(curve([100] * 10)) == 100.0


def test_active_percent_ignores_intervals_that_round_to_the_grid() -> None:
    # Every 5.4 minutes: each interval rounds to the 5-minute grid, so iglu loses nothing (although 101
    # readings over 540 minutes fill only 101 of its 109 grid points).
    assert active_percent(curve([100] * 101, step_min=5.4)) == 100.0


def test_active_percent_of_a_long_absence() -> None:
    # Two days of readings, then one reading a hundred days later: the span is 102 days.
    s = curve([100] * 577, gaps={576: 100 * 1440})
    m = subject_metrics("d", s)
    assert m.days == pytest.approx(102.0)
    assert m.active_percent == pytest.approx(577 / (102 * 288 + 1) * 100)
    assert not m.meets_14d_70pct


def test_sufficiency_needs_14_days_and_70_percent_active() -> None:
    two_weeks = 14 * 288 + 1
    assert subject_metrics("d", curve([100] * two_weeks)).meets_14d_70pct
    assert not subject_metrics("d", curve([100] * (two_weeks - 2))).meets_14d_70pct  # 13.99 days
    # 14 days but with a third of them missing.
    sparse = curve([100] * (two_weeks - 1400), gaps={1000: 1400 * 5})
    assert subject_metrics("d", sparse).active_percent < 70
    assert not subject_metrics("d", sparse).meets_14d_70pct


def test_one_reading_has_no_sd_and_is_fully_active() -> None:
    m = subject_metrics("d", curve([95]))
    assert m.sd_mgdl is None and m.cv_percent is None
    assert m.active_percent == 100.0 and m.days == 0.0 and m.n_readings == 1


def test_start_and_end_are_the_files_local_times() -> None:
    m = subject_metrics("d", curve([100, 110, 120]))
    assert (m.start, m.end) == ("2023-11-14 22:13:20", "2023-11-14 22:23:20")


def test_the_grid_step_is_the_rounded_median() -> None:
    assert curve([100] * 10, step_min=15).step_min == 15
    assert curve([100] * 10, step_min=1).step_min == 1
    assert curve([100] * 3, step_min=0.1).step_min == 1  # never zero
