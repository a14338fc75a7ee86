"""`spanscope sampling serve`: answer X-Ray's GetSamplingRules/GetSamplingTargets from a local rules file."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from spanscope.cli.common import UsageError


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "sampling", help="X-Ray sampling rules for a fleet: serve a local rules file to tracers"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser(
        "serve",
        help="answer GetSamplingRules and GetSamplingTargets (the X-Ray daemon's sampling API) from FILE",
    )
    serve.add_argument(
        "--rules", metavar="FILE", required=True, help="X-Ray rules file (local v1/v2 or GetSamplingRules JSON)"
    )
    serve.add_argument("--listen", metavar="H:P", default="127.0.0.1:2000", help="HTTP address (port 0 picks one)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spanscope.collectors.sampling_service import SamplingService, serve_sampling
    from spanscope.tracer.sampling import SamplingRulesError

    host, sep, port_text = args.listen.rpartition(":")
    if not sep or not port_text.isdigit():
        raise UsageError(f"--listen {args.listen!r}: expected HOST:PORT")
    try:
        service = SamplingService.from_file(args.rules)
    except SamplingRulesError as exc:
        raise UsageError(str(exc)) from None
    try:
        server = serve_sampling(service, host or "127.0.0.1", int(port_text))
    except OSError as exc:
        raise UsageError(f"--listen {args.listen}: {exc.strerror or exc}") from None
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    sys.stdout.write(f"listening sampling {bound_host}:{bound_port} ({len(service.rules)} rules)\n")
    sys.stdout.flush()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0
