"""Arrows inside the collectors room: receivers never import the service map, formats never import the store.

Receivers hand spans to the writer and nothing else; wire formats convert to and from the model and
know nothing of where spans are kept (DESIGN §1, issue 18).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COLLECTORS = Path(__file__).resolve().parents[2] / "collectors"
FORBIDDEN = {
    "receivers": ("spanscope.collectors.service_map",),
    "formats": ("spanscope.collectors.store",),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_part_does_not_import_what_it_must_not(part: str) -> None:
    files = sorted((COLLECTORS / part).rglob("*.py"))
    assert files, f"collectors/{part} has no modules"
    bad = [
        f"{path.relative_to(COLLECTORS.parent)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if any(name == target or name.startswith(target + ".") for target in FORBIDDEN[part])
    ]
    assert not bad, "\n".join(bad)


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from spanscope.collectors import store\nimport spanscope.collectors.service_map.build\n")
    assert {"spanscope.collectors.store", "spanscope.collectors.service_map.build"} <= _imports(module)
