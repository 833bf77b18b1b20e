"""Spark reads the encrypted Parquet files PyArrow wrote (uniform mode, one data key per file).

Parquet-mr finds a file's keys through a ``DecryptionPropertiesFactory`` named in
``parquet.crypto.factory.class``. Guichet ships a ten-line one (``GuichetDecryptionFactory.java``, beside
this module), compiled at first use with ``javac`` against the jars inside the PySpark wheel and cached as a
jar in a folder the caller chooses (never the source tree). The jar goes on the driver's class path when
the JVM starts, which is why the session must be created here, before any other Spark session of the
process.

How the key travels (the trade-off, see ``docs/custodian.md``): each key is written as raw bytes to a 0600
file named by its key id, in a 0700 folder on ``/dev/shm`` (RAM, never a disk) that is overwritten and
removed when the session stops. A read names only the folder and the key id, as Hadoop properties scoped to
that one read (``guichet.parquet.key.dir``, ``guichet.parquet.key.id``); the factory reads the file. So the
key is never in Spark's configuration, its UI, its event log, a query plan, a recorded statement or an
error; it exists in the JVM's memory and, for the session's lifetime, in that RAM file readable only by the
process's user (who could read the process's memory anyway). In local mode the executors share the
driver's JVM and file system; a cluster needs a key service (a KMS client) instead — not done here.

``import guichet`` never imports PySpark; this module imports it only when a session is made::

    with spark_session_for_encrypted({dk.key_id: key}, cache_dir=cache) as es:
        df = es.read_parquet(path, key_id=dk.key_id)
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from guichet.errors import BadInput, Unavailable

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

FACTORY_CLASS = "guichet.spark.GuichetDecryptionFactory"
FACTORY_PROPERTY = "parquet.crypto.factory.class"
KEY_DIR_PROPERTY = "guichet.parquet.key.dir"
KEY_ID_PROPERTY = "guichet.parquet.key.id"
SOURCE = Path(__file__).with_name("GuichetDecryptionFactory.java")
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_COMPILE_JARS = ("hadoop-client-api-*.jar", "parquet-hadoop-*.jar", "parquet-column-*.jar", "parquet-common-*.jar")
_SHM = Path("/dev/shm")  # noqa: S108 - a RAM-backed tmpfs: key files never reach a disk


def default_cache_dir() -> Path:
    """Where the CLI keeps the compiled factory when it is given no folder: ``~/.cache/guichet/spark``."""
    return Path.home() / ".cache" / "guichet" / "spark"


def pyspark_jars() -> Path:
    """The ``jars`` folder of the installed PySpark wheel (found without importing PySpark)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("spark: PySpark is not installed (pip install 'guichet[spark]')")
    jars = Path(next(iter(spec.submodule_search_locations))) / "jars"
    if not jars.is_dir():
        raise Unavailable(f"spark: no jars folder in the PySpark install ({jars})")
    return jars


def _compile_classpath(jars: Path) -> str:
    chosen = [p for pattern in _COMPILE_JARS for p in sorted(jars.glob(pattern))]
    # The four jars that hold the factory's types compile in seconds; fall back to all of them otherwise.
    return os.pathsep.join(map(str, chosen)) if len(chosen) == len(_COMPILE_JARS) else str(jars / "*")


