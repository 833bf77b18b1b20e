"""Demo stage "catalogue": the hub-wide catalogue properties, then the SNDS dictionary from schema-snds.

The properties describe the demonstration hub truthfully (it runs on this machine, on synthetic data);
with them, every SNDS product loaded from the schemas is complete and exported as HealthDCAT-AP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guichet.catalogue import services as catalogue
from guichet.demo.run import DemoRun, demo_stage

DEMO_BASE_URL = "http://127.0.0.1:8000"
DEMO_PROPERTIES: dict[str, str] = {
    "base_url": DEMO_BASE_URL,
    "catalogue_title": "Catalogue de démonstration de Guichet (données synthétiques)",
    "catalogue_description": "Demonstration hub built by 'guichet demo' on this machine: SNDS-shaped synthetic "
                             "data only, described with the official SNDS Table Schemas.",
    "publisher_name": "Guichet demonstration hub (synthetic data)",
    "publisher_homepage": DEMO_BASE_URL + "/catalogue",
    "publisher_email": "catalogue@localhost",
    "publisher_type": "NationalAuthority",
    "publisher_note": "Runs on this machine for demonstration; holds synthetic data shaped like the SNDS, "
                      "never real patient data.",
    "contact_name": "Demonstration hub operator",
    "contact_email": "operator@localhost",
    "contact_url": DEMO_BASE_URL + "/catalogue/producers",
    "hdab_name": "Guichet demonstration access desk",
    "hdab_homepage": DEMO_BASE_URL + "/catalogue",
    "hdab_email": "access@localhost",
    "access_rights": "NON_PUBLIC",
    "legal_basis": "GDPR Art 6(1)(e) and 9(2)(j): processing for scientific research in the public interest, "
                   "under a data permit (EHDS Art 68).",
    "legal_basis_source": "http://data.europa.eu/eli/reg/2016/679/oj",
    "applicable_legislation": "http://data.europa.eu/eli/reg/2025/327/oj",
    "purpose": "Secondary use of electronic health data for scientific research and public health "
               "(EHDS Art 53(1)).",
}


def schema_folder() -> Path:
    """The schema-snds Table Schemas shipped with the package (MPL-2.0, see catalogue/snds/README.md)."""
    return Path(catalogue.__file__).parent / "snds" / "schemas"


@demo_stage("catalogue")
def catalogue_stage(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    catalogue.configure(run.hub, run.operator, properties=DEMO_PROPERTIES)
    report = catalogue.load_schemas(run.hub, run.operator, folder=schema_folder())
    part = {"products": len(report.products), "complete": len(report.complete), "tables": report.tables,
            "variables": report.variables}
    lines = [f"catalogue  {len(report.products)} SNDS products ({report.tables} tables, {report.variables:,} variables) "
             f"from schema-snds; {len(report.complete)} complete, exported as HealthDCAT-AP",
             f"           browse {DEMO_BASE_URL}/catalogue; export: guichet catalogue export --format ttl"]
    return part, lines
