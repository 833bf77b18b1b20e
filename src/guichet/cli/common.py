"""What every command shares: hub and actor options, JSON or text output, errors as one line.

This is the only layer (with the web app factory) that reads the environment: ``GUICHET_HOME``,
``GUICHET_DB_URL`` and ``GUICHET_TOKEN`` are read here and passed down.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from guichet.actor import Actor, os_user
from guichet.config import read_private_file, resolve_home
from guichet.errors import EXIT_PROBLEMS, BadInput, GuichetError, Refused
from guichet.hub import Hub, open_hub

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


@dataclass
class Cli:
    """The parsed common options of one command, and the hub and actor they resolve to."""

    home_option: str | None = None
    as_user: str | None = None
    token_file: str | None = None
    totp: str | None = None
    json: bool = False
    _hub: Hub | None = field(default=None, repr=False)
    _actor: Actor | None = field(default=None, repr=False)

    @property
    def home(self) -> Path:
        return resolve_home(self.home_option, env("GUICHET_HOME"))

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            self._hub = open_hub(self.home, env("GUICHET_DB_URL"))
        return self._hub

    def close(self) -> None:
        if self._hub is not None:
            self._hub.close()

    def _token(self) -> str | None:
        if self.token_file:
            return read_private_file(Path(self.token_file), "--token-file")
        return env("GUICHET_TOKEN")

    @property
    def actor(self) -> Actor:
        """The account this command acts for.

        development: ``--as USER`` as is (its token checked if one is given), or the first operator.
        production: ``--as USER`` and that account's token are required; ``--totp`` adds the second factor
        that decisions need.
        """
        if self._actor is None:
            self._actor = self._resolve_actor()
        return self._actor

    def _resolve_actor(self) -> Actor:
        from guichet.accounts.auth import actor_for, authenticate_token, verify_totp

        hub, me = self.hub, os_user()
        token = self._token()
        if hub.development and not token:
            actor = actor_for(hub, self.as_user or hub.config.operator, os_user=me)
        else:
            if not self.as_user:
                raise Refused("production mode: say who you act for with --as USER (and its token)")
            if not token:
                raise self._refused(f"production mode: --as {self.as_user} needs that account's token "
                                    "(--token-file FILE or GUICHET_TOKEN)")
            try:
                actor = authenticate_token(hub, token, scope="cli", username=self.as_user, os_user=me)
            except Refused as exc:
                raise self._refused(exc.message) from None
        if self.totp is not None:
            if not verify_totp(hub, actor.username, self.totp):
                raise self._refused(f"--totp: wrong or expired code for {actor.username}")
            return actor.with_strong_auth()
        return actor.with_strong_auth() if hub.development else actor

    def _refused(self, reason: str) -> Refused:
        """An authentication refusal of the command line, written to the audit trail before it is answered."""
        from guichet.audit.guard import looks_like_identifier
        from guichet.governance.decorators import record_refusal

        claimed = (self.as_user or "")[:64]
        who = claimed if claimed and looks_like_identifier(claimed) is None else "(unknown)"
        record_refusal(self.hub, Actor(who, frozenset(), os_user=os_user(), channel="cli"), "auth.cli", None, reason)
        refused = Refused(reason)
        refused.audited = True
        return refused

    def audit_refusal(self, command: str, exc: Refused) -> None:
        """A refusal of the command itself (a manifest path outside its folder...), before any service ran:
        written to the audit trail when the command had opened a hub. Never raises."""
        if exc.audited:
            return
        try:
            hub = self.hub  # the refusal may come before the command opened the hub (a manifest path outside)
        except GuichetError:  # no hub here (no --home, not a hub): nothing to write to
            return
        from guichet.audit.guard import looks_like_identifier
        from guichet.governance.decorators import record_refusal

        actor = self._actor
        if actor is None:
            try:
                actor = self.actor  # who the command acts for (in development, the first operator)
            except GuichetError:
                actor = None
        if actor is None:
            claimed = (self.as_user or "")[:64]
            who = claimed if claimed and looks_like_identifier(claimed) is None else "(unknown)"
            actor = Actor(who, frozenset(), os_user=os_user(), channel="cli")
        if looks_like_identifier(command) is not None or len(command) > 64:
            command = "cli"
        try:
            record_refusal(hub, actor, command, None, exc.message)
            exc.audited = True
        except GuichetError:  # the trail cannot be written (database unreachable): the refusal still stands
            pass

    def emit(self, data: Any, text: str | Callable[[], str] | None = None) -> None:
        """Print the answer: JSON (only the answer, on stdout) or text for people."""
        if self.json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        elif text is not None:
            click.echo(text() if callable(text) else text)

    def problems(self) -> None:
        """End the command with exit 1: it ran but found problems."""
        raise SystemExit(EXIT_PROBLEMS)


pass_cli = click.make_pass_decorator(Cli, ensure=True)


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        cli = ctx.ensure_object(Cli)
        if value is not None and value is not False:
            setattr(cli, name, value)
        return value

    return callback


def json_option(f: F) -> F:
    return click.option("--json", "json_", is_flag=True, expose_value=False, callback=_store("json"),
                        help="Print only the JSON answer on stdout.")(f)


def home_option(f: F) -> F:
    return click.option("--home", metavar="DIR", expose_value=False, callback=_store("home_option"),
                        help="The hub's folder (default: $GUICHET_HOME).")(f)


def actor_options(f: F) -> F:
    f = click.option("--totp", metavar="CODE", expose_value=False, callback=_store("totp"),
                     help="A current second-factor code (decisions in production mode).")(f)
    f = click.option("--token-file", metavar="FILE", expose_value=False, callback=_store("token_file"),
                     help="A 0600 file holding the account's API token (default: $GUICHET_TOKEN).")(f)
    f = click.option("--as", "as_user", metavar="USER", expose_value=False, callback=_store("as_user"),
                     help="The account this command acts for.")(f)
    return f


def hub_command(f: F) -> F:
    """The options of a command that works on a hub as an account."""
    return json_option(actor_options(home_option(f)))


def example(text: str) -> str:
    """An epilog that click prints verbatim: every command's help ends with an example."""
    lines = "\n".join("  " + ln for ln in text.strip().splitlines())
    return f"\b\nExample:\n{lines}"


def parse_paths(values: Iterable[str]) -> list[Path]:
    return [Path(v) for v in values]


def require(value: str | None, option: str) -> str:
    if not value:
        raise BadInput(f"{option} is required")
    return value


@contextmanager
def progress(total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal (stderr); silent otherwise, and never on stdout."""
    if not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                  transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
