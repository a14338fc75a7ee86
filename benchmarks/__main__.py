"""Runs every benchmark in turn: `python -m benchmarks [--quick]` (each also runs alone as benchmarks.bench_<topic>)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    extra = sys.argv[1:]
    failures = 0
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        module = f"benchmarks.{path.stem}"
        print(f"\n=== {module} {' '.join(extra)}", flush=True)
        failures += subprocess.call([sys.executable, "-m", module, *extra]) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
