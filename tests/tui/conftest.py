"""Fixtures for the TUI tests: the fixed sample store, an app on it (no live polling unless asked), settling it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from spanscope.tui.app import SpanscopeApp
from spanscope.tui.data import StoreSource
from textual.pilot import Pilot
from textual.screen import Screen

from tests.fixtures.tui.sample_store import build_sample_store

SIZE = (140, 40)
ScreenT = TypeVar("ScreenT", bound=Screen[object])


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_store(tmp_path_factory.mktemp("tui") / "sample.db")


@pytest.fixture(scope="session")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_store(tmp_path_factory.mktemp("tui-hostile") / "hostile.db", hostile=True)


def make_app(path: Path, *, start: str = "traces", live: bool = False, poll: float = 1.0) -> SpanscopeApp:
    return SpanscopeApp(StoreSource(path), live=live, poll_interval_s=poll, start=start, subtitle="sample store")


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and their results reach the screen."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@asynccontextmanager
async def on_screen(
    path: Path, screen_type: type[ScreenT], *, start: str = "traces"
) -> AsyncIterator[tuple[SpanscopeApp, Pilot[None], ScreenT]]:
    """An app on ``path`` run at SIZE from its ``start`` screen, settled; that screen must be a ``screen_type``."""
    app = make_app(path, start=start)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, screen_type)
        yield app, pilot, screen
