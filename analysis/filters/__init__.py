"""X-Ray filter expressions compiled into predicates over traces.

>>> from spanscope.analysis.filters import compile_filter
>>> compile_filter("responsetime >")
Traceback (most recent call last):
...
spanscope.collectors.errors.FilterSyntaxError: filter expression: column 15: expected a number after \
responsetime >, found end of expression
"""

from spanscope.analysis.filters.evaluate import TracePredicate, compile_filter
from spanscope.analysis.filters.grammar import parse_filter

__all__ = ["TracePredicate", "compile_filter", "parse_filter"]
