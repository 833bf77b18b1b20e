"""What an application contains, checked: the JSON Schema shipped with the package
(``schemas/application.schema.json``, EHDS Art 67(2)), the products, tables and exact variables requested
against the catalogue's dictionary, and the criteria against the criteria language. Every problem names
its path (``data[1].variables[0]``, ``criteria.all[0].codes``) and never quotes a value other than a
catalogue name."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import import_module
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.access.model import Problem
from guichet.catalogue.tables import CatalogueProduct, CatalogueTable, CatalogueVariable
from guichet.hub import Hub

SCHEMA_PATH = Path(__file__).parent / "schemas" / "application.schema.json"
# The sample application the demo takes to authorisation; examples/application.json is the same file.
EXAMPLE_PATH = Path(__file__).parent / "schemas" / "application.example.json"
CRITERIA_MODULE = "guichet.access.criteria"  # the criteria language: validate(hub, criteria) -> [CriteriaError]
# Criteria are checked against the columns the lake holds at submission (a draft may be written before the
# data are there). Tests of the workflow on a hub without data turn it off; the criteria's own tests don't.
CHECK_AGAINST_LAKE = True
# The potentially identifying fields of the SNDS documentation that an extract coarsens unless the permit
# grants them (guichet.workspace.rules): an application may ask them in their exact form (data[].granted).
EXACT_DATES = frozenset({"EXE_SOI_DTD", "EXE_SOI_DTF", "ENT_DAT", "SOR_DAT", "BEN_DCD_DTE", "IMB_ALD_DTD",
                         "IMB_ALD_DTF", "DCD_DTE", "EXE_SOI_AMD"})
EXACT_FIELDS = EXACT_DATES | {"BEN_NAI_MOI", "BEN_RES_COM", "BEN_DCD_COM", "COD_COM"}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


@lru_cache(maxsize=1)
def draft_schema() -> dict[str, Any]:
    """A draft needs only its title: the sections it has must be well formed, the missing ones are asked for
    at submission (a draft grows from the catalogue's basket one table at a time)."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    loaded["required"] = ["title"]
    return loaded


def schema_problems(content: Any, *, draft: bool = False) -> list[Problem]:
    from jsonschema import Draft202012Validator  # imported when used (see access.criteria._validator)

    validator = Draft202012Validator(draft_schema() if draft else schema())
    problems = []
    for err in sorted(validator.iter_errors(content), key=lambda e: list(map(str, e.absolute_path))):
        where = _path(err.absolute_path)
        # jsonschema's messages quote the offending value: say what is expected instead.
        if err.validator == "required":
            missing = [m for m in err.validator_value if isinstance(err.instance, dict) and m not in err.instance]
            msg = f"required field {missing[0]!r} is missing" if missing else "a required field is missing"
        elif err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {}))) if isinstance(err.instance, dict) else []
            msg = f"unknown field {extra[0]!r}" if extra and len(extra[0]) <= 64 else "unknown field"
        elif err.validator == "enum":
            msg = "must be one of " + ", ".join(map(str, err.validator_value))
        elif err.validator == "type":
            msg = f"must be of type {err.validator_value}"
        elif err.validator in ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum"):
            msg = f"{err.validator} is {err.validator_value}"
        else:
            msg = f"does not satisfy {err.validator}"
        problems.append(Problem(where, msg))
    return problems


def variable_problems(session: Session, content: dict[str, Any]) -> list[Problem]:
    """Each requested product, table and variable must be in the catalogue's dictionary."""
    problems: list[Problem] = []
    products = {p for (p,) in session.execute(select(CatalogueProduct.id))}
    for i, item in enumerate(content.get("data", [])):
        product, table = item.get("product"), item.get("table")
        if product not in products:
            problems.append(Problem(f"data[{i}].product", f"{product!r} is not a product of the catalogue"))
            continue
        t = session.execute(select(CatalogueTable.id).where(CatalogueTable.product_id == product,
                                                             CatalogueTable.name == table)).scalar_one_or_none()
        if t is None:
            problems.append(Problem(f"data[{i}].table", f"{table!r} is not a table of product {product!r}"))
            continue
        known = {n for (n,) in session.execute(select(CatalogueVariable.name).where(CatalogueVariable.table_id == t))}
        for j, name in enumerate(item.get("variables", [])):
            if name not in known:
                problems.append(Problem(f"data[{i}].variables[{j}]",
                                        f"{name!r} is not a variable of {product}.{table} in the catalogue's dictionary"))
    return problems


def _from_pointer(pointer: str) -> str:
    """``/all/1/codes/0`` -> ``.all[1].codes[0]``."""
    out = ""
    for part in pointer.split("/")[1:] if pointer.startswith("/") else ([pointer] if pointer else []):
        part = part.replace("~1", "/").replace("~0", "~")
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def criteria_problems(hub: Hub | None, criteria: Any) -> list[Problem]:
    """The criteria language's own validation, when the language is there: the schema and the meaning, and
    with a hub the catalogue's dictionary and the columns the lake holds."""
    try:
        language = import_module(CRITERIA_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != CRITERIA_MODULE:
            raise
        return []
    return [Problem("criteria" + _from_pointer(str(getattr(err, "path", "") or "")), str(err.message))
            for err in language.validate(hub if CHECK_AGAINST_LAKE else None, criteria)]


def problems(hub: Hub, session: Session, content: Any, *, submitting: bool = False,
             draft: bool = False) -> list[Problem]:
    """Every problem of an application; the criteria are checked against the lake when ``submitting``. A
    ``draft`` may leave sections out (only the title is required); what it holds is checked all the same."""
    found = schema_problems(content, draft=draft and not submitting)
    if found:
        return found
    criteria = criteria_problems(hub if submitting else None, content["criteria"]) if "criteria" in content else []
    return variable_problems(session, content) + criteria


def sections_changed(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str]]:
    """(section, added | removed | changed) for the top-level sections that differ."""
    out = []
    for key in list(before) + [k for k in after if k not in before]:
        if key not in after:
            out.append((key, "removed"))
        elif key not in before:
            out.append((key, "added"))
        elif json.dumps(before[key], sort_keys=True) != json.dumps(after[key], sort_keys=True):
            out.append((key, "changed"))
    return out
