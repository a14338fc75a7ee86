"""The runnable examples in spanscope.analysis docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import spanscope.analysis


def _modules() -> list[str]:
    names = ["spanscope.analysis"]
    for info in pkgutil.walk_packages(spanscope.analysis.__path__, "spanscope.analysis."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
