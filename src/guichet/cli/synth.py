"""``guichet synth``: a synthetic SNDS delivery as producers hold it, with its ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from guichet.cli.common import Cli, example, json_option, pass_cli, progress
from guichet.errors import BadInput
from guichet.synth.params import COLUMN_SETS, PROFILES, SynthRequest, parse_plant, profile_named
from guichet.synth.reference import reference
from guichet.synth.writer import write_delivery


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{option}: expected a date YYYY-MM-DD") from None


@click.command("synth", epilog=example(
    "guichet synth --persons 5000 --start 2023-01-01 --end 2023-12-31 --seed 42 --out producer/delivery\n"
    "guichet synth --persons 20000 --start 2022-01-01 --end 2023-12-31 --seed 7 --profile hard \\\n"
    "    --deliveries 3 --plant coding_gap:84 --out drift --json"))
@click.option("--persons", type=int, required=True, help="People in the population.")
@click.option("--start", "start_", required=True, metavar="YYYY-MM-DD", help="First day of care.")
@click.option("--end", "end_", required=True, metavar="YYYY-MM-DD", help="Last day of care.")
@click.option("--seed", type=int, required=True, help="Same seed, same bytes.")
@click.option("--out", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="A new (or empty) folder.")
@click.option("--profile", "profile_", default="standard", show_default=True, metavar="|".join(PROFILES),
              help="Noise profile (docs/synthetic.md).")
@click.option("--defect-rate", type=float, default=None, metavar="R",
              help="Share of rows with a defect (default: the profile's).")
@click.option("--deliveries", type=int, default=1, show_default=True, metavar="K",
              help="Split claims into K successive flow-month deliveries.")
@click.option("--columns", type=click.Choice(COLUMN_SETS), default="core", show_default=True,
              help="core columns, or every schema-snds column (extra ones empty).")
@click.option("--plant", "plants", multiple=True, metavar="coding_gap:REGION",
              help="Plant a documented subgroup effect (repeatable).")
@json_option
@pass_cli
def synth(cli: Cli, persons: int, start_: str, end_: str, seed: int, out: Path, profile_: str,
          defect_rate: float | None, deliveries: int, columns: str, plants: tuple[str, ...]) -> None:
    """Write a synthetic SNDS delivery (clear identifiers, before pseudonymisation) and its truth.

    Files: IR_BEN_R, ER_PRS_F, ER_PHA_F, IR_IMB_R, T_MCOaaB/C/D per year, KI_CCI_R, KI_ECD_R (';'-separated),
    schemas/, manifest.toml, and truth/ (defects.csv, persons.csv, summary.json).
    """
    regions = reference().region_codes
    req = SynthRequest(
        persons=persons, start=_date(start_, "--start"), end=_date(end_, "--end"), seed=seed,
        profile=profile_named(profile_).with_defect_rate(defect_rate), deliveries=deliveries, columns=columns,
        plants=tuple(parse_plant(p, regions) for p in plants),
    )
    req.validate()
    with progress(persons, "synth") as advance:
        done = [0]

        def on_progress(n: int) -> None:
            advance(n - done[0])
            done[0] = n

        result = write_delivery(req, out, on_progress)
    total = sum(result.rows.values())

    def text() -> str:
        lines = [f"Wrote {total:,} rows for {persons:,} people to {out} "
                 f"({len(result.deliveries)} deliver{'y' if len(result.deliveries) == 1 else 'ies'})"]
        lines += [f"  {name:<28} {n:>12,}" for name, n in result.rows.items()]
        lines.append(f"  defects: {sum(result.defects.values()):,} in {out / 'truth' / 'defects.csv'}")
        return "\n".join(lines)

    cli.emit(result.to_dict(), text)


COMMANDS = [synth]
