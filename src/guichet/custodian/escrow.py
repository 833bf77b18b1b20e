"""Key escrow: Shamir secret sharing of the custodian's master secret, over the prime field GF(2^521 − 1).

The master secret (256 bits) is the constant term of a random polynomial of degree ``threshold − 1``
with coefficients drawn uniformly below the prime; share *i* is the point (i, f(i)). Any ``threshold``
shares give the secret back by Lagrange interpolation at 0; fewer give no information about it. A
Mersenne prime keeps the arithmetic obvious (Python integers, ``pow(x, -1, p)``), and no PyPI
library was needed: the well-kept ones (e.g. PyCryptodome's) share only 16-byte secrets.

A share file is JSON: the escrow id, its index, the threshold, the point, a check value of the master
secret (HMAC, so a wrong combination is detected), the custodian state needed to rebuild it (hub-pseudonym
generation and domains), and a SHA-256 tag over all that (a damaged share is refused). Project keys are
never escrowed: a shredded project cannot come back from escrow (crypto-shredding holds in backups).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guichet.config import check_private_file, write_private_file
from guichet.custodian.home import CustodianHome, make_folder, now_iso
from guichet.errors import BadInput, Conflict

PRIME = 2**521 - 1
SHARE_FORMAT = "guichet-escrow-share/1"


def split(secret: bytes, shares: int, threshold: int) -> list[tuple[int, int]]:
    if not 2 <= threshold <= shares <= 255:
        raise BadInput("--threshold and --shares: need 2 ≤ threshold ≤ shares ≤ 255")
    s = int.from_bytes(secret, "big")
    coeffs = [s] + [secrets.randbelow(PRIME) for _ in range(threshold - 1)]
    points = []
    for x in range(1, shares + 1):
        y = 0
        for c in reversed(coeffs):  # Horner
            y = (y * x + c) % PRIME
        points.append((x, y))
    return points


def combine(points: list[tuple[int, int]], length: int = 32) -> bytes:
    xs = [x for x, _ in points]
    if len(set(xs)) != len(xs):
        raise BadInput("--share: the same share was given twice")
    secret = 0
    for i, (xi, yi) in enumerate(points):
        num, den = 1, 1
        for j, (xj, _) in enumerate(points):
            if i != j:
                num = (num * -xj) % PRIME
                den = (den * (xi - xj)) % PRIME
        secret = (secret + yi * num * pow(den, -1, PRIME)) % PRIME
    if secret >= 1 << (8 * length):
        raise BadInput("--share: these shares do not combine into a master secret (wrong or mixed shares)")
    return secret.to_bytes(length, "big")


def check_value(master: bytes) -> str:
    return hmac.new(master, b"guichet/escrow-check", "sha256").hexdigest()[:32]


def _tag(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class EscrowResult:
    escrow_id: str
    files: list[Path]
    threshold: int

    def to_dict(self) -> dict[str, Any]:
        return {"escrow_id": self.escrow_id, "shares": [str(p) for p in self.files], "threshold": self.threshold}


def write_shares(home: CustodianHome, out: Path, shares: int, threshold: int) -> EscrowResult:
    home.check()
    if out.exists() and any(out.iterdir()):
        raise Conflict(f"--out {out}: folder is not empty")
    master = home.master()
    state = home.state()
    if state.get("rotation") is not None:
        raise Conflict("custodian: a rotation is in progress; escrow after it completes")
    points = split(master, shares, threshold)
    escrow_id = "esc-" + secrets.token_hex(6)
    make_folder(out)
    files = []
    for x, y in points:
        body = {"format": SHARE_FORMAT, "escrow_id": escrow_id, "index": x, "shares": shares,
                "threshold": threshold, "y": format(y, "x"), "check": check_value(master), "created_at": now_iso(),
                "state": {"hub_generation": state["hub_generation"], "domains": state.get("domains", [])}}
        path = out / f"share-{x}.json"
        write_private_file(path, json.dumps({**body, "tag": _tag(body)}, indent=2) + "\n")
        files.append(path)
    with home.lock():
        state = home.state()
        state["escrow"] = {"escrow_id": escrow_id, "at": now_iso(), "shares": shares, "threshold": threshold,
                           "hub_generation": state["hub_generation"]}
        home.save_state(state)
    return EscrowResult(escrow_id, files, threshold)


def read_share(path: Path) -> dict[str, Any]:
    what = f"--share {path}"
    if not path.is_file():
        raise BadInput(f"{what}: not found")
    check_private_file(path, "--share")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tag = data.pop("tag")
        if data.get("format") != SHARE_FORMAT:
            raise ValueError
        int(data["y"], 16), int(data["index"]), int(data["threshold"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BadInput(f"{what}: not a Guichet escrow share") from None
    if not hmac.compare_digest(str(tag), _tag(data)):
        raise BadInput(f"{what}: integrity tag does not match (damaged or edited)")
    return data


def recover(share_paths: list[Path], target: Path) -> dict[str, Any]:
    """Rebuild a custodian home from ``threshold`` shares into an empty (or new) folder."""
    if target.exists() and any(target.iterdir()):
        raise Conflict(f"--custodian-home {target}: folder is not empty")
    shares = [read_share(p) for p in share_paths]
    if not shares:
        raise BadInput("--share: give at least the threshold number of shares")
    first = shares[0]
    if any(s["escrow_id"] != first["escrow_id"] for s in shares):
        raise BadInput("--share: the shares come from different escrows")
    if len(shares) < int(first["threshold"]):
        raise BadInput(f"--share: {len(shares)} given, this escrow needs {first['threshold']}")
    master = combine([(int(s["index"]), int(s["y"], 16)) for s in shares])
    if not hmac.compare_digest(check_value(master), str(first["check"])):
        raise BadInput("--share: these shares do not rebuild the escrowed master secret")
    created = not target.exists()
    try:
        CustodianHome(target).init(master=master, state={
            "hub_generation": int(first["state"]["hub_generation"]),
            "domains": list(first["state"]["domains"]),
            "recovered_from": first["escrow_id"],
        })
    except BaseException:
        if created:
            import shutil

            shutil.rmtree(target, ignore_errors=True)
        raise
    return {"custodian_home": str(target.absolute()), "escrow_id": first["escrow_id"],
            "hub_generation": int(first["state"]["hub_generation"])}
