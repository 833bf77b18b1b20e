"""Hypothesis: a row's number is its position in the delivered file, whatever the engine's threads, CSV
buffers or batch order.

Small fixtures fit one CSV buffer, one thread and one batch, where any numbering looks right. Here the
deposit's engine reads with a small CSV buffer and four threads, so that files of a few thousand rows are
split across threads as a large delivery is, and the validation query holds a nomenclature semi-join (a
join does not keep its input's order). Each file is made from a seed Hypothesis draws, with defects at
known rows; the lake is then read back (decrypting its Parquet) and every row's ``_source_row`` must point
at a file row with the same values, and the quarantine's row numbers at exactly the defective rows."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from guichet.actor import system_actor
from guichet.deposit import services as deposits
from guichet.deposit.run import single_file_request
from tests.conftest import make_hub, test_producer
from tests.lake_rows import file_rows, lake_table, quarantined

SCHEMA = {"name": "T", "primaryKey": ["ID"], "fields": [
    {"name": "ID", "type": "integer"},
    {"name": "SEX", "type": "integer", "nomenclature": "IR_SEX_V"},
    {"name": "D", "type": "date"},
    {"name": "TXT", "type": "string"},
]}
ENGINE = {"deposit_csv_buffer_size": 16 * 1024, "deposit_threads": 4, "quality_gate": False}
DEFECTS = {  # kind -> the rule the row must be quarantined under
    "nomenclature": "nomenclature:SEX", "type": "type:D", "duplicate": "primary_key:ID",
    "extra_cell": "structure:too_many_columns", "missing_cell": "structure:missing_columns",
    "blank": "structure:blank_row", "spaces": "structure:missing_columns",
}


@dataclass
class Delivery:
    lines: list[str] = field(default_factory=list)  # data lines, without their line ends
    bad: dict[int, str] = field(default_factory=dict)  # row -> expected rule


def make(seed: int, rows: int, defect_rate: float, crlf: bool) -> Delivery:
    rnd = random.Random(seed)
    out = Delivery()
    good_ids: list[int] = []
    for row in range(1, rows + 1):
        text = rnd.choice([f"t{row}", f'"a;{row}"', f'"line\nbreak {row}"', f'"say ""{row}"""', ""])
        cells = [str(row), rnd.choice(["1", "2", "0", "9"]), f"2021-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
                 text]
        kind = rnd.choice(list(DEFECTS)) if rnd.random() < defect_rate else None
        if kind == "duplicate" and not good_ids:
            kind = None
        if kind == "nomenclature":
            cells[1] = "7"
        elif kind == "type":
            cells[2] = "2021-02-30"
        elif kind == "duplicate":
            cells[0] = str(rnd.choice(good_ids))
        line = ";".join(cells)
        if kind == "extra_cell":
            line += ";x"
        elif kind == "missing_cell":
            line = ";".join(cells[:-1])
        elif kind == "blank":
            line = ""
        elif kind == "spaces":
            line = rnd.choice(["   ", " \t "])
        if kind is None:
            good_ids.append(row)
        else:
            out.bad[row] = DEFECTS[kind]
        out.lines.append(line.replace("\n", "\r\n") if crlf else line)
    return out


# No shrinking: a failing example is its seed, size and options (each deposit takes seconds).
@settings(max_examples=6, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(3_000, 8_000), defect_rate=st.sampled_from([0.0, 0.01, 0.05]),
       crlf=st.booleans())
def test_each_row_number_is_the_files(tmp_path_factory, seed: int, rows: int, defect_rate: float, crlf: bool) -> None:
    tmp: Path = tmp_path_factory.mktemp("rows")
    delivery = make(seed, rows, defect_rate, crlf)
    nl = "\r\n" if crlf else "\n"
    f = tmp / "t.csv"
    f.write_bytes((nl.join(["ID;SEX;D;TXT", *delivery.lines]) + nl).encode())
    schema = tmp / "t.json"
    schema.write_text(json.dumps(SCHEMA))
    hub = make_hub(tmp)
    hub.config = hub.config.with_properties(**ENGINE)
    try:
        [r] = deposits.deposit(hub, system_actor(), request=single_file_request(f, "T", schema, test_producer(hub), "replace", []))
        assert (r.rows_in, r.rows_accepted + r.rows_quarantined) == (rows, rows)
        got = quarantined(hub, "T")
        assert {row: rules.split(":")[0] + ":" + rules.split(":")[1].split("|")[0] for row, rules in got.items()} \
            == delivery.bad
        lake = lake_table(hub, "T")
        numbers = lake.column("_source_row").to_pylist()
        assert sorted(numbers) == [row for row in range(1, rows + 1) if row not in delivery.bad]
        in_file = file_rows(f)
        for row, values in zip(numbers, zip(*(lake.column(c).to_pylist() for c in ("ID", "SEX", "D", "TXT")),
                                            strict=True), strict=True):
            cells = in_file[row]
            assert cells is not None
            assert [int(cells[0]), int(cells[1]), cells[2], cells[3] or None] == \
                [values[0], values[1], values[2].isoformat(), values[3]], f"row {row}"
    finally:
        hub.close()
