"""spanscope collectors: receive, normalize, store and map spans. Owns the span model.

``from spanscope.collectors import open_store`` opens a store (``collectors.store``); it is imported on
first use, so ``import spanscope.collectors`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spanscope.collectors.store import open_store

__all__ = ["open_store"]


def __getattr__(name: str) -> Any:
    if name == "open_store":
        from spanscope.collectors.store import open_store

        return open_store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
