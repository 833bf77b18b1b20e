"""What an extract may hold and in what form: the key columns of each kind (replaced by per-project
surrogates), the potentially identifying fields and their default coarsening, the quasi-identifiers the risk
report measures. Pure data; ``build`` applies it."""

from __future__ import annotations

from dataclasses import dataclass

NINE_KEYS = ("DCT_ORD_NUM", "FLX_DIS_DTD", "FLX_EMT_NUM", "FLX_EMT_ORD", "FLX_EMT_TYP", "FLX_TRT_DTD",
             "ORG_CLE_NUM", "PRS_ORD_NUM", "REM_TYP_AFF")

# Columns that identify a person (hub pseudonyms, the birth rank that completes them): never released; every
# row carries PERSON_ID, the person's project pseudonym, instead.
PERSON_COLUMNS = frozenset({"BEN_NIR_PSA", "BEN_IDT_ANO", "NIR_ANO_17", "BEN_NIR_ANO", "BEN_RNG_GEM",
                            "BEN_NIR_IDT", "NIR_ANO_PSA"})
PERSON_OUT = "PERSON_ID"


@dataclass(frozen=True)
class RecordKey:
    """A table's record key: its columns are replaced by one surrogate column ``out`` of kind ``kind``."""

    kind: str
    columns: tuple[str, ...]
    out: str
    same_year: bool = False  # PMSI: the key is unique within one year's file only


_STAY = RecordKey("stay", ("ETA_NUM", "RSA_NUM"), "STAY_ID", same_year=True)
_CLAIM = RecordKey("claim", NINE_KEYS, "CLAIM_ID")
_DEATH = RecordKey("death", ("DCD_IDT_ENC",), "DEATH_ID")
RECORD_KEYS: dict[str, RecordKey] = {
    "ER_PRS_F": _CLAIM, "ER_PHA_F": _CLAIM,
    "T_MCOaaC": _STAY, "T_MCOaaB": _STAY, "T_MCOaaD": _STAY, "T_MCOaaA": _STAY,
    "KI_CCI_R": _DEATH, "KI_ECD_R": _DEATH,
}

# Other key columns released under their own name, each value replaced by a per-project surrogate of its kind.
COLUMN_KEYS: dict[str, str] = {
    "PFS_EXE_NUM": "practitioner", "PFS_PRE_NUM": "practitioner", "PRS_MTT_NUM": "practitioner",
    "PSE_ACT_NUM": "practitioner", "PSP_ACT_NUM": "practitioner",
    "ETA_NUM": "establishment", "ETB_EXE_FIN": "establishment", "ETB_PRE_FIN": "establishment",
}

# The potentially identifying fields of the SNDS documentation and their default rule (unless the permit
# grants the field in ``data.granted``: a list of "TABLE.VARIABLE").
MONTH = "year-month"
DATE_FIELDS = frozenset({"EXE_SOI_DTD", "EXE_SOI_DTF", "ENT_DAT", "SOR_DAT", "BEN_DCD_DTE", "IMB_ALD_DTD",
                         "IMB_ALD_DTF", "DCD_DTE", "EXE_SOI_AMD"})
REMOVED_FIELDS: dict[str, str] = {
    "BEN_NAI_MOI": "removed (birth year only)",
    "BEN_RES_COM": "removed (département only)",
    "BEN_DCD_COM": "removed (département only)",
    "COD_COM": "removed (département only)",
}

# Per-person date shifting (optional): every date of a person moves by the same offset, in [-N, -1] or [1, N]
# days, derived from the project's keys; month-bearing fields that are not dates cannot be shifted and go.
MAX_SHIFT_DAYS = 365
SHIFT_REMOVED = frozenset({"BEN_NAI_MOI"})
SHIFTED = "shifted per person"
# The interval of a dated row from its person's index event (the first event of the person in the permitted
# tables, population and period), in days, computed from the exact dates before coarsening or shifting.
INDEX_DAYS = "DAYS_SINCE_INDEX"

# Quasi-identifiers of the k-anonymity measure (as released: after coarsening).
QUASI_IDENTIFIERS = ("BEN_NAI_ANN", "BEN_NAI_MOI", "BEN_SEX_COD", "BEN_RES_DPT", "BEN_RES_COM", "BEN_DCD_DTE")
# Where an event took place, for the "unique on the first three events" measure: the first released of these.
PLACES = ("BEN_RES_DPT", "ETA_NUM", "ETB_EXE_FIN")

DEFAULT_K = 11
DEFAULT_MAX_BELOW_K = 0.0  # the share of persons in a class smaller than k above which the build is held
DEFAULT_MAX_UNIQUE = 0.05  # the share of persons unique on their first three events above which it is held


def is_internal(column: str) -> bool:
    """Lineage and internal columns (``_source_file``, ``_source_row``, any ``_``-prefixed one)."""
    return column.startswith("_")


def project_of(permit_id: str) -> str:
    """The custodian's project id of a permit (``P-2026-0001`` → ``p-2026-0001``)."""
    return permit_id.strip().lower()
