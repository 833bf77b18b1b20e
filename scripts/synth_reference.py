"""Rebuild the reference data shipped in ``guichet.synth`` from ``shared/data/snds`` (maintainers only).

    python scripts/synth_reference.py [/work/shared/data/snds]

Writes ``src/guichet/synth/data/*.csv`` (subsets of the drug reference and of the CIM-10 nomenclatures,
the département list) and ``src/guichet/synth/schemas/source/*.json`` (schema-snds tables, unmodified),
with their licence files. The output is sorted, so running it twice changes nothing.
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from guichet.synth.clinical import all_atc_prefixes, all_ir_cim_codes, all_ms_cim_codes  # noqa: E402

TABLES = {
    "IR_BEN_R": "BENEFICIAIRE/IR_BEN_R.json",
    "ER_PRS_F": "DCIR/ER_PRS_F.json",
    "ER_PHA_F": "DCIR/ER_PHA_F.json",
    "IR_IMB_R": "DCIR_DCIRS/IR_IMB_R.json",
    "T_MCOaaB": "PMSI/PMSI MCO/T_MCOaaB.json",
    "T_MCOaaC": "PMSI/PMSI MCO/T_MCOaaC.json",
    "T_MCOaaD": "PMSI/PMSI MCO/T_MCOaaD.json",
    "KI_CCI_R": "Causes de décès/KI_CCI_R.json",
    "KI_ECD_R": "Causes de décès/KI_ECD_R.json",
}


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\n")
        w.writerow(header)
        w.writerows(sorted(rows))


def main(snds: Path) -> None:
    data = ROOT / "src/guichet/synth/data"
    schemas = ROOT / "src/guichet/synth/schemas/source"
    nom = snds / "schema-snds/nomenclatures/ORAVAL"
    prefixes = all_atc_prefixes()
    with (snds / "derived/IR_PHA_R_core_from_scalpel.csv").open(encoding="utf-8") as f:
        drugs = [[r["PHA_CIP_C13"], r["PHA_PRS_IDE"], r["PHA_ATC_C07"], r["PHA_UNT_NBR_DSES"] or "1"]
                 for r in csv.DictReader(f, delimiter=";") if r["PHA_ATC_C07"].startswith(prefixes)]
    _write(data / "drugs.csv", ["PHA_CIP_C13", "PHA_PRS_IDE", "PHA_ATC_C07", "PHA_UNT_NBR_DSES"], drugs)
    ms = set(all_ms_cim_codes())
    with (nom / "MS_CIM_V.csv").open(encoding="utf-8") as f:
        rows = [[r["CIM_COD"], r["CIM_LIC"]] for r in csv.DictReader(f, delimiter=";") if r["CIM_COD"] in ms]
    _write(data / "MS_CIM_V.csv", ["CIM_COD", "CIM_LIC"], rows)
    ir = set(all_ir_cim_codes())
    with (nom / "IR_CIM_V.csv").open(encoding="utf-8") as f:
        rows = [[r["CIM_COD"], r["ALD_030_COD"], r["CIM_LIB"]] for r in csv.DictReader(f, delimiter=";")
                if r["CIM_COD"] in ir]
    _write(data / "IR_CIM_V.csv", ["CIM_COD", "ALD_030_COD", "CIM_LIB"], rows)
    with (nom / "IR_DPT_V.csv").open(encoding="utf-8") as f:
        rows = [[r["GEO_DPT_COD"], r["GEO_REG_COD"], r["GEO_DPT_LIB"]] for r in csv.DictReader(f, delimiter=";")]
    _write(data / "IR_DPT_V.csv", ["GEO_DPT_COD", "GEO_REG_COD", "GEO_DPT_LIB"], rows)
    shutil.copyfile(snds / "scalpel-extraction/LICENSE.txt", data / "LICENSE-SCALPEL-Extraction.txt")
    shutil.copyfile(snds / "schema-snds/LICENSE", data / "LICENSE-schema-snds.txt")
    for name, rel in TABLES.items():
        shutil.copyfile(snds / "schema-snds/schemas" / rel, schemas / f"{name}.json")
    shutil.copyfile(snds / "schema-snds/LICENSE", schemas / "LICENSE")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/snds")
