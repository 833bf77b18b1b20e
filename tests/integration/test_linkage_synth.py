"""Linkage on a synthetic delivery pseudonymised as a producer would: the issue's targets at a small size,
and the ``guichet link`` commands end to end (persons.csv scored independently here)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration
PERSONS = 6000


def _hub_and_delivery(root: Path, persons: int, seed: int, *synth: str) -> tuple[Path, Path, Path, Path]:
    """A development hub, a synthetic delivery in the clear and the producer's domain key: (home, clear, level1,
    key); level1 is where the producer's pseudonymised copy goes."""
    home, clear, level1, key = root / "hub", root / "clear", root / "level1", root / "snds.key"
    assert run_cli(["init", "--home", str(home), "--custodian-home", str(root / "cust"),
                    "--mode", "development", "--json"]).code == 0
    assert run_cli(["synth", "--persons", str(persons), "--start", "2023-01-01", "--end", "2023-12-31",
                    "--seed", str(seed), *synth, "--out", str(clear)]).code == 0
    assert run_cli(["custodian", "domain-key", "--home", str(home), "--domain", "snds", "--out", str(key)]).code == 0
    return home, clear, level1, key


@pytest.fixture(scope="module")
def linked_hub(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("link")
    home, clear, level1, key = _hub_and_delivery(root, PERSONS, 5)
    assert run_cli(["producer", "pseudonymise", str(clear), "--manifest", str(clear / "manifest.toml"),
                    "--key-file", str(key), "--out", str(level1), "--json"]).code == 0
    res = run_cli(["link", "run", "--home", str(home), "--delivery", str(level1), "--json"])
    assert res.code == 0, res.stderr
    return {"home": home, "clear": clear, "level1": level1, "root": root, "run": json.loads(res.stdout)}


def test_run_answers_the_documented_shape(linked_hub) -> None:
    out = linked_hub["run"]
    assert {"persons", "links_by_method", "deaths_in", "deaths_matched", "match_rate", "review_queue"} <= out.keys()
    assert PERSONS * 0.95 < out["persons"] < PERSONS * 1.05
    assert out["deaths_in"] > 0 and 0 < out["match_rate"] <= 1


def test_review_queue_holds_the_band_and_a_calibration_sample_of_every_bin(linked_hub) -> None:
    """The queue: every pair of the uncertain band [0.2, 0.9), plus at most ``calibration_sample`` pairs of
    each probability bin outside it, so that clerical decisions label the whole range, not the band only."""
    from guichet.linkage.calibration import EDGES
    from guichet.linkage.deaths import DeathSettings

    res = run_cli(["link", "review", "list", "--home", str(linked_hub["home"]), "--json"])
    assert res.code == 0, res.stderr
    pairs = json.loads(res.stdout)
    assert len(pairs) == linked_hub["run"]["review_queue"]
    settings = DeathSettings()
    outside = [p for p in pairs if not settings.review_low <= p["calibrated"] < settings.review_high]
    assert outside, "no calibration sample outside the uncertain band"
    per_bin: dict[int, int] = {}
    for p in outside:
        b = next(i for i, hi in enumerate(EDGES[1:]) if p["probability"] < hi)
        per_bin[b] = per_bin.get(b, 0) + 1
    assert max(per_bin.values()) <= settings.calibration_sample
    assert max(per_bin) == len(EDGES) - 2  # the confident matches are sampled too


def test_targets_claims_hospital_and_deaths(linked_hub) -> None:
    res = run_cli(["link", "evaluate", "--home", str(linked_hub["home"]), "--truth",
                   str(linked_hub["clear"] / "truth"), "--json"])
    assert res.code == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["links"]["claims"]["f1"] >= 0.99
    assert got["links"]["hospital"]["f1"] >= 0.99
    methods = got["deaths_methods"]
    assert methods["guichet"]["f1"] >= 0.95
    assert methods["guichet"]["f1"] >= methods["baseline_a"]["f1"]
    assert methods["guichet"]["f1"] >= methods["baseline_b"]["f1"]


def test_export_scores_independently_and_people_with_several_psa_are_one(linked_hub, tmp_path: Path) -> None:
    res = run_cli(["link", "export", "--home", str(linked_hub["home"]), "--out", str(tmp_path), "--json"])
    assert res.code == 0, res.stderr
    with open(tmp_path / "persons.csv", newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == ["table", "row_number", "person_id"]
        mine = {(t, int(r)): p for t, r, p in reader}
    with open(linked_hub["clear"] / "truth" / "persons.csv", newline="") as fh:
        truth = {(r["table"], int(r["row_number"])): r["person_key"] for r in csv.DictReader(fh)}
    assert mine.keys() == truth.keys()  # every delivered row, nothing else
    # people whose beneficiary rows have several psa and an ano: one person id (≥ 98 %)
    # (fictitious-NIR rows are anonymous care, never linked by design; rows with a recorded defect aside)
    psa_of: dict[int, str] = {}
    ano_of: dict[int, str] = {}
    with open(linked_hub["level1"] / "IR_BEN_R.csv", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh, delimiter=";"), start=1):
            psa_of[i], ano_of[i] = row["BEN_NIR_PSA"], row["BEN_NIR_ANO"]
            if row["BEN_CDI_NIR"] not in ("00", ""):
                psa_of[i] = "fictitious"
    with open(linked_hub["clear"] / "truth" / "defects.csv", newline="") as fh:
        defective = {int(r["row_number"]) for r in csv.DictReader(fh)
                     if r["table"] == "IR_BEN_R" and r["row_number"] and r["defect"] != "death_date_sentinel"}
    people: dict[str, list[int]] = {}
    for (table, row), key in truth.items():
        if table == "IR_BEN_R" and row not in defective and re.fullmatch("[A-Z2-7]{17}", psa_of[row]):
            people.setdefault(key, []).append(row)
    several = [rows for rows in people.values() if len({psa_of[r] for r in rows}) > 1 and any(ano_of[r] for r in rows)]
    assert several
    one = sum(1 for rows in several if len({mine[("IR_BEN_R", r)] for r in rows}) == 1 and mine[("IR_BEN_R", rows[0])])
    assert one / len(several) >= 0.98


def test_report_is_aggregate_only(linked_hub, tmp_path: Path) -> None:
    out = tmp_path / "linkage.html"
    res = run_cli(["link", "report", "--home", str(linked_hub["home"]), "--html", str(out)])
    assert res.code == 0, res.stderr
    text = out.read_text()
    assert "Reliability" in text or "reliability" in text
    assert "m/u parameters" in text and "Left unlinked" in text
    assert not re.search(r"[A-Z2-7]{17}", text)  # no pseudonym
    assert not re.search(r"P\d{10}", text)  # no person id


def test_second_run_keeps_every_id(linked_hub, tmp_path: Path) -> None:
    home = str(linked_hub["home"])
    assert run_cli(["link", "export", "--home", home, "--out", str(tmp_path / "a")]).code == 0
    res = run_cli(["link", "run", "--home", home, "--delivery", str(linked_hub["level1"]), "--no-baselines", "--json"])
    assert res.code == 0, res.stderr
    assert run_cli(["link", "export", "--home", home, "--out", str(tmp_path / "b")]).code == 0
    assert (tmp_path / "a" / "persons.csv").read_bytes() == (tmp_path / "b" / "persons.csv").read_bytes()


def test_bad_input_is_one_line_exit_2(linked_hub, tmp_path: Path) -> None:
    res = run_cli(["link", "run", "--home", str(linked_hub["home"]), "--delivery", str(tmp_path)])
    assert res.code == 2 and len(res.stderr.strip().splitlines()) == 1
    fresh = tmp_path / "fresh"
    assert run_cli(["init", "--home", str(fresh), "--custodian-home", str(tmp_path / "c"),
                    "--mode", "development"]).code == 0
    res = run_cli(["link", "export", "--home", str(fresh), "--out", str(tmp_path / "o")])
    assert res.code == 2 and "link run" in res.stderr


def test_two_deliveries_keep_their_folder_in_persons_csv(tmp_path: Path) -> None:
    """``--deliveries 2``: per-delivery manifests; persons.csv names rows as the truth does
    (``delivery-02/ER_PRS_F``), every delivered row once, and a person keeps one id across deliveries."""
    home, clear, level1, key = _hub_and_delivery(tmp_path, 400, 9, "--deliveries", "2")
    level1.mkdir()
    for d in ("delivery-01", "delivery-02"):
        res = run_cli(["producer", "pseudonymise", str(clear / d), "--manifest", str(clear / d / "manifest.toml"),
                       "--key-file", str(key), "--out", str(level1 / d), "--json"])
        assert res.code == 0, res.stderr
    res = run_cli(["link", "run", "--home", str(home), "--delivery", str(level1), "--no-baselines", "--json"])
    assert res.code == 0, res.stderr
    assert run_cli(["link", "export", "--home", str(home), "--out", str(tmp_path / "out")]).code == 0
    with open(tmp_path / "out" / "persons.csv", newline="") as fh:
        mine = {(r["table"], int(r["row_number"])): r["person_id"] for r in csv.DictReader(fh)}
    with open(clear / "truth" / "persons.csv", newline="") as fh:
        truth = {(r["table"], int(r["row_number"])): r["person_key"] for r in csv.DictReader(fh)}
    assert {t for t, _ in truth} >= {"delivery-01/ER_PRS_F", "delivery-02/ER_PRS_F", "delivery-02/IR_BEN_R"}
    assert mine.keys() == truth.keys()
    # the same beneficiary row in both deliveries' referential: one person id
    same = [r for (t, r) in truth if t == "delivery-01/IR_BEN_R" and ("delivery-02/IR_BEN_R", r) in truth
            and truth[("delivery-01/IR_BEN_R", r)] == truth[("delivery-02/IR_BEN_R", r)]
            and mine[("delivery-01/IR_BEN_R", r)]]
    assert same
    agree = sum(mine[("delivery-01/IR_BEN_R", r)] == mine[("delivery-02/IR_BEN_R", r)] for r in same)
    assert agree / len(same) >= 0.99


def test_small_hard_delivery_links_when_splink_em_gives_up(tmp_path: Path) -> None:
    """A ``hard`` delivery of 1,500 persons (seed 3) drives one of Splink's m probabilities to exactly 0
    during EM, which Splink refuses with a ValueError: the run goes on with that session skipped and the
    model as it was before it (recorded in the lineage), instead of stopping with an internal error."""
    from guichet.engine import Engine, EngineSettings
    from guichet.linkage import deaths as d
    from guichet.linkage.pipeline import RunInputs, run
    from guichet.linkage.sources import delivery_sources

    home, clear, level1, key = _hub_and_delivery(tmp_path, 1500, 3, "--profile", "hard")
    assert run_cli(["producer", "pseudonymise", str(clear), "--manifest", str(clear / "manifest.toml"),
                    "--key-file", str(key), "--out", str(level1), "--json"]).code == 0
    with Engine(EngineSettings(memory_limit="1GB")) as engine:
        outcome = run(engine, RunInputs(delivery_sources(level1), settings=d.DeathSettings(seed=3)))
    skipped = {name: lin["seeds"].get("em_skipped", 0) for name, lin in outcome.lineage.items()}
    assert sum(skipped.values()) >= 1, f"the delivery no longer makes Splink's EM give up: {skipped}"
    assert outcome.deaths_in > 0
    res = run_cli(["link", "run", "--home", str(home), "--delivery", str(level1), "--json"])
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["deaths_matched"] > 0


def test_diagnoses_of_a_quarantined_stay_row_follow_the_stay_chaining_row(tmp_path: Path) -> None:
    """Through the lake, a stay row (``T_MCOaaB``) quarantined for a defect of its own leaves its sound diagnoses
    (``T_MCOaaD``) linked: they take their person from the stay's chaining row (``T_MCOaaC``) on the stay key.
    Scored from ``link export`` against the truth."""
    home, clear, level1, key = _hub_and_delivery(tmp_path, 1500, 3, "--profile", "hard")
    for producer in ("cnam", "atih", "cepidc"):
        assert run_cli(["producer", "add", producer, "--org", f"{producer} (synthetic)", "--key-out",
                        str(tmp_path / f"{producer}.pem"), "--home", str(home)]).code == 0
    assert run_cli(["producer", "pseudonymise", str(clear), "--manifest", str(clear / "manifest.toml"),
                    "--key-file", str(key), "--out", str(level1), "--json"]).code == 0
    res = run_cli(["deposit", "run", str(level1), "--manifest", str(level1 / "manifest.toml"), "--home", str(home),
                   "--json"])
    assert res.code in (0, 1), res.stderr
    for d in json.loads(res.stdout):
        if d.get("status") == "held":
            assert run_cli(["quality", "override", d["dataset"], "--version", str(d["version"]), "--reason",
                            "synthetic defects planted on purpose", "--home", str(home)]).code == 0
    assert run_cli(["link", "run", "--home", str(home), "--json"]).code == 0
    assert run_cli(["link", "export", "--home", str(home), "--out", str(tmp_path / "export")]).code == 0
    with open(tmp_path / "export" / "persons.csv", newline="") as fh:
        linked = {(r["table"], int(r["row_number"])): r["person_id"] for r in csv.DictReader(fh)}
    bad: dict[str, set[int]] = {}
    with open(clear / "truth" / "defects.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["row_number"]:
                bad.setdefault(r["table"], set()).add(int(r["row_number"]))

    def stays(name: str) -> list[tuple[str, str]]:
        with open(clear / f"{name}.csv", newline="") as fh:
            return [(r["ETA_NUM"], r["RSA_NUM"]) for r in csv.DictReader(fh, delimiter=";")]

    sound_chaining = {k for i, k in enumerate(stays("T_MCO23C"), 1) if i not in bad.get("T_MCO23C", set())}
    quarantined_stays = {k for i, k in enumerate(stays("T_MCO23B"), 1) if i in bad.get("T_MCO23B", set())}
    orphans = [i for i, k in enumerate(stays("T_MCO23D"), 1)
               if i not in bad.get("T_MCO23D", set()) and k in quarantined_stays and k in sound_chaining]
    assert orphans, "the delivery no longer has sound diagnoses of a defective stay row"
    assert all(linked.get(("T_MCO23D", i)) for i in orphans), \
        f"{sum(not linked.get(('T_MCO23D', i)) for i in orphans)} of {len(orphans)} diagnoses left unlinked"
