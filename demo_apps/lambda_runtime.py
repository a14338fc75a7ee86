"""A small Lambda service: sandboxes are real processes with Lambda's environment; invocations go over a pipe.

Each sandbox process gets the variables Lambda sets (``AWS_LAMBDA_FUNCTION_NAME``, ``_HANDLER``,
``AWS_XRAY_DAEMON_ADDRESS``, ...), runs the runtime bootstrap (``init_delay_s``), imports the handler
module (the function's init), then serves invocations one at a time, setting ``_X_AMZN_TRACE_ID`` per
invocation as the Python runtime does. A new sandbox is a cold start; an idle one is reused (warm)
until it has served ``max_invocations_per_sandbox`` invocations, when the service reclaims it.
"""

from __future__ import annotations

import importlib
import itertools
import os
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from spanscope.demo_apps.processes import mp_context

ACCOUNT = "123456789012"


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    name: str
    handler: str  # "package.module.function"
    version: str = "1"
    region: str = "us-east-1"
    memory_mb: int = 512
    timeout_s: float = 15.0
    env: dict[str, str] = field(default_factory=dict)
    max_invocations_per_sandbox: int = 0  # 0: never reclaimed while the service runs
    init_delay_s: float = 0.0  # runtime bootstrap and code download, before the handler module loads


class LambdaContext:
    """The context object the Python runtime passes to a handler."""

    def __init__(self, config: dict[str, Any], request_id: str, deadline_s: float) -> None:
        self.function_name = config["name"]
        self.function_version = config["version"]
        self.invoked_function_arn = f"arn:aws:lambda:{config['region']}:{ACCOUNT}:function:{config['name']}"
        self.memory_limit_in_mb = str(config["memory_mb"])
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{config['name']}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[{config['version']}]{uuid.uuid4().hex}"
        self._deadline_s = deadline_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline_s - time.time()) * 1000))


def sandbox_environment(config: dict[str, Any]) -> dict[str, str]:
    """The environment Lambda gives a sandbox of this function."""
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": config["name"],
        "AWS_LAMBDA_FUNCTION_VERSION": config["version"],
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["memory_mb"]),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config['name']}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_REGION": config["region"],
        "AWS_DEFAULT_REGION": config["region"],
        "_HANDLER": config["handler"],
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
    }
    env.update(config["env"])
    return env


def sandbox_main(conn: Connection, config: dict[str, Any]) -> None:
    """A sandbox process: bootstrap, init (import the handler module), then the invocation loop."""
    for name in ("_X_AMZN_TRACE_ID", "TRACEPARENT", "TRACESTATE"):
        os.environ.pop(name, None)
    os.environ.update(sandbox_environment(config))
    time.sleep(config["init_delay_s"])
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        request_id, event, trace_header = message
        if trace_header:
            os.environ["_X_AMZN_TRACE_ID"] = trace_header
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        context = LambdaContext(config, request_id, time.time() + config["timeout_s"])
        try:
            result = handler(event, context)
        except Exception as exc:
            conn.send(("error", {"errorType": type(exc).__name__, "errorMessage": str(exc)[:500]}))
        else:
            conn.send(("ok", result))
    conn.close()


class Sandbox:
    def __init__(self, config: FunctionConfig) -> None:
        ctx = mp_context()
        self.config = config
        self.conn, child = ctx.Pipe()
        cfg = {
            "name": config.name,
            "handler": config.handler,
            "version": config.version,
            "region": config.region,
            "memory_mb": config.memory_mb,
            "timeout_s": config.timeout_s,
            "env": dict(config.env),
            "init_delay_s": config.init_delay_s,
        }
        self.process = ctx.Process(target=sandbox_main, args=(child, cfg), name=f"sandbox-{config.name}")
        self.process.start()
        child.close()
        self.invocations = 0
        self.ready = False

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        if self.ready:
            return
        if not self.conn.poll(timeout_s):
            raise TimeoutError(f"sandbox of {self.config.name} did not initialise in {timeout_s:.0f}s")
        tag, _pid = self.conn.recv()
        assert tag == "ready"
        self.ready = True

    def invoke(self, event: Any, trace_header: str | None) -> tuple[bool, Any]:
        self.wait_ready()
        request_id = str(uuid.uuid4())
        self.conn.send((request_id, event, trace_header))
        if not self.conn.poll(self.config.timeout_s + 5):
            self.kill()
            return False, {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"}
        try:
            tag, payload = self.conn.recv()
        except EOFError:
            return False, {"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited"}
        self.invocations += 1
        return tag == "ok", payload

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.kill()
        self.conn.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)


@dataclass(slots=True)
class _Function:
    config: FunctionConfig
    idle: list[Sandbox] = field(default_factory=list)
    busy: int = 0
    cold_starts: int = 0
    invocations: int = 0


class LambdaService:
    """Invoke functions by name; sandboxes are created on demand and reused while warm."""

    def __init__(self, functions: list[FunctionConfig]) -> None:
        self._lock = threading.Lock()
        self._functions = {f.name: _Function(f) for f in functions}
        self._ids = itertools.count(1)

    def invoke(self, name: str, event: Any, *, trace_header: str | None = None) -> tuple[bool, Any]:
        """Run one invocation; (True, result) or (False, {errorType, errorMessage})."""
        with self._lock:
            fn = self._functions[name]
            config = fn.config
            sandbox = None
            while fn.idle:
                candidate = fn.idle.pop()
                if candidate.config.version == config.version and candidate.process.is_alive():
                    sandbox = candidate
                    break
                threading.Thread(target=candidate.stop, daemon=True).start()
            if sandbox is None:
                fn.cold_starts += 1
            fn.busy += 1
            fn.invocations += 1
        if sandbox is None:
            sandbox = Sandbox(config)
        try:
            ok, payload = sandbox.invoke(event, trace_header)
        finally:
            with self._lock:
                fn.busy -= 1
                reuse = config.max_invocations_per_sandbox
                current = fn.config.version == sandbox.config.version
                if sandbox.process.is_alive() and current and not (reuse and sandbox.invocations >= reuse):
                    fn.idle.append(sandbox)
                    sandbox = None
        if sandbox is not None:
            threading.Thread(target=sandbox.stop, daemon=True).start()
        return ok, payload

    def deploy(self, name: str, **changes: Any) -> None:
        """Publish a new version (new sandboxes run it; old idle ones are reclaimed on their next pick)."""
        with self._lock:
            fn = self._functions[name]
            fn.config = replace(fn.config, **changes)

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {n: {"invocations": f.invocations, "cold_starts": f.cold_starts} for n, f in self._functions.items()}

    def shutdown(self) -> None:
        with self._lock:
            sandboxes = [s for f in self._functions.values() for s in f.idle]
            for f in self._functions.values():
                f.idle.clear()
        for sandbox in sandboxes:
            sandbox.stop()
