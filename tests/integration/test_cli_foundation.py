"""The CLI as a subprocess: init in both modes, accounts, --as and tokens, errors as one line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_cli_process


def _one_line_error(stderr: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and lines[0].startswith("guichet: ")


def test_init_production_by_default_then_harmless_twice(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    r = run_cli_process(["init", "--home", str(home), "--json"])
    assert r.code == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer == {"home": str(home), "custodian_home": str(tmp_path / "hub-custodian"), "mode": "production"}
    for folder in ("lake", "quarantine", "workspaces", "outputs", "audit"):
        assert (home / folder).is_dir()
    token_file = home / "operator.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().startswith("gch_")
    assert stat.S_IMODE((tmp_path / "hub-custodian").stat().st_mode) == 0o700
    before = sorted(p.name for p in home.iterdir())
    token = token_file.read_text()
    again = run_cli_process(["init", "--home", str(home), "--json"])
    assert again.code == 0 and json.loads(again.stdout) == answer
    assert sorted(p.name for p in home.iterdir()) == before and token_file.read_text() == token
    conflict = run_cli_process(["init", "--home", str(home), "--mode", "development"])
    assert conflict.code == 2
    _one_line_error(conflict.stderr)


def test_guichet_home_environment_variable(tmp_path: Path) -> None:
    home = tmp_path / "envhub"
    r = run_cli_process(["init", "--mode", "development", "--json"], env={"GUICHET_HOME": str(home)})
    assert r.code == 0 and json.loads(r.stdout)["mode"] == "development"
    users = run_cli_process(["user", "list", "--json"], env={"GUICHET_HOME": str(home)})
    assert users.code == 0 and [u["username"] for u in json.loads(users.stdout)] == ["operator"]


def test_production_needs_as_and_token(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert run_cli_process(["init", "--home", str(home)]).code == 0
    base = ["user", "add", "alice", "--role", "researcher", "--org", "Lab", "--home", str(home)]
    no_as = run_cli_process(base)
    assert no_as.code == 2 and "--as" in no_as.stderr
    _one_line_error(no_as.stderr)
    no_token = run_cli_process([*base, "--as", "operator"])
    assert no_token.code == 2 and "token" in no_token.stderr
    _one_line_error(no_token.stderr)
    token_file = str(home / "operator.token")
    ok = run_cli_process([*base, "--as", "operator", "--token-file", token_file, "--json"])
    assert ok.code == 0, ok.stderr
    assert json.loads(ok.stdout)["roles"] == ["researcher"]
    # a token through the environment, and a token that is not this account's
    tok = run_cli_process(["user", "token", "alice", "--home", str(home), "--as", "operator",
                           "--token-file", token_file, "--json"])
    alice_token = json.loads(tok.stdout)["token"]
    listed = run_cli_process(["user", "list", "--home", str(home), "--as", "operator"], env={"GUICHET_TOKEN": alice_token})
    assert listed.code == 2 and "does not belong" in listed.stderr
    assert alice_token not in listed.stderr
    refused = run_cli_process(["user", "list", "--home", str(home), "--as", "alice"], env={"GUICHET_TOKEN": alice_token})
    assert refused.code == 2 and "user.list needs the role" in refused.stderr
    _one_line_error(refused.stderr)


def test_token_file_must_be_private(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert run_cli_process(["init", "--home", str(home)]).code == 0
    loose = tmp_path / "loose.token"
    loose.write_text((home / "operator.token").read_text())
    os.chmod(loose, 0o644)
    r = run_cli_process(["user", "list", "--home", str(home), "--as", "operator", "--token-file", str(loose)])
    assert r.code == 2 and "chmod 600" in r.stderr


def test_development_mode_acts_as_the_first_operator(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert run_cli_process(["init", "--home", str(home), "--mode", "development"]).code == 0
    r = run_cli_process(["user", "add", "bob", "--role", "checker", "--role", "auditor", "--org", "Lab", "--home", str(home)])
    assert r.code == 0, r.stderr
    as_bob = run_cli_process(["user", "add", "eve", "--role", "checker", "--org", "Lab", "--home", str(home), "--as", "bob"])
    assert as_bob.code == 2 and "user.add needs the role operator" in as_bob.stderr


@pytest.mark.parametrize("args,needle", [
    (["user", "add", "zoe", "--role", "researcher"], "organisation"),
    (["user", "add", "zoe", "--org", "Lab"], "role"),
    (["user", "add", "Zoe!", "--role", "researcher", "--org", "Lab"], "user name"),
    (["user", "disable", "nobody"], "no account"),
    (["user", "frobnicate"], "No such command"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path: Path, args: list[str], needle: str) -> None:
    home = tmp_path / "hub"
    assert run_cli(["init", "--home", str(home), "--mode", "development"]).code == 0  # set-up in this process
    before = run_cli(["user", "list", "--home", str(home), "--json"]).stdout
    r = run_cli_process([*args, "--home", str(home)])
    assert r.code == 2 and needle in r.stderr, r.stderr
    _one_line_error(r.stderr)
    assert run_cli(["user", "list", "--home", str(home), "--json"]).stdout == before


def test_init_refuses_bad_places_and_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    inside = run_cli_process(["init", "--home", str(home), "--custodian-home", str(home / "keys")])
    assert inside.code == 2 and "custodian" in inside.stderr
    _one_line_error(inside.stderr)
    assert not home.exists()
    unwritable = run_cli_process(["init", "--home", "/proc/guichet-hub"])
    assert unwritable.code == 2
    _one_line_error(unwritable.stderr)
    assert not Path("/proc/guichet-hub").exists()
    no_db = run_cli_process(["init", "--home", str(home)],
                            env={"GUICHET_DB_URL": "postgresql+psycopg://nobody:pw@127.0.0.1:1/none"})
    assert no_db.code == 2 and "unreachable" in no_db.stderr and "pw" not in no_db.stderr
    _one_line_error(no_db.stderr)
    assert not home.exists() and not (tmp_path / "hub-custodian").exists()
    argv_pw = run_cli_process(["init", "--home", str(home), "--db", "postgresql+psycopg://u:secret@127.0.0.1/x"])
    assert argv_pw.code == 2 and "password" in argv_pw.stderr and "secret" not in argv_pw.stderr
    assert not home.exists()


def test_init_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "hub"
    r = run_cli_process(["init", "--home", str(home), "--mode", "development", "--json"], env={"GUICHET_DB_URL": pg_url})
    assert r.code == 0, r.stderr
    assert "postgresql" in (home / "guichet.toml").read_text()
    users = run_cli_process(["user", "list", "--home", str(home), "--json"], env={"GUICHET_DB_URL": pg_url})
    assert [u["username"] for u in json.loads(users.stdout)] == ["operator"]
    verify = run_cli_process(["audit", "verify", "--home", str(home), "--json"], env={"GUICHET_DB_URL": pg_url})
    assert verify.code == 0 and json.loads(verify.stdout)["ok"] is True
    # a second hub may not take over a database that holds one
    other = run_cli_process(["init", "--home", str(tmp_path / "other")], env={"GUICHET_DB_URL": pg_url})
    assert other.code == 2 and "already holds a hub" in other.stderr


def test_version_and_help() -> None:
    v = run_cli_process(["--version"])
    assert v.code == 0 and "guichet" in v.stdout
    h = run_cli_process(["user", "add", "--help"])
    assert h.code == 0 and "Example:" in h.stdout


def test_database_password_file_must_be_private(tmp_path: Path, pg_url: str) -> None:
    # PostgreSQL here trusts local connections, so any password works: what is tested is the file's handling.
    pw = tmp_path / "db.pw"
    pw.write_text("s3cret-password\n")
    os.chmod(pw, 0o644)
    loose = run_cli_process(["init", "--home", str(tmp_path / "a"), "--db", pg_url, "--db-password-file", str(pw)])
    assert loose.code == 2 and "chmod 600" in loose.stderr and "s3cret" not in loose.stderr
    assert not (tmp_path / "a").exists()
    os.chmod(pw, 0o600)
    ok = run_cli_process(["init", "--home", str(tmp_path / "b"), "--db", pg_url, "--db-password-file", str(pw),
                          "--mode", "development"])
    assert ok.code == 0, ok.stderr
    config = (tmp_path / "b" / "guichet.toml").read_text()
    assert "s3cret" not in config and str(pw) in config
    users = run_cli_process(["user", "list", "--home", str(tmp_path / "b"), "--json"])
    assert users.code == 0, users.stderr


def test_a_wrong_totp_code_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert run_cli_process(["init", "--home", str(home)]).code == 0
    r = run_cli_process(["user", "list", "--home", str(home), "--as", "operator", "--token-file",
                         str(home / "operator.token"), "--totp", "123456"])
    assert r.code == 2 and "--totp" in r.stderr
