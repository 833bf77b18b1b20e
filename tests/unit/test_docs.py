"""Every command, setting and route is documented; every command's help shows an example."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from guichet.cli.main import cli
from guichet.config import HubConfig

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def _commands(group: click.Group, prefix: str = "guichet") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = [(prefix, group)]
    ctx = click.Context(group, info_name=prefix)
    for name in group.list_commands(ctx):  # the top-level group loads its commands lazily
        cmd = group.get_command(ctx, name)
        assert cmd is not None, f"'{prefix} {name}' is listed but does not load"
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            found.extend(_commands(cmd, path))
        else:
            found.append((path, cmd))
    return found


COMMANDS = _commands(cli)


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_help_shows_an_example(path: str, cmd: click.Command) -> None:
    ctx = click.Context(cmd, info_name=path)
    text = cmd.get_help(ctx)
    assert "Example:" in text, f"'{path} --help' shows no example"
    assert "guichet" in text.split("Example:", 1)[1], f"'{path} --help': the example does not show a command"


def test_every_command_is_documented() -> None:
    text = (DOCS / "commands.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### (guichet [a-z -]+?)\s*$", text, flags=re.M))
    leaves = {p for p, c in COMMANDS if not isinstance(c, click.Group)}
    missing = sorted(leaves - documented)
    assert not missing, f"commands missing from docs/commands.md: {missing}"
    stale = sorted(documented - leaves)
    assert not stale, f"docs/commands.md documents commands that do not exist: {stale}"


def _setting_keys() -> set[str]:
    cfg = HubConfig(home=Path("/h"), custodian_home=Path("/c"), mode="production", db_url="sqlite://",
                    db_password_file=Path("/p"))
    keys = set()
    for section, values in cfg.to_toml().items():
        if section == "properties":
            keys.add("properties")
            continue
        keys.update(f"{section}.{k}" for k in values)
    return keys


def test_every_setting_is_documented() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = sorted(k for k in _setting_keys() if f"`{k}`" not in text)
    assert not missing, f"settings missing from docs/settings.md: {missing}"


def test_every_environment_variable_is_documented() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    used: set[str] = set()
    for path in (REPO / "src" / "guichet").rglob("*.py"):
        used.update(re.findall(r"\b(GUICHET_[A-Z_]+)\b", path.read_text(encoding="utf-8")))
    missing = sorted(v for v in used if f"`{v}`" not in text)
    assert not missing, f"environment variables missing from docs/settings.md: {missing}"


def test_every_web_route_is_documented(hub) -> None:  # type: ignore[no-untyped-def]
    web = pytest.importorskip("guichet.web", reason="the web app is not there yet")
    if not hasattr(web, "create_app"):
        pytest.skip("guichet.web has no create_app yet")
    app = web.create_app(hub.config)
    docs_text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    paths = {getattr(r, "path", None) for r in app.routes} - {None}
    missing = sorted(p for p in paths if f"`{p}`" not in docs_text and not p.startswith("/api/docs"))
    assert not missing, f"web routes missing from docs/: {missing}"
