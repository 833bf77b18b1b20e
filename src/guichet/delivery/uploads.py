"""The producers' upload channel, below the services: limits, chunk files, assembly, unpacking, requests.

An upload lives in ``HOME/uploads/<id>/`` (0700): one file per received chunk (``chunks/<n>``), so chunks may
arrive in any order, be sent again (idempotent) and be resumed after a cut; nothing is assembled before the
producer submits. Submitting checks that every chunk is there (else nothing happens and nothing is lost),
assembles them while computing the SHA-256, compares it with the one declared when the upload was opened,
then unpacks (a delivery archive) and builds the deposit request. The folder is removed after the deposit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.delivery.tables import Upload
from guichet.deposit.manifest import read_manifest, year_of
from guichet.deposit.model import DepositRequest, TableRequest
from guichet.deposit.rules import IdentifierRole
from guichet.errors import BadInput, Hidden, NotFound, Refused
from guichet.governance import Actor
from guichet.hub import Hub
from guichet.lake.producers import producers_of
from guichet.lake.tables import DatasetVersion, SchemaVersion

UPLOADS = "uploads"
KINDS = ("archive", "file")
MODES = ("replace", "append")
DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB per delivery file
DEFAULT_CHUNK_BYTES = 8 * 1024**2  # 8 MiB: small enough to resend cheaply, large enough to be few requests
MAX_CHUNK_BYTES = 64 * 1024**2
DEFAULT_OPEN_LIMIT = 10  # open uploads per producer
MAX_ARCHIVE_MEMBERS = 1000
SHA256 = re.compile(r"^[0-9a-f]{64}$")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}:(psa|ano|quasi)(:(level1|clear|hub))?$")


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    chunk_bytes: int
    open_uploads: int

    @classmethod
    def of(cls, hub: Hub) -> Limits:
        p = hub.config.properties
        chunk = min(int(p.get("delivery_chunk_bytes") or DEFAULT_CHUNK_BYTES), MAX_CHUNK_BYTES)
        return cls(int(p.get("delivery_max_bytes") or DEFAULT_MAX_BYTES), max(chunk, 1024),
                   int(p.get("delivery_open_limit") or DEFAULT_OPEN_LIMIT))


@dataclass(frozen=True)
class UploadRequest:
    """What a producer declares when opening an upload."""

    filename: str
    size: int
    sha256: str
    kind: str | None = None  # archive (a .zip of a delivery folder with its manifest.toml) | file (one CSV)
    dataset: str | None = None  # a file: the dataset it goes to
    mode: str = "replace"
    identifiers: tuple[str, ...] = ()  # a file: COLUMN:psa|ano|quasi[:state], else those of the last version
    delimiter: str | None = None
    producer: str | None = None  # needed only when the account acts for several producers

    def checked(self, limits: Limits) -> UploadRequest:
        name = self.filename.strip()
        if not SAFE_NAME.match(name):
            raise BadInput("filename: letters, digits, '.', '_' or '-' only (at most 200), no folder")
        kind = self.kind or ("archive" if name.lower().endswith(".zip") else "file")
        if kind not in KINDS:
            raise BadInput("kind: archive or file")
        if self.size < 1:
            raise BadInput("size: the file is empty")
        if self.size > limits.max_bytes:
            raise BadInput(f"size: {self.size} bytes is over this hub's limit of {limits.max_bytes} bytes per delivery")
        sha = self.sha256.strip().lower()
        if not SHA256.match(sha):
            raise BadInput("sha256: 64 hexadecimal characters (the SHA-256 of the whole file)")
        if self.mode not in MODES:
            raise BadInput("mode: replace or append")
        if kind == "file" and not self.dataset:
            raise BadInput("dataset: a single file needs the dataset it goes to (or send a .zip delivery)")
        if kind == "archive" and (self.dataset or self.identifiers):
            raise BadInput("dataset, identifiers: a delivery archive names them in its manifest.toml")
        for ident in self.identifiers:
            if not IDENTIFIER.match(ident):
                raise BadInput("identifiers: COLUMN:psa|ano|quasi[:level1|clear|hub]")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise BadInput("delimiter: one character")
        return replace(self, filename=name, kind=kind, sha256=sha)


def chunk_count(size: int, chunk: int) -> int:
    return max(1, -(-size // chunk))


def chunk_length(size: int, chunk: int, n: int) -> int:
    """The exact length chunk ``n`` must have (the last one may be shorter)."""
    return min(chunk, size - n * chunk)


def upload_dir(hub: Hub, upload_id: str) -> Path:
    if not re.fullmatch(r"dl[0-9a-f]{16}", upload_id):
        raise NotFound(f"delivery {upload_id}: no such delivery")
    return hub.home / UPLOADS / upload_id


def make_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def received_chunks(folder: Path) -> dict[int, int]:
    """{chunk number: bytes} of the chunk files on disk (a half-written ``.part`` is not a chunk)."""
    chunks = folder / "chunks"
    if not chunks.is_dir():
        return {}
    return {int(p.name): p.stat().st_size for p in chunks.iterdir() if p.name.isdigit()}


def write_chunk(folder: Path, n: int, data: bytes) -> None:
    """Write one chunk atomically (temporary file, fsync, rename): a cut connection leaves no partial chunk."""
    chunks = folder / "chunks"
    make_dir(chunks)
    tmp = chunks / f"{n}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, chunks / str(n))


def missing(upload: Upload, on_disk: dict[int, int]) -> list[int]:
    total = chunk_count(upload.size, upload.chunk_size)
    return [n for n in range(total) if on_disk.get(n) != chunk_length(upload.size, upload.chunk_size, n)]


def assemble(folder: Path, upload: Upload) -> tuple[Path, str]:
    """Concatenate the chunks in order into the delivered file; (its path, its SHA-256)."""
    target = folder / "received" / upload.filename
    make_dir(target.parent)
    digest = hashlib.sha256()
    with open(target, "wb") as out:
        for n in range(chunk_count(upload.size, upload.chunk_size)):
            with open(folder / "chunks" / str(n), "rb") as part:
                while block := part.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    return target, digest.hexdigest()


def unpack(archive: Path, into: Path, max_bytes: int) -> Path:
    """Extract a delivery .zip safely (no absolute path, no '..', no link, bounded size); the folder holding
    ``manifest.toml`` (the archive's root, or its single top folder)."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise BadInput(f"{archive.name}: not a readable .zip archive") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise BadInput(f"{archive.name}: more than {MAX_ARCHIVE_MEMBERS} files")
        if sum(m.file_size for m in members) > max_bytes:
            raise BadInput(f"{archive.name}: its content is over this hub's limit of {max_bytes} bytes")
        for m in members:
            path = PurePosixPath(m.filename)
            if path.is_absolute() or ".." in path.parts or "\\" in m.filename:
                raise BadInput(f"{archive.name}: member {m.filename} points outside the archive")
            if stat.S_ISLNK(m.external_attr >> 16):
                raise BadInput(f"{archive.name}: member {m.filename} is a link")
        make_dir(into)
        for m in members:
            if m.is_dir():
                continue
            target = into.joinpath(*PurePosixPath(m.filename).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    if (into / "manifest.toml").is_file():
        return into
    tops = [p for p in into.iterdir() if p.is_dir() and (p / "manifest.toml").is_file()]
    if len(tops) != 1:
        raise BadInput(f"{archive.name}: no manifest.toml at its root (a delivery folder, zipped)")
    return tops[0]


def archive_request(folder: Path, producer: str, mode: str) -> DepositRequest:
    _domain, tables = read_manifest(folder, folder / "manifest.toml")
    for t in tables:
        if t.producer and t.producer != producer:
            raise Refused(f"manifest.toml: table {t.name} is for producer {t.producer}, not {producer}")
    return DepositRequest(tuple(replace(t, producer=producer) for t in tables), mode=mode, delivery=True)


def _roles(values: list[str] | tuple[str, ...]) -> tuple[IdentifierRole, ...]:
    roles = []
    for v in values:
        column, kind, *state = v.split(":")
        roles.append(IdentifierRole(column, kind, None if kind == "quasi" else (state[0] if state else "level1")))
    return tuple(roles)


def file_request(session: Session, file: Path, folder: Path, upload: Upload) -> DepositRequest:
    """One CSV: the dataset's registered schema (from its earlier deposits) and identifier roles."""

    dataset = upload.dataset
    schema = session.execute(select(SchemaVersion).where(SchemaVersion.dataset == dataset)
                             .order_by(SchemaVersion.version.desc()).limit(1)).scalar_one_or_none()
    if schema is None:
        raise BadInput(f"dataset {dataset}: no schema registered yet; send a .zip delivery with its manifest.toml "
                       "and Table Schema")
    schema_path = folder / "schema.json"
    schema_path.write_text(schema.body, encoding="utf-8")
    opts = dict(upload.options or {})
    idents = list(opts.get("identifiers") or [])
    if not idents:
        last = session.execute(select(DatasetVersion).where(DatasetVersion.dataset == dataset)
                               .order_by(DatasetVersion.version.desc()).limit(1)).scalar_one_or_none()
        known = ((last.lineage or {}).get("identifiers") or {}) if last is not None else {}
        idents = [f"{c}:{r['kind']}" + (f":{r['state']}" if r.get("state") else "") for c, r in known.items()]
    table = TableRequest(dataset, dataset, file, schema_path, upload.producer, _roles(idents),
                         delimiter=opts.get("delimiter"), expected_sha256=upload.sha256, label=upload.filename,
                         year=year_of("upload", Path(upload.filename).stem, dataset, None))
    return DepositRequest((table,), mode=str(opts.get("mode") or "replace"))


def own_producer(session: Session, actor: Actor, wanted: str | None) -> str:
    """The producer an account uploads for: its organisation's (the one named, when it has several)."""

    mine = producers_of(session, actor)
    if wanted:
        if wanted not in mine:
            raise Refused(f"delivery.open: {actor.username} does not act for producer {wanted}")
        return wanted
    if not mine:
        raise Refused(f"delivery.open: {actor.username}'s organisation is not a registered producer")
    if len(mine) > 1:
        raise BadInput(f"producer: {actor.username} acts for {', '.join(sorted(mine))}; name one")
    return next(iter(mine))


def visible(session: Session, actor: Actor, upload: Upload) -> bool:
    return bool(actor.roles & {"operator", "system"}) or upload.producer in producers_of(session, actor)


def get_upload(session: Session, actor: Actor, upload_id: str) -> Upload:
    """The upload, if the account may see it (a producer: only its own; others get 'no such delivery')."""
    row = session.get(Upload, upload_id)
    if row is None:
        raise NotFound(f"delivery {upload_id}: no such delivery")
    if not visible(session, actor, row):
        raise Hidden(f"delivery {upload_id}: no such delivery",
                     f"{actor.username} is not of the producer of the delivery")
    return row


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
