"""Spec cases of the CGM file reader: a small file in, the subjects (ids, groups, times, mg/dL) out."""

from __future__ import annotations

from pathlib import Path

import pytest

from guichet.cgm.read import read_recording
from guichet.errors import BadInput


def read(tmp_path: Path, text: str, name: str = "f.csv", **kw: str):  # type: ignore[no-untyped-def]
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return read_recording(f, **kw)


def test_long_file_with_row_names_and_a_diagnosis(tmp_path: Path) -> None:
    r = read(tmp_path, '"","id","time","gl","diagnosis"\n"1","b",2024-01-01 00:05:00,110,"diabetic"\n'
                       '"2","a",2024-01-01 00:00:00,100,"pre-diabetic"\n"3","b",2024-01-01 00:00:00,105,"diabetic"\n')
    assert r.layout == "long" and r.group_column == "diagnosis" and r.unit == "mg/dL"
    assert [(s.id, s.group, s.glucose.tolist()) for s in r.subjects] == [
        ("b", "diabetic", [105.0, 110.0]), ("a", "pre-diabetic", [100.0])]  # file order of first appearance
    assert r.subjects[0].local_time(1) == "2024-01-01T00:05:00"


def test_semicolons_and_decimal_commas_in_mmol_per_litre(tmp_path: Path) -> None:
    r = read(tmp_path, "id;time;glucose (mmol/L)\nx;2024-01-01T00:00;5,5\nx;2024-01-01T00:05;3,9\n")
    assert (r.unit, r.unit_source) == ("mmol/L", "header")
    assert r.subjects[0].glucose.tolist() == [99.0, 70.2]


def test_the_unit_can_be_forced(tmp_path: Path) -> None:
    r = read(tmp_path, "id,time,gl\nx,2024-01-01 00:00,30\n", unit="mg/dL")
    assert (r.unit, r.unit_source, r.subjects[0].glucose.tolist()) == ("mg/dL", "option", [30.0])
    with pytest.raises(BadInput, match="--unit"):
        read(tmp_path, "id,time,gl\nx,2024-01-01 00:00,30\n", unit="g/L")


def test_times_with_utc_offsets_keep_their_wall_clock_and_true_durations(tmp_path: Path) -> None:
    # The clocks go forward: 01:55+01:00 then 03:00+02:00 are five minutes apart.
    r = read(tmp_path, "id,time,gl\nx,2024-03-31T01:55:00+01:00,100\nx,2024-03-31T03:00:00+02:00,90\n")
    s = r.subjects[0]
    assert s.seconds[1] - s.seconds[0] == 300
    assert [s.local_time(0), s.local_time(1)] == ["2024-03-31T01:55:00", "2024-03-31T03:00:00"]


def test_a_file_without_an_id_column_is_one_subject_named_after_it(tmp_path: Path) -> None:
    r = read(tmp_path, "time,glucose\n2024-01-01 00:00,100\n2024-01-01 00:05,101\n", name="patient_7.csv")
    assert [(s.id, s.n) for s in r.subjects] == [("patient_7", 2)]


def test_dexcom_reads_only_egv_rows_and_keeps_low_and_high(tmp_path: Path) -> None:
    head = ("Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,Device Info,"
            "Source Device ID,Glucose Value (mg/dL),Insulin Value (u),Carb Value (grams),Duration (hh:mm:ss),"
            "Glucose Rate of Change (mg/dL/min)\n")
    body = ("1,,FirstName,,Ann,,,,,,,\n2,,Alert,Low,,,iPhone G6,80,,,,\n"
            "3,2024-01-01T00:00:00,EGV,,,,iPhone G6,Low,,,,\n4,2024-01-01T00:05:00,EGV,,,,iPhone G6,High,,,,\n"
            "5,2024-01-01T00:07:00,Calibration,,,,iPhone G6,120,,,,\n6,2024-01-01T00:10:00,EGV,,,,iPhone G6,95,,,,\n")
    r = read(tmp_path, "\ufeff" + head + body, name="clarity.csv")
    assert r.layout == "dexcom-clarity" and (r.censored_low, r.censored_high) == (1, 1)
    assert [(s.id, s.glucose.tolist()) for s in r.subjects] == [("clarity", [40.0, 400.0, 95.0])]


def test_missing_values_are_skipped_and_counted(tmp_path: Path) -> None:
    r = read(tmp_path, "id,time,gl\nx,2024-01-01 00:00,NA\nx,,100\n\nx,2024-01-01 00:10,100\n")
    assert r.skipped_rows == 2 and r.subjects[0].n == 1


@pytest.mark.parametrize("text,message", [
    ("id,time,gl\nx,2024-01-01 00:00,100\n\nx,2024-01-01 00:10,abc\n", "f.csv line 4, field glucose: not a number"),
    ('id,time,gl\n"x\ny",2024-01-01 00:00,100\nx,2024-01-01,100\n', "f.csv line 4, field time: not an ISO 8601"),
    ("id,time,gl\nx,2024-01-01 00:00,0\n", "f.csv line 2, field glucose: must be a positive number"),
    ("id,time,gl,diagnosis\nx,2024-01-01 00:00,100,a\nx,2024-01-01 00:05,100,b\n", "group column changes"),
])
def test_bad_rows_are_named_by_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        read(tmp_path, text)
