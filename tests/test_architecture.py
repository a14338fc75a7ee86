"""The architecture holds: arrows between and inside rooms, pure analysis, typed packages, docstrings, module size."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("tracer", "collectors", "analysis", "tui", "demo_apps", "cli", "render", "engines")

# Which of our rooms each room may import (DESIGN.md §1). The command line (cli/) is the one room that wires them all.
ALLOWED: dict[str, set[str]] = {
    "tracer": {"tracer"},
    "collectors": {"collectors"},
    "analysis": {"analysis", "collectors"},
    "tui": {"tui", "render", "analysis", "collectors"},
    "demo_apps": {"demo_apps", "tracer"},
    "cli": {"cli", "tui", "render", "engines", "analysis", "collectors", "demo_apps", "tracer"},
    "render": {"render", "analysis", "collectors"},
    "engines": {"engines", "analysis", "collectors"},
}
# Modules a room may import from a room it otherwise may not (each module and what is below it). collectors
# may use, of the tracer, only what both sides of a wire must agree on: the X-Ray translation core (forwarding),
# the FEC uplink's erasure code (the receiver decodes what devices encode) and the sampling rules' file format
# (the sampling service serves the rules the tracer's sampler reads).
EXTRA_ALLOWED: dict[tuple[str, str], tuple[str, ...]] = {
    ("collectors", "tracer"): ("spanscope.tracer.xray", "spanscope.tracer.fec", "spanscope.tracer.sampling.rules"),
}
# The spark-submit script is an entry point of its own: it renders the report it computed.
FILE_ALLOWED: dict[str, set[str]] = {"engines/spark_job.py": {"render"}}


def _python_files(room: str) -> list[Path]:
    return sorted(p for p in (ROOT / room).rglob("*.py") if "__pycache__" not in p.parts)


def _imported_modules(path: Path) -> set[str]:
    """Our modules ``path`` imports, dotted (``from a.b import c`` counts as ``a.b.c``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "spanscope" and len(parts) > 1 and parts[1] in ROOMS:
                found.add(name)
    return found


def _import_violations(room: str, path: Path) -> list[str]:
    bad = []
    for name in sorted(_imported_modules(path)):
        target = name.split(".")[1]
        if target in ALLOWED[room]:
            continue
        if path.is_relative_to(ROOT) and target in FILE_ALLOWED.get(path.relative_to(ROOT).as_posix(), set()):
            continue
        prefixes = EXTRA_ALLOWED.get((room, target), ())
        if not any(name == p or name.startswith(p + ".") for p in prefixes):
            bad.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} imports {name}")
    return bad


@pytest.mark.parametrize("room", ROOMS)
def test_import_direction(room: str) -> None:
    bad = [line for path in _python_files(room) for line in _import_violations(room, path)]
    assert not bad, "\n".join(bad)


def test_collectors_may_import_only_the_tracers_xray_translation(tmp_path: Path) -> None:
    allowed = tmp_path / "forwarding.py"
    allowed.write_text("from spanscope.tracer.xray.core.ids import xray_trace_id\nimport spanscope.tracer.xray.core\n")
    assert _import_violations("collectors", allowed) == []
    for text in ("from spanscope.tracer import xray_tools\n", "from spanscope.tracer.api import trace\n"):
        sneaky = tmp_path / "sneaky.py"
        sneaky.write_text(text)
        assert _import_violations("collectors", sneaky), text
    assert _import_violations("analysis", allowed)  # the permission is the collectors' alone


def test_every_package_is_declared_and_typed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for room in ROOMS:
        for init in (ROOT / room).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT).parts
            found.add("spanscope." + ".".join(rel))
        assert (ROOT / room / "py.typed").exists(), f"{room}/py.typed missing"
    assert found - declared == set(), "packages missing from pyproject.toml"


@pytest.mark.parametrize("room", ROOMS)
def test_every_module_says_what_it_owns(room: str) -> None:
    missing = [
        str(p.relative_to(ROOT))
        for p in _python_files(room)
        if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert not missing, f"modules without a docstring: {missing}"


def test_no_catch_all_modules() -> None:
    names = {p.name for room in ROOMS for p in _python_files(room)}
    assert not names & {"utils.py", "helpers.py", "misc.py", "common_utils.py"}


# analysis is pure functions over the model and the service map (DESIGN.md §1): of collectors it may use the model,
# its vocabulary (attribute conventions, the one error hierarchy) and the service map; no store, archive or wire.
ANALYSIS_MAY_USE = ("collectors.model", "collectors.conventions", "collectors.errors", "collectors.service_map")
# ...and it touches no environment, file, socket, process or engine: those live in engines/ (and the CLI).
IMPURE_MODULES = {
    "os",
    "sys",
    "tempfile",
    "subprocess",
    "socket",
    "shutil",
    "pathlib",
    "io",
    "sqlite3",
    "duckdb",
    "pyspark",
    "multiprocessing",
    "threading",
    "asyncio",
    "http",
    "urllib",
    "boto3",
    "textual",
}


def _all_imports(path: Path) -> set[str]:
    """Every module ``path`` imports, ours or not (``from a import b`` counts ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_analysis_uses_only_the_model_and_the_service_map_of_collectors() -> None:
    bad = []
    for path in _python_files("analysis"):
        for name in _all_imports(path):
            parts = name.split(".")
            if parts[:2] != ["spanscope", "collectors"] or len(parts) < 3:
                continue
            if not any(".".join(parts[1:]).startswith(allowed) for allowed in ANALYSIS_MAY_USE):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_analysis_is_pure() -> None:
    bad = []
    for path in _python_files("analysis"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _all_imports(path):
            if name.split(".")[0] in IMPURE_MODULES:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"open", "exec"}:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {node.func.id}()")
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} reads the environment")
    assert not bad, "\n".join(bad)


# Arrows inside a room (DESIGN.md §1): receivers hand spans to the writer and know nothing of the service map; wire
# formats convert to and from the model and know nothing of where spans are kept; the Textual app is not the CLI.
INNER_FORBIDDEN: dict[str, tuple[str, ...]] = {
    "collectors/receivers": ("spanscope.collectors.service_map",),
    "collectors/formats": ("spanscope.collectors.store",),
    "collectors/store": ("spanscope.collectors.service_map", "spanscope.collectors.receivers"),
    "collectors/service_map": ("spanscope.collectors.store", "spanscope.collectors.receivers"),
}


def _forbidden_inner_imports(part: str, path: Path) -> list[str]:
    return [
        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} imports {name}"
        for name in sorted(_all_imports(path))
        if any(name == target or name.startswith(target + ".") for target in INNER_FORBIDDEN[part])
    ]


@pytest.mark.parametrize("part", sorted(INNER_FORBIDDEN))
def test_arrows_inside_a_room(part: str) -> None:
    files = sorted((ROOT / part).rglob("*.py"))
    assert files, f"{part} has no modules"
    bad = [line for path in files for line in _forbidden_inner_imports(part, path)]
    assert not bad, "\n".join(bad)


def test_the_inner_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from spanscope.collectors import store\nimport spanscope.collectors.service_map.build\n")
    assert _forbidden_inner_imports("collectors/formats", module)
    assert _forbidden_inner_imports("collectors/receivers", module)


MAX_MODULE_LINES = 500


def test_no_module_over_500_lines() -> None:
    folders = [*ROOMS, "tests", "benchmarks"]
    big = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "__pycache__" not in path.parts
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not big, "\n".join(big)
