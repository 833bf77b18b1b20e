"""Build the Spark decryption factory ahead of first use (e.g. at install time in an image):

    python -m guichet.custodian.spark [--cache-dir DIR]

Prints the jar's path; exits 2 with one line when PySpark or javac is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from guichet.custodian.spark import default_cache_dir, factory_jar
from guichet.errors import GuichetError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m guichet.custodian.spark", description="Build the Spark decryption jar.")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: ~/.cache/guichet/spark")
    args = parser.parse_args(argv)
    try:
        print(factory_jar(args.cache_dir or default_cache_dir()))
    except GuichetError as exc:
        print(f"guichet: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
