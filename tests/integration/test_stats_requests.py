"""Statistics requests end to end through the command line, on the handcrafted lake: request → assess →
answer (a sandboxed session on the minimal extract) → one checker → released and listed; small cells withheld;
a differencing pair across two requests caught by the hub-wide ledger; refusal paths; the released numbers
against the synthetic truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from statistics import mean

import pytest
from sqlalchemy import select

from tests.stats_support import STATIN, StatsDesk, make_desk, read_csv, spec, truth_2023

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StatsDesk]:
    d = make_desk(tmp_path_factory.mktemp("stats"))
    yield d
    d.hub.close()


@pytest.fixture(scope="module")
def released(desk: StatsDesk) -> tuple[str, dict[str, object]]:
    """The first released answer: everyone of 2023 counted (19 persons), by sex (10 and 9: withheld), their mean
    age, and the rate of hospital stays (3 persons: withheld)."""
    rid, answer = desk.answered(spec([
        {"name": "everyone", "kind": "count"},
        {"name": "by_sex", "kind": "count", "by": ["sex"]},
        {"name": "age", "kind": "mean", "variable": "age"},
        {"name": "hospitalised", "kind": "rate", "event": "hospital_stay"},
    ]))
    assert answer["status"] == "review" and answer["files"] == [], answer
    shown = desk.ok("stats", "show", rid, who="alice")
    assert shown["state"] == "review" and shown["answer"] is None  # nothing for the requester before the review
    reviewed = desk.ok("stats", "review", rid, "--approve", "--reason", "small cells withheld, nothing derivable",
                       who="olga")
    assert reviewed["state"] == "released"
    return rid, desk.ok("stats", "show", rid, who="alice")


def test_released_answer_matches_the_synthetic_truth_and_withholds_small_cells(
        desk: StatsDesk, released: tuple[str, dict[str, object]]) -> None:
    rid, shown = released
    truth = truth_2023()
    assert shown["state"] == "released"
    answer = shown["answer"]
    assert isinstance(answer, dict)
    files = {Path(f).name: Path(f) for f in answer["files"]}
    assert set(files) == {"everyone.csv", "by_sex.csv", "age.csv", "hospitalised.csv"}
    for path in files.values():
        assert path.is_absolute() and path.is_file() and path.parent.name == rid
        assert not Path(str(path) + ".meta.json").exists()  # sidecars and persons files stay inside
    assert read_csv(files["everyone.csv"]) == [{"population": "all", "count": str(truth["persons"])}]
    assert truth["female"] == 10 and truth["persons"] - truth["female"] == 9
    assert [r["count"] for r in read_csv(files["by_sex.csv"])] == ["", ""]  # 10 and 9 persons: under 11
    (age,) = read_csv(files["age.csv"])
    assert float(age["mean_value"]) == pytest.approx(mean(truth["ages"]))
    (rate,) = read_csv(files["hospitalised.csv"])
    assert rate["persons"] == "19" and rate["events"] == "" and rate["rate_per_1000"] == ""  # 3 stays: withheld
    tables = {t["name"]: t for t in answer["tables"]}
    assert {(w["row"], w["column"]) for w in tables["by_sex"]["withheld"]} == {(1, "count"), (2, "count")}
    # the released cells are in the ledger, the withheld ones are not
    from guichet.airlock.tables import LedgerCell

    with desk.hub.store.read() as s:
        cells = list(s.execute(select(LedgerCell).where(LedgerCell.request == rid)).scalars())
    assert sorted(c.count for c in cells) == [19, 19, 19]  # everyone, the mean age, the rate's persons
    # every step is audited, naming the request
    from guichet.store.models import AuditEvent

    with desk.hub.store.read() as s:
        events = list(s.execute(select(AuditEvent.action, AuditEvent.actor, AuditEvent.outcome)
                                .where(AuditEvent.object == f"statistics request {rid}")))
    steps = {(a, who) for a, who, outcome in events if outcome == "ok"}
    assert {("stats.request", "alice"), ("stats.assess", "operator"), ("stats.answer", "operator"),
            ("stats.review", "olga")} <= steps
    # listed in the public registry of results
    listed = desk.ok("stats", "show", rid, who="operator")
    assert listed["reviewed_by"] == "olga"
    from guichet.actor import Actor
    from guichet.stats import services

    public = services.registry(desk.hub, Actor("anonymous", frozenset()))
    assert [e["request"] for e in public] == [rid] and len(public[0]["files"]) == 4


def test_a_differencing_pair_across_two_requests_is_caught_by_the_ledger(
        desk: StatsDesk, released: tuple[str, dict[str, object]]) -> None:
    """The statin users of 2023 are 14 (above the threshold), but everyone of 2023 (19) was released: the
    difference isolates 5 persons, so the count is withheld — nothing is left to release."""
    rid, answer = desk.answered(spec([{"name": "statins", "kind": "count"}], STATIN))
    assert answer["status"] == "refused" and answer["files"] == []
    (table,) = answer["tables"]
    (w,) = table["withheld"]
    assert "differencing: 5 person(s) apart" in w["why"][0]
    shown = desk.ok("stats", "show", rid, who="alice")
    assert shown["state"] == "refused" and shown["answer"] is None
    assert desk.run("stats", "review", rid, "--approve", "--reason", "looks fine", who="olga").code == 2


def test_a_survival_table_one_person_apart_from_a_released_count_is_withheld(
        desk: StatsDesk, released: tuple[str, dict[str, object]]) -> None:
    """18 of the 19 persons of 2023 have a claim (dan only a stay): the survival table's censored persons are
    one person apart from the count of 19 already released — withheld, with its row's estimate."""
    rid, answer = desk.answered(spec([
        {"name": "persons", "kind": "count"},
        {"name": "next_claim", "kind": "survival", "event": "claim", "times": [30, 90], "follow_up_end": "2023-12-31"},
    ]))
    tables = {t["name"]: t for t in answer["tables"]}
    assert tables["persons"]["withheld"] == []  # the same 19 persons as released before: nothing new
    reasons = {w["column"]: w["why"][0] for w in tables["next_claim"]["withheld"]}
    assert reasons["censored"].startswith("differencing: 1 person(s) apart") and reasons["survival"]
    final = desk.hub.home / "workspaces" / rid / "outputs" / "next_claim.csv"
    assert all(r["censored"] == "" and r["survival"] == "" for r in read_csv(final) if r["at_risk"] == "18")


