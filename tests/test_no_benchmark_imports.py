"""No test imports ``benchmarks/``: workloads the two share live in ``tests/load.py``, which the benchmarks import."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def benchmark_import_lines(path: Path) -> list[int]:
    """Lines of every ``import benchmarks…`` / ``from benchmarks… import …`` in a file, in order."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        if any(name == "benchmarks" or name.startswith("benchmarks.") for name in names):
            lines.append(node.lineno)
    return sorted(lines)


def test_no_test_imports_benchmarks() -> None:
    found = {str(p.relative_to(TESTS)): benchmark_import_lines(p) for p in sorted(TESTS.rglob("*.py"))}
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_the_check_sees_both_import_forms(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom benchmarks.bench_hostile import one\nimport benchmarks\n", encoding="utf-8")
    assert benchmark_import_lines(sample) == [2, 3]
