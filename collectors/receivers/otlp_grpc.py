"""OTLP/gRPC receiver: ``opentelemetry.proto.collector.trace.v1.TraceService/Export`` on grpc.aio.

The request arrives as raw bytes and is parsed here, so a malformed message is INVALID_ARGUMENT
and counted. OK is returned only after the spans are committed. Under overload the reply is
UNAVAILABLE carrying ``google.rpc.RetryInfo`` in the status details, which OTLP exporters honour.
Messages above the receive cap are refused by gRPC itself (RESOURCE_EXHAUSTED). Connections are
bounded (``grpc.max_allowed_incoming_connections``), must finish the HTTP/2 handshake within
``handshake_timeout_s``, are pinged when idle, and get GOAWAY after ``max_connection_idle_s``
without calls and after ``max_connection_age_s`` in any case (clients reconnect transparently).
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from spanscope.collectors.errors import CollectorOverloadedError
from spanscope.collectors.formats.otlp_proto import spans_from_request
from spanscope.collectors.receivers.auth import token_matches
from spanscope.collectors.receivers.counters import Counters
from spanscope.collectors.receivers.writer import QUEUE_FULL_MESSAGE, BatchWriter

_log = logging.getLogger(__name__)

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
MAX_MESSAGE_BYTES = 20 * 1024 * 1024
_PREFIX = "otlp_grpc"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _retry_status(code: int, message: str, retry_after_s: int) -> grpc.Status:
    detail = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=retry_after_s))
    status = status_pb2.Status(code=code, message=message)
    status.details.add().Pack(detail)
    return rpc_status.to_status(status)


class OTLPGRPCReceiver:
    """A grpc.aio server exposing TraceService/Export; create and start it inside the running loop."""

    def __init__(
        self,
        host: str,
        port: int,
        writer: BatchWriter,
        counters: Counters,
        *,
        auth_token: str | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        retry_after_s: int = 1,
        max_concurrent_rpcs: int = 256,
        max_connections: int = 10_000,
        keepalive_time_s: float = 60.0,
        keepalive_timeout_s: float = 20.0,
        max_connection_idle_s: float = 60.0,
        max_connection_age_s: float = 900.0,
        max_connection_age_grace_s: float = 30.0,
        handshake_timeout_s: float = 10.0,
    ) -> None:
        self._writer = writer
        self._counters = counters
        self._token = auth_token
        self._retry_after_s = retry_after_s
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
                # Idle and slow connections (issue 15): bounded, pinged, and closed when they hold a slot for nothing.
                ("grpc.max_allowed_incoming_connections", max_connections),
                ("grpc.server_handshake_timeout_ms", _ms(handshake_timeout_s)),
                ("grpc.keepalive_time_ms", _ms(keepalive_time_s)),
                ("grpc.keepalive_timeout_ms", _ms(keepalive_timeout_s)),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.max_connection_idle_ms", _ms(max_connection_idle_s)),
                ("grpc.max_connection_age_ms", _ms(max_connection_age_s)),
                ("grpc.max_connection_age_grace_ms", _ms(max_connection_age_grace_s)),
            ],
            maximum_concurrent_rpcs=max_concurrent_rpcs,
        )
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Export": grpc.unary_unary_rpc_method_handler(
                    self._export,
                    request_deserializer=None,
                    response_serializer=ExportTraceServiceResponse.SerializeToString,
                )
            },
        )
        self._server.add_generic_rpc_handlers((handler,))
        bind_host = f"[{host.strip('[]')}]" if ":" in host else host
        bound = self._server.add_insecure_port(f"{bind_host}:{port}")
        if bound == 0:
            raise OSError(f"cannot bind OTLP/gRPC to {host}:{port}")
        self.address: tuple[str, int] = (host.strip("[]"), bound)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Refuse new calls and let the calls in flight finish (their spans get committed)."""
        await self._server.stop(grace_s)

    async def _export(self, request: bytes, context: grpc.aio.ServicerContext) -> ExportTraceServiceResponse:
        counters = self._counters
        counters.add(f"{_PREFIX}.requests")
        metadata = {key.lower(): value for key, value in (context.invocation_metadata() or ())}
        auth = metadata.get("authorization")
        if not token_matches(self._token, auth if isinstance(auth, (str, bytes)) else None):
            counters.add(f"{_PREFIX}.rejected:unauthorized")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        if self._writer.saturated:  # refused before decoding: overload must not cost the CPU the writer needs
            counters.add(f"{_PREFIX}.rejected:overload")
            await context.abort_with_status(
                _retry_status(code_pb2.UNAVAILABLE, QUEUE_FULL_MESSAGE, self._retry_after_s)
            )
        try:
            req = ExportTraceServiceRequest.FromString(request)
        except (DecodeError, ValueError) as exc:
            counters.add(f"{_PREFIX}.rejected:malformed")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not an OTLP request: {exc}")
        try:
            result = spans_from_request(req)
        except Exception as exc:  # the message is at fault, not the server: no retry
            counters.add(f"{_PREFIX}.rejected:malformed")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot convert the request: {exc}")
        counters.add_many(
            {
                f"{_PREFIX}.spans_received": len(result.spans) + len(result.errors),
                f"{_PREFIX}.spans_rejected": len(result.errors),
            }
        )
        if result.spans:
            try:
                await self._writer.write(result.spans)
            except CollectorOverloadedError as exc:
                counters.add(f"{_PREFIX}.rejected:overload")
                await context.abort_with_status(_retry_status(code_pb2.UNAVAILABLE, str(exc), self._retry_after_s))
            except Exception as exc:
                counters.add(f"{_PREFIX}.rejected:store_error")
                await context.abort_with_status(
                    _retry_status(code_pb2.UNAVAILABLE, f"spans not stored: {exc}", self._retry_after_s)
                )
        counters.add_many({f"{_PREFIX}.accepted": 1, f"{_PREFIX}.spans_accepted": len(result.spans)})
        response = ExportTraceServiceResponse()
        if result.errors:
            response.partial_success.rejected_spans = len(result.errors)
            response.partial_success.error_message = "; ".join(str(e) for e in result.errors[:5])
        return response
