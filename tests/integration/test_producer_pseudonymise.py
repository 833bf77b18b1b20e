"""``guichet producer pseudonymise`` on a delivery (manifest) and on one file; bad key files refused."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path

import tomli_w

from guichet.custodian import nir as nirs
from guichet.custodian import pseudonyms as ps
from tests.conftest import run_cli

N1, N2 = nirs.with_key("1850575123456"), nirs.with_key("2920612345678")
BAD = N1[:-2] + ("00" if N1[-2:] != "00" else "01")


def _delivery(root: Path) -> Path:
    d = root / "delivery"
    (d / "schemas" / "clear").mkdir(parents=True)
    rows = [f"{N1};1985-05-03;1;{N1};13", f"{BAD};1985-05-03;1;{BAD};75", f"{N2};1992-06-01;2;;69",
            f"{N1};1985-05-03;1;{N1};13"]
    csv = "BEN_NIR_OUV;BEN_NAI_DTE;BEN_SEX_COD;BEN_NIR;BEN_RES_DPT\n" + "\n".join(rows) + "\n"
    (d / "IR_BEN_R.csv").write_text(csv)
    fields = lambda names: {"fields": [{"name": n, "type": "string"} for n in names]}  # noqa: E731
    (d / "schemas" / "clear" / "IR_BEN_R.json").write_text(json.dumps(fields(
        ["BEN_NIR_OUV", "BEN_NAI_DTE", "BEN_SEX_COD", "BEN_NIR", "BEN_RES_DPT"])))
    (d / "schemas" / "IR_BEN_R.json").write_text(json.dumps(fields(
        ["BEN_NIR_PSA", "BEN_SEX_COD", "BEN_NIR_ANO", "BEN_RES_DPT"])))
    manifest = {"format": "guichet-delivery/1", "domain": "snds", "tables": [{
        "name": "IR_BEN_R", "dataset": "IR_BEN_R", "file": "IR_BEN_R.csv", "schema": "schemas/clear/IR_BEN_R.json",
        "pseudonymised_schema": "schemas/IR_BEN_R.json", "producer": "cnam", "delimiter": ";",
        "encoding": "utf-8", "rows": 4, "sha256": hashlib.sha256(csv.encode()).hexdigest(),
        "identifiers": [
            {"column": "BEN_NIR_PSA", "kind": "psa", "state": "clear",
             "inputs": ["BEN_NIR_OUV", "BEN_NAI_DTE", "BEN_SEX_COD"]},
            {"column": "BEN_NIR_ANO", "kind": "ano", "state": "clear", "inputs": ["BEN_NIR"]},
            {"column": "BEN_SEX_COD", "kind": "quasi"}]}]}
    (d / "manifest.toml").write_text(tomli_w.dumps(manifest))
    return d


def test_delivery_by_manifest(tmp_path: Path) -> None:
    d = _delivery(tmp_path)
    ch = tmp_path / "cust"
    assert run_cli(["custodian", "init", "--custodian-home", str(ch)]).code == 0
    key = tmp_path / "snds.key"
    assert run_cli(["custodian", "domain-key", "--domain", "snds", "--out", str(key),
                    "--custodian-home", str(ch)]).code == 0
    out = tmp_path / "out"
    res = run_cli(["producer", "pseudonymise", str(d), "--manifest", str(d / "manifest.toml"), "--key-file",
                   str(key), "--out", str(out), "--json"])
    assert res.code == 0, res.stderr
    report = json.loads(res.stdout)["files"][0]
    assert report["rows"] == 4 and report["invalid_nir_key"] == 2 and report["empty"] == 1
    text = (out / "IR_BEN_R.csv").read_text()
    assert N1 not in text and N2 not in text and N1[:13] not in text and "1985-05-03" not in text
    lines = [ln.split(";") for ln in text.splitlines()]
    assert lines[0] == ["BEN_NIR_PSA", "BEN_SEX_COD", "BEN_NIR_ANO", "BEN_RES_DPT"]
    assert lines[1] == lines[4] and lines[2][0] == lines[2][2] == nirs.INVALID_NIR_KEY
    assert ps.is_pseudonym(lines[1][0]) and ps.is_pseudonym(lines[1][2]) and lines[3][2] == ""
    m = tomllib.loads((out / "manifest.toml").read_text())
    t = m["tables"][0]
    assert t["schema"] == "schemas/IR_BEN_R.json" and "pseudonymised_schema" not in t
    assert [i.get("state") for i in t["identifiers"]] == ["level1", "level1", None]
    assert all("inputs" not in i for i in t["identifiers"]) and (out / t["schema"]).is_file()
    assert t["sha256"] == hashlib.sha256((out / "IR_BEN_R.csv").read_bytes()).hexdigest()
    # two producers of the domain get the same key and so the same pseudonyms
    key2 = tmp_path / "snds-2.key"
    run_cli(["custodian", "domain-key", "--domain", "snds", "--out", str(key2), "--custodian-home", str(ch)])
    out2 = tmp_path / "out2"
    run_cli(["producer", "pseudonymise", str(d), "--manifest", str(d / "manifest.toml"), "--key-file",
             str(key2), "--out", str(out2)])
    assert (out2 / "IR_BEN_R.csv").read_text() == text


def test_one_file_and_bad_key_files(tmp_path: Path) -> None:
    d = _delivery(tmp_path)
    ch = tmp_path / "cust"
    run_cli(["custodian", "init", "--custodian-home", str(ch)])
    key = tmp_path / "snds.key"
    run_cli(["custodian", "domain-key", "--domain", "snds", "--out", str(key), "--custodian-home", str(ch)])
    out = tmp_path / "one.csv"
    res = run_cli(["producer", "pseudonymise", str(d / "IR_BEN_R.csv"), "--columns", "BEN_NIR", "--key-file",
                   str(key), "--out", str(out)])
    assert res.code == 0, res.stderr
    assert N1 not in out.read_text().split("\n", 1)[1].split(";")[3]
    # tampered key file: refused, nothing written, no key echoed
    data = json.loads(key.read_text())
    data["domain"] = "other"
    bad = tmp_path / "bad.key"
    bad.write_text(json.dumps(data))
    os.chmod(bad, 0o600)
    res = run_cli(["producer", "pseudonymise", str(d / "IR_BEN_R.csv"), "--columns", "BEN_NIR", "--key-file",
                   str(bad), "--out", str(tmp_path / "x.csv")])
    assert res.code == 2 and "integrity" in res.stderr and data["key"] not in res.stderr
    assert not (tmp_path / "x.csv").exists()
    os.chmod(key, 0o644)
    res = run_cli(["producer", "pseudonymise", str(d / "IR_BEN_R.csv"), "--columns", "BEN_NIR", "--key-file",
                   str(key), "--out", str(tmp_path / "y.csv")])
    assert res.code == 2 and "chmod 600" in res.stderr
