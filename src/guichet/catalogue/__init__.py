"""The catalogue: datasets and their versions (this issue: versions only; the full catalogue comes later)."""

from guichet.catalogue.versions import VersionInfo, current_version, published_versions

__all__ = ["VersionInfo", "current_version", "published_versions"]
