"""Run the test suite tier by tier; say which tiers are skipped and why; print each tier's time and the ten
slowest tests.

``make test`` calls this. With GUICHET_REQUIRE_ALL=1 (CI) a tier whose prerequisites are missing fails
the run instead of being skipped. The last line is 'N passed, N failed, N skipped'.

Each tier runs on several processes (pytest-xdist, ``--dist loadfile``: a module's tests stay together in
one process, so module-scoped fixtures are built once). GUICHET_TEST_WORKERS sets how many (default: one per
core, at most 4; 0 runs in this process). Tests that share a resource must not assume they run alone:
PostgreSQL databases are per test (``pg_url``), files under ``tmp_path``, ports chosen free.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("GUICHET_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TIERS = ("unit", "spec", "property", "store", "integration", "security", "e2e", "spark")
SLOWEST = 10


def _workers() -> int:
    if importlib.util.find_spec("xdist") is None:
        return 0  # pytest-xdist (the dev extra) not installed: one process per tier
    wanted = os.environ.get("GUICHET_TEST_WORKERS", "").strip()
    if wanted:
        return max(0, int(wanted))
    return min(os.cpu_count() or 1, 4)


def _pg_missing() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_URL.split('@')[-1]} ({type(exc).__name__})"


def _chromium_missing() -> str | None:
    if not Path("/usr/bin/chromium").exists():
        return "Chromium not found at /usr/bin/chromium (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright (Python) not installed"
    if not (REPO / "node_modules" / "axe-core" / "axe.min.js").exists():
        return "axe-core not installed (npm ci)"
    return None


def _java_missing() -> str | None:
    if shutil.which("java") is None:
        return "Java not found"
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark not installed (pip install -e '.[spark]')"
    return None


PREREQUISITES = {"store": _pg_missing, "e2e": _chromium_missing, "spark": _java_missing}


def _children_cpu() -> float:
    """User and system CPU seconds of the finished child processes (and theirs, when waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _modules(tier: str) -> int:
    return sum(1 for _ in (REPO / "tests" / tier).rglob("test_*.py"))


def _has_tests(tier: str) -> bool:
    return _modules(tier) > 0


def _durations(tier: str, xml_path: Path) -> list[tuple[float, str]]:
    """(seconds, test) of each test of a tier's junit file: set-up, call and tear-down together."""
    if not xml_path.exists():
        return []
    root = ET.parse(xml_path).getroot()  # noqa: S314 - our own pytest junit file
    out = []
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name', '')}"
        out.append((float(case.get("time", 0) or 0), f"{tier:<12} {name}"))
    return out


def _skip_reasons(xml_path: Path) -> list[str]:
    """The reason of each test the tier skipped (one entry per test)."""
    if not xml_path.exists():
        return []
    root = ET.parse(xml_path).getroot()  # noqa: S314 - our own pytest junit file
    return [(s.get("message") or "no reason given").removeprefix("Skipped: ") for s in root.iter("skipped")]


def _counts(xml_path: Path) -> tuple[int, int, int]:
    if not xml_path.exists():
        return 0, 0, 0
    root = ET.parse(xml_path).getroot()  # noqa: S314 - our own pytest junit file
    suites = [root] if root.tag == "testsuite" else list(root)
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return total - failed - skipped, failed, skipped


def main(argv: list[str]) -> int:
    require_all = os.environ.get("GUICHET_REQUIRE_ALL") == "1"
    wanted = argv or list(TIERS)
    out = REPO / "build" / "test-results"
    out.mkdir(parents=True, exist_ok=True)
    summary: list[tuple[str, str, float, float]] = []
    timings: list[tuple[float, str]] = []
    reasons: dict[tuple[str, str], int] = {}
    workers = _workers()
    passed = failed = skipped = 0
    bad = False
    for tier in wanted:
        if not _has_tests(tier):
            summary.append((tier, "no tests yet", 0.0, 0.0))
            continue
        extra: list[str] = []
        missing = PREREQUISITES.get(tier, lambda: None)()
        if missing:
            print(f"skip: tier {tier} — {missing}", flush=True)
            if require_all:
                print(f"FAIL: GUICHET_REQUIRE_ALL=1 and tier {tier} cannot run", flush=True)
                bad = True
            if tier != "store":
                summary.append((tier, "skipped: " + missing, 0.0, 0.0))
                continue
            extra = ["-k", "not postgresql"]  # the SQLite half of the store tier still runs
        xml = out / f"{tier}.xml"
        xml.unlink(missing_ok=True)
        print(f"== tier {tier}", flush=True)
        start, cpu_start = time.monotonic(), _children_cpu()
        n = min(workers, _modules(tier))  # loadfile: never more processes than modules
        parallel = ["-n", str(n), "--dist", "loadfile"] if n > 1 else ["-p", "no:xdist"]
        cmd = [sys.executable, "-m", "pytest", f"tests/{tier}", "-q", "-p", "no:cacheprovider",
               f"--junitxml={xml}", *parallel, *extra]
        code = subprocess.call(cmd, cwd=REPO)
        elapsed, cpu = time.monotonic() - start, _children_cpu() - cpu_start
        timings += _durations(tier, xml)
        for reason in _skip_reasons(xml):
            reasons[(tier, reason)] = reasons.get((tier, reason), 0) + 1
        p, f, s = _counts(xml)
        passed, failed, skipped = passed + p, failed + f, skipped + s
        if code not in (0, 5):
            bad = True
        summary.append((tier, f"{p} passed, {f} failed, {s} skipped (exit {code})", elapsed, cpu))
    if reasons:
        print("\nTests skipped, and why:")
        for (tier, reason), count in sorted(reasons.items()):
            print(f"  {tier:<12} {count:4d}  {reason}")
    if timings:
        print(f"\nThe {SLOWEST} slowest tests (set-up, call and tear-down):")
        for seconds, name in sorted(timings, reverse=True)[:SLOWEST]:
            print(f"  {seconds:7.1f}s  {name}")
    # wall-clock time, and the CPU time of the tier's processes (less sensitive to a busy machine's load)
    print(f"\nTier times, wall and CPU ({workers} workers per tier):" if workers > 1 else "\nTier times, wall and CPU:")
    for tier, what, elapsed, cpu in summary:
        print(f"  {tier:<12} {elapsed:7.1f}s {cpu:7.1f}s  {what}")
    print(f"  {'total':<12} {sum(s[2] for s in summary):7.1f}s {sum(s[3] for s in summary):7.1f}s")
    print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if bad or failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
