"""Exporters from names and environment variables: OTLP (HTTP or gRPC, endpoint by the SDK's rules), console,
memory, the X-Ray daemon over UDP; the defaults when none are named."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.tracer.health import HEALTH, LogText
from spanscope.tracer.runtime import RUNTIME

DEFAULT_XRAY_DAEMON = "127.0.0.1:2000"
PROTOCOLS = ("http/protobuf", "grpc")
OTLP_DEFAULTS = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}
ENDPOINT_HINT = (
    "set OTEL_EXPORTER_OTLP_ENDPOINT (base URL) or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (full URL)"
    " or call configure(endpoint=...); `spanscope collect` listens on 127.0.0.1:4318 (HTTP) and :4317 (gRPC)"
)


def daemon_udp_address(value: str | None) -> str:
    """The UDP address from ``AWS_XRAY_DAEMON_ADDRESS`` (``host:port`` or ``tcp:h:p udp:h:p``).

    >>> daemon_udp_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001"), daemon_udp_address(None)
    ('127.0.0.2:2001', '127.0.0.1:2000')
    """
    if not value:
        return DEFAULT_XRAY_DAEMON
    for part in value.split():
        if part.startswith("udp:"):
            return part[4:]
    parts = value.split()
    return parts[0] if parts and not parts[0].startswith("tcp:") else DEFAULT_XRAY_DAEMON


def otlp_protocol(protocol: str | None, environ: Mapping[str, str]) -> str:
    """``http/protobuf`` or ``grpc``: the argument, else OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL, else http/protobuf.

    >>> otlp_protocol(None, {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}), otlp_protocol("http/protobuf", {})
    ('grpc', 'http/protobuf')
    """
    value = (
        protocol
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    value = value.strip().lower()
    if value == "http/json":
        HEALTH.fail("otlp_http_json_unsupported", "using http/protobuf")
        return "http/protobuf"
    if value not in PROTOCOLS:
        HEALTH.fail("unknown_otlp_protocol", LogText(f"{value!r}: expected http/protobuf or grpc; using http/protobuf"))
        return "http/protobuf"
    return value


def otlp_endpoint(protocol: str, endpoint: str | None, environ: Mapping[str, str]) -> tuple[str, str]:
    """The URL the OTLP exporter sends to and what set it, by the OpenTelemetry SDK's rules: for
    http/protobuf the traces variable is the full URL and the base one gets ``/v1/traces`` appended.
    ``configure(endpoint=...)`` takes a base URL (``/v1/traces`` appended when it has no path) or a
    full one; an address without a scheme is taken as plain ``http://``.

    >>> otlp_endpoint("http/protobuf", None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"})
    ('http://c:4318/v1/traces', 'OTEL_EXPORTER_OTLP_ENDPOINT')
    >>> otlp_endpoint("grpc", "127.0.0.1:4317", {})
    ('http://127.0.0.1:4317', 'configure(endpoint=...)')
    >>> otlp_endpoint("http/protobuf", None, {})
    ('http://localhost:4318/v1/traces', 'the default')
    """
    grpc = protocol == "grpc"
    if endpoint:
        url = endpoint.strip()
        if "://" not in url:
            url = f"http://{url}"
        if not grpc and url.split("://", 1)[1].rstrip("/").count("/") == 0:
            url = f"{url.rstrip('/')}/v1/traces"
        return url, "configure(endpoint=...)"
    signal = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if signal:
        return signal, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    source = "OTEL_EXPORTER_OTLP_ENDPOINT" if base else "the default"
    base = base or OTLP_DEFAULTS[protocol]
    return (base if grpc else f"{base.removesuffix('/')}/v1/traces"), source


def exporter_from_name(name: str, environ: Mapping[str, str]) -> SpanExporter | None:
    """An exporter for a name; None (counted, logged once) when unknown or its package is missing."""
    return named_exporter(name, environ)[0]


def named_exporter(
    name: str, environ: Mapping[str, str], *, endpoint: str | None = None, protocol: str | None = None
) -> tuple[SpanExporter | None, str | None]:
    """An exporter for a name and a description of where it sends (None when unknown or unavailable,
    counted and logged once). ``endpoint`` and ``protocol`` apply to the OTLP names."""
    key = name.strip().lower()
    try:
        if key in ("otlp", "otlp-http", "otlp-grpc"):
            chosen = {"otlp-http": "http/protobuf", "otlp-grpc": "grpc"}.get(key) or otlp_protocol(protocol, environ)
            url, source = otlp_endpoint(chosen, endpoint, environ)
            target = f"{url} ({chosen}, {_source_text(source)})"
            if chosen == "http/protobuf":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                return OTLPSpanExporter(endpoint=url), target
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcSpanExporter,
            )

            return GrpcSpanExporter(endpoint=url), target
        if key == "console":
            return ConsoleSpanExporter(), None
        if key == "memory":
            exporter = InMemorySpanExporter()
            RUNTIME.memory_exporter = exporter
            return exporter, None
        if key in ("xray-udp", "xray"):
            from spanscope.tracer.xray.exporter import XRayUdpExporter  # type: ignore[import-not-found,unused-ignore]

            address = daemon_udp_address(environ.get("AWS_XRAY_DAEMON_ADDRESS"))
            source = "AWS_XRAY_DAEMON_ADDRESS" if environ.get("AWS_XRAY_DAEMON_ADDRESS") else "the default"
            udp: SpanExporter = XRayUdpExporter(address=address)
            return udp, f"udp://{address} (X-Ray daemon protocol; {source})"
        if key == "none":
            return None, None
    except ImportError as exc:
        HEALTH.fail(f"exporter_unavailable:{key}", exc)
        return None, None
    except Exception as exc:
        HEALTH.fail(f"exporter_setup:{key}", exc)
        return None, None
    HEALTH.fail("unknown_exporter", name)
    return None, None


def _source_text(source: str) -> str:
    if source == "the default":
        return f"the default; to change it {ENDPOINT_HINT}"
    return f"set by {source}"


def default_exporter_names(environ: Mapping[str, str]) -> list[str]:
    """Exporters when none are given: OTEL_TRACES_EXPORTER; else OTLP when its endpoint is set; else the
    X-Ray daemon when AWS_XRAY_DAEMON_ADDRESS is set (Lambda with active tracing); else OTLP/HTTP to localhost."""
    listed = environ.get("OTEL_TRACES_EXPORTER")
    if listed:
        return [n.strip() for n in listed.split(",") if n.strip()]
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return ["otlp"]
    if environ.get("AWS_XRAY_DAEMON_ADDRESS"):
        return ["xray-udp"]
    return ["otlp"]
