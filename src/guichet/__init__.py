"""Guichet: an open-source health data hub.

Importing this package loads nothing heavy: engines, web and optional extras are imported by the
modules that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
