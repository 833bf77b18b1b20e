"""Spark (``local[1]``) reads the encrypted Parquet files PyArrow writes, through Guichet's decryption
factory compiled at first use; without the right key it is refused; the key never enters Spark's
configuration or plans. One Spark session for the whole module (starting one costs tens of seconds)."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from guichet.custodian.parquet import is_encrypted_parquet, write_encrypted_parquet
from guichet.custodian.spark import (
    FACTORY_CLASS,
    EncryptedSpark,
    KeyFolder,
    factory_jar,
    spark_session_for_encrypted,
)
from guichet.errors import BadInput

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))


def _table(n: int, offset: int = 0) -> pa.Table:
    return pa.table({
        "row": pa.array(range(offset, offset + n), pa.int64()),
        "person": pa.array([None if i % 7 == 3 else f"P{i:05d}é" for i in range(offset, offset + n)], pa.string()),
        "amount": pa.array([i * 1.25 for i in range(offset, offset + n)], pa.float64()),
        "visit": pa.array([date(2024, 1 + i % 12, 1 + i % 28) for i in range(offset, offset + n)], pa.date32()),
    })


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark-cache")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("lake")
    a, b = folder / "a.parquet", folder / "b.parquet"
    write_encrypted_parquet(_table(500), a, KEY_A)
    write_encrypted_parquet(_table(40, offset=1000), b, KEY_B)
    return {"a": a, "b": b}


@pytest.fixture(scope="module")
def es(cache_dir: Path) -> Iterator[EncryptedSpark]:
    session = spark_session_for_encrypted({"key-a": KEY_A, "key_b": KEY_B}, cache_dir=cache_dir, log_level="OFF")
    try:
        yield session
    finally:
        session.stop()


def _rows(df: object) -> list[dict[str, object]]:
    return [r.asDict() for r in df.orderBy("row").collect()]  # type: ignore[attr-defined]


def test_the_factory_is_compiled_once_into_the_cache(cache_dir: Path, es: EncryptedSpark) -> None:
    jar = factory_jar(cache_dir)
    assert jar.parent == cache_dir and jar.is_file()
    with zipfile.ZipFile(jar) as zf:
        assert FACTORY_CLASS.replace(".", "/") + ".class" in zf.namelist()
    mtime = jar.stat().st_mtime_ns
    assert factory_jar(cache_dir) == jar and jar.stat().st_mtime_ns == mtime  # a cache hit, not a rebuild
    assert not list(cache_dir.glob(".build-*"))


def test_spark_reads_what_pyarrow_encrypted(es: EncryptedSpark, files: dict[str, Path]) -> None:
    assert is_encrypted_parquet(files["a"])
    df = es.read_parquet(files["a"], key_id="key-a")
    assert _rows(df) == _table(500).to_pylist()
    assert [f.name for f in df.schema.fields] == ["row", "person", "amount", "visit"]
    assert df.filter("person IS NULL").count() == sum(1 for i in range(500) if i % 7 == 3)


def test_each_read_uses_its_own_key(es: EncryptedSpark, files: dict[str, Path]) -> None:
    a = es.read_parquet(files["a"], key_id="key-a")
    b = es.read_parquet(files["b"], key_id="key_b")
    assert _rows(b) == _table(40, offset=1000).to_pylist()
    assert a.count() == 500  # the first DataFrame still reads with its own key
    assert a.unionByName(b).count() == 540


def test_spark_refuses_without_the_key(es: EncryptedSpark, files: dict[str, Path]) -> None:
    with pytest.raises(Exception, match=r"(?i)encrypted footer|crypto") as plain:
        es.spark.read.parquet(str(files["a"])).collect()
    assert "key-a" not in str(plain.value)
    with pytest.raises(BadInput, match="no key key-z was given"):
        es.read_parquet(files["a"], key_id="key-z")


def test_spark_refuses_the_wrong_key(es: EncryptedSpark, files: dict[str, Path]) -> None:
    with pytest.raises(BadInput, match=r"^spark: 1 file\(s\) cannot be decrypted with key key_b$"):
        es.read_parquet(files["a"], key_id="key_b")


def test_a_forgotten_key_no_longer_reads(es: EncryptedSpark, files: dict[str, Path]) -> None:
    es.add_key("key-once", KEY_B)
    assert es.read_parquet(files["b"], key_id="key-once").count() == 40
    es.forget_key("key-once")
    with pytest.raises(BadInput):
        es.read_parquet(files["b"], key_id="key-once")


def test_the_key_never_enters_spark_configuration_or_plans(es: EncryptedSpark, files: dict[str, Path]) -> None:
    df = es.read_parquet(files["a"], key_id="key-a")
    df.count()
    forms = [KEY_A.hex(), base64.b64encode(KEY_A).decode(), KEY_A.hex().upper()]
    texts = [str(es.spark.sparkContext.getConf().getAll()),
             df._jdf.queryExecution().toString(),  # every plan, with the read's options
             es.spark.sparkContext._jsc.hadoopConfiguration().toString(),
             str(dict(es.spark.conf.getAll))]
    hadoop = es.spark.sparkContext._jsc.hadoopConfiguration().iterator()
    while hadoop.hasNext():
        entry = hadoop.next()
        texts.append(f"{entry.getKey()}={entry.getValue()}")
    for text in texts:
        for form in forms:
            assert form not in text


def test_key_files_are_private_and_shredded(tmp_path: Path) -> None:
    folder = KeyFolder(tmp_path)
    folder.put("k1", KEY_A)
    path = folder.path / "k1.key"
    assert stat.S_IMODE(folder.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == KEY_A
    with pytest.raises(BadInput, match="key id"):
        folder.put("../escape", KEY_A)
    with pytest.raises(BadInput, match="bytes"):
        folder.put("short", b"x" * 5)
    folder.close()
    assert not folder.path.exists()


def test_guichet_never_imports_pyspark() -> None:
    code = ("import sys, guichet, guichet.custodian, guichet.custodian.spark, guichet.cli.main; "
            "assert 'pyspark' not in sys.modules and 'py4j' not in sys.modules, 'pyspark imported'")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-500:]


def test_the_factory_can_be_built_ahead_of_first_use(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "guichet.custodian.spark", "--cache-dir", str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-500:]
    jar = Path(proc.stdout.strip())
    assert jar.parent == tmp_path / "c" and jar.is_file()
    with zipfile.ZipFile(jar) as zf:
        assert FACTORY_CLASS.replace(".", "/") + ".class" in zf.namelist()
