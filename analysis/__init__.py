"""spanscope analysis: pure functions over the span model (critical path, hotspots, failure chains, ...)."""

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

__all__ = [
    "ChainHop",
    "CriticalSegment",
    "FailureChain",
    "FailureChainsPartial",
    "FailureRole",
    "critical_path",
    "critical_path_nodes",
    "critical_time_by_span",
    "failure_chains",
    "failure_chains_partial",
    "failure_roles",
    "is_async_child",
    "merge_failure_chains",
]
