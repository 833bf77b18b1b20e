"""Attacks on output requests: reviewing one's own output, reviewing twice, seeing the other checker's vote
before deciding, releasing before two approvals, a checker from the project's organisation, scripts in
released SVG and HTML, another project's researcher submitting or reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.actor import system_actor
from guichet.airlock import request_services as rs
from guichet.airlock.safe import SERVE_HEADERS, sanitise_html, sanitise_svg
from guichet.errors import BadInput, GuichetError, NotFound, Refused
from guichet.hub import Hub
from tests.airlock_requests_support import ORG, PERMIT, add_permit, outputs, setup, write_tables

pytestmark = pytest.mark.security

CTX = {"context": "persons by sex and region, synthetic cohort", "controls": "counts of persons, threshold 11"}


def _submit(hub: Hub, actor: object, files: list[str], permit: str = PERMIT) -> str:
    return str(rs.submit(hub, actor, permit=permit, files=files, group="g", **CTX)["request"])  # type: ignore[arg-type]


def test_separation_of_duties_and_blindness(hub: Hub) -> None:
    a = setup(hub)
    write_tables(hub)
    # an account that is both researcher and checker, named on a permit, submits: it may not review its own
    accounts.add_user(hub, system_actor(), username="carol", roles=["researcher", "checker"], org="Carol lab")
    add_permit(hub, "P-2026-0002", ["carol"], org="Carol lab")
    write_tables(hub, "P-2026-0002")
    carol = actor_for(hub, "carol")
    own = _submit(hub, carol, ["by_region.csv"], permit="P-2026-0002")
    with pytest.raises(Refused, match="their own"):
        rs.review(hub, carol, request=own, decision="approve", reason="mine")
    req = _submit(hub, a["alice"], ["by_region.csv"])
    with pytest.raises(Refused, match="own organisation"):
        rs.review(hub, a["chk.same"], request=req, decision="approve", reason="colleague")
    assert "chk.same" not in rs.show(hub, a["olga"], request=req)["proposed"]
    with pytest.raises(NotFound):  # nor may it read the request
        rs.show(hub, a["chk.same"], request=req)
    rs.review(hub, a["olga"], request=req, decision="changes", reason="round the counts")
    with pytest.raises(Refused, match="already"):
        rs.review(hub, a["olga"], request=req, decision="approve", reason="changed my mind")
    seen = rs.show(hub, a["pierre"], request=req)
    assert all("reviews" not in f for f in seen["files"])  # the other vote stays hidden before deciding
    assert "round the counts" not in str(seen)
    with pytest.raises(Refused):
        rs.release(hub, a["operator"], request=req)
    rs.review(hub, a["pierre"], request=req, decision="approve", reason="fine")
    seen = rs.show(hub, a["pierre"], request=req)  # now decided: the votes show
    assert any("reviews" in f for f in seen["files"])
    with pytest.raises(Refused):  # a conflict, not an approval
        rs.release(hub, a["operator"], request=req)
    with pytest.raises(Refused):  # a researcher may not review, an author's colleague neither
        rs.review(hub, a["bob"], request=req, decision="approve", reason="colleague")


def test_another_projects_researcher(hub: Hub) -> None:
    a = setup(hub)
    write_tables(hub)
    with pytest.raises(Refused):
        _submit(hub, a["eve"], ["by_region.csv"])
    req = _submit(hub, a["alice"], ["by_region.csv"])
    with pytest.raises(NotFound):
        rs.show(hub, a["eve"], request=req)
    assert rs.waiting(hub, a["eve"]) == []
    assert rs.show(hub, a["bob"], request=req)["request"] == req  # a member of the project sees it


SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"
 onload="alert(1)"><script>alert(2)</script><foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div>
</foreignObject><image href="https://evil.example/x.png"/><use xlink:href="https://evil.example/s.svg#a"/>
<a href="javascript:alert(3)"><rect width="5" height="5" style="fill:url(https://evil.example/f)"/></a>
<rect width="4" height="4" fill="red" onclick="alert(4)"/><use href="#r"/></svg>"""
HTML = b"""<html><body><h1 onclick="x()">Results</h1><script>alert(1)</script><img src=x onerror=alert(2)>
<a href="javascript:alert(3)">link</a><iframe src="https://evil.example"></iframe><style>@import url(x)</style>
<table><tr><th scope="col">n</th></tr><tr><td>12</td></tr></table></body></html>"""


def test_scripts_do_not_survive_release(hub: Hub) -> None:
    out = sanitise_svg(SVG).decode()
    for bad in ("script", "foreignObject", "onload", "onclick", "evil.example", "javascript", "alert"):
        assert bad not in out, bad
    assert "<rect" in out and 'href="#r"' in out
    with pytest.raises(BadInput):
        sanitise_svg(b'<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>')
    html = sanitise_html(HTML).decode()
    for bad in ("script", "onclick", "onerror", "javascript", "iframe", "evil.example", "@import", "<style"):
        assert bad not in html, bad
    assert "<table>" in html and "12" in html
    assert SERVE_HEADERS["Content-Disposition"] == "attachment" and "sandbox" in SERVE_HEADERS["Content-Security-Policy"]
    # end to end: a request holding an SVG and an HTML file, approved, released: the copies are clean
    a = setup(hub)
    write_tables(hub)
    (outputs(hub) / "fig.svg").write_bytes(SVG)
    (outputs(hub) / "report.html").write_bytes(HTML)
    req = _submit(hub, a["alice"], ["fig.svg", "report.html"])
    rs.review(hub, a["olga"], request=req, decision="approve", reason="the figure has no table but is a logo only")
    rs.review(hub, a["pierre"], request=req, decision="approve", reason="the figure has no table but is a logo only")
    files = rs.release(hub, a["operator"], request=req)["files"]
    for f in files:
        text = Path(f).read_text(encoding="utf-8")
        assert "script" not in text and "alert" not in text and "evil.example" not in text
    with pytest.raises(GuichetError):
        rs.release(hub, a["operator"], request=req)  # released once
    assert ORG
