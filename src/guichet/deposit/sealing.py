"""Sealing quarantined identifier cells to the producer's public key, so that the hub cannot read them.

X25519 + HKDF-SHA-256 + ChaCha20-Poly1305, sealed-box style: one ephemeral key pair per quarantine file
(its public half is stored with the file), and a fresh random nonce per row. Only the producer's private
key opens a row; the hub keeps no secret that does.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from guichet.errors import BadInput

INFO = b"guichet quarantine seal v1"


def new_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a new X25519 key pair for a producer."""
    private = X25519PrivateKey.generate()
    priv_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
    return priv_pem, public_pem(private.public_key())


def public_pem(key: X25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: str, where: str = "--public-key") -> X25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise BadInput(f"{where}: not a PEM public key") from None
    if not isinstance(key, X25519PublicKey):
        raise BadInput(f"{where}: not an X25519 public key")
    return key


def load_private_key(pem: str, where: str = "--key-file") -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise BadInput(f"{where}: not a PEM private key") from None
    if not isinstance(key, X25519PrivateKey):
        raise BadInput(f"{where}: not an X25519 private key")
    return key


def fingerprint(pem: str) -> str:
    raw = load_public_key(pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def _derive(shared: bytes, eph_pub: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pub + recipient, info=INFO).derive(shared)


class Sealer:
    """Seals many rows to one recipient with one ephemeral key."""

    def __init__(self, recipient_pem: str) -> None:
        recipient = load_public_key(recipient_pem, "producer public key")
        eph = X25519PrivateKey.generate()
        self.ephemeral_public = eph.public_key().public_bytes(serialization.Encoding.Raw,
                                                              serialization.PublicFormat.Raw)
        rec_raw = recipient.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self._aead = ChaCha20Poly1305(_derive(eph.exchange(recipient), self.ephemeral_public, rec_raw))

    def seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, INFO)


class Opener:
    """The producer's side: opens what a ``Sealer`` sealed (used by ``deposit rejections --key-file``)."""

    def __init__(self, private_pem: str, ephemeral_public: bytes) -> None:
        private = load_private_key(private_pem)
        rec_raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        self._aead = ChaCha20Poly1305(_derive(shared, ephemeral_public, rec_raw))

    def open(self, sealed: bytes) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], INFO)
