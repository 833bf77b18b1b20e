"""Regenerate the README's sample demo output (CI's test compares the README with a fresh run).

Usage: python scripts/update_readme.py   (runs `guichet demo --home guichet-demo` in a temporary folder)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BLOCK = re.compile(r"(<!-- demo-output:start -->\n```\n)(.*?)(```\n<!-- demo-output:end -->)", re.S)


def demo_output() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-m", "guichet", "demo", "--home", "guichet-demo"], cwd=tmp,
                              capture_output=True, text=True, check=True)
        return proc.stdout


def readme_block(text: str) -> str:
    m = BLOCK.search(text)
    if not m:
        raise SystemExit("README.md has no demo-output block")
    return m.group(2)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    readme_block(text)
    out = demo_output()
    README.write_text(BLOCK.sub(lambda m: m.group(1) + out + m.group(3), text), encoding="utf-8")
    print("README.md demo output updated")


if __name__ == "__main__":
    main()
