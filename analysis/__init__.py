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
from spanscope.analysis.ranks import StallingRank, stalling_ranks
from spanscope.analysis.report import Report, build_report
from spanscope.analysis.skew import adjust_clock_skew
from spanscope.analysis.stragglers import (
    Straggler,
    StragglersPartial,
    merge_stragglers,
    stragglers,
    stragglers_partial,
)
from spanscope.analysis.workflows import Hop, PathPiece, Workflow, build_workflow, follow_links

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
    "Hop",
    "Hotspot",
    "HotspotGrowth",
    "HotspotsPartial",
    "PathPiece",
    "Report",
    "StallingRank",
    "Straggler",
    "StragglersPartial",
    "Workflow",
    "adjust_clock_skew",
    "build_report",
    "build_workflow",
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
    "follow_links",
    "hotspots",
    "hotspots_partial",
    "is_async_child",
    "merge_cold_starts",
    "merge_failure_chains",
    "merge_hotspots",
    "merge_stragglers",
    "parse_filter",
    "stalling_ranks",
    "stragglers",
    "stragglers_partial",
]
