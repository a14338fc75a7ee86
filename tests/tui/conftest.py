"""Fixtures for the TUI tests: the fixed sample store and an app on it (no live polling unless asked)."""

from __future__ import annotations

from pathlib import Path

import pytest
from spanscope.tui.app import SpanscopeApp
from spanscope.tui.data import StoreSource

from tests.fixtures.tui.sample_store import build_sample_store

SIZE = (140, 40)


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_store(tmp_path_factory.mktemp("tui") / "sample.db")


@pytest.fixture(scope="session")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_store(tmp_path_factory.mktemp("tui-hostile") / "hostile.db", hostile=True)


def make_app(path: Path, *, start: str = "traces", live: bool = False, poll: float = 1.0) -> SpanscopeApp:
    return SpanscopeApp(StoreSource(path), live=live, poll_interval_s=poll, start=start, subtitle="sample store")
