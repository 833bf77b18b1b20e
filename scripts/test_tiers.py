"""Run the test tiers; say which tiers are skipped and why; print each tier's counts and time, and the ten
slowest tests.

``make test`` calls this. With GUICHET_REQUIRE_ALL=1 (CI) a tier whose prerequisites are missing fails
the run instead of being skipped. The last line is 'N passed, N failed, N skipped'.

Every tier that can run goes into one pytest session on several processes (pytest-xdist, ``--dist loadfile``:
a module's tests stay together in one process, so module-scoped fixtures are built once), so that no core
waits for the end of a tier before the next one starts. The modules are handed out slowest first, by the time
each took in the last run (build/test-results/module-times.json, else the times recorded in
tests/module-times.json; a module in neither counts as its tier's average): the long modules start at once and
the short ones fill the cores at the end. GUICHET_TEST_WORKERS sets how many processes (default: one more than
the cores, at most 5; 0 runs in this process). Tests that share a resource must not assume they run alone: PostgreSQL
databases are per test (``pg_url``), files under ``tmp_path``, ports chosen free.

``python scripts/test_tiers.py --save-times`` copies the last full run's module times to tests/module-times.json
(commit it when modules were added or got much slower or faster).
"""

from __future__ import annotations

import importlib.util
import json
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
RESULTS = REPO / "build" / "test-results"
LAST_TIMES = RESULTS / "module-times.json"  # the last run's, written by every run
SAVED_TIMES = REPO / "tests" / "module-times.json"  # committed: what a fresh clone schedules by


def _workers() -> int:
    if importlib.util.find_spec("xdist") is None:
        return 0  # pytest-xdist (the dev extra) not installed: one process
    wanted = os.environ.get("GUICHET_TEST_WORKERS", "").strip()
    if wanted:
        return max(0, int(wanted))
    # one process more than the cores: a browser test waits on Chromium, a sandbox test on bubblewrap's children, a
    # store test on PostgreSQL; on 2 cores, two processes left a fifth of the machine idle (957 s CPU in 610 s)
    return min((os.cpu_count() or 1) + 1, 5)


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


def _modules(tier: str) -> list[str]:
    return sorted(p.relative_to(REPO).as_posix() for p in (REPO / "tests" / tier).rglob("test_*.py"))


def _tier_of(module: str) -> str:
    return module.split("/")[1]


