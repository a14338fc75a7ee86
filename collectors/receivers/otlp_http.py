"""OTLP/HTTP receiver (``POST /v1/traces``) plus the collector's ``/healthz``, ``/v1/stats`` and ``/metrics``.

With a sampling service (``collect --sampling-rules``) it also answers X-Ray's sampling API as the X-Ray
daemon does (``POST /GetSamplingRules``, ``POST /SamplingTargets``, unsigned, no bearer token: the
X-Ray SDKs and ADOT samplers send none), decoded by ``SamplingService.answer``.

Protobuf (``application/x-protobuf``) and JSON (``application/json``) bodies, optionally gzip or
deflate encoded; the body is read and inflated incrementally and refused with 413 as soon as it
passes the cap, so a compression bomb is never inflated. Replies use the request's content type:
200 only after the spans are committed (with ``partial_success`` counting spans it could not
convert), 400 for malformed bodies, 401 without the bearer token, 413 too large, 415 other content
types or encodings, 408 for a body not received within ``body_timeout_s``,
429 (write queue full) or 503 (store failing) with ``Retry-After``. A handler
error is answered with 503, never 500: a retry is the only useful thing a client can do.

Overload is refused cheaply: while the write queue is full a request gets 429 before its body is
read (aiohttp discards the unread body and keeps the connection) and before anything is decoded;
and the bodies being read or decoded at once are bounded (``max_inflight_bytes``, counted by their
declared length) so many concurrent large requests cannot inflate memory.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from spanscope.collectors.errors import CollectorOverloadedError
from spanscope.collectors.formats import ParseResult
from spanscope.collectors.formats.otlp_proto import spans_from_request
from spanscope.collectors.receivers.auth import token_matches
from spanscope.collectors.receivers.counters import Counters
from spanscope.collectors.receivers.writer import QUEUE_FULL_MESSAGE, BatchWriter

_log = logging.getLogger(__name__)

MAX_BODY_BYTES = 20 * 1024 * 1024
PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_TYPE = "application/json"
_PREFIX = "otlp_http"
_READ_CHUNK = 64 * 1024
_MAX_ERROR_MESSAGES = 5
MAX_INFLIGHT_BYTES = 64 * 1024 * 1024  # request bodies being read or decoded at once; more waits for a retry
_UNDECLARED_BODY_BYTES = 1024 * 1024  # what a chunked body (no Content-Length) is counted as
_BUSY_MESSAGE = "the collector is reading too many request bodies at once; retry later"


class _Reject(Exception):
    """An HTTP error reply: status, reason counter, message."""

    def __init__(self, status: int, reason: str, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after_s = retry_after_s


_GRPC_CODE_FOR_HTTP = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    408: code_pb2.DEADLINE_EXCEEDED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}


async def read_body(request: web.Request, cap_bytes: int) -> bytes:
    """The request body, inflated per Content-Encoding, never more than ``cap_bytes`` in memory."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity", "none"):
        inflater = None
    elif encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflater = zlib.decompressobj(zlib.MAX_WBITS)
    else:
        raise _Reject(415, "unsupported_encoding", f"unsupported Content-Encoding {encoding!r}")
    if request.content_length is not None and request.content_length > cap_bytes:
        raise _Reject(413, "too_large", f"body larger than {cap_bytes} bytes")
    parts: list[bytes] = []
    size = 0
    raw = 0
    too_large = _Reject(413, "too_large", f"body larger than {cap_bytes} bytes once decompressed")
    try:
        async for chunk in request.content.iter_chunked(_READ_CHUNK):
            raw += len(chunk)
            if raw > cap_bytes:
                raise too_large
            if inflater is None:
                parts.append(chunk)
                size += len(chunk)
                continue
            data = chunk
            while data:
                out = inflater.decompress(data, cap_bytes - size + 1)
                size += len(out)
                if size > cap_bytes:
                    raise too_large
                parts.append(out)
                data = inflater.unconsumed_tail
                if inflater.eof:
                    break
        if inflater is not None:
            if not inflater.eof:
                raise _Reject(400, "malformed", f"truncated {encoding} body")
            tail = inflater.flush()
            size += len(tail)
            if size > cap_bytes:
                raise too_large
            parts.append(tail)
    except zlib.error as exc:
        raise _Reject(400, "malformed", f"bad {encoding} body: {exc}") from None
    except (ConnectionResetError, HttpProcessingError) as exc:  # the client went away or broke the framing
        raise _Reject(400, "incomplete_body", f"body not received whole: {exc}") from None
    return b"".join(parts)


