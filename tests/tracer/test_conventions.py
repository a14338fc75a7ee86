"""The tracer's copy of attribute names agrees with collectors/conventions.py."""

from __future__ import annotations

from spanscope.collectors import conventions as collectors
from spanscope.tracer import conventions as tracer


def test_every_tracer_constant_matches_the_collectors_one() -> None:
    names = [n for n in vars(tracer) if n.isupper()]
    assert len(names) > 40
    for name in names:
        assert hasattr(collectors, name), name
        assert getattr(tracer, name) == getattr(collectors, name), name
