"""The error an engine raises when it cannot run (missing extra, unsupported source, unknown option)."""

from __future__ import annotations

from spanscope.collectors.errors import SpanscopeError


class EngineError(SpanscopeError):
    """An engine cannot run (missing extra, unsupported source)."""
