"""X-Ray sampling rules for the OpenTelemetry SDK: a reservoir per second plus a fixed rate, per matched rule.

>>> from spanscope.tracer.sampling import XRayRulesSampler, parse_local_rules
>>> rules = parse_local_rules({"version": 2, "rules": [], "default": {"fixed_target": 1, "rate": 0.1}})
>>> XRayRulesSampler(rules).get_description()
'XRayRulesSampler{1 rules}'
"""

from spanscope.tracer.sampling.rules import (
    SamplingRule,
    SamplingRulesError,
    load_rules_file,
    parse_local_rules,
    parse_sampling_rule_records,
)
from spanscope.tracer.sampling.sampler import Reservoir, XRayRulesSampler

__all__ = [
    "Reservoir",
    "SamplingRule",
    "SamplingRulesError",
    "XRayRulesSampler",
    "load_rules_file",
    "parse_local_rules",
    "parse_sampling_rule_records",
]
