"""Extracts compared with an independent computation over the decrypted lake.

A synthetic lake (``guichet synth``: 4,000 persons over two years, yearly files, every encrypted file cut in
row groups of 5,000 rows so that DuckDB reads it with several threads, and more claims than one DuckDB row
group) is built through the command line. For random permits — a period-only criteria (the build then skips the
population: a kept claim is itself an event of its person in the window), a criteria of a period and a sex (the
population computed), with or without the beneficiaries' table (undated: the population always applies) — the
extract is built by ``workspace.build`` and compared, row for row, with pandas over the lake decrypted with its
keys: each row given its person through the person index's links, the period and the population applied, the
dates coarsened to months, the days since each person's first kept claim, and the surrogates computed from their
definition (the claim id: the canonical encoding of the nine keys — ``claim\0`` and, for each key, an integer's 8
bytes, a date's days, a text's bytes without leading zeros, each after its tag — written here from the
definition in ``docs/workspace.md``; every surrogate the one-message AES CBC-MAC reference under the project's
key, the claim's in its own domain)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.custodian import custodian_for, read_encrypted_parquet
from guichet.custodian.local import LocalCustodian
from guichet.custodian.pseudonyms import project_key_pseudonym, project_pseudonym
from guichet.hub import Hub, open_hub
from guichet.lake import published_versions
from guichet.lake.keys import load_key, protection_for, read_file
from guichet.linkage.index import require_latest
from guichet.permits.issuing import period_of
from guichet.workspace import build as wsbuild
from guichet.workspace.rules import NINE_KEYS
from tests.conftest import run_cli

pytestmark = pytest.mark.property
START, END = dt.date(2021, 1, 1), dt.date(2022, 12, 31)
PRS_VARIABLES = ["BEN_NAI_ANN", "BEN_SEX_COD", "BEN_RES_DPT", "EXE_SOI_DTD", "PRS_NAT_REF", "DCT_ORD_NUM"]
BEN_VARIABLES = ["BEN_NAI_ANN", "BEN_SEX_COD", "BEN_RES_DPT"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    root = tmp_path_factory.mktemp("extract-reference")
    home, cust, clear, level1, key = (root / n for n in ("hub", "cust", "clear", "level1", "snds.key"))
    env = {"GUICHET_HOME": str(home)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("guichet.custodian.parquet.ROW_GROUP_ROWS", 5000)  # several row groups a file
        assert run_cli(["init", "--home", str(home), "--custodian-home", str(cust), "--mode", "development"]).code == 0
        res = run_cli(["synth", "--persons", "4000", "--start", START.isoformat(), "--end", END.isoformat(),
                       "--seed", "3", "--out", str(clear)])
        assert res.code == 0, res.stderr
        for name in ("cnam", "atih", "cepidc"):
            assert run_cli(["producer", "add", name, "--org", name, "--key-out", str(root / f"{name}.pem"),
                            "--as", "operator"], env).code == 0
        assert run_cli(["custodian", "domain-key", "--domain", "snds", "--out", str(key),
                        "--custodian-home", str(cust)]).code == 0
        assert run_cli(["producer", "pseudonymise", str(clear), "--manifest", str(clear / "manifest.toml"),
                        "--key-file", str(key), "--out", str(level1)]).code == 0
        res = run_cli(["deposit", "run", str(level1), "--manifest", str(level1 / "manifest.toml"), "--as", "operator",
                       "--json"], env)
        assert res.code in (0, 1), res.stderr
        for d in json.loads(res.stdout):
            if d.get("status") == "held":  # the generator plants defects on purpose
                assert run_cli(["quality", "override", d["dataset"], "--version", str(d["version"]), "--reason",
                                "test: synthetic defects planted on purpose", "--as", "operator"], env).code == 0
        res = run_cli(["link", "run", "--as", "operator", "--json"], env)
        assert res.code == 0, res.stderr
    hub = open_hub(home)
    yield hub
    hub.close()


# --- the reference: pandas over the decrypted lake ------------------------------------------------------------

def _decrypted(hub: Hub, table: str) -> pd.DataFrame:
    info = max(published_versions(hub, table), key=lambda v: v.version)
    protection = protection_for(hub)
    parts = [read_file(str(hub.home / f["path"]), load_key(hub, protection, str(f["key_id"]))) for f in info.files]
    return pa.concat_tables(parts, promote_options="permissive").to_pandas()


def _links(hub: Hub) -> pd.DataFrame:
    meta = require_latest(hub).files["links"]
    key = custodian_for(hub.config, caller="test").unwrap(meta["key_id"], meta["wrapped"])
    links = read_encrypted_parquet(hub.home / meta["path"], key).to_pandas()
    return links[links["person_id"].notna()]


def _with_persons(hub: Hub, table: str, links: pd.DataFrame) -> pd.DataFrame:
    rows = _decrypted(hub, table)
    rows["_table"] = rows["_source_file"].astype(str).str.replace(r"\.csv$", "", regex=True)
    rows["_row"] = rows["_source_row"].astype("int64")
    mine = links[links["logical"] == table][["_table", "_row", "person_id"]].astype({"_row": "int64"})
    return rows.merge(mine, on=["_table", "_row"], how="inner")


def _day(value: Any) -> dt.date | None:
    if value is None or (not isinstance(value, str | dt.date) and pd.isna(value)):
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _meets(start: Any, end: Any, lo: dt.date | None, hi: dt.date | None) -> bool:
    s, e = _day(start), _day(end)
    last = e if e is not None else s
    return (lo is None or (last is not None and last >= lo)) and (hi is None or (s is not None and s <= hi))


def _text(value: Any) -> str:
    """A key's text as the extract's claim id takes it: leading zeros removed, nothing for a null."""
    if value is None or (not isinstance(value, str | dt.date) and pd.isna(value)):
        return ""
    if isinstance(value, dt.date):
        return value.isoformat().lstrip("0")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).lstrip("0")


def _types(hub: Hub, table: str) -> dict[str, pa.DataType]:
    info = max(published_versions(hub, table), key=lambda v: v.version)
    first = info.files[0]
    schema = read_file(str(hub.home / first["path"]), load_key(hub, protection_for(hub), str(first["key_id"]))).schema
    return {f.name: f.type for f in schema}


def _claim_message(row: dict[str, Any], types: dict[str, pa.DataType]) -> bytes:
    """The claim's canonical encoding, from its definition (docs/workspace.md, "Keys")."""
    out = b"claim\0"
    for k in NINE_KEYS:
        value, kind = _value(row[k]), types[k]
        if pa.types.is_integer(kind):
            out += b"\x11" + bytes(8) if value is None else b"\x01" + int(value).to_bytes(8, "big", signed=True)
        elif pa.types.is_date(kind):
            out += b"\x12" + bytes(4) if value is None else b"\x02" + (_day(value) - dt.date(1970, 1, 1)).days.to_bytes(
                4, "big", signed=True)
        elif value is None:
            out += b"\x13" + bytes(15)
        else:
            text = _text(value).encode()
            field = b"\x03" + len(text).to_bytes(2, "big") + text
            out += field + bytes(-len(field) % 16)
    return out


