"""The callers' side of the HTTP custodian: the same interface as ``LocalCustodian``, over HTTP(S).

The hub calls it with a hub token; a producer calls ``domain_key`` with a producer token, and nothing else
answers a producer. Refusals carry the custodian's one-line reason (it never holds a value)."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow as pa

from guichet import errors
from guichet.audit.checkpoint import SignedCheckpoint
from guichet.config import read_private_file
from guichet.custodian.interface import Level, RotationHandover
from guichet.custodian.keys import DataKey, DomainKey, domain_key_id
from guichet.custodian.server import ARROW_STREAM, _ipc, is_loopback

TIMEOUT = 600.0


class HttpCustodian:
    mode = "http"

    def __init__(self, url: str, token: str | None = None, token_file: Path | None = None,
                 ca_file: Path | None = None) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise errors.BadInput("custodian_url: must be http(s)://HOST:PORT")
        if parsed.scheme == "http" and not is_loopback(parsed.hostname):
            raise errors.Refused("custodian_url: plain HTTP is allowed on loopback only; use https://")
        self.url = url.rstrip("/")
        if token is None:
            if token_file is None:
                raise errors.BadInput("custodian: an HTTP custodian needs a token file (custodian_token_file)")
            token = read_private_file(token_file, "custodian token file")
        self._token = token
        self._ssl = ssl.create_default_context(cafile=str(ca_file) if ca_file else None) \
            if parsed.scheme == "https" else None

    def __repr__(self) -> str:
        return f"HttpCustodian({self.url!r})"

    def _call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
              query: dict[str, str] | None = None) -> tuple[bytes, str]:
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        req = urllib.request.Request(url, data=body, method=method, headers={  # noqa: S310 - http(s) only
            "Authorization": f"Bearer {self._token}", "Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT, context=self._ssl) as resp:  # noqa: S310
                return resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            try:
                data = json.loads(exc.read())
                message, kind = str(data.get("error", "")), str(data.get("type", ""))
            except ValueError:
                message, kind = "", ""
            if exc.code in (401, 403):
                why = message.removeprefix("custodian: ") or "token refused"
                raise errors.Refused(f"custodian: {why} (HTTP {exc.code})") from None
            cls = getattr(errors, kind, None)
            if isinstance(cls, type) and issubclass(cls, errors.GuichetError):
                raise cls(message) from None
            raise errors.Unavailable(f"custodian at {self.url}: answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise errors.Unavailable(f"custodian at {self.url} is unreachable ({type(reason).__name__})") from None

    def _json(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        raw, _ = self._call(method, path, json.dumps(data or {}).encode())
        return json.loads(raw)

    def status(self) -> dict[str, Any]:
        return {**self._json("GET", "/v1/status"), "url": self.url}

    def pseudonymise(self, values: pa.Array, level: Level, purpose: str, project: str | None = None) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        query = {"level": level, "purpose": purpose, **({"project": project} if project else {})}
        raw, _ = self._call("POST", "/v1/pseudonymise", _ipc(pa.table({"value": values})), ARROW_STREAM, query)
        return pa.ipc.open_stream(raw).read_all().column("value").combine_chunks()

    def domain_key(self, domain: str) -> DomainKey:
        """A producer's level-1 key, with a producer token naming ``domain``."""
        data = self._json("GET", "/v1/domain-key?" + urllib.parse.urlencode({"domain": domain}))
        key = base64.b64decode(data["key"])
        if data.get("domain") != domain or data.get("key_id") != domain_key_id(domain, 1, key):
            raise errors.BadInput("custodian: the domain key received does not match its domain and key id")
        return DomainKey(domain, str(data["key_id"]), key)

    def optout_pseudonyms(self, nir: str, birth_date: str, rights_nir: str | None = None) -> list[str]:
        data = self._json("POST", "/v1/optout-pseudonyms", {"nir": nir, "birth_date": birth_date,
                                                            "rights_nir": rights_nir})
        return list(data["pseudonyms"])

    def new_data_key(self, purpose: str) -> DataKey:
        data = self._json("POST", "/v1/data-keys", {"purpose": purpose})
        return DataKey(data["key_id"], data["wrapped"], base64.b64decode(data["key"]))

    def unwrap(self, key_id: str, wrapped: str) -> bytes:
        return base64.b64decode(self._json("POST", "/v1/unwrap", {"key_id": key_id, "wrapped": wrapped})["key"])

    def shred(self, project: str) -> bool:
        return bool(self._json("POST", "/v1/shred", {"project": project})["existed"])

    def begin_rotation(self) -> RotationHandover:
        raw, _ = self._call("POST", "/v1/rotation", b"")
        table = pa.ipc.open_stream(raw).read_all()
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        return RotationHandover(meta["rotation_id"], int(meta["old_generation"]), int(meta["new_generation"]),
                                table.replace_schema_metadata(None))

    def complete_rotation(self, rotation_id: str) -> dict[str, Any]:
        return dict(self._json("POST", f"/v1/rotation/{urllib.parse.quote(rotation_id)}/complete"))

    def abort_rotation(self, rotation_id: str) -> None:
        self._json("POST", f"/v1/rotation/{urllib.parse.quote(rotation_id)}/abort")

    def sign_audit_checkpoint(self, seq: int, head: str) -> SignedCheckpoint:
        return SignedCheckpoint.from_dict(self._json("POST", "/v1/audit-checkpoint", {"seq": seq, "head": head}))

    def latest_audit_checkpoint(self) -> tuple[SignedCheckpoint | None, str]:
        data = self._json("GET", "/v1/audit-checkpoint")
        checkpoint = data.get("checkpoint")
        return (SignedCheckpoint.from_dict(checkpoint) if checkpoint else None), str(data["public_key"])
