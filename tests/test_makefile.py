"""`make demo` re-maps the editable install only when the module set or pyproject.toml changed.

The real Makefile runs in a scratch copy of the project layout whose `.venv/bin/python` and `spanscope` are
scripts that log their arguments, so the test sees what make ran without pip or a demo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tracer", "collectors", "analysis", "tui", "demo_apps")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for name in PACKAGES:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "spanscope"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "$MAKE_LOG"\n')
        script.chmod(0o755)
    earlier = time.time() - 60  # the dependencies were installed after pyproject.toml last changed
    os.utime(tmp_path / "pyproject.toml", (earlier, earlier))
    (tmp_path / ".venv" / ".deps-installed").touch()
    return tmp_path


def make_demo(project: Path) -> list[str]:
    log = project / "make.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "MAKE_LOG": str(log)}
    subprocess.run(["make", "-s", "demo"], cwd=project, env=env, check=True, capture_output=True, timeout=60)
    return log.read_text().splitlines()


def installs(lines: list[str]) -> int:
    return sum(1 for line in lines if line.startswith("python -m pip install") and "--no-deps -e ." in line)


def test_demo_reinstalls_only_when_the_module_set_changes(project: Path) -> None:
    first = make_demo(project)
    assert installs(first) == 1 and first[-1] == "spanscope demo"

    assert make_demo(project) == ["spanscope demo"]  # nothing changed: no reinstall

    (project / "analysis" / "__init__.py").write_text("x = 1\n")  # code edits need no re-mapping
    assert make_demo(project) == ["spanscope demo"]

    (project / "analysis" / "diff.py").write_text("")  # a new module must be mapped
    assert installs(make_demo(project)) == 1
    assert make_demo(project) == ["spanscope demo"]

    later = time.time() + 2
    os.utime(project / "pyproject.toml", (later, later))  # pyproject changed: dependencies and mapping again
    again = make_demo(project)
    assert installs(again) == 1 and any(".[dev]" in line for line in again)
