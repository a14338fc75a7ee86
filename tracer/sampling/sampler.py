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
from spanscope.tracer.sampling.rules import SamplingRule, load_rules_file

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
        with self._lock:
            if second != self._second:
                self._second = second
                self._used = 0
            if self._used < self.per_second:
                self._used += 1
                return True
            return False


def _text(attributes: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
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
        self.rules = list(rules)
        self._reservoirs = [Reservoir(r.reservoir_size, clock) for r in self.rules]
        res = dict(resource or {})
        self._service_name = _text(res, "service.name")
        self._service_type = SERVICE_TYPES.get(_text(res, "cloud.platform"), "")
        self._resource_arn = _text(res, *_ARN_KEYS)

    @classmethod
    def from_file(
        cls, path: str | Path, *, resource: Mapping[str, Any] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> ParentBased:
        """A parent-based sampler whose roots follow the rules in ``path`` (SamplingRulesError if unusable)."""
        return ParentBased(cls(load_rules_file(path), resource=resource, clock=clock))

    def rule_for(self, attributes: Mapping[str, Any]) -> int | None:
        """The position of the first rule a request with these span attributes matches."""
        url = _text(attributes, "url.full", "http.url")
        path = _text(attributes, "url.path", "http.target") or (urlsplit(url).path if url else "")
        host = _text(attributes, "server.address", "http.host", "net.host.name") or (
            urlsplit(url).hostname or "" if url else ""
        )
        method = _text(attributes, "http.request.method", "http.method")
        for i, rule in enumerate(self.rules):
            if rule.matches(
                service_name=self._service_name,
                service_type=self._service_type,
                host=host,
                http_method=method,
                url_path=path,
                resource_arn=self._resource_arn,
                attributes=attributes,
            ):
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
        index = self.rule_for(attributes or {})
        sampled = False
        if index is not None:
            rule = self.rules[index]
            sampled = self._reservoirs[index].take() or (trace_id & (_BOUND - 1)) < rule.fixed_rate * _BOUND
        state = get_current_span(parent_context).get_span_context().trace_state
        return SamplingResult(Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP, None, state)

    def get_description(self) -> str:
        return f"XRayRulesSampler{{{len(self.rules)} rules}}"
