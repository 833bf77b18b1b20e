"""A small handcrafted SNDS delivery whose populations are counted by hand (access criteria and feasibility
tests): clear files as a producer holds them, pseudonymised at the producer, deposited, published, linked,
with the catalogue's dictionary loaded — the same path as ``guichet demo``, on 21 people.

The people (all synthetic):

| who | sex | born | residence | events |
|---|---|---|---|---|
| ana | F | 1950-03 | 075 | metformin (A10BA02) 2023-02-10; stay 2023-05-02..06, DGN_PAL E119, ASS_DGN J189 |
| bob | M | 1980-07 | 069 | metformin 2022-12-15; long-term illness 8 (E119) 2020-01-01..2030-01-01 |
| cyd | F | 2010-01 | 013 | amoxicillin (J01CA04) 2023-05-20 |
| dan | M | 1990-11 | 02A | stay 2023-06-10..15, DGN_PAL I219 |
| eve | F | 2005-06 | 075 | a consultation 2023-03-01 |
| gus | M | 2012-09 | 069 | two beneficiary rows (his parent bob's rights, then his own: one person through his own NIR); metformin 2023-08-01 under the first, stay 2023-09-01..03 with DGN_PAL E119 under the second |
| hal | M | 1960-04 | 033 | nothing |
| b01..b14 | F for odd, M for even | 1970-01 | 075 | atorvastatin (C10AA05) on 2023-04-01 + n days |

The stays' file (T_MCOaaB) is delivered without DGN_REL, which the catalogue's dictionary describes.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from guichet.actor import Actor
from guichet.hub import Hub

OPS = Actor("operator", frozenset({"operator"}), strong_auth=True)
METFORMIN = ("3400922086965", "3400922152134")
AMOXICILLIN = "3400927590313"
STATIN = "3400921650181"
ORG = "010430000"


def nir(sex: int, born: str, dept: str, commune: str, order: int) -> str:
    """A synthetic NIR with a valid control key (sex, year, month, département, commune, order)."""
    body = f"{sex}{born[2:4]}{born[5:7]}{dept}{commune}{order:03d}"
    return body + f"{97 - int(body) % 97:02d}"


@dataclass
class Person:
    name: str
    sex: int
    born: str  # YYYY-MM-DD
    dept: str  # residence, 3 characters
    own: str = ""
    rights: list[str] = field(default_factory=list)  # the rights openers' NIRs of its beneficiary rows


def people() -> list[Person]:
    out = [Person("ana", 2, "1950-03-15", "075"), Person("bob", 1, "1980-07-02", "069"),
           Person("cyd", 2, "2010-01-20", "013"), Person("dan", 1, "1990-11-11", "02A"),
           Person("eve", 2, "2005-06-30", "075"), Person("gus", 1, "2012-09-05", "069"),
           Person("hal", 1, "1960-04-01", "033")]
    out += [Person(f"b{i:02d}", 2 if i % 2 else 1, "1970-01-10", "075") for i in range(1, 15)]
    for i, p in enumerate(out, start=1):
        p.own = nir(p.sex, p.born, "13", "055", i)
        p.rights = [p.own]
    by = {p.name: p for p in out}
    by["gus"].rights = [by["bob"].own, by["gus"].own]
    return out


def _write(folder: Path, name: str, header: list[str], rows: list[dict[str, str]]) -> None:
    with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\n")
        w.writerow(header)
        for r in rows:
            unknown = set(r) - set(header)
            assert not unknown, f"{name}: {unknown}"
            w.writerow([r.get(h, "") for h in header])


def _header(schema: Path) -> list[str]:
    return [f["name"] for f in json.loads(schema.read_text(encoding="utf-8"))["fields"]]


def write_clear_delivery(folder: Path) -> Path:
    """The delivery as its producers hold it (clear identifiers), with the manifest the generator writes."""
    folder.mkdir(parents=True)
    synth = Path(str(resources.files("guichet.synth").joinpath("schemas")))
    shutil.copytree(synth, folder / "schemas", ignore=shutil.ignore_patterns("source"))
    for schema in (folder / "schemas" / "T_MCOaaB.json", folder / "schemas" / "clear" / "T_MCOaaB.json"):
        # the dictionary describes DGN_REL; this delivery does not hold it
        raw = json.loads(schema.read_text(encoding="utf-8"))
        raw["fields"] = [f for f in raw["fields"] if f["name"] != "DGN_REL"]
        schema.write_text(json.dumps(raw), encoding="utf-8")
    ps = people()
    by = {p.name: p for p in ps}
    ben, prs, pha, imb, stays_b, stays_c, stays_d = [], [], [], [], [], [], []
    for p in ps:
        for rights in p.rights:
            ben.append({"BEN_NIR_OUV": rights, "BEN_NAI_DTE": p.born, "BEN_RNG_GEM": "1", "BEN_NIR": p.own,
                        "BEN_CDI_NIR": "00", "BEN_NAI_ANN": p.born[:4], "BEN_NAI_MOI": p.born[5:7],
                        "BEN_SEX_COD": str(p.sex), "BEN_RES_DPT": p.dept, "BEN_RES_COM": "101",
                        "BEN_DTE_INS": "2006-01-01", "BEN_DTE_MAJ": "2023-12-31"})
    claims = 0

    def claim(p: Person, day: str, cip: str | None, rights: str | None = None) -> None:
        nonlocal claims
        claims += 1
        keys = {"DCT_ORD_NUM": str(claims), "FLX_DIS_DTD": day[:8] + "01", "FLX_EMT_NUM": "1",
                "FLX_EMT_ORD": str(claims), "FLX_EMT_TYP": "1", "FLX_TRT_DTD": day, "ORG_CLE_NUM": ORG,
                "PRS_ORD_NUM": "1", "REM_TYP_AFF": "1"}
        prs.append({"BEN_CDI_NIR": "00", "BEN_NAI_ANN": p.born[:4], "BEN_NIR_OUV": rights or p.own,
                    "BEN_NAI_DTE": p.born, "BEN_RNG_GEM": "1", "BEN_RES_DPT": p.dept, "BEN_SEX_COD": str(p.sex),
                    "EXE_SOI_DTD": day, "EXE_SOI_DTF": day, "BSE_REM_MNT": "3.08", "PRS_ACT_QTE": "1",
                    "PRS_PAI_MNT": "4.40", "PRS_NAT_REF": "3311" if cip else "1111", **keys})
        if cip:
            pha.append({"PHA_ACT_PRU": "4.40", "PHA_ACT_QSN": "1", "PHA_PRS_C13": cip,
                        "PHA_PRS_IDE": cip[5:12], **keys})

    stay_no = 0

    def stay(p: Person, start: str, end: str, dgn: str, ass: str | None = None) -> None:
        nonlocal stay_no
        stay_no += 1
        eta, rsa = "900000001", str(stay_no)
        dmy = lambda d: d[8:10] + d[5:7] + d[0:4]  # noqa: E731
        stays_c.append({"COH_NAI_RET": "0", "COH_SEX_RET": "0", "DAT_RET": "0", "ENT_DAT": dmy(start), "ETA_NUM": eta,
                        "FHO_RET": "0", "NAI_RET": "0", "BEN_NIR_OUV": p.own, "BEN_NAI_DTE": p.born,
                        "BEN_SEX_COD": str(p.sex), "NIR_RET": "0", "PMS_RET": "0", "RNG_NAI": "1", "RSA_NUM": rsa,
                        "SEJ_NUM": rsa, "SEJ_RET": "0", "SEX_RET": "0", "SOR_ANN": end[:4], "SOR_DAT": dmy(end),
                        "SOR_MOI": end[5:7]})
        stays_b.append({"AGE_ANN": str(int(start[:4]) - int(p.born[:4])), "BDI_DEP": p.dept[1:], "COD_SEX": str(p.sex),
                        "DGN_PAL": dgn, "ENT_MOD": "8", "ENT_PRV": "", "ETA_NUM": eta, "RSA_NUM": rsa,
                        "SEJ_NBJ": "4", "SOR_ANN": end[:4], "SOR_MOD": "8", "SOR_MOI": end[5:7]})
        if ass:
            stays_d.append({"ASS_DGN": ass, "ETA_NUM": eta, "RSA_NUM": rsa})

    claim(by["ana"], "2023-02-10", METFORMIN[0])
    stay(by["ana"], "2023-05-02", "2023-05-06", "E119", "J189")
    claim(by["bob"], "2022-12-15", METFORMIN[1])
    imb.append({"BEN_NIR_OUV": by["bob"].own, "BEN_NAI_DTE": by["bob"].born, "BEN_SEX_COD": "1", "BEN_RNG_GEM": "1",
                "IMB_ALD_DTD": "2020-01-01", "IMB_ALD_DTF": "2030-01-01", "IMB_ALD_NUM": "8", "IMB_ETM_NAT": "41",
                "MED_MTF_COD": "E119"})
    claim(by["cyd"], "2023-05-20", AMOXICILLIN)
    stay(by["dan"], "2023-06-10", "2023-06-15", "I219")
    claim(by["eve"], "2023-03-01", None)
    claim(by["gus"], "2023-08-01", METFORMIN[0], rights=by["bob"].own)
    stay(by["gus"], "2023-09-01", "2023-09-03", "E119")
    for i in range(1, 15):
        claim(by[f"b{i:02d}"], f"2023-04-{i:02d}", STATIN)
    clear = folder / "schemas" / "clear"
    _write(folder, "IR_BEN_R", _header(clear / "IR_BEN_R.json"), ben)
    _write(folder, "ER_PRS_F", _header(clear / "ER_PRS_F.json"), prs)
    _write(folder, "ER_PHA_F", _header(clear / "ER_PHA_F.json"), pha)
    _write(folder, "IR_IMB_R", _header(clear / "IR_IMB_R.json"), imb)
    _write(folder, "T_MCO23B", _header(clear / "T_MCOaaB.json"), stays_b)
    _write(folder, "T_MCO23C", _header(clear / "T_MCOaaC.json"), stays_c)
    _write(folder, "T_MCO23D", _header(clear / "T_MCOaaD.json"), stays_d)
    _manifest(folder)
    return folder


_IDENTIFIERS: dict[str, list[tuple[str, str, list[str]]]] = {
    "IR_BEN_R": [("BEN_NIR_PSA", "psa", ["BEN_NIR_OUV", "BEN_NAI_DTE", "BEN_SEX_COD"]), ("BEN_NIR_ANO", "ano", ["BEN_NIR"])],
    "ER_PRS_F": [("BEN_NIR_PSA", "psa", ["BEN_NIR_OUV", "BEN_NAI_DTE", "BEN_SEX_COD"])],
    "IR_IMB_R": [("BEN_NIR_PSA", "psa", ["BEN_NIR_OUV", "BEN_NAI_DTE", "BEN_SEX_COD"])],
    "T_MCO23C": [("NIR_ANO_17", "psa", ["BEN_NIR_OUV", "BEN_NAI_DTE", "BEN_SEX_COD"])],
}
_TABLES = (("IR_BEN_R", "IR_BEN_R", "cnam"), ("IR_IMB_R", "IR_IMB_R", "cnam"), ("ER_PRS_F", "ER_PRS_F", "cnam"),
           ("ER_PHA_F", "ER_PHA_F", "cnam"), ("T_MCO23B", "T_MCOaaB", "atih"), ("T_MCO23C", "T_MCOaaC", "atih"),
           ("T_MCO23D", "T_MCOaaD", "atih"))


def _manifest(folder: Path) -> None:
    lines = ['format = "guichet-delivery/1"', 'domain = "snds"', ""]
    for name, dataset, producer in _TABLES:
        schema = re.sub(r"\d\d", "aa", name) if name.startswith("T_MCO") else name
        lines += ["[[tables]]", f'name = "{name}"', f'dataset = "{dataset}"', f'file = "{name}.csv"',
                  f'schema = "schemas/clear/{schema}.json"', f'pseudonymised_schema = "schemas/{schema}.json"',
                  f'producer = "{producer}"', 'delimiter = ";"', 'encoding = "utf-8"', ""]
        for column, kind, inputs in _IDENTIFIERS.get(name, []):
            lines += ["[[tables.identifiers]]", f'column = "{column}"', f'kind = "{kind}"', 'state = "clear"',
                      "inputs = [" + ", ".join(f'"{i}"' for i in inputs) + "]", ""]
    (folder / "manifest.toml").write_text("\n".join(lines), encoding="utf-8")


def build_lake(hub: Hub, root: Path) -> dict[str, Any]:
    """Deposit the handcrafted delivery (pseudonymised at the producer), publish it, link it, load the
    catalogue's dictionary. Answers the deposit statuses by dataset."""
    from guichet.catalogue import services as catalogue
    from guichet.custodian.local import LocalCustodian
    from guichet.custodian.producer import pseudonymise_delivery
    from guichet.demo.catalogue import schema_folder
    from guichet.deposit import services as deposits
    from guichet.deposit.manifest import read_manifest
    from guichet.deposit.model import DepositRequest
    from guichet.linkage.run import LinkRequest
    from guichet.linkage.services import run_linkage
    from guichet.quality.services import override

    clear = write_clear_delivery(root / "clear")
    for name in ("cnam", "atih"):
        deposits.add_producer(hub, OPS, name=name, org=name)
    key = LocalCustodian(hub.config.custodian_home, caller="test").domain_key("snds")
    level1 = root / "level1"
    pseudonymise_delivery(clear, clear / "manifest.toml", key, level1)
    _domain, tables = read_manifest(level1, level1 / "manifest.toml")
    results = deposits.deposit(hub, OPS, request=DepositRequest(tuple(tables), delivery=True))
    statuses = {r.dataset: r.status for r in results}
    for r in results:
        assert r.rows_quarantined == 0, (r.dataset, r.quarantine_reasons)
        if r.status == "held":
            override(hub, OPS, dataset=r.dataset, version=r.version, reason="test fixture: published as delivered")
    run_linkage(hub, OPS, request=LinkRequest(compare_baselines=False))
    catalogue.load_schemas(hub, OPS, folder=schema_folder())
    return statuses
