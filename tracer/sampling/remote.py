"""Sampling rules from a remote source: X-Ray's GetSamplingRules and GetSamplingTargets over HTTP.

The source is X-Ray itself through the X-Ray daemon or the OpenTelemetry Collector's proxy (both
answer ``POST /GetSamplingRules`` and ``POST /SamplingTargets`` unsigned on 127.0.0.1:2000), or
``spanscope sampling serve``, which answers them from a local rules file so a fleet's sampling is set
in one place. :class:`RemoteRulesSampler` starts from a fallback (one request per second plus 5 %,
X-Ray's default), and :meth:`RemoteRulesSampler.refresh` fetches the rules and reports each rule's
statistics to receive its fixed rate and share of the fleet's reservoir. A failed refresh keeps
the rules in force and is counted in the tracer's health (``sampling_rules_failed``); it never raises.
The standard library's HTTP client keeps the tracer free of boto3.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from spanscope.tracer.health import HEALTH
from spanscope.tracer.sampling.rules import DEFAULT_PRIORITY, SamplingRule, parse_sampling_rule_records
from spanscope.tracer.sampling.sampler import XRayRulesSampler

__all__ = ["DEFAULT_ENDPOINT", "FALLBACK_RULES", "RemoteRulesSampler", "get_sampling_rules", "get_sampling_targets"]

DEFAULT_ENDPOINT = "http://127.0.0.1:2000"
FALLBACK_RULES = (SamplingRule("Default", DEFAULT_PRIORITY, 0.05, 1),)
MAX_PAGES = 100


def _post(endpoint: str, path: str, body: Mapping[str, Any], timeout_s: float) -> dict[str, Any]:
    request = urllib.request.Request(
        endpoint.rstrip("/") + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        document = json.loads(response.read())
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return document


def get_sampling_rules(endpoint: str = DEFAULT_ENDPOINT, *, timeout_s: float = 2.0) -> list[SamplingRule]:
    """Every rule of ``GetSamplingRules`` (following NextToken), by priority (SamplingRulesError if unusable)."""
    records: list[Any] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = _post(endpoint, "/GetSamplingRules", {"NextToken": token} if token else {}, timeout_s)
        records.extend(page.get("SamplingRuleRecords") or [])
        token = page.get("NextToken")
        if not token:
            break
    return parse_sampling_rule_records(records)


def get_sampling_targets(
    statistics: Sequence[Mapping[str, Any]], endpoint: str = DEFAULT_ENDPOINT, *, timeout_s: float = 2.0
) -> dict[str, tuple[float, int | None]]:
    """``{rule name: (fixed rate, reservoir quota or None)}`` from ``GetSamplingTargets`` for these statistics."""
    answer = _post(endpoint, "/SamplingTargets", {"SamplingStatisticsDocuments": list(statistics)}, timeout_s)
    out: dict[str, tuple[float, int | None]] = {}
    for doc in answer.get("SamplingTargetDocuments") or []:
        if (
            isinstance(doc, dict)
            and isinstance(doc.get("RuleName"), str)
            and isinstance(doc.get("FixedRate"), int | float)
        ):
            quota = doc.get("ReservoirQuota")
            out[doc["RuleName"]] = (float(doc["FixedRate"]), int(quota) if isinstance(quota, int) else None)
    return out


class RemoteRulesSampler(Sampler):
    """An XRayRulesSampler whose rules and targets come from a remote source (see the module text)."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        resource: Mapping[str, Any] | None = None,
        client_id: str | None = None,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self.client_id = client_id or os.urandom(12).hex()  # X-Ray: 24 hex digits per process
        self.timeout_s = timeout_s
        self.local = XRayRulesSampler(FALLBACK_RULES, resource=resource, clock=clock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Fetch the rules, then report statistics and apply the targets; False (counted) on failure."""
        try:
            rules = get_sampling_rules(self.endpoint, timeout_s=self.timeout_s)
            if rules:
                self.local.replace_rules(rules)
            now = time.time()
            stats = [
                {"RuleName": name, "ClientID": self.client_id, "Timestamp": now, "RequestCount": requests,
                 "SampledCount": sampled, "BorrowCount": borrowed}
                for name, requests, sampled, borrowed in self.local.take_statistics()
            ]  # fmt: skip
            self.local.apply_targets(get_sampling_targets(stats, self.endpoint, timeout_s=self.timeout_s))
            return True
        except Exception as exc:  # the tracer never raises into the host program
            HEALTH.fail("sampling_rules_failed", exc)
            return False

    def start(self, interval_s: float = 10.0) -> None:
        """Refresh now and then every ``interval_s`` on a daemon thread until :meth:`shutdown`."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.is_set():
                self.refresh()
                self._stop.wait(interval_s)

        self._thread = threading.Thread(target=loop, name="spanscope-sampling-rules", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 1)
            self._thread = None

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        return self.local.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"RemoteRulesSampler{{{self.endpoint}}}"
