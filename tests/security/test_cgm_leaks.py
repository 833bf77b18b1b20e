"""What a CGM file says about its person stays in the file: the Dexcom export's name and birth date never
reach the output or the plots, and an error never echoes the value it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

DEXCOM = Path(__file__).resolve().parents[1] / "data" / "cgm" / "dexcom_clarity_export_sample.csv"
NIR = "185057512345673"


def _export_with_identity(tmp_path: Path) -> Path:
    text = DEXCOM.read_text(encoding="utf-8-sig")
    text = text.replace("Joe", "Gwenaëlle").replace("Schmoe", "Kerbrat-Lemoine").replace("1/1/1970", "3/7/1958")
    target = tmp_path / "export.csv"
    target.write_text(text, encoding="utf-8")
    return target


@pytest.mark.parametrize("args", [["metrics"], ["metrics", "--json"], ["alerts"], ["alerts", "--json"],
                                  ["alerts", "--rule", "level", "--json"]])
def test_the_exports_identity_never_reaches_the_output(tmp_path: Path, args: list[str]) -> None:
    export = _export_with_identity(tmp_path)
    plots = tmp_path / "plots"
    extra = ["--plots", str(plots)] if args[0] == "alerts" else []
    result = run_cli(["cgm", args[0], str(export), *args[1:], *extra])
    assert result.code == 0, result.stderr
    written = [result.stdout, result.stderr, *(p.read_text(encoding="utf-8") for p in plots.glob("*.svg"))]
    if extra:
        assert len(written) > 2
    for text in written:
        for secret in ("Gwenaëlle", "Kerbrat", "3/7/1958", "1958-03-07", "1958-07-03"):
            assert secret not in text


@pytest.mark.parametrize("row", [f"a,2024-01-01 00:00:00,{NIR}x", f"a,{NIR},100", f"a,2024-01-01 00:00:00,{NIR}"])
def test_a_refused_value_is_never_echoed(tmp_path: Path, row: str) -> None:
    f = tmp_path / "c.csv"
    f.write_text(f"id,time,gl\n{row}\n")
    result = run_cli(["cgm", "metrics", str(f)])
    assert result.code == 2
    assert NIR not in result.stderr and NIR not in result.stdout


def test_a_hostile_subject_id_cannot_script_the_plots(tmp_path: Path) -> None:
    hostile = '</title><script>alert(1)</script><title>'
    rows = "".join(f'"{hostile}",2024-01-01 {h:02d}:{m:02d}:00,{g}\n'
                   for (h, m), g in zip(((i // 12, i % 12 * 5) for i in range(40)),
                                        [150 - 5 * i for i in range(20)] + [60] * 20, strict=True))
    f = tmp_path / "c.csv"
    f.write_text("id,time,gl\n" + rows)
    result = run_cli(["cgm", "alerts", str(f), "--plots", str(tmp_path / "plots"), "--json"])
    assert result.code == 0, result.stderr
    plots = list((tmp_path / "plots").glob("*.svg"))
    assert plots
    for plot in plots:
        text = plot.read_text(encoding="utf-8")
        assert "<script" not in text and "&lt;script&gt;" in text