def test_refusal_paths(desk: StatsDesk) -> None:
    rid = desk.request(spec([{"name": "everyone", "kind": "count"}]), name="refused")
    assert desk.run("stats", "answer", rid, who="operator").code == 2  # not assessed yet
    out = desk.ok("stats", "assess", rid, "--refuse", "--reason", "the purpose is not among Art 53(1)", who="operator")
    assert out["state"] == "refused"
    assert desk.run("stats", "answer", rid, who="operator").code == 2
    assert desk.run("stats", "assess", rid, "--accept", "--reason", "changed my mind", who="operator").code == 2
    shown = desk.ok("stats", "show", rid, who="alice")
    assert shown["state"] == "refused" and "Art 53(1)" in shown["reason"]
    # the checker refuses an answer: nothing is released
    rid2, answer = desk.answered(spec([{"name": "ages", "kind": "mean", "variable": "age"}]))
    assert answer["status"] == "review"
    out = desk.ok("stats", "review", rid2, "--reject", "--reason", "the purpose does not need it", who="olga")
    assert out["state"] == "refused" and out["files"] == []
    assert desk.ok("stats", "show", rid2, who="alice")["answer"] is None
    assert not (desk.hub.home / "outputs" / "stats" / rid2).exists()


def test_bad_specifications_are_refused_with_their_paths(desk: StatsDesk) -> None:
    bad = spec([{"name": "x", "kind": "count", "by": ["sex"]}], products=["beneficiaire"])
    bad["statistics"].append({"name": "y", "kind": "rate", "event": "hospital_stay"})
    path = desk.root / "bad.json"
    import json

    path.write_text(json.dumps(bad), encoding="utf-8")
    r = desk.run("stats", "request", "--file", str(path), who="alice")
    assert r.code == 2 and "/statistics/1/event" in r.stderr and "not a table of the products" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    checked = desk.ok("stats", "list", who="alice")
    assert all(x["title"] for x in checked)


def _actor(desk: StatsDesk, who: str):  # type: ignore[no-untyped-def]
    from guichet.accounts.auth import actor_for

    return actor_for(desk.hub, who)