def _parse(body: bytes, is_json: bool) -> ParseResult:
    if is_json:
        from spanscope.collectors.formats.otlp_json import parse_request

        try:
            doc = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError as exc:
            raise _Reject(400, "malformed", f"body is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise _Reject(400, "malformed", "body is not an ExportTraceServiceRequest object")
        try:
            return parse_request(doc)
        except Exception as exc:  # whatever the converter trips on, the body is at fault: 400, not a retry
            raise _Reject(400, "malformed", f"not an OTLP JSON request: {exc}") from None
    try:
        req = ExportTraceServiceRequest.FromString(body)
    except (DecodeError, ValueError) as exc:
        raise _Reject(400, "malformed", f"body is not an OTLP protobuf request: {exc}") from None
    try:
        return spans_from_request(req)
    except Exception as exc:
        raise _Reject(400, "malformed", f"cannot convert the request: {exc}") from None


def _partial_message(result: ParseResult) -> str:
    shown = "; ".join(str(e) for e in result.errors[:_MAX_ERROR_MESSAGES])
    more = len(result.errors) - _MAX_ERROR_MESSAGES
    return shown + (f"; and {more} more" if more > 0 else "")


class OTLPHTTPHandlers:
    """The request handlers, bound to a writer, counters and an optional token."""

    def __init__(
        self,
        writer: BatchWriter,
        counters: Counters,
        *,
        auth_token: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        retry_after_s: int = 1,
        health: Callable[[], dict[str, Any]] | None = None,
        service_map: Callable[[], dict[str, Any]] | None = None,
        max_inflight_bytes: int = MAX_INFLIGHT_BYTES,
        body_timeout_s: float = 30.0,
        sampling: Any = None,
    ) -> None:
        self._writer = writer
        self._counters = counters
        self._token = auth_token
        self._cap = max_body_bytes
        self._retry_after_s = retry_after_s
        self._health = health
        self._service_map = service_map
        self._max_inflight_bytes = max_inflight_bytes
        self._inflight_bytes = 0
        self._body_timeout_s = body_timeout_s
        self._sampling = sampling  # a collectors.sampling_service.SamplingService, or None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self._cap, middlewares=[self._never_500])
        app.router.add_post("/v1/traces", self.export)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/v1/stats", self.stats)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/v1/service-map", self.service_map)
        if self._sampling is not None:
            from spanscope.collectors.sampling_service import PATHS

            for path in PATHS:
                app.router.add_post(path, self.sampling)
        return app

    @web.middleware
    async def _never_500(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            _log.exception("unexpected error handling %s %s", request.method, request.path)
            self._counters.add(f"{_PREFIX}.rejected:internal")
            return web.json_response(
                {"code": code_pb2.UNAVAILABLE, "message": "internal error; retry later"},
                status=503,
                headers={"Retry-After": str(self._retry_after_s)},
            )

    # observability --------------------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        return token_matches(self._token, request.headers.get("Authorization"))

    async def healthz(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"status": "ok"}
        if self._health is not None:
            body.update(self._health())
        return web.json_response(body)

    async def stats(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "missing or wrong bearer token"}, status=401)
        return web.json_response(self._counters.snapshot())

    async def metrics(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(text="missing or wrong bearer token\n", status=401)
        return web.Response(text=self._counters.prometheus(), content_type="text/plain")

    async def service_map(self, request: web.Request) -> web.Response:
        """The collector's incremental service map as X-Ray GetServiceGraph JSON."""
        if not self._authorized(request):
            return web.json_response({"message": "missing or wrong bearer token"}, status=401)
        if self._service_map is None:
            return web.json_response({"message": "no service map in this collector"}, status=404)
        body = await asyncio.to_thread(self._service_map)
        return web.Response(body=orjson.dumps(body, default=str), content_type=JSON_TYPE)

    async def sampling(self, request: web.Request) -> web.Response:
        """X-Ray's GetSamplingRules / GetSamplingTargets from the collector's rules file."""
        from spanscope.collectors.sampling_service import MAX_BODY_BYTES as SAMPLING_BODY_BYTES

        self._counters.add("sampling.requests")
        try:
            body = await read_body(request, SAMPLING_BODY_BYTES)
        except _Reject as rej:
            status, document = self._sampling.reject(rej.message)
        else:
            status, document = self._sampling.answer(request.path, body)
        if status != 200:
            self._counters.add("sampling.rejected")
        return web.Response(body=orjson.dumps(document), status=status, content_type=JSON_TYPE)

    # export ---------------------------------------------------------------------------------------
    def _refuse_if_saturated(self) -> None:
        if self._writer.saturated:
            raise _Reject(429, "overload", QUEUE_FULL_MESSAGE, retry_after_s=self._retry_after_s)

    def _reply(self, is_json: bool, status: int, message: Any, headers: dict[str, str] | None = None) -> web.Response:
        if is_json:
            if isinstance(message, ExportTraceServiceResponse):
                doc: dict[str, Any] = {}
                if message.HasField("partial_success"):
                    doc["partialSuccess"] = {
                        "rejectedSpans": str(message.partial_success.rejected_spans),
                        "errorMessage": message.partial_success.error_message,
                    }
            else:
                doc = {"code": message.code, "message": message.message}
            return web.Response(body=orjson.dumps(doc), status=status, content_type=JSON_TYPE, headers=headers)
        return web.Response(
            body=message.SerializeToString(),
            status=status,
            content_type="application/x-protobuf",
            headers=headers,
        )

    async def export(self, request: web.Request) -> web.Response:
        counters = self._counters
        counters.add(f"{_PREFIX}.requests")
        content_type = request.content_type.lower()
        is_json = content_type == JSON_TYPE
        try:
            if not self._authorized(request):
                raise _Reject(401, "unauthorized", "missing or wrong bearer token")
            if not is_json and content_type not in PROTOBUF_TYPES:
                raise _Reject(
                    415, "unsupported_media_type", f"unsupported Content-Type {content_type!r}; use protobuf or JSON"
                )
            self._refuse_if_saturated()  # before reading: aiohttp discards the unread body, nothing is held
            declared = _UNDECLARED_BODY_BYTES if request.content_length is None else request.content_length
            if self._inflight_bytes and self._inflight_bytes + declared > self._max_inflight_bytes:
                raise _Reject(429, "overload", _BUSY_MESSAGE, retry_after_s=self._retry_after_s)
            self._inflight_bytes += declared
            try:
                try:
                    async with asyncio.timeout(self._body_timeout_s):
                        body = await read_body(request, self._cap)
                except TimeoutError:
                    raise _Reject(408, "body_timeout", f"body not received within {self._body_timeout_s:g} s") from None
                self._refuse_if_saturated()  # before decoding: overload must not cost the writer's CPU
                result = _parse(body, is_json)
                del body
            finally:
                self._inflight_bytes -= declared
            counters.add_many(
                {
                    f"{_PREFIX}.spans_received": len(result.spans) + len(result.errors),
                    f"{_PREFIX}.spans_rejected": len(result.errors),
                }
            )
            if result.spans:
                try:
                    await self._writer.write(result.spans)
                except CollectorOverloadedError:
                    raise _Reject(429, "overload", QUEUE_FULL_MESSAGE, retry_after_s=self._retry_after_s) from None
                except Exception as exc:
                    raise _Reject(
                        503, "store_error", f"spans not stored: {exc}", retry_after_s=self._retry_after_s
                    ) from None
            counters.add_many({f"{_PREFIX}.accepted": 1, f"{_PREFIX}.spans_accepted": len(result.spans)})
            response = ExportTraceServiceResponse()
            if result.errors:
                response.partial_success.rejected_spans = len(result.errors)
                response.partial_success.error_message = _partial_message(result)
            return self._reply(is_json, 200, response)
        except _Reject as rej:
            counters.add(f"{_PREFIX}.rejected:{rej.reason}")
            headers: dict[str, str] = {}
            if rej.retry_after_s is not None:
                headers["Retry-After"] = str(rej.retry_after_s)
            if rej.status == 401:
                headers["WWW-Authenticate"] = "Bearer"
            status = status_pb2.Status(code=_GRPC_CODE_FOR_HTTP.get(rej.status, code_pb2.UNKNOWN), message=rej.message)
            if rej.status in (408, 413):
                # The body may be partly unread; tell the client not to reuse the connection.
                headers["Connection"] = "close"
            return self._reply(is_json, rej.status, status, headers)