def factory_jar(cache_dir: Path, *, javac: str = "javac") -> Path:
    """The decryption factory as a jar in ``cache_dir``, compiled now if this source and PySpark are new.

    The jar's name carries a digest of the Java source and of the PySpark jars' names, so an upgrade of
    either compiles again; the jar is written beside its final name and renamed (safe with concurrent
    first uses).
    """
    jars = pyspark_jars()
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + "\n".join(sorted(p.name for p in jars.glob("*.jar"))).encode()).hexdigest()[:16]
    cache_dir = Path(cache_dir)
    target = cache_dir / f"guichet-spark-{digest}.jar"
    if target.is_file():
        return target
    compiler = shutil.which(javac)
    if compiler is None:
        raise Unavailable("spark: javac not found (a JDK 17 is needed to build the decryption factory)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as tmp:
        classes = Path(tmp) / "classes"
        proc = subprocess.run([compiler, "--release", "17", "-nowarn", "-cp", _compile_classpath(jars),
                               "-d", str(classes), str(SOURCE)], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["no message"])[0]
            raise Unavailable(f"spark: javac could not compile {SOURCE.name}: {first}")
        built = Path(tmp) / "factory.jar"
        with zipfile.ZipFile(built, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: guichet\r\n\r\n")
            for cls in sorted(classes.rglob("*.class")):
                zf.write(cls, cls.relative_to(classes).as_posix())
        os.replace(built, target)
    return target


class KeyFolder:
    """A private folder of key files for the decryption factory: 0700, one 0600 file per key id, on
    ``/dev/shm`` when there is one; ``close`` overwrites every file with zeros and removes the folder."""

    def __init__(self, base: Path | None = None) -> None:
        if base is None:
            base = _SHM if _SHM.is_dir() and os.access(_SHM, os.W_OK) else Path(tempfile.gettempdir())
        self.path = Path(tempfile.mkdtemp(prefix=f"guichet-keys-{os.getpid()}-", dir=base))  # mode 0700
        os.chmod(self.path, 0o700)

    def put(self, key_id: str, key: bytes) -> None:
        if not KEY_ID_RE.match(key_id):
            raise BadInput(f"spark: key id {key_id!r} must match {KEY_ID_RE.pattern}")
        if not isinstance(key, bytes | bytearray) or len(key) not in (16, 24, 32):
            raise BadInput(f"spark: key {key_id}: must be 16, 24 or 32 bytes")
        path = self.path / f"{key_id}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, bytes(key))
        finally:
            os.close(fd)

    def has(self, key_id: str) -> bool:
        return bool(KEY_ID_RE.match(key_id)) and (self.path / f"{key_id}.key").is_file()

    def discard(self, key_id: str) -> None:
        path = self.path / f"{key_id}.key"
        if KEY_ID_RE.match(key_id) and path.is_file():
            _shred(path)

    def close(self) -> None:
        if self.path.is_dir():
            for path in self.path.glob("*.key"):
                _shred(path)
            shutil.rmtree(self.path, ignore_errors=True)


def _shred(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.write(b"\x00" * size)
    path.unlink()


class EncryptedSpark:
    """A Spark session that reads Guichet's encrypted Parquet files; use as a context manager."""

    def __init__(self, spark: SparkSession, keys: KeyFolder) -> None:
        self.spark = spark
        self.keys = keys

    def __enter__(self) -> EncryptedSpark:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def add_key(self, key_id: str, key: bytes) -> None:
        self.keys.put(key_id, key)

    def forget_key(self, key_id: str) -> None:
        self.keys.discard(key_id)

    def options(self, key_id: str) -> dict[str, str]:
        """The Hadoop properties of one read (none is secret: a folder, a key id, a class name)."""
        if not self.keys.has(key_id):
            raise BadInput(f"spark: no key {key_id} was given to this session")
        return {FACTORY_PROPERTY: FACTORY_CLASS, KEY_DIR_PROPERTY: str(self.keys.path), KEY_ID_PROPERTY: key_id}

    def read_parquet(self, *paths: Path | str, key_id: str) -> DataFrame:
        """A DataFrame over encrypted files that share one data key; a wrong or missing key is refused
        with one line naming the key id (Spark reads footers here, so the refusal is immediate)."""
        reader = self.spark.read.options(**self.options(key_id))
        try:
            return reader.parquet(*[str(p) for p in paths])
        except Exception as exc:  # Py4J errors carry Java stack traces; name the rule only
            if _is_crypto_error(exc):
                raise BadInput(f"spark: {len(paths)} file(s) cannot be decrypted with key {key_id}") from None
            raise

    def stop(self) -> None:
        try:
            self.spark.stop()
        finally:
            self.keys.close()


def _is_crypto_error(exc: BaseException) -> bool:
    text = str(exc)
    return any(marker in text for marker in ("ParquetCryptoRuntimeException", "AEADBadTagException",
                                             "GCM", "CANNOT_READ_FILE_FOOTER", "guichet:"))


def session_config(jar: Path, *, master: str = "local[1]", memory: str = "512m",
                   extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The configuration of a small Spark session with the decryption factory on its class path."""
    conf = {
        "spark.master": master,
        "spark.app.name": "guichet",
        "spark.driver.memory": memory,
        "spark.driver.extraClassPath": str(jar),
        "spark.executor.extraClassPath": str(jar),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }
    conf.update(extra or {})
    return conf


def spark_session_for_encrypted(keys: Mapping[str, bytes], *, cache_dir: Path, master: str = "local[1]",
                                memory: str = "512m", key_folder_base: Path | None = None,
                                extra_conf: Mapping[str, str] | None = None,
                                log_level: str = "ERROR") -> EncryptedSpark:
    """Start a Spark session that reads encrypted Parquet with ``keys`` (key id → 32-byte data key).

    Must be the process's first Spark session (the factory's jar joins the class path when the JVM
    starts); a session already running with the same jar is reused.
    """
    jar = factory_jar(cache_dir)
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    running = SparkContext._active_spark_context  # the only way to ask without starting one
    if running is not None and str(jar) not in (running.getConf().get("spark.driver.extraClassPath") or ""):
        raise Unavailable("spark: a Spark session without Guichet's decryption factory is already running; stop it first")
    folder = KeyFolder(key_folder_base)
    atexit.register(folder.close)  # an interpreter that exits without stop() still shreds the key files
    try:
        for key_id, key in keys.items():
            folder.put(key_id, key)
        builder: Any = SparkSession.builder
        for name, value in session_config(jar, master=master, memory=memory, extra=extra_conf).items():
            builder = builder.config(name, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel(log_level)
    except BaseException:
        folder.close()
        raise
    return EncryptedSpark(spark, folder)


__all__ = [
    "FACTORY_CLASS",
    "KEY_DIR_PROPERTY",
    "KEY_ID_PROPERTY",
    "EncryptedSpark",
    "KeyFolder",
    "default_cache_dir",
    "factory_jar",
    "pyspark_jars",
    "session_config",
    "spark_session_for_encrypted",
]
