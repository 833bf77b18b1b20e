"""What the installed routers bring to one app: templates, messages, menu entries and home-page panels.

Each package's ``GuardedRouter`` carries its own templates folder, its own messages (``locales/*.json``), its
menu entries and the panels it adds to a role's home page ("what waits for you"). ``install(app)`` adds them
to the app's ``Site``; nothing is kept in a module-level global, so two apps in one process (tests) never
see each other's pages, and no package imports another to appear in the menu.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from guichet.actor import Actor
from guichet.governance import Resource, authorize
from guichet.web.settings import LOCALES

WEB_DIR = Path(__file__).parent


@dataclass(frozen=True)
class NavEntry:
    path: str
    label: str  # message key
    permission: str  # an action of the permission table: the entry shows to those it allows
    order: int


@dataclass(frozen=True)
class Panel:
    """What a home-page panel shows: a title (message key), items and where to go for all of them."""

    title: str
    items: list[dict[str, Any]]
    link: str | None = None
    empty: str | None = None  # message key shown when there is nothing waiting
    order: int = 100


# A route's body limit: bytes, or a function of the app's state (``guichet.web.bodygate``).
MaxBody = int | Callable[[Any], int]

# A panel provider receives the request's context and answers its panel, or None (nothing for this actor).
PanelFn = Callable[[Any], Panel | None]


@dataclass(frozen=True)
class HomePanel:
    permission: str
    fn: PanelFn
    order: int


def self_resource(actor: Actor) -> Resource:
    return Resource("user", actor.username, owner=actor.username)


@dataclass
class Site:
    template_dirs: list[Path] = field(default_factory=lambda: [WEB_DIR / "templates"])
    locale_dirs: list[Path] = field(default_factory=lambda: [WEB_DIR / "locales"])
    nav: list[NavEntry] = field(default_factory=list)
    panels: list[HomePanel] = field(default_factory=list)
    body_routes: list[tuple[Any, str, MaxBody | None]] = field(default_factory=list)  # (route, permission, limit)
    # Functions a package offers to every template (``GuardedRouter.template_global``): another package's
    # template tests ``name is defined`` before calling one, so neither imports the other.
    globals: dict[str, Callable[..., Any]] = field(default_factory=dict)
    _env: Environment | None = None
    _messages: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, *, templates: Path | None, locales: Path | None, nav: list[NavEntry],
            panels: list[HomePanel], globals_: Mapping[str, Callable[..., Any]] | None = None) -> None:
        if templates is not None and templates not in self.template_dirs:
            self.template_dirs.append(templates)
            self._env = None
        if locales is not None and locales not in self.locale_dirs:
            self.locale_dirs.append(locales)
            self._messages.clear()
        for entry in nav:
            self.nav[:] = [n for n in self.nav if n.path != entry.path] + [entry]
        self.panels.extend(panels)
        for name, fn in (globals_ or {}).items():
            if self.globals.get(name, fn) is not fn:
                raise RuntimeError(f"template global {name!r} is defined twice")
            self.globals[name] = fn
            self._env = None

    def environment(self) -> Environment:
        if self._env is None:
            env = Environment(loader=ChoiceLoader([FileSystemLoader(str(p)) for p in self.template_dirs]),
                              autoescape=select_autoescape(default=True, default_for_string=True), auto_reload=False)
            env.globals["locales"] = LOCALES
            env.globals.update(self.globals)
            self._env = env
        return self._env

    def messages(self, locale: str) -> Mapping[str, str]:
        """Every installed package's messages in ``locale``; two packages may not define the same key."""
        found = self._messages.get(locale)
        if found is None:
            found = {}
            for folder in self.locale_dirs:
                path = folder / f"{locale}.json"
                if not path.is_file():
                    continue
                for key, text in json.loads(path.read_text(encoding="utf-8")).items():
                    if key in found and found[key] != text:
                        raise RuntimeError(f"message {key!r} is defined twice ({folder})")
                    found[key] = text
            self._messages[locale] = found
        return found


def visible_nav(site: Site, actor: Actor | None) -> list[NavEntry]:
    if actor is None:
        return []
    return [n for n in sorted(site.nav, key=lambda n: n.order)
            if authorize(actor, n.permission, self_resource(actor))]


def visible_panels(site: Site, actor: Actor | None) -> list[HomePanel]:
    """The home-page panels whose permission the actor holds, in order."""
    if actor is None:
        return []
    return [p for p in sorted(site.panels, key=lambda p: p.order)
            if authorize(actor, p.permission, self_resource(actor))]
