"""Serves X-Ray's GetSamplingRules and GetSamplingTargets from a local rules file, so a fleet samples by one file.

Tracers (``spanscope.tracer.sampling.RemoteRulesSampler``, the X-Ray SDKs, the OpenTelemetry
X-Ray remote samplers) post to ``/GetSamplingRules`` and ``/SamplingTargets`` as they would to
the X-Ray daemon. ``spanscope sampling serve`` answers them on its own port (``serve_sampling``);
``spanscope collect --sampling-rules FILE`` answers them on the OTLP/HTTP port through
:meth:`SamplingService.answer`, the one place a request is decoded.

Each rule's reservoir is per fleet: every target hands a reporting client an even share (rounded
up) of the rule's reservoir among the clients that reported in the last ``client_ttl_s``; the fixed
rate is the rule's. Requests are unsigned and bodies are limited to 1 MiB; a bad body is answered
400 with X-Ray's error shape and counted.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from spanscope.tracer.sampling.rules import SamplingRule, load_rules_file

__all__ = ["PATHS", "SamplingService", "serve_sampling"]

MAX_BODY_BYTES = 1 << 20
TARGET_INTERVAL_S = 10
QUOTA_TTL_S = 10
PATHS = ("/GetSamplingRules", "/SamplingTargets")  # the X-Ray daemon's (and the ADOT/X-Ray SDK samplers')


def _record(rule: SamplingRule, created_s: float) -> dict[str, Any]:
    return {
        "SamplingRule": {
            "RuleName": rule.name,
            "RuleARN": f"arn:spanscope:xray:local:sampling-rule/{rule.name}",
            "ResourceARN": rule.resource_arn,
            "Priority": rule.priority,
            "FixedRate": rule.fixed_rate,
            "ReservoirSize": rule.reservoir_size,
            "ServiceName": rule.service_name,
            "ServiceType": rule.service_type,
            "Host": rule.host,
            "HTTPMethod": rule.http_method,
            "URLPath": rule.url_path,
            "Version": 1,
            "Attributes": dict(rule.attributes),
        },
        "CreatedAt": created_s,
        "ModifiedAt": created_s,
    }


class SamplingService:
    """The two APIs' answers for a fixed set of rules (thread-safe; ``clock`` in seconds)."""

    def __init__(
        self, rules: Sequence[SamplingRule], *, clock: Callable[[], float] = time.time, client_ttl_s: float = 60.0
    ) -> None:
        self.rules = list(rules)
        self._clock = clock
        self._created = clock()
        self._client_ttl_s = client_ttl_s
        self._seen: dict[str, dict[str, float]] = {r.name: {} for r in self.rules}
        self._lock = threading.Lock()
        self.rejected = 0

    @classmethod
    def from_file(cls, path: str | Path) -> SamplingService:
        return cls(load_rules_file(path))

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """``(HTTP status, JSON document)`` for a POST of ``body`` to ``path`` (404 unknown path, 400 bad
        body, counted in ``rejected``)."""
        route = {PATHS[0]: self.get_sampling_rules, PATHS[1]: self.get_sampling_targets}.get(path.split("?", 1)[0])
        if route is None:
            return 404, {"__type": "NotFound", "message": f"no API at {path}"}
        try:
            if len(body) > MAX_BODY_BYTES:
                raise ValueError(f"body of {len(body)} bytes (limit {MAX_BODY_BYTES})")
            document = json.loads(body or b"{}")
            if not isinstance(document, dict):
                raise ValueError("expected a JSON object")
            return 200, route(document)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return self.reject(str(exc))

    def reject(self, message: str) -> tuple[int, dict[str, Any]]:
        """A 400 answer in X-Ray's error shape, counted."""
        with self._lock:
            self.rejected += 1
        return 400, {"__type": "InvalidRequestException", "message": message}

    def get_sampling_rules(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"SamplingRuleRecords": [_record(r, self._created) for r in self.rules]}

    def get_sampling_targets(self, body: dict[str, Any]) -> dict[str, Any]:
        documents = body.get("SamplingStatisticsDocuments")
        if not isinstance(documents, list):
            raise ValueError("SamplingStatisticsDocuments must be a list")
        now = self._clock()
        by_name = {r.name: r for r in self.rules}
        targets: list[dict[str, Any]] = []
        unprocessed: list[dict[str, Any]] = []
        with self._lock:
            for doc in documents:
                name = doc.get("RuleName") if isinstance(doc, dict) else None
                client = doc.get("ClientID") if isinstance(doc, dict) else None
                if not isinstance(name, str) or not isinstance(client, str) or name not in by_name:
                    unprocessed.append({"RuleName": name, "ErrorCode": "400", "Message": "unknown rule or client"})
                    continue
                seen = self._seen[name]
                seen[client] = now
                for other, at in list(seen.items()):
                    if now - at > self._client_ttl_s:
                        del seen[other]
                rule = by_name[name]
                targets.append(
                    {
                        "RuleName": name,
                        "FixedRate": rule.fixed_rate,
                        "ReservoirQuota": math.ceil(rule.reservoir_size / len(seen)) if rule.reservoir_size else 0,
                        "ReservoirQuotaTTL": now + QUOTA_TTL_S,
                        "Interval": TARGET_INTERVAL_S,
                    }
                )
        return {
            "SamplingTargetDocuments": targets,
            "LastRuleModification": self._created,
            "UnprocessedStatistics": unprocessed,
        }


def serve_sampling(service: SamplingService, host: str = "127.0.0.1", port: int = 2000) -> ThreadingHTTPServer:
    """A started HTTP server answering the two APIs on ``host:port`` (port 0 picks one); call ``shutdown()``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            declared = self.headers.get("Content-Length") or "0"
            if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
                status, document = service.reject(f"body of {declared} bytes (limit {MAX_BODY_BYTES})")
            else:
                status, document = service.answer(self.path, self.rfile.read(int(declared)))
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="spanscope-sampling", daemon=True).start()
    return server
