"""X-Ray's limits and name rules: segment names, annotation keys and values, JSON-safe metadata values.

>>> fix_segment_name("GET /orders/{id}?x=1"), fix_segment_name("payments?v2", replacement="_")
('GET /orders/idx=1', 'payments_v2')
>>> fix_annotation_key("customer.tier-id")
'customer_tier_id'
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any, Final

MAX_NAME_CHARS: Final = 200
MAX_HTTP_FIELD_CHARS: Final = 250
MAX_ANNOTATION_KEY_CHARS: Final = 500
MAX_ANNOTATION_VALUE_CHARS: Final = 1000
MAX_STACK_FRAMES: Final = 64
MAX_EVENTS_IN_METADATA: Final = 32
MAX_DOCUMENT_BYTES: Final = 64 * 1024  # one segment document (PutTraceSegments and the daemon)
DEFAULT_NAME: Final = "span"

_NAME_SYMBOLS: Final = frozenset(" _.:/%&#=+-@")
_ANNOTATION_KEY_RE: Final = re.compile(r"[^A-Za-z0-9_]")


def fix_segment_name(name: str, *, replacement: str = "", fallback: str = DEFAULT_NAME) -> str:
    """A segment or subsegment name X-Ray accepts: letters, digits, spaces and ``_.:/%&#=+-@``, at most 200.

    Other characters are dropped (the tracer, like X-Ray's SDKs) or replaced by ``replacement`` (the
    forwarder, so that distinct stored names stay distinct); ``fallback`` when nothing but blanks is left.

    >>> fix_segment_name("\\x1b[31m"), fix_segment_name(""), fix_segment_name(" ", fallback="unknown")
    ('31m', 'span', 'unknown')
    """
    fixed = "".join(c if _name_char_ok(c) else replacement for c in name)[:MAX_NAME_CHARS]
    return fixed if fixed.strip() else fallback


def _name_char_ok(c: str) -> bool:
    if c.isascii():
        return c.isalnum() or c in _NAME_SYMBOLS
    # Letters, digits and spaces of the Basic Multilingual Plane known to Unicode 3.2: a subset of the
    # characters the X-Ray schema's name pattern lists.
    if ord(c) > 0xFFFF:
        return False
    category = unicodedata.ucd_3_2_0.category(c)
    return category[0] in "LN" or category == "Zs"


def fix_annotation_key(key: str) -> str:
    """An attribute key made legal as an X-Ray annotation key (``[A-Za-z0-9_]{1,500}``); "" if empty."""
    return _ANNOTATION_KEY_RE.sub("_", key)[:MAX_ANNOTATION_KEY_CHARS]


def annotation_value(value: object) -> str | int | float | bool | None:
    """The value as X-Ray annotations take it (strings cut to 1000 characters); None when it cannot be one."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:MAX_ANNOTATION_VALUE_CHARS]
    return None


def metadata_value(value: object) -> Any:
    """A JSON-safe copy of an attribute value (sequences become lists, non-finite floats strings)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Sequence):
        return [metadata_value(v) for v in value if not isinstance(v, Sequence) or isinstance(v, str)]
    return str(value)
