"""A producer's client of the resumable upload API (``guichet delivery send``): standard library only.

It opens the upload (or asks an open one what is missing), sends only the missing chunks, then submits.
A cut transfer is resumed by running the command again with ``--resume ID``.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guichet.errors import BadInput, Conflict, GuichetError, NotFound, Refused, Unavailable

TIMEOUT = 300  # seconds per request: a submit runs the whole deposit


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class Api:
    def __init__(self, url: str, token: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise BadInput("--url: the portal's address, http(s)://HOST[:PORT]")
        self.base, self.token = url.rstrip("/"), token

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as r:  # noqa: S310 - the producer's own hub
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {exc.code}"
            raise {400: BadInput, 401: Refused, 403: Refused, 404: NotFound, 409: Conflict}.get(
                exc.code, GuichetError)(message) from None
        except urllib.error.URLError as exc:
            raise Unavailable(f"--url {self.base}: cannot reach the portal ({exc.reason})") from None


def send(api: Api, path: Path, options: dict[str, Any], resume: str | None = None,
         advance: Callable[[int], None] = lambda _n: None) -> dict[str, Any]:
    """Upload ``path`` (resuming delivery ``resume`` when given) and submit it; the delivery's final state."""
    size = path.stat().st_size
    if resume:
        d = api.call("GET", f"/api/deliveries/{resume}")
        if d["size"] != size or d["filename"] != path.name:
            raise BadInput(f"--resume {resume}: that delivery is of another file ({d['filename']}, {d['size']} bytes)")
    else:
        body = {"filename": path.name, "size": size, "sha256": file_sha256(path), **options}
        d = api.call("POST", "/api/deliveries", json.dumps(body).encode(), "application/json")
    chunk = int(d["chunk_size"])
    todo = list(d["missing"]) if d["status"] == "open" else []
    with open(path, "rb") as f:
        for n in todo:
            f.seek(n * chunk)
            data = f.read(chunk)
            api.call("PUT", f"/api/deliveries/{d['id']}/chunks/{n}", data, "application/octet-stream")
            advance(len(data))
    if d["status"] != "open":
        return d
    return api.call("POST", f"/api/deliveries/{d['id']}/submit")
