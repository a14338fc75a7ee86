"""The runnable examples in spanscope.analysis docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import spanscope.analysis.filters

OWN = (
    "spanscope.analysis",
    "spanscope.analysis.critical_path",
    "spanscope.analysis.failures",
    "spanscope.analysis.filters",
    "spanscope.analysis.stats",
    "spanscope.analysis.hotspots",
    "spanscope.analysis.stragglers",
    "spanscope.analysis.cold_starts",
    "spanscope.analysis.report",
    "spanscope.render.report_md",
)


def _modules() -> list[str]:
    names = set(OWN)
    for info in pkgutil.walk_packages(spanscope.analysis.filters.__path__, "spanscope.analysis.filters."):
        names.add(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