def _read_times(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def schedule(modules: list[str]) -> list[str]:
    """The modules, slowest first by their last known time (the last run's, else the recorded ones); a module
    with no time counts as its tier's average (or, for a new tier, as the average of all)."""
    known = {**_read_times(SAVED_TIMES), **_read_times(LAST_TIMES)}
    by_tier: dict[str, list[float]] = {}
    for module, seconds in known.items():
        by_tier.setdefault(_tier_of(module), []).append(seconds)
    overall = sum(known.values()) / len(known) if known else 1.0

    def estimate(module: str) -> float:
        if module in known:
            return known[module]
        seen = by_tier.get(_tier_of(module))
        return sum(seen) / len(seen) if seen else overall

    return sorted(modules, key=lambda m: (-estimate(m), m))


def _module_of(classname: str) -> str:
    """tests.integration.test_x (or tests.unit.test_y.TestClass) → tests/integration/test_x.py."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end]) + ".py"
        if (REPO / candidate).is_file():
            return candidate
    return "/".join(parts) + ".py"


def _cases(xml_path: Path) -> list[dict[str, object]]:
    """Each test of the junit file: module, tier, name, seconds (set-up, call and tear-down), outcome, reason."""
    if not xml_path.exists():
        return []
    root = ET.parse(xml_path).getroot()  # noqa: S314 - our own pytest junit file
    out: list[dict[str, object]] = []
    for case in root.iter("testcase"):
        module = _module_of(case.get("classname", ""))
        outcome, reason = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped" and outcome != "failed":
                outcome = "skipped"
                reason = (child.get("message") or "no reason given").removeprefix("Skipped: ")
        out.append({"module": module, "tier": _tier_of(module), "name": f"{module}::{case.get('name', '')}",
                    "seconds": float(case.get("time", 0) or 0), "outcome": outcome, "reason": reason})
    return out


def _record_times(cases: list[dict[str, object]]) -> None:
    """The time of each module of this run, added to the last run's (a partial run keeps the others' times)."""
    times = _read_times(LAST_TIMES)
    fresh: dict[str, float] = {}
    for case in cases:
        module = str(case["module"])
        fresh[module] = fresh.get(module, 0.0) + float(case["seconds"])  # type: ignore[arg-type]
    times.update({m: round(s, 1) for m, s in fresh.items()})
    LAST_TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n", encoding="utf-8")


def save_times() -> int:
    times = _read_times(LAST_TIMES)
    if not times:
        print(f"no module times yet: run `make test` first ({LAST_TIMES.relative_to(REPO)})")
        return 2
    present = {m for tier in TIERS for m in _modules(tier)}
    kept = {m: s for m, s in sorted(times.items()) if m in present}
    SAVED_TIMES.write_text(json.dumps(kept, indent=1) + "\n", encoding="utf-8")
    print(f"{len(kept)} module times written to {SAVED_TIMES.relative_to(REPO)}")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--save-times"]:
        return save_times()
    unknown = [t for t in argv if t not in TIERS]
    if unknown:
        print(f"unknown tier {unknown[0]!r}: choose among {', '.join(TIERS)}")
        return 2
    require_all = os.environ.get("GUICHET_REQUIRE_ALL") == "1"
    wanted = [t for t in TIERS if t in argv] if argv else list(TIERS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    bad = False
    notes: dict[str, str] = {}
    modules: list[str] = []
    for tier in wanted:
        found = _modules(tier)
        if not found:
            notes[tier] = "no tests yet"
            continue
        missing = PREREQUISITES.get(tier, lambda: None)()
        if missing:
            print(f"skip: tier {tier} — {missing}", flush=True)
            if require_all:
                print(f"FAIL: GUICHET_REQUIRE_ALL=1 and tier {tier} cannot run", flush=True)
                bad = True
            if tier != "store":
                notes[tier] = "skipped: " + missing
                continue
            # the SQLite half of the store tier still runs; its PostgreSQL half skips (pg_url says why)
        modules += found
    if not modules:
        print("no tier to run")
        return 1 if bad else 0
    order = schedule(modules)
    order_file = RESULTS / "module-order.txt"
    order_file.write_text("\n".join(order) + "\n", encoding="utf-8")
    xml = RESULTS / "tests.xml"
    xml.unlink(missing_ok=True)
    workers = _workers()
    n = min(workers, len(modules))  # loadfile: never more processes than modules
    # loadfile hands the modules out in collection order (tests/conftest.py sorts them by module-order.txt)
    parallel = ["-n", str(n), "--dist", "loadfile", "--no-loadscope-reorder"] if n > 1 else ["-p", "no:xdist"]
    runnable = [t for t in wanted if t not in notes]
    print(f"== tiers {' '.join(runnable)}: {len(modules)} modules on {max(n, 1)} processes, slowest first",
          flush=True)
    cmd = [sys.executable, "-m", "pytest", *(f"tests/{t}" for t in runnable), "-q", "-p", "no:cacheprovider",
           f"--junitxml={xml}", *parallel]
    start, cpu_start = time.monotonic(), _children_cpu()
    # PYTHONDONTWRITEBYTECODE (set on some machines) is dropped for the run: with it every test process and every
    # command, server and sandbox the tests start compiled Guichet's modules (and the test modules' rewritten
    # assertions) from source again, about 0.4 s of CPU a process
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = subprocess.call(cmd, cwd=REPO, env={**env, "GUICHET_TEST_ORDER": str(order_file)})
    elapsed, cpu = time.monotonic() - start, _children_cpu() - cpu_start
    if code not in (0, 5):
        bad = True
    cases = _cases(xml)
    if cases:
        _record_times(cases)
    reasons: dict[tuple[str, str], int] = {}
    for case in cases:
        if case["outcome"] == "skipped":
            key = (str(case["tier"]), str(case["reason"]))
            reasons[key] = reasons.get(key, 0) + 1
    if reasons:
        print("\nTests skipped, and why:")
        for (tier, reason), count in sorted(reasons.items()):
            print(f"  {tier:<12} {count:4d}  {reason}")
    if cases:
        print(f"\nThe {SLOWEST} slowest tests (set-up, call and tear-down):")
        for case in sorted(cases, key=lambda c: -float(c["seconds"]))[:SLOWEST]:  # type: ignore[arg-type]
            print(f"  {float(case['seconds']):7.1f}s  {case['tier']:<12} {case['name']}")  # type: ignore[arg-type]
    # A tier's time is the sum of its tests' times (set-up, call and tear-down), on whichever process ran them:
    # the tiers run side by side, so the run's wall-clock and CPU time are given for all of them together.
    print("\nTiers (test time: the sum of their tests' set-up, call and tear-down):")
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    test_time = 0.0
    for tier in wanted:
        if tier in notes:
            print(f"  {tier:<12} {'':>8}  {notes[tier]}")
            continue
        mine = [c for c in cases if c["tier"] == tier]
        counts = {k: sum(1 for c in mine if c["outcome"] == k) for k in totals}
        seconds = sum(float(c["seconds"]) for c in mine)  # type: ignore[arg-type]
        for k in totals:
            totals[k] += counts[k]
        test_time += seconds
        print(f"  {tier:<12} {seconds:7.1f}s  {counts['passed']} passed, {counts['failed']} failed, "
              f"{counts['skipped']} skipped")
    print(f"  {'all':<12} {test_time:7.1f}s  in {elapsed:.1f}s wall-clock and {cpu:.1f}s CPU on {max(n, 1)} "
          f"process{'es' if n > 1 else ''} (pytest exit {code})")
    if code not in (0, 1, 5):
        print(f"pytest stopped with exit code {code} (interrupted, internal or usage error)")
    print(f"\n{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if bad or totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
