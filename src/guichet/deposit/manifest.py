"""Reading a delivery's ``manifest.toml`` (the contract in docs/manifest.md) into table requests."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from guichet.deposit.model import TableRequest
from guichet.deposit.rules import IdentifierRole
from guichet.deposit.structure import read_regular
from guichet.errors import BadInput, Refused

KINDS = ("psa", "ano", "quasi")
STATES = ("clear", "level1", "hub")


def _inside(base: Path, rel: Any, where: str) -> Path:
    if not isinstance(rel, str) or not rel:
        raise BadInput(f"{where}: a relative path is required")
    path = (base / rel).resolve()
    if base.resolve() not in path.parents:
        raise Refused(f"{where}: {rel} is outside the delivery folder")
    return path


def _series_prefix(folder: Path, base: Path, delivery: object) -> str:
    """``delivery-NN/`` for a delivery of a series deposited from its own folder, so that every row keeps
    the name it has in the producer's layout (``delivery-02/ER_PRS_F``), as the synthetic truth names it."""
    if base.resolve() != folder.resolve() or not isinstance(delivery, dict):
        return ""
    seq, total = delivery.get("sequence"), delivery.get("of")
    if isinstance(seq, int) and isinstance(total, int) and total > 1:
        return f"delivery-{seq:02d}/"
    return ""


def _label(folder: Path, file: Path, prefix: str) -> str:
    """A row's source label: the file's path under the deposited folder, without ``.csv``."""
    try:
        rel = file.resolve().relative_to(folder.resolve())
    except ValueError:
        rel = Path(file.name)
    return prefix + rel.with_suffix("").as_posix()


def read_manifest(folder: Path, manifest: Path) -> tuple[str | None, list[TableRequest]]:
    try:
        raw = tomllib.loads(read_regular(manifest).decode("utf-8"))
    except OSError:
        raise BadInput(f"{manifest}: cannot be read") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{manifest}: not valid TOML ({str(exc).splitlines()[0]})") from None
    if raw.get("format") != "guichet-delivery/1":
        raise BadInput(f"{manifest}: format must be 'guichet-delivery/1'")
    base = manifest.parent
    prefix = _series_prefix(folder, base, raw.get("delivery"))
    tables = raw.get("tables")
    if not isinstance(tables, list) or not tables:
        raise BadInput(f"{manifest}: no [[tables]]")
    out = []
    for i, t in enumerate(tables):
        where = f"{manifest.name}: tables[{i}]"
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise BadInput(f"{where}: name is required")
        producer = t.get("producer")
        if not isinstance(producer, str) or not producer:
            raise BadInput(f"{where}: producer is required (a registered producer: guichet producer add)")
        rows = t.get("rows")
        if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 0):
            raise BadInput(f"{where}: rows must be the file's number of data rows (a whole number)")
        roles = []
        for j, ident in enumerate(t.get("identifiers") or []):
            kind, state = ident.get("kind"), ident.get("state")
            if kind not in KINDS:
                raise BadInput(f"{where}.identifiers[{j}]: kind must be psa, ano or quasi")
            if kind != "quasi" and state not in STATES:
                raise BadInput(f"{where}.identifiers[{j}]: state must be clear, level1 or hub")
            roles.append(IdentifierRole(str(ident.get("column")), kind, state if kind != "quasi" else None))
        file = _inside(base, t.get("file"), where + ".file")
        out.append(TableRequest(
            name=name, dataset=str(t.get("dataset") or name), file=file,
            schema_path=_inside(base, t.get("schema"), where + ".schema"),
            producer=producer, identifiers=tuple(roles), delimiter=t.get("delimiter"),
            encoding=t.get("encoding"), expected_rows=rows, expected_sha256=t.get("sha256"),
            label=_label(folder, file, prefix) if isinstance(t.get("file"), str) else name,
            year=year_of(where, name, str(t.get("dataset") or name), t.get("year")),
        ))
    names = [r.name for r in out]
    if len(set(names)) != len(names):
        raise BadInput(f"{manifest}: a table name appears twice in one delivery")
    return raw.get("domain"), out


def year_of(where: str, name: str, dataset: str, given: Any) -> int | None:
    """A table's year: the manifest's ``year``, else read from its name where the dataset's name has the
    SNDS's ``aa`` (T_MCO19B of T_MCOaaB is 2019); None for a table that is not a yearly part."""
    if given is not None:
        if not isinstance(given, int) or isinstance(given, bool) or not 1900 <= given <= 2199:
            raise BadInput(f"{where}: year must be a four-digit year (e.g. 2021)")
        return given
    at = dataset.find("aa")
    if at < 0 or len(name) != len(dataset) or name[:at] != dataset[:at] or name[at + 2:] != dataset[at + 2:]:
        return None
    yy = name[at:at + 2]
    if not yy.isdigit():
        return None
    return (2000 if int(yy) < 70 else 1900) + int(yy)
