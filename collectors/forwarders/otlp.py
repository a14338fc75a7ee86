"""Forward committed spans as OTLP/HTTP protobuf to Jaeger, Tempo, an OpenTelemetry Collector or ADOT."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from spanscope.collectors.formats.otlp_proto import spans_to_request
from spanscope.collectors.forwarders.base import Forwarder, SendResult
from spanscope.collectors.model import Span
from spanscope.collectors.receivers.counters import Counters

_RETRYABLE = frozenset({408, 429, 502, 503, 504})
_SPANS_PER_REQUEST = 2000


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


class OTLPForwarder(Forwarder):
    """POSTs ``application/x-protobuf`` (gzip) requests to ``url`` (the full ``.../v1/traces`` URL)."""

    name = "forward_otlp"

    def __init__(
        self,
        url: str,
        queue_path: Path,
        counters: Counters,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 5.0,
        **kwargs: float | int,
    ) -> None:
        if not url.rstrip("/").endswith("/v1/traces"):
            url = url.rstrip("/") + "/v1/traces"
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--forward-otlp needs an http(s) URL, not {url!r}")
        self.url = url
        self._headers = dict(headers or {})
        self._timeout_s = timeout_s
        super().__init__(queue_path, counters, **kwargs)  # type: ignore[arg-type]

    def encode(self, spans: list[Span]) -> list[bytes]:
        return [
            spans_to_request(spans[i : i + _SPANS_PER_REQUEST]).SerializeToString()
            for i in range(0, len(spans), _SPANS_PER_REQUEST)
        ]

    def send(self, payload: bytes) -> SendResult:
        request = urllib.request.Request(
            self.url,
            data=gzip.compress(payload, compresslevel=1),
            method="POST",
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **self._headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                response.read()
                return SendResult(ok=True)
        except urllib.error.HTTPError as exc:
            code = exc.code
            if code in _RETRYABLE or code >= 500:
                return SendResult(
                    ok=False,
                    retryable=True,
                    retry_after_s=_retry_after(exc.headers.get("Retry-After")),
                    reason=str(code),
                )
            return SendResult(ok=False, retryable=False, reason=str(code))
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return SendResult(ok=False, retryable=True, reason=type(exc).__name__)
