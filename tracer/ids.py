"""X-Ray-compatible ids: trace ids start with the epoch seconds; an extracted X-Ray root can be forced."""

from __future__ import annotations

import random
import time

from opentelemetry.sdk.trace.id_generator import IdGenerator
from spanscope.tracer.propagation import FORCED_TRACE_ID


class XRayIdGenerator(IdGenerator):
    """Trace ids whose first 32 bits are the current epoch seconds, the other 96 random.

    >>> tid = XRayIdGenerator().generate_trace_id()
    >>> abs((tid >> 96) - int(time.time())) <= 1
    True
    """

    def generate_span_id(self) -> int:
        span_id = random.getrandbits(64)
        while span_id == 0:
            span_id = random.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        forced = FORCED_TRACE_ID.get()
        if forced:
            return forced
        return (int(time.time()) << 96) | random.getrandbits(96)
