"""The session's SQL allowlist (``workspace.session_sql``) and the sandbox's command line, without a hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from guichet.errors import BadInput, Refused
from guichet.workspace import session_sandbox
from guichet.workspace.session_sql import check_sql

VIEWS = ["ER_PRS_F", "IR_BEN_R"]


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM ER_PRS_F",
    "select BEN_SEX_COD, count(DISTINCT PERSON_ID) AS n FROM ir_ben_r GROUP BY ALL ORDER BY ALL",
    "WITH a AS (SELECT PERSON_ID, EXE_SOI_DTD FROM ER_PRS_F) SELECT count(*) FROM a JOIN IR_BEN_R USING (PERSON_ID)",
    "SELECT PERSON_ID, row_number() OVER (PARTITION BY PERSON_ID ORDER BY EXE_SOI_DTD) FROM ER_PRS_F",
    "SELECT median(BEN_NAI_ANN), quantile_cont(BEN_NAI_ANN, 0.9), stddev(BEN_NAI_ANN) FROM IR_BEN_R",
    "SELECT substr(EXE_SOI_DTD, 1, 4) AS y, count(*) FROM ER_PRS_F GROUP BY 1 HAVING count(*) > 10",
    "SELECT a.PERSON_ID FROM ER_PRS_F a UNION SELECT PERSON_ID FROM IR_BEN_R",
    "SELECT * FROM (SELECT 1 AS x) t",
])
def test_queries_over_the_views_pass_and_run_as_regenerated(sql: str) -> None:
    out = check_sql(sql, VIEWS)
    assert out and ";" not in out
    assert check_sql(out, VIEWS) == out  # the regenerated SQL passes again, unchanged


@pytest.mark.parametrize(("sql", "why"), [
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "as a table"),
    ("SELECT * FROM ER_PRS_F, read_parquet('/lake/x.parquet')", "as a table"),
    ("SELECT * FROM \"/etc/passwd\"", "not one of the extract's views"),
    ("SELECT * FROM OTHER_TABLE", "OTHER_TABLE is not one of the extract's views"),
    ("SELECT * FROM memory.main.ER_PRS_F", "schema or catalog"),
    ("SELECT * FROM sqlite_master", "not one of the extract's views"),
    ("SELECT * FROM duckdb_tables()", "as a table"),
    ("SELECT (SELECT count(*) FROM glob('/*'))", "glob"),
    ("SELECT read_blob('/etc/shadow')", "read_blob"),
    ("SELECT list_transform([1], x -> getenv('HOME'))", "getenv"),
    ("SELECT * FROM ER_PRS_F; DROP TABLE ER_PRS_F", "one query at a time"),
    ("CREATE TABLE x AS SELECT * FROM ER_PRS_F", "only SELECT or WITH"),
    ("INSERT INTO ER_PRS_F VALUES (1)", "only SELECT or WITH"),
    ("SELECT 1 INTO leak FROM ER_PRS_F", "INTO"),
])
def test_everything_else_is_refused(sql: str, why: str) -> None:
    with pytest.raises(Refused, match=why):
        check_sql(sql, VIEWS)


def test_empty_and_oversized_and_unparsable_are_bad_input() -> None:
    for sql in ("", "   ", "SELECT " + "1," * 20_000 + "1", "SELEC * FRM"):
        with pytest.raises((BadInput, Refused)):
            check_sql(sql, VIEWS)


def test_the_sandbox_command_line_isolates_and_carries_no_secret(tmp_path: Path) -> None:
    limits = session_sandbox.Limits(seconds=5)
    cmd = session_sandbox.bwrap_command(extract=tmp_path / "extract", outputs=tmp_path / "outputs", user=(62019, 62019),
                                        limits=limits, fds=(7, 8, 9))
    if session_sandbox.shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    line = " ".join(cmd)
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session",
                 "--clearenv"):
        assert flag in cmd
    assert f"--ro-bind {tmp_path / 'extract'} /workspace/extract" in line
    assert f"--bind {tmp_path / 'outputs'} /workspace/outputs" in line
    binds = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--bind", "--ro-bind")]
    assert not any(b in ("/", "/etc", "/home", "/tmp", "/proc", "/var") for b in binds)
    assert "--proc" not in cmd and "key" not in line.lower()
    user_ns = session_sandbox.bwrap_command(extract=tmp_path, outputs=tmp_path, user=None, limits=limits, fds=(7, 8, 9))
    assert "--unshare-user" in user_ns and "--disable-userns" in user_ns and "--cap-add" not in user_ns
