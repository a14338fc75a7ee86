"""Service maps with X-Ray semantics, built as NetworkX graphs: the public API of the map package.

>>> from spanscope.collectors.service_map import build_service_map, ServiceMapAccumulator
"""

from __future__ import annotations

from spanscope.collectors.service_map.build import (
    CLIENT_NODE,
    KIND_CLIENT,
    KIND_INFERRED,
    KIND_SERVICE,
    MAX_SPAN_LINKS,
    ServiceMapAccumulator,
    aws_type,
    build_service_map,
    rebuild_from_store,
    remote_node,
    span_location,
)
from spanscope.collectors.service_map.stats import HISTOGRAM_BOUNDS_S, Statistics

__all__ = [
    "CLIENT_NODE",
    "HISTOGRAM_BOUNDS_S",
    "KIND_CLIENT",
    "KIND_INFERRED",
    "KIND_SERVICE",
    "MAX_SPAN_LINKS",
    "ServiceMapAccumulator",
    "Statistics",
    "aws_type",
    "build_service_map",
    "rebuild_from_store",
    "remote_node",
    "span_location",
]