def _value(value: Any) -> Any:
    if value is None or (not isinstance(value, str | dt.date) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


@pytest.fixture(scope="module")
def prepared(lake: Hub) -> dict[str, pd.DataFrame]:
    """The decrypted tables with their persons, each row's day and claim encoding: what does not depend on the
    permit, computed once for the module's lake (every example reads the same lake)."""
    links = _links(lake)
    prs = _with_persons(lake, "ER_PRS_F", links)
    prs["_day"] = [_day(s) for s in prs["EXE_SOI_DTD"]]
    types = _types(lake, "ER_PRS_F")
    prs["_claim"] = [_claim_message(dict(zip(NINE_KEYS, keys, strict=True)), types)
                     for keys in zip(*(prs[k] for k in NINE_KEYS), strict=True)]
    return {"ER_PRS_F": prs, "T_MCOaaC": _with_persons(lake, "T_MCOaaC", links),
            "IR_BEN_R": _with_persons(lake, "IR_BEN_R", links)}


def reference(hub: Hub, frames: dict[str, pd.DataFrame], project: str, criteria: dict[str, Any],
              tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    key = LocalCustodian(hub.config.custodian_home, caller="test").keys.project_pseudonym_key(project)
    prs, mco, ben = frames["ER_PRS_F"], frames["T_MCOaaC"], frames["IR_BEN_R"]
    period = period_of(criteria)
    lo = dt.date.fromisoformat(period["start"]) if period["start"] else None
    hi = dt.date.fromisoformat(period["end"]) if period["end"] else None
    window = criteria.get("period") or criteria["all"][0]["period"]
    wlo = dt.date.fromisoformat(window["from"]) if "from" in window else None
    whi = dt.date.fromisoformat(window["to"]) if "to" in window else None
    population = {p for p, d in zip(prs["person_id"], prs["_day"], strict=True) if _meets(d, d, wlo, whi)}
    population |= {p for p, s, e in zip(mco["person_id"], mco["ENT_DAT"], mco["SOR_DAT"], strict=True)
                   if _meets(s, e, wlo, whi)}
    if "all" in criteria:  # and the sex
        women = {p for p, sex in zip(ben["person_id"], ben["BEN_SEX_COD"], strict=True)
                 if str(_value(sex) or "").strip() == "2"}
        population &= women
    kept = prs[[p in population and _meets(d, d, lo, hi) for p, d in zip(prs["person_id"], prs["_day"],
                                                                           strict=True)]]
    first = kept.groupby("person_id")["_day"].min().to_dict()
    out: dict[str, list[tuple[Any, ...]]] = {}
    pseudonym = {p: project_pseudonym(key, p) for p in set(kept["person_id"]) | set(ben["person_id"])}
    rows = []
    for person, claim, d, year, dpt, sex, nature in zip(*(kept[c] for c in (
            "person_id", "_claim", "_day", "BEN_NAI_ANN", "BEN_RES_DPT", "BEN_SEX_COD", "PRS_NAT_REF")), strict=True):
        rows.append((pseudonym[person], project_key_pseudonym(key, claim), _value(year), _value(dpt), _value(sex),
                     d.strftime("%Y-%m") if d else None, _value(nature), (d - first[person]).days if d else None))
    out["ER_PRS_F"] = rows
    if "IR_BEN_R" in tables:
        out["IR_BEN_R"] = [(pseudonym[r["person_id"]], _value(r["BEN_NAI_ANN"]), _value(r["BEN_RES_DPT"]),
                            _value(r["BEN_SEX_COD"])) for r in ben.to_dict("records") if r["person_id"] in population]
    return out


def _key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in row)


def _normal(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(str(v).strip() if isinstance(v, str) else (int(v) if isinstance(v, float) and v.is_integer() else v)
                 for v in row)


# --- the property -----------------------------------------------------------------------------------------------

days = st.integers(min_value=0, max_value=(END - START).days)
COUNTER = iter(range(1, 10_000))


@pytest.mark.parametrize("with_ben", [False, True])
@pytest.mark.parametrize("shape", ["period", "from", "period+sex"])
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=days, b=days)
def test_extracts_equal_the_reference(lake: Hub, prepared: dict[str, pd.DataFrame], a: int, b: int, shape: str,
                                      with_ben: bool) -> None:
    lo, hi = sorted((START + dt.timedelta(days=a), START + dt.timedelta(days=b)))
    window = {"from": lo.isoformat()} if shape == "from" else {"from": lo.isoformat(), "to": hi.isoformat()}
    criteria: dict[str, Any] = {"period": window}
    if shape == "period+sex":
        criteria = {"all": [{"period": window}, {"sex": "female"}]}
    tables = ["ER_PRS_F", "IR_BEN_R"] if with_ben else ["ER_PRS_F"]
    permit = f"P-2099-{next(COUNTER):04d}"
    variables = [{"table": "ER_PRS_F", "variable": v} for v in PRS_VARIABLES]
    if with_ben:
        variables += [{"table": "IR_BEN_R", "variable": v} for v in BEN_VARIABLES]
    document = {"id": permit, "revision": 1, "issued_at": "2026-01-01",
                "data": {"tables": tables, "variables": variables, "granted": []},
                "population": {"criteria": criteria, "period": period_of(criteria)}}
    result, built = wsbuild.build(lake, permit, document, by="test")
    assert built
    recipe = (lake.home / result["recipe"]).read_text()
    # the population is skipped only where the period implies it: a period alone, and claims only
    assert ("ws_pop" in recipe) == (shape == "period+sex" or with_ben)
    manifest = wsbuild.load_manifest(lake, permit)
    assert manifest is not None
    got = wsbuild._decrypt(lake, permit, manifest, wsbuild.extract_dir(lake, permit))
    want = reference(lake, prepared, wsbuild.rules.project_of(permit), criteria, tables)
    prs = got["ER_PRS_F"]
    assert prs.column_names == ["PERSON_ID", "CLAIM_ID", "BEN_NAI_ANN", "BEN_RES_DPT", "BEN_SEX_COD", "EXE_SOI_DTD",
                                "PRS_NAT_REF", "DAYS_SINCE_INDEX"]
    for name, rows in want.items():
        table = got[name]
        mine = sorted((_normal(r) for r in zip(*[table.column(c).to_pylist() for c in table.column_names],
                                               strict=True)), key=_key)
        assert mine == sorted((_normal(r) for r in rows), key=_key), name
    persons = {r[0] for rows in want.values() for r in rows}
    assert result["persons"] == len(persons) and result["tables"] == {n: len(r) for n, r in want.items()}
    assert len(want["ER_PRS_F"]) > 0 or lo > hi
