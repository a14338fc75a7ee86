"""Waiting in tests for something another thread or process does: a condition polled until a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], object], timeout_s: float = 10.0, *, what: str = "condition") -> None:
    """Return once ``predicate()`` is true; AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout_s} s")
        time.sleep(0.02)


def reached(predicate: Callable[[], object], timeout_s: float = 20.0) -> bool:
    """Whether ``predicate()`` became true within ``timeout_s`` (for tests that assert on the answer themselves)."""
    try:
        wait_for(predicate, timeout_s)
    except AssertionError:
        return bool(predicate())
    return True


async def wait_for_pilot(pilot: Any, predicate: Callable[[], object], timeout_s: float = 20.0) -> None:
    """``wait_for`` inside a Textual Pilot test: the app keeps running (``pilot.pause``) while the test waits."""
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        await pilot.pause(0.05)
    assert predicate(), f"condition not reached in {timeout_s} s"
