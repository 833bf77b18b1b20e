"""The app of one uvicorn worker when ``guichet serve --workers N`` (N > 1) starts several processes.

uvicorn then needs an import string and a factory, so the hub's home travels in an environment variable
that only ``guichet serve`` sets and only this module reads (with the database URL, if the command was
given one through GUICHET_DB_URL).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from guichet.config import load_config
from guichet.web.app import create_app

SERVE_HOME_ENV = "GUICHET_SERVE_HOME"
SERVE_DB_URL_ENV = "GUICHET_SERVE_DB_URL"


def app() -> FastAPI:
    home = os.environ.get(SERVE_HOME_ENV)
    if not home:
        raise RuntimeError(f"{SERVE_HOME_ENV} is not set: start the portal with 'guichet serve'")
    return create_app(load_config(Path(home)), os.environ.get(SERVE_DB_URL_ENV) or None, serving=True)
