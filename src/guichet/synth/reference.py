"""The reference data shipped with the generator (see ``data/README.md`` for origin and licences)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from guichet.synth.clinical import ACUTE_ATC, CONDITIONS


def _metropolitan(code: str) -> bool:
    """001-095 and 02A/02B (020 is the pre-1976 Corsica code; 9xx are overseas or technical codes)."""
    return code in ("02A", "02B") or (code.isdigit() and 1 <= int(code) <= 95 and code != "020")


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("guichet.synth").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines(), delimiter=";"))


def _pack(text: str) -> int:
    """Units per pack: the reference holds '30', '1/10 ML'...; anything unreadable counts as one."""
    head = text.split("/")[0].strip()
    return int(head) if head.isdigit() and int(head) > 0 else 1


@dataclass(frozen=True)
class Drugs:
    """Drugs of one ATC prefix: CIP13 (as text), CIP7 and pack size, as arrays to sample from."""

    cip13: np.ndarray
    cip7: np.ndarray
    pack: np.ndarray


@dataclass(frozen=True)
class Reference:
    departements: tuple[str, ...]  # 3-character GEO_DPT_COD, metropolitan
    regions: tuple[str, ...]  # GEO_REG_COD of each département
    drugs: dict[str, Drugs]  # by ATC prefix
    ms_cim: frozenset[str]  # shipped MS_CIM_V codes
    ir_cim: dict[str, str]  # shipped IR_CIM_V code -> ALD_030_COD

    @property
    def region_codes(self) -> set[str]:
        return set(self.regions)


@lru_cache(maxsize=1)
def reference() -> Reference:
    dpts = [r for r in _rows("IR_DPT_V.csv") if _metropolitan(r["GEO_DPT_COD"])]
    drugs_rows = _rows("drugs.csv")
    prefixes = {p for c in CONDITIONS for p in c.atc} | set(ACUTE_ATC)
    drugs: dict[str, Drugs] = {}
    for prefix in sorted(prefixes):
        sel = [r for r in drugs_rows if r["PHA_ATC_C07"].startswith(prefix)]
        drugs[prefix] = Drugs(np.array([r["PHA_CIP_C13"] for r in sel]), np.array([r["PHA_PRS_IDE"] for r in sel]),
                              np.array([_pack(r["PHA_UNT_NBR_DSES"]) for r in sel]))
    return Reference(
        departements=tuple(r["GEO_DPT_COD"] for r in dpts),
        regions=tuple(r["GEO_REG_COD"] for r in dpts),
        drugs=drugs,
        ms_cim=frozenset(r["CIM_COD"] for r in _rows("MS_CIM_V.csv")),
        ir_cim={r["CIM_COD"]: r["ALD_030_COD"] for r in _rows("IR_CIM_V.csv")},
    )
