"""X-Ray sampling rules: the rule model, wildcard matching, and the two JSON forms rules come in.

- the X-Ray SDKs' local rules file (``{"version": 2, "rules": [...], "default": {...}}``; version 1
  names ``service_name`` where version 2 names ``host``): rules apply in file order, ``default`` last;
- the ``SamplingRuleRecords`` of X-Ray's ``GetSamplingRules`` (botocore's shape): rules apply by
  ``Priority`` then ``RuleName``, the rule named ``Default`` last.

Patterns use X-Ray's wildcards: ``*`` any run of characters, ``?`` one character; case-insensitive.

>>> rule = SamplingRule("api", 1, 0.05, 1, url_path="/api/*", http_method="GET")
>>> rule.matches(service_name="shop", service_type="", host="h", http_method="get", url_path="/api/move/1",
...              resource_arn="", attributes={})
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "SamplingRule",
    "SamplingRulesError",
    "load_rules_file",
    "parse_local_rules",
    "parse_sampling_rule_records",
    "wildcard",
]

DEFAULT_PRIORITY = 10_000  # X-Ray's Default rule comes after every other


class SamplingRulesError(ValueError):
    """A rules document that cannot be used; the message names the rule and the field."""


@lru_cache(maxsize=512)
def wildcard(pattern: str) -> Callable[[str], bool]:
    """A case-insensitive matcher for an X-Ray wildcard pattern (``*`` alone matches anything, even empty)."""
    if pattern == "*":
        return lambda _text: True
    if not any(c in pattern for c in "*?"):
        lowered = pattern.lower()
        return lambda text: text.lower() == lowered
    regex = re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.IGNORECASE | re.DOTALL
    )
    return lambda text: regex.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class SamplingRule:
    """One rule: which requests it matches and how many of them to sample (``reservoir_size`` per second
    first, then ``fixed_rate`` of the rest)."""

    name: str
    priority: int
    fixed_rate: float
    reservoir_size: int
    service_name: str = "*"
    service_type: str = "*"
    host: str = "*"
    http_method: str = "*"
    url_path: str = "*"
    resource_arn: str = "*"
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.fixed_rate <= 1.0:
            raise SamplingRulesError(f"sampling rule {self.name!r}: fixed rate {self.fixed_rate} is not in [0, 1]")
        if self.reservoir_size < 0:
            raise SamplingRulesError(f"sampling rule {self.name!r}: reservoir size {self.reservoir_size} is negative")

    def matches(
        self,
        *,
        service_name: str,
        service_type: str,
        host: str,
        http_method: str,
        url_path: str,
        resource_arn: str,
        attributes: Mapping[str, object],
    ) -> bool:
        """Whether a request with these properties falls under this rule (every field must match)."""
        for pattern, value in (
            (self.url_path, url_path),
            (self.http_method, http_method),
            (self.host, host),
            (self.service_name, service_name),
            (self.service_type, service_type),
            (self.resource_arn, resource_arn),
        ):
            if not wildcard(pattern)(value):
                return False
        for key, pattern in self.attributes.items():
            actual = attributes.get(key)
            if not isinstance(actual, str) or not wildcard(pattern)(actual):
                return False
        return True


def _number(entry: Mapping[str, Any], key: str, where: str, kind: type) -> Any:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not float(value).is_integer()):
        raise SamplingRulesError(f"{where}: {key} must be a {'whole ' if kind is int else ''}number, not {value!r}")
    return kind(value)


def _text(entry: Mapping[str, Any], key: str, where: str, default: str = "*") -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise SamplingRulesError(f"{where}: {key} must be a string, not {value!r}")
    return value


def parse_local_rules(document: Mapping[str, Any]) -> list[SamplingRule]:
    """Rules of an X-Ray SDK local sampling rules document, in the order they apply (default last)."""
    if not isinstance(document, Mapping):
        raise SamplingRulesError("sampling rules: expected a JSON object with version, rules and default")
    version = document.get("version")
    if version not in (1, 2):
        raise SamplingRulesError(f"sampling rules: version must be 1 or 2, not {version!r}")
    default = document.get("default")
    if not isinstance(default, Mapping):
        raise SamplingRulesError("sampling rules: a 'default' rule with fixed_target and rate is required")
    entries = document.get("rules", [])
    if not isinstance(entries, list):
        raise SamplingRulesError("sampling rules: 'rules' must be a list")
    host_key = "host" if version == 2 else "service_name"
    out: list[SamplingRule] = []
    for i, entry in enumerate(entries):
        where = f"sampling rule {i + 1}"
        if not isinstance(entry, Mapping):
            raise SamplingRulesError(f"{where}: expected an object")
        out.append(
            SamplingRule(
                _text(entry, "description", where, f"rule {i + 1}"),
                i + 1,
                _number(entry, "rate", where, float),
                _number(entry, "fixed_target", where, int),
                host=_text(entry, host_key, where),
                http_method=_text(entry, "http_method", where),
                url_path=_text(entry, "url_path", where),
            )
        )
    where = "default sampling rule"
    extra = set(default) - {"fixed_target", "rate"}
    if extra:
        raise SamplingRulesError(f"{where}: only fixed_target and rate are allowed, not {', '.join(sorted(extra))}")
    rate, target = _number(default, "rate", where, float), _number(default, "fixed_target", where, int)
    out.append(SamplingRule("Default", DEFAULT_PRIORITY, rate, target))
    return out


def parse_sampling_rule_records(records: Sequence[Mapping[str, Any]]) -> list[SamplingRule]:
    """Rules of ``GetSamplingRules``' ``SamplingRuleRecords``, by priority then name (``Default`` last)."""
    out: list[SamplingRule] = []
    for i, record in enumerate(records):
        rule = record.get("SamplingRule") if isinstance(record, Mapping) else None
        if not isinstance(rule, Mapping):
            raise SamplingRulesError(f"sampling rule record {i + 1}: expected an object with SamplingRule")
        name = _text(rule, "RuleName", f"sampling rule record {i + 1}", f"rule {i + 1}")
        where = f"sampling rule {name!r}"
        attributes = rule.get("Attributes") or {}
        if not isinstance(attributes, Mapping) or not all(isinstance(v, str) for v in attributes.values()):
            raise SamplingRulesError(f"{where}: Attributes must map names to strings")
        version = rule.get("Version", 1)
        if version != 1:
            continue  # X-Ray: rules of other versions are for other SDKs
        out.append(
            SamplingRule(
                name,
                DEFAULT_PRIORITY if name == "Default" else _number(rule, "Priority", where, int),
                _number(rule, "FixedRate", where, float),
                _number(rule, "ReservoirSize", where, int),
                service_name=_text(rule, "ServiceName", where),
                service_type=_text(rule, "ServiceType", where),
                host=_text(rule, "Host", where),
                http_method=_text(rule, "HTTPMethod", where),
                url_path=_text(rule, "URLPath", where),
                resource_arn=_text(rule, "ResourceARN", where),
                attributes=dict(attributes),
            )
        )
    out.sort(key=lambda r: (r.name == "Default", r.priority, r.name))
    return out


def load_rules_file(path: str | Path) -> list[SamplingRule]:
    """Rules from a JSON file in either form (a local rules document, or GetSamplingRules output)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SamplingRulesError(f"sampling rules file {path}: {exc}") from None
    if isinstance(document, Mapping) and "SamplingRuleRecords" in document:
        records = document["SamplingRuleRecords"]
        if not isinstance(records, list):
            raise SamplingRulesError(f"sampling rules file {path}: SamplingRuleRecords must be a list")
        return parse_sampling_rule_records(records)
    return parse_local_rules(document)
