"""Makes untrusted text (span names, attributes) inert before it reaches a terminal.

Strips ANSI CSI / OSC / DCS escape sequences, C0 and C1 control characters (keeping none: tabs and
newlines become spaces) and Unicode bidi overrides/isolates, so a span cannot recolour, retitle,
hyperlink or reorder the user's terminal. Rich markup needs no escaping here: build ``rich.text.Text``
from the result (never ``Text.from_markup``) and it is shown literally.

>>> clean("ok\\x1b[31mred\\x1b]0;title\\x07\\u202egnp.exe")
'okredgnp.exe'
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI ... final byte
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)? # OSC ... BEL or ST (or unterminated)
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?      # DCS / SOS / PM / APC ... ST
  | \x1b[@-Z\\-_]                      # other two-byte escapes
  | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
  | \x9d[^\x07\x9c]*(?:\x07|\x9c)?     # 8-bit OSC
    """,
    re.VERBOSE,
)
_WHITESPACE = re.compile(r"[\t\n\r\v\f]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: object, *, max_length: int | None = None) -> str:
    """``text`` as a string with escape sequences, control and bidi characters removed."""
    value = text if isinstance(text, str) else str(text)
    if value.isprintable() and "\u202e" not in value:
        result = value
    else:
        result = _CONTROLS.sub("", _WHITESPACE.sub(" ", _ESCAPES.sub("", value)))
    if max_length is not None and len(result) > max_length:
        result = result[: max(0, max_length - 1)] + "…"
    return result
