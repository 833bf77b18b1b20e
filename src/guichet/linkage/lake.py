"""Linkage inputs from the lake: the latest *published* version of each dataset linkage reads (found only
through ``catalogue.published_versions()``), its encrypted Parquet files bound with their keys."""

from __future__ import annotations

import re

from sqlalchemy import select

from guichet.catalogue.versions import current_version, datasets
from guichet.deposit.protection import protection_for
from guichet.deposit.run import load_key
from guichet.deposit.tables import DatasetVersion
from guichet.engine import Engine
from guichet.errors import NotFound
from guichet.hub import Hub
from guichet.linkage.keygraph import logical_table
from guichet.linkage.sources import NEEDED, SourceFile, Sources

SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"  # kept with every accepted row by the deposit


def lake_sources(hub: Hub, engine: Engine) -> Sources:
    protection = None
    found = Sources(origin="lake")
    for dataset in datasets(hub):
        logical = logical_table(dataset)
        if logical not in NEEDED:
            continue
        version = current_version(hub, dataset)
        if version is None or not version.files:
            continue
        protection = protection or protection_for(hub)
        found.versions[dataset] = version.version
        for f in version.files:
            key = load_key(hub, protection, str(f["key_id"]))
            engine.add_parquet_key(key.engine_name, key.key)
            found.files.append(SourceFile(logical, dataset, "parquet", hub.home / str(f["path"]),
                                          tuple(version.columns), key_name=key.engine_name,
                                          row_column=SOURCE_ROW, label_column=SOURCE_FILE))
    found.delivered = delivered_rows(hub, set(found.versions))
    if not found.files:
        raise NotFound("no published version of IR_BEN_R, ER_PRS_F, T_MCOaaC or KI_CCI_R to link "
                       "(guichet deposit run, then quality)")
    return found


def delivered_rows(hub: Hub, names: set[str]) -> dict[str, int]:
    """Rows each delivered file had (accepted + quarantined), by label: rows the deposit quarantined are
    not in the lake, yet ``persons.csv`` lists every delivered row (unlinked, reason ``quarantined``)."""
    out: dict[str, int] = {}
    with hub.store.read() as s:
        for dataset, input_file, rows_in in s.execute(
                select(DatasetVersion.dataset, DatasetVersion.input_file, DatasetVersion.rows_in)
                .where(DatasetVersion.status == "published")):
            if dataset in names and input_file:
                label = re.sub(r"\.csv$", "", str(input_file))
                out[label] = max(out.get(label, 0), int(rows_in or 0))
    return out
