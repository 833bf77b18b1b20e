"""The web portal: a FastAPI app with a JSON API under /api and server-rendered pages.

``create_app`` is imported lazily so that ``guichet.store.models`` can import this package's tables
without loading FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guichet.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from guichet.web.app import create_app

        return create_app
    raise AttributeError(name)
