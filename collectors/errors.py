"""The one exception hierarchy of spanscope: every error a user can see is a SpanscopeError."""

from __future__ import annotations


class SpanscopeError(Exception):
    """Base of every error spanscope raises on purpose. Its message is one clear line for the user."""


class InvalidIdError(SpanscopeError, ValueError):
    """A trace or span id that is neither X-Ray nor OpenTelemetry form."""


class InvalidSpanError(SpanscopeError, ValueError):
    """A span record that cannot be turned into the model (missing id, bad timestamps, ...)."""


class StoreError(SpanscopeError):
    """The span store cannot be used."""


class StoreCorruptError(StoreError):
    """The store file is not a spanscope database or is damaged. It is never modified."""


class StoreLockedError(StoreError):
    """Another process held the store's write lock for too long."""


class StoreDiskFullError(StoreError):
    """The store's filesystem is full: the write was rolled back; it succeeds again once space is freed."""


class StoreVersionError(StoreError):
    """The store was written by a newer spanscope (schema version above ours)."""


class CollectorOverloadedError(SpanscopeError):
    """The collector's write queue is full; the sender should retry later (429 / UNAVAILABLE)."""


class ImportFormatError(SpanscopeError):
    """A trace file whose format cannot be recognised or parsed."""


class ImportLimitError(ImportFormatError):
    """A trace file refused because it passes a size bound (a compressed file inflating like a bomb)."""


class FilterSyntaxError(SpanscopeError, ValueError):
    """An X-Ray filter expression that does not parse. Names the column and what was expected."""

    def __init__(self, message: str, *, expression: str = "", column: int = 0) -> None:
        super().__init__(message)
        self.expression = expression
        self.column = column


class AnalysisError(SpanscopeError, ValueError):
    """An analyzer was given arguments it cannot work with (a negative tolerance, an empty window, ...)."""


class TraceNotFoundError(SpanscopeError, LookupError):
    """No trace with the given id is in the store."""
