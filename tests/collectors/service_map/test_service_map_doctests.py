"""The runnable examples in the service map's docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "spanscope.collectors.service_map",
    "spanscope.collectors.service_map.build",
    "spanscope.collectors.service_map.nodes",
    "spanscope.collectors.service_map.walk",
    "spanscope.collectors.service_map.graph",
    "spanscope.collectors.service_map.stats",
    "spanscope.collectors.service_map.compare",
    "spanscope.collectors.service_map.location",
    "spanscope.collectors.service_map.render_json",
    "spanscope.render.map_text",
    "spanscope.render.map_graphviz",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
