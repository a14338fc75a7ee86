"""Trace context across threads: an executor whose tasks run in the context of the code that submitted them.

Threads start with an empty context, so a span made in a pool worker would otherwise start a new trace.
``ContextThreadPoolExecutor`` binds each task to the submitter's context; as asyncio's default executor
(``loop.set_default_executor(ContextThreadPoolExecutor())``) it does the same for ``run_in_executor``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from spanscope.tracer.api import bind

P = ParamSpec("P")
T = TypeVar("T")


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks (``submit`` and ``map``) see the submitter's current span."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return super().submit(bind(fn), *args, **kwargs)
