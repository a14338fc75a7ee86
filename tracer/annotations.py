"""X-Ray annotation rules (indexed keys) and metadata flattening into OpenTelemetry attributes."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Final

MAX_ANNOTATION_KEY_CHARS: Final = 500
MAX_ANNOTATION_STRING_CHARS: Final = 1000
MAX_ANNOTATIONS_PER_TRACE: Final = 50
MAX_METADATA_DEPTH: Final = 16
MAX_METADATA_LEAVES: Final = 256

_KEY = re.compile(r"[A-Za-z0-9_]+")

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]


def annotation_problem(key: object, value: object) -> str | None:
    """Why (key, value) is not a valid X-Ray annotation, or None when it is.

    >>> annotation_problem("order_id", 42) is None
    True
    >>> annotation_problem("order-id", 42)
    'key must be alphanumerics and underscores'
    """
    if not isinstance(key, str) or not key:
        return "key must be a non-empty string"
    if len(key) > MAX_ANNOTATION_KEY_CHARS:
        return f"key longer than {MAX_ANNOTATION_KEY_CHARS} characters"
    if not _KEY.fullmatch(key):
        return "key must be alphanumerics and underscores"
    if isinstance(value, bool | int | str):
        return None
    if isinstance(value, float):
        return None if value == value and value not in (float("inf"), float("-inf")) else "value is not finite"
    return "value must be a string, number or boolean"


def annotation_value(value: str | bool | int | float) -> str | bool | int | float:
    """The value as recorded: long strings are cut to X-Ray's limit; big ints become floats."""
    if isinstance(value, str) and len(value) > MAX_ANNOTATION_STRING_CHARS:
        return value[:MAX_ANNOTATION_STRING_CHARS]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return float(value)
    return value


class AnnotationBudget:
    """How many annotations each trace has used in this process (bounded LRU of trace ids)."""

    def __init__(self, limit: int = MAX_ANNOTATIONS_PER_TRACE, traces: int = 4096) -> None:
        self._limit = limit
        self._traces = traces
        self._used: OrderedDict[int, set[str]] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, trace_id: int, key: str) -> bool:
        """True when ``key`` may be annotated on this trace (already used keys are always admitted)."""
        with self._lock:
            keys = self._used.get(trace_id)
            if keys is None:
                keys = set()
                self._used[trace_id] = keys
                while len(self._used) > self._traces:
                    self._used.popitem(last=False)
            else:
                self._used.move_to_end(trace_id)
            if key in keys:
                return True
            if len(keys) >= self._limit:
                return False
            keys.add(key)
            return True


def _scalar(value: object) -> str | bool | int | float:
    if isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if value is None:
        return "null"
    try:
        return json.dumps(value, default=repr, sort_keys=True)[:4096]
    except Exception:
        return repr(value)[:4096]


def flatten_metadata(key: str, value: object) -> dict[str, AttributeValue]:
    """Metadata as flat OpenTelemetry attributes: nested mappings become dotted keys (iteratively).

    >>> flatten_metadata("cfg", {"a": {"b": 1}, "tags": ["x", "y"]})
    {'cfg.a.b': 1, 'cfg.tags': ['x', 'y']}
    """
    out: dict[str, AttributeValue] = {}
    stack: list[tuple[str, object, int]] = [(key, value, 0)]
    while stack and len(out) < MAX_METADATA_LEAVES:
        path, item, depth = stack.pop()
        if isinstance(item, Mapping) and depth < MAX_METADATA_DEPTH and item:
            for sub_key, sub_value in reversed(list(item.items())):
                stack.append((f"{path}.{sub_key}", sub_value, depth + 1))
            continue
        if isinstance(item, list | tuple) and not isinstance(item, str):
            out[path] = _homogeneous(item)
            continue
        out[path] = _scalar(item)
    return out


def _homogeneous(items: Sequence[Any]) -> AttributeValue:
    kinds = {type(i) for i in items}
    if (
        len(kinds) == 1
        and kinds <= {str, bool, int, float}
        and not any(isinstance(i, int) and not isinstance(i, bool) and not -(2**63) <= i < 2**63 for i in items)
    ):
        return list(items)
    return [str(_scalar(i)) for i in items]


def sanitize_attributes(attributes: Mapping[str, object] | None) -> tuple[dict[str, AttributeValue], int]:
    """Attributes with invalid entries converted or dropped, and how many were dropped."""
    if not attributes:
        return {}, 0
    clean: dict[str, AttributeValue] = {}
    dropped = 0
    for key, value in attributes.items():
        if not isinstance(key, str) or not key:
            dropped += 1
            continue
        if value is None:
            dropped += 1
            continue
        if isinstance(value, list | tuple):
            clean[key] = _homogeneous(value)
        else:
            clean[key] = _scalar(value)
    return clean, dropped
