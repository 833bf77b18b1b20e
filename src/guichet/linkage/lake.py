"""Linkage inputs from the lake: the current *published* version of each dataset linkage reads (found only
through the lake's register), its encrypted Parquet files with their keys registered in the engine."""

from __future__ import annotations

import re

from guichet.engine import Engine
from guichet.errors import NotFound
from guichet.hub import Hub
from guichet.lake import published_datasets
from guichet.lake.read import keyed_files
from guichet.lake.versions import all_versions
from guichet.linkage.keygraph import logical_table
from guichet.linkage.sources import NEEDED, SourceFile, Sources

SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"  # kept with every accepted row by the deposit


def lake_sources(hub: Hub, engine: Engine) -> Sources:
    found = Sources(origin="lake")
    for dataset, version in sorted(published_datasets(hub).items()):
        logical = logical_table(dataset)
        if logical not in NEEDED or not version.files:
            continue
        found.versions[dataset] = version.version
        for f in keyed_files(hub, engine, version):
            found.files.append(SourceFile(logical, dataset, "parquet", f.path, tuple(version.columns),
                                          key_name=f.key_name, row_column=SOURCE_ROW, label_column=SOURCE_FILE))
    found.delivered = delivered_rows(hub, set(found.versions))
    if not found.files:
        raise NotFound("no published version of IR_BEN_R, ER_PRS_F, T_MCOaaC or KI_CCI_R to link "
                       "(guichet deposit run, then quality)")
    return found


def delivered_rows(hub: Hub, names: set[str]) -> dict[str, int]:
    """Rows each delivered file had (accepted + quarantined), by label: rows the deposit quarantined are
    not in the lake, yet ``persons.csv`` lists every delivered row (unlinked, reason ``quarantined``). Each
    of a version's files says how many rows its delivered file had (a version of yearly parts has one per
    year); a version written before files said so had one file, counted by the version's own figure."""
    out: dict[str, int] = {}
    for v in all_versions(hub, ("published",)):
        if v.dataset not in names:
            continue
        for f in v.files:
            rows_in = f.get("rows_in", v.rows_in if len(v.files) == 1 else None)
            source = f.get("source") or v.input_file
            if rows_in is None or not source:
                continue
            label = re.sub(r"\.csv$", "", str(source))
            out[label] = max(out.get(label, 0), int(rows_in))
    return out
