"""A figure leaves only with the helper-written table it was drawn from: ``attach_figure`` writes the
figure's sidecar naming that table (and both checksums); the airlock checks the table in the figure's
place and fails a figure without one."""

from __future__ import annotations

import json
from pathlib import Path

from guichet.analysis.metadata import FORMAT, meta_path, sha256
from guichet.errors import BadInput

FIGURE_TYPES = (".png", ".svg")


def attach_figure(figure: str | Path, table: str | Path) -> Path:
    figure, table = Path(figure), Path(table)
    if figure.suffix.lower() not in FIGURE_TYPES:
        raise BadInput(f"figure {figure.name}: a PNG or SVG")
    if not meta_path(table).is_file():
        raise BadInput(f"table {table.name}: not written by a helper (no sidecar)")
    if not figure.is_file():
        raise BadInput(f"figure {figure.name}: no such file")
    path = meta_path(figure)
    path.write_text(json.dumps({"format": FORMAT, "helper": "figure", "output": figure.name,
                                "sha256": sha256(figure), "table": str(table.resolve()),
                                "table_sha256": sha256(table)}, indent=1) + "\n", encoding="utf-8")
    return path
