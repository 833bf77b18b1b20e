"""A sample permit document for tests (synthetic)."""

from __future__ import annotations

import copy
from typing import Any

SAMPLE: dict[str, Any] = {
    "format": "guichet.permit",
    "schema_version": 1,
    "id": "P-2026-0001",
    "revision": 1,
    "issued_at": "2026-12-07",
    "revised_at": "2026-12-07",
    "hub": {"name": "Guichet test hub", "registry": "/registry"},
    "application": "A-2026-0001",
    "holder": {"organisation": "Inserm U1018", "organisation_kind": "academic", "principal_investigator": "alice"},
    "people": [{"name": "alice", "role": "principal_investigator", "attested_until": "2027-12-31"},
               {"name": "bob", "role": "member", "attested_until": None}],
    "purpose": {"category": "scientific_research", "description": "Antidiabetic drug use among adults — étude"},
    "legal_basis": "EHDS Art 53(1)(e); CSP L.1461-3",
    "data": {"categories": ["claims"], "products": ["dcir"], "tables": ["ER_PHA_F", "IR_BEN_R"],
             "variables": [{"table": "ER_PHA_F", "variable": "PHA_PRS_C13"},
                           {"table": "IR_BEN_R", "variable": "BEN_NAI_ANN"}]},
    "population": {"criteria": {"all": [{"age": {"min": 18}}]}, "period": {"start": "2020-01-01", "end": "2023-12-31"}},
    "pseudonymisation": "pseudonymised",
    "validity": {"start": "2026-12-07", "end": "2028-12-06", "max_days": 1826, "extension": None},
    "tools": ["python", "r"],
    "resources": {"cpu": 4, "memory_gb": 16, "compute_hours": 200},
    "fees": {"currency": "EUR", "total_cents": 0, "schedule": "default-2026",
             "lines": [{"item": "application", "quantity": 1, "unit_cents": 30000, "amount_cents": 30000},
                       {"item": "reduction_academic", "quantity": 1, "unit_cents": -30000, "amount_cents": -30000}]},
    "output_conditions": {"rule_set": "default", "rounding": 10, "min_cell": 11, "models_may_leave": False},
    "opt_out_exceptions": [],
    "amendments": [],
    "revocation": None,
}


def sample_document() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)
