"""Catalogue services (this issue: listing a dataset's versions)."""

from __future__ import annotations

from guichet.catalogue.versions import VersionInfo, versions
from guichet.governance import Unit, query


@query("catalogue.versions")
def list_versions(unit: Unit, dataset: str, include_all: bool = False) -> list[VersionInfo]:
    return versions(unit.hub, dataset, include_all=include_all)
