"""Verify an audit export bundle without the hub: ``python verify_bundle.py DIR [--public-key KEY]``.

This file is copied as it is into every bundle (``guichet audit export``), so it imports nothing from
Guichet: the Python standard library and ``cryptography`` (for Ed25519) only. A bundle holds::

    events.jsonl          the period's events, as in the hub's mirror (fields, prev_hash, hash)
    links.jsonl           seq, prev_hash and hash of the later events, up to the latest checkpoint
    checkpoints.jsonl     checkpoints signed by the custodian's audit key (seq, head, at, key_id, signature)
    audit-public-key.txt  the audit public key (base64 raw Ed25519); compare it with the one the hub publishes

It checks every event's hash and link, that the links continue the chain, every checkpoint's signature,
that the chain holds each checkpoint's head at its count and reaches the latest checkpoint. Events after
the latest checkpoint verify as a chain but nothing signed covers them yet: they are counted as
``unanchored`` (run ``guichet audit checkpoint`` before exporting to cover them all). Exit 0 when the bundle verifies, 1 (with
the first bad line named) when not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "guichet-audit-checkpoint/1"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _signature_ok(cp: dict[str, Any], public_key: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(public_key, validate=True)
        if cp["key_id"] != hashlib.sha256(raw).hexdigest()[:16]:
            return False
        body = {"format": CHECKPOINT_FORMAT, "seq": int(cp["seq"]), "head": cp["head"], "at": cp["at"],
                "key_id": cp["key_id"]}
        Ed25519PublicKey.from_public_bytes(raw).verify(
            base64.b64decode(cp["signature"], validate=True),
            json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    except (InvalidSignature, ValueError, TypeError, KeyError):
        return False
    return True


def verify_bundle(folder: Path, public_key: str | None = None) -> dict[str, Any]:
    """The bundle's report: ``ok``, counts, and ``first_bad`` (file, line, seq, problem) when not ok."""
    report: dict[str, Any] = {"ok": False, "events": 0, "links": 0, "checkpoints": 0, "anchored": False,
                              "unanchored": 0, "first_bad": None}

    def bad(file: str, line: int | None, seq: int | None, problem: str) -> dict[str, Any]:
        report["first_bad"] = {"file": file, "line": line, "seq": seq, "problem": problem}
        return report

    key_path = folder / "audit-public-key.txt"
    if not key_path.exists():
        return bad("audit-public-key.txt", None, None, "missing")
    key = key_path.read_text(encoding="ascii").strip()
    if public_key is not None and public_key.strip() != key:
        return bad("audit-public-key.txt", None, None, "not the audit public key given to check against")
    hashes: dict[int, str] = {}
    prev: str | None = None
    expected: int | None = None
    try:
        events = _lines(folder / "events.jsonl")
        links = _lines(folder / "links.jsonl")
        checkpoints = _lines(folder / "checkpoints.jsonl")
    except ValueError:
        return bad("bundle", None, None, "a line is not JSON: file altered")
    for lineno, obj in enumerate(events, start=1):
        try:
            fields = dict(obj)
            stored_prev, stored_hash, seq = fields.pop("prev_hash"), fields.pop("hash"), int(fields["seq"])
        except (KeyError, TypeError, ValueError):
            return bad("events.jsonl", lineno, None, "line is not an audit event: file altered")
        if expected is not None and seq != expected:
            return bad("events.jsonl", lineno, seq, f"expected event {expected}: events deleted, inserted or reordered")
        if expected is None and seq == 1 and stored_prev != GENESIS:
            return bad("events.jsonl", lineno, seq, "the first event does not start the chain")
        if prev is not None and stored_prev != prev:
            return bad("events.jsonl", lineno, seq, "previous-hash link broken: events deleted, inserted or reordered")
        digest = hashlib.sha256((stored_prev + "\n" + _canonical(fields)).encode("utf-8")).hexdigest()
        if digest != stored_hash:
            return bad("events.jsonl", lineno, seq, "content does not match its hash: event modified")
        hashes[seq], prev, expected = stored_hash, stored_hash, seq + 1
        report["events"] += 1
    for lineno, obj in enumerate(links, start=1):
        try:
            seq, stored_prev, stored_hash = int(obj["seq"]), str(obj["prev_hash"]), str(obj["hash"])
        except (KeyError, TypeError, ValueError):
            return bad("links.jsonl", lineno, None, "line is not a link: file altered")
        if (expected is not None and seq != expected) or (prev is not None and stored_prev != prev):
            return bad("links.jsonl", lineno, seq, "does not continue the chain: file altered")
        hashes[seq], prev, expected = stored_hash, stored_hash, seq + 1
        report["links"] += 1
    last = max(hashes) if hashes else 0
    top = 0
    for lineno, cp in enumerate(checkpoints, start=1):
        if not _signature_ok(cp, key):
            return bad("checkpoints.jsonl", lineno, cp.get("seq"), "signature does not verify with the audit key: "
                                                                  "forged or altered checkpoint")
        seq = int(cp["seq"])
        if seq in hashes and hashes[seq] != cp["head"]:
            return bad("checkpoints.jsonl", lineno, seq, "the chain does not hold the head this checkpoint signed")
        top = max(top, seq)
        report["checkpoints"] += 1
    if hashes and top > last:
        return bad("events.jsonl", None, last + 1, f"the bundle stops at event {last} but a checkpoint signed "
                                                  f"{top} events: its tail was cut")
    report["anchored"] = bool(hashes) and top >= min(hashes)
    report["unanchored"] = last - top if hashes and top < last else 0
    report["ok"] = True
    return report


def main(argv: list[str]) -> int:
    args = list(argv)
    key = None
    if "--public-key" in args:
        i = args.index("--public-key")
        key = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print("usage: verify_bundle.py DIR [--public-key KEY]", file=sys.stderr)
        return 2
    report = verify_bundle(Path(args[0]), key)
    if report["ok"]:
        tail = f"; the last {report['unanchored']} after the latest checkpoint" if report["unanchored"] else ""
        print(f"OK: {report['events']} events, {report['links']} later links, {report['checkpoints']} checkpoints{tail}")
        return 0
    b = report["first_bad"]
    print(f"BROKEN: {b['file']}" + (f" line {b['line']}" if b["line"] else "")
          + (f", event {b['seq']}" if b["seq"] is not None else "") + f": {b['problem']}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
