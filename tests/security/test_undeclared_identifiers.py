"""A column of NIRs or level-1 pseudonyms the deposit was not told about is refused before anything is
written, in one line naming the column and never a value — even behind a row too large to sample."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select

from guichet.actor import system_actor
from guichet.custodian.nir import with_key
from guichet.custodian.pseudonyms import level1_ano
from guichet.deposit import services as deposits
from guichet.deposit.run import single_file_request
from guichet.errors import Refused
from guichet.hub import Hub
from guichet.lake.tables import DatasetVersion
from tests.conftest import test_producer

SCHEMA = {"name": "T", "fields": [{"name": "ID", "type": "integer"}, {"name": "REF", "type": "string"},
                                  {"name": "TXT", "type": "string"}]}


def _nirs(n: int) -> list[str]:
    rng = random.Random(7)
    return [with_key(f"{rng.choice('12')}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}75"
                     f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}") for _ in range(n)]


def _deposit(hub: Hub, tmp: Path, refs: list[str], first_txt: str = "x", identifiers: list | None = None):  # type: ignore[no-untyped-def]
    f, s = tmp / "t.csv", tmp / "t.json"
    lines = ["ID;REF;TXT"] + [f"{i};{ref};{first_txt if i == 1 else 'x'}" for i, ref in enumerate(refs, 1)]
    f.write_text("\n".join(lines) + "\n")
    s.write_text(json.dumps(SCHEMA))
    return deposits.deposit(hub, system_actor(), request=single_file_request(
        f, "T", s, test_producer(hub), "replace", identifiers or []))


def _versions(hub: Hub) -> int:
    with hub.store.read() as session:
        return int(session.execute(select(func.count()).select_from(DatasetVersion)).scalar_one())


@pytest.mark.parametrize("kind", ["NIRs", "level-1 pseudonyms"])
@pytest.mark.parametrize("big_first_row", [False, True], ids=["plain", "behind-a-3MB-row"])
def test_an_undeclared_identifier_column_is_refused_without_its_values(
        hub: Hub, tmp_path: Path, kind: str, big_first_row: bool) -> None:
    nirs = _nirs(200)
    refs = nirs if kind == "NIRs" else [level1_ano(b"k" * 32, n) for n in nirs]
    with pytest.raises(Refused) as caught:
        _deposit(hub, tmp_path, refs, first_txt="y" * 3_000_000 if big_first_row else "x")
    message = str(caught.value)
    assert message.startswith(f"t.csv: column REF looks like {kind} but is not declared as an identifier")
    assert not any(r in message for r in refs)
    assert _versions(hub) == 0  # nothing registered, nothing written


def test_ordinary_codes_are_not_taken_for_identifiers(hub: Hub, tmp_path: Path) -> None:
    refs = [f"{i:015d}" for i in range(200)]  # 15 digits, their key (if any) mostly wrong
    [result] = _deposit(hub, tmp_path, refs)
    assert result.rows_in == 200
