"""Safe released files: SVG sanitised (an allowlist of drawing elements and attributes: no script, no
foreignObject, no event handler, no external reference, no style sheet, no DOCTYPE or entity), HTML sanitised
to an allowlist (nh3, the Ammonia sanitiser: no script, no style, no event handler, links made inert); other
files copied as they are. The released copy is what the checksum of the release covers."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from guichet.errors import BadInput

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
SVG_ELEMENTS = frozenset({
    "svg", "g", "defs", "title", "desc", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
    "text", "tspan", "clipPath", "linearGradient", "radialGradient", "stop", "marker", "symbol", "use",
    "pattern", "mask", "metadata"})
SVG_ATTRIBUTES = frozenset({
    "id", "class", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "width", "height", "d",
    "points", "viewBox", "preserveAspectRatio", "transform", "fill", "fill-opacity", "fill-rule", "stroke",
    "stroke-width", "stroke-opacity", "stroke-dasharray", "stroke-linecap", "stroke-linejoin", "opacity",
    "font-family", "font-size", "font-weight", "font-style", "text-anchor", "dominant-baseline", "dx", "dy",
    "offset", "stop-color", "stop-opacity", "clip-path", "clip-rule", "marker-start", "marker-mid", "marker-end",
    "markerWidth", "markerHeight", "refX", "refY", "orient", "gradientUnits", "gradientTransform",
    "patternUnits", "version", "href", "style", "mask", "vector-effect", "shape-rendering", "letter-spacing",
    "alignment-baseline", "baseline-shift", "color", "display", "visibility"})
_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.IGNORECASE)
_BAD_STYLE = re.compile(r"expression|javascript:|@import|behavior", re.IGNORECASE)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def sanitise_svg(data: bytes) -> bytes:
    text = data.decode("utf-8", errors="strict") if data else ""
    if re.search(r"<!DOCTYPE|<!ENTITY", text, re.IGNORECASE):
        raise BadInput("SVG with a DOCTYPE or entities: refused")
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DOCTYPE, so no entity expansion
    except ET.ParseError as exc:
        raise BadInput("SVG: not well-formed XML") from exc
    if _local(root.tag) != "svg":
        raise BadInput("SVG: the root element is not <svg>")

    def clean(el: ET.Element) -> None:
        for child in list(el):
            if not isinstance(child.tag, str) or _local(child.tag) not in SVG_ELEMENTS or \
                    (child.tag.startswith("{") and not child.tag.startswith("{" + SVG_NS)):
                el.remove(child)
                continue
            clean(child)
        for name in list(el.attrib):
            local = _local(name)
            value = el.attrib[name]
            ns_ok = not name.startswith("{") or name.startswith("{" + XLINK_NS)
            if not ns_ok or local not in SVG_ATTRIBUTES or local.lower().startswith("on"):
                del el.attrib[name]
            elif local == "href" and not value.strip().startswith("#"):
                del el.attrib[name]
            elif _URL.search(value) or _BAD_STYLE.search(value):
                del el.attrib[name]

    clean(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def sanitise_html(data: bytes) -> bytes:
    import nh3

    tags = {"html", "body", "h1", "h2", "h3", "h4", "p", "br", "ul", "ol", "li", "table", "thead", "tbody",
            "tfoot", "tr", "th", "td", "caption", "em", "strong", "b", "i", "code", "pre", "span", "div",
            "blockquote", "sup", "sub", "hr", "dl", "dt", "dd", "figure", "figcaption"}
    attributes = {"th": {"scope", "colspan", "rowspan"}, "td": {"colspan", "rowspan"}, "*": {"lang", "title"}}
    cleaned = nh3.clean(data.decode("utf-8", errors="replace"), tags=tags, attributes=attributes,
                        url_schemes=set(), link_rel=None)
    return ("<!DOCTYPE html>\n" + cleaned).encode("utf-8")


def copy_safe(source: Path, dest: Path) -> None:
    """Copy a released file, sanitising SVG and HTML on the way."""
    suffix = source.suffix.lower()
    if suffix == ".svg":
        dest.write_bytes(sanitise_svg(source.read_bytes()))
    elif suffix in (".html", ".htm"):
        dest.write_bytes(sanitise_html(source.read_bytes()))
    else:
        shutil.copyfile(source, dest)


# The headers released files are served with: as attachments, sandboxed, never sniffed.
SERVE_HEADERS = {
    "Content-Disposition": "attachment",
    "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
