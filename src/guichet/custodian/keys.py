"""Keys: the hierarchy under the master secret, data-key wrapping, project keys, sealed domain-key files.

Key hierarchy (HKDF-SHA-256 labels under the master secret ``M``)::

    M ─┬─ kek/lake/v1, kek/quarantine/v1, kek/staging/v1, kek/workspace/v1   wrap per-file data keys
       ├─ hub-pseudonym/<generation>                                       hub pseudonyms (rotated)
       ├─ correspondence/<generation>                                      the correspondence segments
       ├─ domain/<domain>/1                                                level-1 keys of the producers
       └─ projects/v1 ── seals projects/<id>.key (random KEK + pseudonym key; never escrowed)

A data key is 32 random bytes, one per file; it is wrapped with AES-256-GCM under the KEK of its
purpose, with ``key_id|purpose`` as associated data, so a wrapped key cannot be replayed under another
id or purpose.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from guichet.config import check_private_file, write_private_file
from guichet.custodian.home import CustodianHome, derive, now_iso, write_json_private
from guichet.errors import BadInput, Conflict, NotFound

HUB_PURPOSES = ("lake", "quarantine", "staging", "workspace")
PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
WRAP_PREFIX = "gw1"
DOMAIN_KEY_FORMAT = "guichet-domain-key/1"


@dataclass(frozen=True)
class DataKey:
    """A per-file data key: its id, its wrapped form (store it), and the key itself (use it, forget it)."""

    key_id: str
    wrapped: str
    key: bytes

    def __repr__(self) -> str:  # never print the key
        return f"DataKey(key_id={self.key_id!r})"


@dataclass(frozen=True)
class DomainKey:
    domain: str
    key_id: str
    key: bytes

    def __repr__(self) -> str:
        return f"DomainKey(domain={self.domain!r}, key_id={self.key_id!r})"


def check_purpose(purpose: str) -> str | None:
    """Validate a purpose; return the project id for ``project:<id>`` purposes."""
    if purpose in HUB_PURPOSES:
        return None
    if purpose.startswith("project:") and PROJECT_RE.match(purpose[8:]):
        return purpose[8:]
    raise BadInput(f"purpose {purpose!r}: must be one of {', '.join(HUB_PURPOSES)} or project:<id>")


def check_project(project: str) -> str:
    if not PROJECT_RE.match(project):
        raise BadInput("project: must be 1-64 characters from [a-z0-9_.-]")
    return project


def check_domain(domain: str) -> str:
    if not DOMAIN_RE.match(domain):
        raise BadInput("--domain: must be 1-32 characters from [a-z0-9_-], starting with a letter")
    return domain


class Keyring:
    """Key operations over one custodian home."""

    def __init__(self, home: CustodianHome) -> None:
        self.home = home

    @property
    def _master(self) -> bytes:
        return self.home.master()

    # -- hub level ------------------------------------------------------------------------------------
    def hub_key(self, generation: int) -> bytes:
        return derive(self._master, f"hub-pseudonym/{generation}")

    def correspondence_key(self, generation: int) -> bytes:
        return derive(self._master, f"correspondence/{generation}")

    # -- domains (level 1) ----------------------------------------------------------------------------
    def domain_key(self, domain: str) -> DomainKey:
        check_domain(domain)
        key = derive(self._master, f"domain/{domain}/1")
        return DomainKey(domain, domain_key_id(domain, 1, key), key)

    # -- data keys ------------------------------------------------------------------------------------
    def _kek(self, purpose: str) -> bytes:
        project = check_purpose(purpose)
        if project is None:
            return derive(self._master, f"kek/{purpose}/v1")
        return self._project_keys(project, create=False)["kek"]

    def new_data_key(self, purpose: str) -> DataKey:
        project = check_purpose(purpose)
        if project is not None:
            self._project_keys(project, create=True)
        key_id = "dk-" + secrets.token_hex(8)
        key = os.urandom(32)
        nonce = os.urandom(12)
        ct = AESGCM(self._kek(purpose)).encrypt(nonce, key, f"{key_id}|{purpose}".encode())
        wrapped = f"{WRAP_PREFIX}:{purpose}:{base64.urlsafe_b64encode(nonce + ct).decode()}"
        return DataKey(key_id, wrapped, key)

    def unwrap(self, key_id: str, wrapped: str) -> bytes:
        head, _, blob = wrapped.rpartition(":")
        prefix, _, purpose = head.partition(":")
        if prefix != WRAP_PREFIX or not blob:
            raise BadInput(f"data key {key_id}: not a wrapped Guichet data key")
        try:
            raw = base64.urlsafe_b64decode(blob.encode())
            return AESGCM(self._kek(purpose)).decrypt(raw[:12], raw[12:], f"{key_id}|{purpose}".encode())
        except (ValueError, InvalidTag):
            raise BadInput(f"data key {key_id}: cannot be unwrapped (wrong id, purpose or custodian)") from None

    # -- projects -------------------------------------------------------------------------------------
    def _projects_dir(self) -> Path:
        return self.home.path / "projects"

    def shredded(self) -> dict[str, str]:
        path = self._projects_dir() / "shredded.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _project_keys(self, project: str, *, create: bool) -> dict[str, bytes]:
        check_project(project)
        if project in self.shredded():
            raise Conflict(f"project {project}: its keys were destroyed (crypto-shredded)")
        path = self._projects_dir() / f"{project}.key"
        seal = AESGCM(derive(self._master, "projects/v1"))
        if not path.exists():
            if not create:
                raise NotFound(f"project {project}: the custodian holds no key for it")
            with self.home.lock():
                if not path.exists():
                    keys = {"kek": os.urandom(32), "pseudonym": os.urandom(32)}
                    plain = json.dumps({k: base64.b64encode(v).decode() for k, v in keys.items()}).encode()
                    nonce = os.urandom(12)
                    blob = nonce + seal.encrypt(nonce, plain, project.encode())
                    write_private_file(path, base64.b64encode(blob).decode())
        raw = base64.b64decode(path.read_text(encoding="ascii"))
        try:
            plain = seal.decrypt(raw[:12], raw[12:], project.encode())
        except InvalidTag:
            raise BadInput(f"project {project}: its key file is damaged or from another custodian") from None
        return {k: base64.b64decode(v) for k, v in json.loads(plain).items()}

    def project_pseudonym_key(self, project: str) -> bytes:
        return self._project_keys(project, create=True)["pseudonym"]

    def shred(self, project: str) -> bool:
        """Destroy a project's keys and record a tombstone. True when they were destroyed now, False when
        they already were (a retried call). A project the custodian never held keys for is refused: a
        tombstone for any name asked would let a caller fill the register with projects that never were."""
        check_project(project)
        path = self._projects_dir() / f"{project}.key"
        with self.home.lock():
            tomb = self.shredded()
            if not path.exists():
                if project in tomb:
                    return False
                raise NotFound(f"project {project}: the custodian holds no key for it (nothing to shred)")
            # The tombstone first: a crash before the unlink leaves keys no call will use, and a retry ends it.
            tomb.setdefault(project, now_iso())
            write_json_private(self._projects_dir() / "shredded.json", tomb)
            size = path.stat().st_size
            with open(path, "r+b") as fh:  # overwrite before unlinking (best effort on journaled fs)
                fh.write(os.urandom(size))
                fh.flush()
                os.fsync(fh.fileno())
            path.unlink()
        return True


# --- sealed domain-key files ----------------------------------------------------------------------------

def domain_key_id(domain: str, version: int, key: bytes) -> str:
    return f"{domain}-{version}-{hmac.new(key, b'guichet/key-id', 'sha256').hexdigest()[:8]}"


def _tag(domain: str, key_id: str, key: bytes) -> str:
    return hmac.new(key, f"{DOMAIN_KEY_FORMAT}|{domain}|{key_id}".encode(), "sha256").hexdigest()


def write_domain_key_file(path: Path, dk: DomainKey) -> None:
    if path.exists():
        raise Conflict(f"--out {path}: exists; a key file is never overwritten")
    data = {"format": DOMAIN_KEY_FORMAT, "domain": dk.domain, "key_id": dk.key_id,
            "key": base64.b64encode(dk.key).decode(), "created_at": now_iso(),
            "tag": _tag(dk.domain, dk.key_id, dk.key)}
    write_private_file(path, json.dumps(data, indent=2) + "\n")


def read_domain_key_file(path: Path) -> DomainKey:
    """Read and verify a sealed domain-key file (0600, known format, integrity tag, key id)."""
    what = f"key file {path}"
    if not path.is_file():
        raise BadInput(f"{what}: not found")
    check_private_file(path, "key file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        domain, key_id, tag = data["domain"], data["key_id"], data["tag"]
        key = base64.b64decode(data["key"], validate=True)
        fmt = data["format"]
    except (ValueError, KeyError, TypeError):
        raise BadInput(f"{what}: not a Guichet domain-key file") from None
    if fmt != DOMAIN_KEY_FORMAT or len(key) != 32 or not isinstance(domain, str):
        raise BadInput(f"{what}: not a Guichet domain-key file")
    if not hmac.compare_digest(str(tag), _tag(domain, key_id, key)):
        raise BadInput(f"{what}: integrity tag does not match (damaged or edited)")
    version = str(key_id).split("-")[-2] if str(key_id).count("-") >= 2 else ""
    if not version.isdigit() or key_id != domain_key_id(domain, int(version), key):
        raise BadInput(f"{what}: key id does not match its key")
    return DomainKey(domain, key_id, key)
