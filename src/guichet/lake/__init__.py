"""The lake: the register every stage reads — schema and dataset versions, their status and lineage, data
keys, atomic writes, reading a version as an engine relation, snapshots, and the gates other stages
register.

Below the stages: the deposit writes through it (``writing``), and quality, linkage, the catalogue — and
later extracts — read through it only (``versions``, ``read``). No stage reaches another stage's internals
to find data.
"""

from guichet.lake.read import BoundFile, Relation, bind_files, open_info, open_version, read_quarantine
from guichet.lake.versions import (
    LIVE,
    VISIBLE,
    VersionInfo,
    current_version,
    datasets,
    published_datasets,
    published_versions,
    schema_of,
    version,
    versions,
)

__all__ = [
    "LIVE",
    "VISIBLE",
    "BoundFile",
    "Relation",
    "VersionInfo",
    "bind_files",
    "current_version",
    "datasets",
    "open_info",
    "open_version",
    "published_datasets",
    "published_versions",
    "read_quarantine",
    "schema_of",
    "version",
    "versions",
]
