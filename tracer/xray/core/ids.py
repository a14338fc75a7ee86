"""Ids in X-Ray form: a trace id as ``1-<8 hex epoch seconds>-<24 hex>``, a span id as 16 lowercase hex digits.

>>> xray_trace_id(0x5759E988BD862E3FE1BE46A994272793)
'1-5759e988-bd862e3fe1be46a994272793'
>>> xray_trace_id("5759e988bd862e3fe1be46a994272793"), span_id_hex(0x53995C3F42CD8AD8)
('1-5759e988-bd862e3fe1be46a994272793', '53995c3f42cd8ad8')
"""

from __future__ import annotations


def xray_trace_id(trace_id: int | str) -> str:
    """A trace id (a 128-bit int, or its 32 lowercase hex digits) in X-Ray form ``1-<8 hex epoch>-<24 hex>``."""
    text = format(trace_id, "032x") if isinstance(trace_id, int) else trace_id
    return f"1-{text[:8]}-{text[8:]}"


def span_id_hex(span_id: int) -> str:
    """A 64-bit span id as 16 lowercase hex digits (X-Ray segment id form)."""
    return format(span_id, "016x")
