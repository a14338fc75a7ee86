"""spanscope analysis: pure functions over the span model (critical path, hotspots, failure chains, ...)."""

from spanscope.analysis.cold_starts import (
    ColdStartsPartial,
    ColdStartStats,
    cold_starts,
    cold_starts_partial,
    merge_cold_starts,
)
from spanscope.analysis.critical_path import (
    CriticalSegment,
    critical_path,
    critical_path_nodes,
    critical_time_by_span,
    is_async_child,
)
from spanscope.analysis.failures import (
    ChainHop,
    FailureChain,
    FailureChainsPartial,
    FailureRole,
    failure_chains,
    failure_chains_partial,
    failure_roles,
    merge_failure_chains,
)
from spanscope.analysis.filters import compile_filter, parse_filter
from spanscope.analysis.hotspots import (
    AttributeSkew,
    BaselineComparison,
    Hotspot,
    HotspotGrowth,
    HotspotsPartial,
    compare_with_baseline,
    hotspots,
    hotspots_partial,
    merge_hotspots,
)
from spanscope.analysis.report import Report, build_report
from spanscope.analysis.stragglers import (
    Straggler,
    StragglersPartial,
    merge_stragglers,
    stragglers,
    stragglers_partial,
)

__all__ = [
    "AttributeSkew",
    "BaselineComparison",
    "ChainHop",
    "ColdStartStats",
    "ColdStartsPartial",
    "CriticalSegment",
    "FailureChain",
    "FailureChainsPartial",
    "FailureRole",
    "Hotspot",
    "HotspotGrowth",
    "HotspotsPartial",
    "Report",
    "Straggler",
    "StragglersPartial",
    "build_report",
    "cold_starts",
    "cold_starts_partial",
    "compare_with_baseline",
    "compile_filter",
    "critical_path",
    "critical_path_nodes",
    "critical_time_by_span",
    "failure_chains",
    "failure_chains_partial",
    "failure_roles",
    "hotspots",
    "hotspots_partial",
    "is_async_child",
    "merge_cold_starts",
    "merge_failure_chains",
    "merge_hotspots",
    "merge_stragglers",
    "parse_filter",
    "stragglers",
    "stragglers_partial",
]
