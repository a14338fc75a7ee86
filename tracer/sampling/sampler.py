"""An OpenTelemetry Sampler that applies X-Ray sampling rules: the first matching rule's reservoir, then its rate.

The reservoir lets ``reservoir_size`` requests per second through (per process, as the X-Ray SDKs do
with local rules); beyond it, ``fixed_rate`` of the requests are sampled, decided from the trace id
like ``TraceIdRatioBased`` so every service of a trace decides alike. Requests are described from
the span's attributes (``http.request.method``, ``url.path``/``url.full``, ``server.address``, and
the old ``http.*`` names) and from the resource (``service.name``, ``cloud.platform`` as the X-Ray
service type, the resource ARN). It decides roots only: wrap it in ``ParentBased`` (``from_file`` does).

>>> from opentelemetry.sdk.trace.sampling import Decision
>>> from spanscope.tracer.sampling.rules import SamplingRule
>>> sampler = XRayRulesSampler([SamplingRule("health", 1, 0.0, 0, url_path="/health"),
...                             SamplingRule("Default", 10_000, 1.0, 0)])
>>> sampler.should_sample(None, 1, "GET", attributes={"url.path": "/health"}).decision is Decision.DROP
True
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from spanscope.tracer.sampling.rules import SamplingRule, load_rules_file, wildcard

__all__ = ["SERVICE_TYPES", "Reservoir", "XRayRulesSampler"]

# OpenTelemetry cloud.platform -> X-Ray service type (origin)
SERVICE_TYPES: Mapping[str, str] = {
    "aws_lambda": "AWS::Lambda::Function",
    "aws_ec2": "AWS::EC2::Instance",
    "aws_ecs": "AWS::ECS::Container",
    "aws_eks": "AWS::EKS::Container",
    "aws_elastic_beanstalk": "AWS::ElasticBeanstalk::Environment",
}
_ARN_KEYS = ("cloud.resource_id", "aws.lambda.invoked_arn", "faas.id", "aws.ecs.task.arn", "aws.ecs.container.arn")
_BOUND = 1 << 64


class Reservoir:
    """At most ``per_second`` takes in each second of ``clock`` (thread-safe)."""

    __slots__ = ("_clock", "_lock", "_second", "_used", "per_second")

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._second = -1
        self._used = 0

    def take(self) -> bool:
        if self.per_second <= 0:
            return False
        second = int(self._clock())
        if second == self._second and self._used >= self.per_second:
            return False  # spent for this second: no lock needed to say so
        with self._lock:
            if second != self._second:
                self._second = second
                self._used = 0
            if self._used < self.per_second:
                self._used += 1
                return True
            return False


def _rate_bound(rate: float) -> int:
    """The low-64-bit bound below which a trace is sampled at ``rate`` (TraceIdRatioBased's rounding)."""
    return round(rate * _BOUND)


def _text(attributes: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = attributes.get(key)
        if value and isinstance(value, str):
            return value
    return ""


class XRayRulesSampler(Sampler):
    """Samples roots by X-Ray sampling rules (see the module text); unmatched requests are dropped."""

    def __init__(
        self,
        rules: Sequence[SamplingRule],
        *,
        resource: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.rules = list(rules)
        self._reservoirs = [Reservoir(r.reservoir_size, clock) for r in self.rules]
        # per rule: [requests, sampled, borrowed] since the last statistics snapshot
        self._stats = [[0, 0, 0] for _ in self.rules]
        res = dict(resource or {})
        self._service_name = _text(res, "service.name")
        self._service_type = SERVICE_TYPES.get(_text(res, "cloud.platform"), "")
        self._resource_arn = _text(res, *_ARN_KEYS)
        self._compile()

    def _compile(self) -> None:
        """Per rule that can match this process's resource: the request-level checks it needs (the
        resource fields are fixed, so they are decided once here, keeping a decision cheap)."""
        plan: list[tuple[int, tuple[tuple[int, Callable[[str], bool]], ...], tuple[tuple[str, Any], ...]]] = []
        needs_host = False
        for i, rule in enumerate(self.rules):
            fixed = (
                (rule.service_name, self._service_name),
                (rule.service_type, self._service_type),
                (rule.resource_arn, self._resource_arn),
            )
            if not all(wildcard(pattern)(value) for pattern, value in fixed):
                continue
            checks = tuple(
                (field_index, wildcard(pattern))
                for field_index, pattern in enumerate((rule.url_path, rule.http_method, rule.host))
                if pattern != "*"
            )
            needs_host = needs_host or any(f == 2 for f, _m in checks)
            plan.append((i, checks, tuple((k, wildcard(v)) for k, v in rule.attributes.items())))
        self._plan = plan
        self._needs_host = needs_host
        self._plain = self.rule_for({})  # the rule of a span without request attributes (``@trace``)
        self._decisions()

    def _decisions(self) -> None:
        """Per rule, what a decision needs at hand: its statistics, its reservoir's ``take`` (None for an
        empty reservoir) and its rate as a bound on the trace id's low 64 bits; one list, swapped whole."""
        entries = [
            (stats, reservoir.take if reservoir.per_second > 0 else None, _rate_bound(rule.fixed_rate))
            for rule, stats, reservoir in zip(self.rules, self._stats, self._reservoirs, strict=True)
        ]
        self._entries = entries
        self._plain_entry = entries[self._plain] if self._plain is not None else None

    @classmethod
    def from_file(
        cls, path: str | Path, *, resource: Mapping[str, Any] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> ParentBased:
        """A parent-based sampler whose roots follow the rules in ``path`` (SamplingRulesError if unusable)."""
        return ParentBased(cls(load_rules_file(path), resource=resource, clock=clock))

    def rule_for(self, attributes: Mapping[str, Any]) -> int | None:
        """The position of the first rule a request with these span attributes matches."""
        get = attributes.get
        path = get("url.path") or get("http.target")
        url = None
        if not (path and isinstance(path, str)):
            url = get("url.full") or get("http.url")
            path = urlsplit(url).path if url and isinstance(url, str) else ""
        method = get("http.request.method") or get("http.method")
        if not isinstance(method, str):
            method = ""
        host = ""
        if self._needs_host:
            host = _text(attributes, "server.address", "http.host", "net.host.name")
            if not host:
                url = url if url is not None else get("url.full") or get("http.url")
                host = (urlsplit(url).hostname or "") if url and isinstance(url, str) else ""
        values = (path, method, host)
        for i, checks, attribute_checks in self._plan:
            for field_index, match in checks:
                if not match(values[field_index]):
                    break
            else:
                for key, match in attribute_checks:
                    actual = get(key)
                    if not (isinstance(actual, str) and match(actual)):
                        break
                else:
                    return i
        return None

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
        sampled = self.decide(trace_id & (_BOUND - 1), attributes)
        state = get_current_span(parent_context).get_span_context().trace_state
        return SamplingResult(Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP, None, state)

    def decide(self, low: int, attributes: Mapping[str, Any] | None) -> bool:
        """The root decision for a trace whose id's low 64 bits are ``low`` (counted in the statistics):
        what ``should_sample`` decides, without its result object. The tracer's decorators call it
        directly, so an unsampled ``@trace`` root builds no span. A span without attributes takes the rule
        decided once per rule set; the rate is an integer bound on ``low``, as ``TraceIdRatioBased``'s."""
        entry: tuple[list[int], Callable[[], bool] | None, int] | None
        if attributes:
            index = self.rule_for(attributes)
            if index is None:
                return False
            try:
                entry = self._entries[index]
            except IndexError:  # rules being replaced by another thread this instant: not sampled
                return False
        else:
            entry = self._plain_entry
        if entry is None:
            return False
        stats, take, bound = entry
        stats[0] += 1
        if take is not None and take():
            stats[1] += 1
            stats[2] += 1
            return True
        if low < bound:
            stats[1] += 1
            return True
        return False

    def replace_rules(self, rules: Sequence[SamplingRule]) -> None:
        """New rules (from a remote source); statistics of rules that stay are kept."""
        old = {r.name: i for i, r in enumerate(self.rules)}
        stats = [self._stats[old[r.name]] if r.name in old else [0, 0, 0] for r in rules]
        reservoirs = [Reservoir(r.reservoir_size, self._clock) for r in rules]
        self.rules, self._reservoirs, self._stats = list(rules), reservoirs, stats
        self._compile()

    def take_statistics(self) -> list[tuple[str, int, int, int]]:
        """``(rule name, requests, sampled, borrowed)`` per rule since the last call, then reset."""
        out = []
        for rule, stats in zip(self.rules, self._stats, strict=True):
            out.append((rule.name, stats[0], stats[1], stats[2]))
            stats[0] = stats[1] = stats[2] = 0
        return out

    def apply_targets(self, targets: Mapping[str, tuple[float, int | None]]) -> None:
        """Set each named rule's fixed rate and, when given, its reservoir quota per second (X-Ray's
        ``SamplingTargetDocuments``: the fleet's reservoir shared out among its processes)."""
        for i, rule in enumerate(self.rules):
            target = targets.get(rule.name)
            if target is None:
                continue
            rate, quota = target
            self.rules[i] = dataclasses.replace(rule, fixed_rate=min(max(rate, 0.0), 1.0))  # same patterns
            if quota is not None:
                self._reservoirs[i] = Reservoir(max(0, quota), self._clock)
        self._decisions()

    def get_description(self) -> str:
        return f"XRayRulesSampler{{{len(self.rules)} rules}}"
