"""The hub's permit-signing key (Ed25519) and the signature of a permit document.

The private key lives in the hub home (``secrets/permit-signing.key``, PEM, 0600), made on first use; the
key id is a short fingerprint of the public key. Verification needs nothing of the hub: the signed file
carries the key id and the raw public key, and the registry publishes the same pair, so that a reader can
check both that the file was not altered and that it was signed by the key the hub publishes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from guichet.config import HubConfig, check_private_file
from guichet.errors import BadInput

KEY_FILE = "permit-signing.key"
ALGORITHM = "Ed25519"


def key_id_of(public_raw: bytes) -> str:
    """A short fingerprint of a raw Ed25519 public key: ``ed25519:`` and 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public_key: str  # base64 of the 32 raw bytes

    def to_dict(self) -> dict[str, str]:
        return {"algorithm": ALGORITHM, "key_id": self.key_id, "public_key": self.public_key}


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public(self) -> PublicKey:
        raw = self.public_raw
        return PublicKey(key_id_of(raw), base64.b64encode(raw).decode("ascii"))

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private.sign(message)).decode("ascii")


def key_path(config: HubConfig) -> Path:
    return config.folder("secrets") / KEY_FILE


def load_or_create_key(config: HubConfig) -> SigningKey:
    """The hub's signing key, made on first use (created 0600 and exclusively: two processes never make two)."""
    path = key_path(config)
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            try:
                os.write(fd, pem)
            finally:
                os.close(fd)
    check_private_file(path, "permit signing key")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise BadInput(f"permit signing key {path}: not an Ed25519 key")
    return SigningKey(key)


def verify_signature(public_key_b64: str, signature_b64: str, message: bytes) -> bool:
    """Does the signature hold for this message and this raw public key? Malformed input is ``False``."""
    try:
        raw = base64.b64decode(public_key_b64, validate=True)
        sig = base64.b64decode(signature_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(raw).verify(sig, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
