"""Forward committed spans to AWS X-Ray with PutTraceSegments (≤ 50 documents of ≤ 64 KB per call).

The boto3 client is made lazily with the usual AWS configuration (region, credentials,
``AWS_ENDPOINT_URL_XRAY`` / ``endpoint_url`` for a local endpoint). Segments X-Ray reports as
unprocessed are queued again; throttling and connection errors are retried; other errors drop the
batch (counted).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from spanscope.collectors.formats.xray_out import documents_from_spans
from spanscope.collectors.forwarders.base import Forwarder, SendResult
from spanscope.collectors.model import Span
from spanscope.collectors.receivers.counters import Counters

MAX_DOCUMENTS_PER_CALL = 50
_RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "ThrottledException", "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure"}
)


class XRayForwarder(Forwarder):
    """Sends batches of X-Ray segment documents through boto3."""

    name = "forward_xray"

    def __init__(
        self,
        queue_path: Path,
        counters: Counters,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        **kwargs: float | int,
    ) -> None:
        self._region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self._endpoint_url = endpoint_url
        self._client: Any = None
        super().__init__(queue_path, counters, **kwargs)  # type: ignore[arg-type]

    def _xray(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "xray",
                region_name=self._region,
                endpoint_url=self._endpoint_url,
                config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
            )
        return self._client

    def encode(self, spans: list[Span]) -> list[bytes]:
        docs = documents_from_spans(spans)
        return [orjson.dumps(docs[i : i + MAX_DOCUMENTS_PER_CALL]) for i in range(0, len(docs), MAX_DOCUMENTS_PER_CALL)]

    def send(self, payload: bytes) -> SendResult:
        from botocore.exceptions import BotoCoreError, ClientError

        docs: list[str] = orjson.loads(payload)
        try:
            response = self._xray().put_trace_segments(TraceSegmentDocuments=docs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            retryable = code in _RETRYABLE_CODES or status == 429 or status >= 500
            return SendResult(ok=False, retryable=retryable, reason=code or str(status))
        except BotoCoreError as exc:
            return SendResult(ok=False, retryable=True, reason=type(exc).__name__)
        unprocessed = response.get("UnprocessedTraceSegments") or []
        if not unprocessed:
            return SendResult(ok=True)
        failed_ids = {item.get("Id") for item in unprocessed}
        again = [d for d in docs if orjson.loads(d).get("id") in failed_ids]
        requeue = (orjson.dumps(again),) if again else ()
        return SendResult(ok=True, requeue=requeue)
