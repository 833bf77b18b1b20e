"""Rendering pages: one Jinja2 environment, one base layout, the context every template gets."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from guichet.web.context import LANG_COOKIE, WebContext, WebState
from guichet.web.i18n import negotiate
from guichet.web.settings import LOCALES
from guichet.web.site import visible_nav


def render(ctx: WebContext, template: str, status: int = 200, headers: dict[str, str] | None = None,
           **values: Any) -> HTMLResponse:
    t = ctx.t
    site = ctx.state.site
    html = site.environment().get_template(template).render(
        t=t, ct=t, ctx=ctx, actor=ctx.actor,
        display_name=ctx.display_name or (ctx.actor.username if ctx.actor else None),
        nav=visible_nav(site, ctx.actor), csrf_token=ctx.csrf_token, locale=ctx.locale,
        path=ctx.request.url.path, **values)
    return HTMLResponse(html, status_code=status, headers=headers)


def _anonymous_context(request: Request) -> WebContext | None:
    state: WebState | None = getattr(request.app.state, "web", None)
    if state is None:
        return None
    cookie = request.cookies.get(LANG_COOKIE)
    locale = cookie if cookie in LOCALES else negotiate(request.headers.get("accept-language"),
                                                         state.settings.default_locale)
    return WebContext(state, request, None, "none", locale, "p:")


def render_error(request: Request, status: int, code: str, key: str, values: dict[str, Any], message: str,
                 headers: dict[str, str] | None = None) -> HTMLResponse:
    ctx: WebContext | None = getattr(request.state, "ctx", None) or _anonymous_context(request)
    if ctx is None:  # pragma: no cover - the app always has its state
        return HTMLResponse(f"<!doctype html><title>{status}</title><p>{status}</p>", status_code=status)
    if status == 401 and request.method == "GET":
        # The login form itself, at the page's own address, with 401: a person signs in and comes back.
        return render(ctx, "login.html", status=401, headers=headers, next=str(request.url.path),
                      message=ctx.t("login.needed"))
    known = ctx.state.site.messages(ctx.locale)
    text = ctx.t(key, **values) if key in known else message
    return render(ctx, "error.html", status=status, headers=headers, status_code=status, code=code,
                  title=ctx.t(f"error.title.{status}") if f"error.title.{status}" in known
                  else ctx.t("error.title"), text=text)
