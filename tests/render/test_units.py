"""Durations and times for both faces (render/units.py): the docstring examples, and the CLI's exit status 2 on a
time it cannot read."""

from __future__ import annotations

import doctest

import pytest
from spanscope.render import units


def test_docstring_examples() -> None:
    result = doctest.testmod(units)
    assert result.failed == 0 and result.attempted >= 6


@pytest.mark.parametrize("ns", [1, 999_999, 1_000_000, 59_999_999_999, 60_000_000_000, 3_725_000_000_000])
def test_format_duration_and_seconds_agree_on_units(ns: int) -> None:
    assert units.format_duration(ns)[-1] == "s"
    assert units.format_seconds(ns / 1e9)[-1] == "s"


def test_a_time_error_is_a_usage_error_of_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from spanscope.cli.main import main

    assert main(["traces", "--db", "/nonexistent/x.db", "--since", "soon"]) == 2
    assert "cannot read time 'soon'" in capsys.readouterr().err