def test_the_committee_decides_where_the_hub_says_so(desk: StatsDesk) -> None:
    from guichet.errors import Refused
    from guichet.stats import services

    desk.hub.config.properties["stats_committee"] = True
    try:
        rid = services.submit(desk.hub, _actor(desk, "alice"), spec=spec([{"name": "n", "kind": "count"}]))["id"]
        out = services.assess(desk.hub, _actor(desk, "operator"), request=rid, accept=True, reason="complete")
        assert out["state"] == "committee" and out["answer_due"] is None
        with pytest.raises(Refused, match="waits for the committee"):
            services.assess(desk.hub, _actor(desk, "operator"), request=rid, accept=True, reason="again")
        with pytest.raises(Refused):
            services.answer(desk.hub, _actor(desk, "operator"), request=rid)
        out = services.assess(desk.hub, _actor(desk, "claire"), request=rid, accept=True, reason="sound purpose")
        assert out["state"] == "accepted" and out["committee_by"] == "claire" and out["assessed_by"] == "operator"
        assert out["answer_due"] is not None
    finally:
        del desk.hub.config.properties["stats_committee"]


def test_automatic_release_when_every_table_passes_and_the_model_matches_the_truth(
        desk: StatsDesk, released: tuple[str, dict[str, object]]) -> None:
    """With ``stats_auto_release``: the count of everyone (the same 19 persons as already released) and a
    regression of age on sex pass every check and go out at once; the coefficients are the truth's: the
    intercept is the men's mean age, the slope the women's mean minus the men's."""
    from guichet.stats import services

    truth = truth_2023()
    from tests.criteria_support import people

    sexes = [p.sex for p in people() if p.name not in ("bob", "hal")]
    men = [a for a, s in zip(truth["ages"], sexes, strict=True) if s == 1]
    women = [a for a, s in zip(truth["ages"], sexes, strict=True) if s == 2]
    desk.hub.config.properties["stats_auto_release"] = True
    try:
        rid = services.submit(desk.hub, _actor(desk, "alice"), spec=spec([
            {"name": "everyone", "kind": "count"},
            {"name": "age_by_sex", "kind": "regression", "outcome": "age", "covariates": ["female"]}]))["id"]
        services.assess(desk.hub, _actor(desk, "operator"), request=rid, accept=True, reason="complete")
        out = services.answer(desk.hub, _actor(desk, "operator"), request=rid)
    finally:
        del desk.hub.config.properties["stats_auto_release"]
    assert out["status"] == "released" and len(out["files"]) == 2
    model = {r["term"]: r for r in read_csv(next(f for f in out["files"] if f.endswith("age_by_sex.csv")))}
    assert float(model["const"]["coef"]) == pytest.approx(mean(men))
    assert float(model["x_female"]["coef"]) == pytest.approx(mean(women) - mean(men))
    shown = desk.ok("stats", "show", rid, who="alice")
    assert shown["state"] == "released" and shown["answer"]["files"] == out["files"]


def test_a_population_of_nobody_answers_refused_not_an_error(desk: StatsDesk) -> None:
    rid, answer = desk.answered(spec([{"name": "nobody", "kind": "count", "by": ["sex"]}],
                                     {"codes": ["L01"], "system": "ATC", "match": "prefix"}))
    assert answer["status"] == "refused" and answer["files"] == []
    assert [t["status"] for t in answer["tables"]] == ["empty"]
    assert desk.ok("stats", "show", rid, who="alice")["state"] == "refused"


def test_the_public_results_page_lists_the_released_answer(desk: StatsDesk,
                                                           released: tuple[str, dict[str, object]]) -> None:
    from fastapi.testclient import TestClient

    from guichet.web import create_app

    rid, shown = released
    with TestClient(create_app(desk.hub.config)) as client:
        page = client.get("/transparency/results")
        assert page.status_code == 200
        assert rid in page.text and str(shown["title"]) in page.text and "everyone.csv" in page.text
        # the tables themselves are the requester's: not served without an account
        assert client.get(f"/stats/{rid}/files/everyone.csv", follow_redirects=False).status_code in (303, 401, 403)
    # the activity report counts the statistics requests of the year
    import json
    from datetime import date

    r = desk.run("report", "activity", "--period", str(date.today().year))
    figures = json.loads(r.stdout)["statistics_requests"]
    every = desk.ok("stats", "list", who="operator")
    assert figures["received"] == len(every) and figures["released"] == sum(x["state"] == "released" for x in every)
    assert figures["refused"] == sum(x["state"] == "refused" for x in every) and figures["released"] >= 1
