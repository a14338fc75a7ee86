"""Moving a corrupt store aside: the file and its -wal/-shm renamed, never deleted, never overwritten.

Used at start-up by ``spanscope collect`` (``move_aside_if_corrupt``) and by the live collector's
recovery (``collectors.store.recovery``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from spanscope.collectors.errors import StoreCorruptError
from spanscope.collectors.store.core import open_store
from spanscope.collectors.store.schema import is_foreign_database

SIDE_FILES = ("-wal", "-shm")


def aside_path(path: Path, now_s: float | None = None) -> Path:
    """``<db>.corrupt-<UTC time>`` next to ``path``, with ``-2``, ``-3``... when the name (or a side file) is taken."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now_s is None else now_s))
    base = f"{path.name}.corrupt-{stamp}"
    candidate = path.with_name(base)
    n = 1
    while any(path.with_name(candidate.name + s).exists() for s in ("", *SIDE_FILES)):
        n += 1
        candidate = path.with_name(f"{base}-{n}")
    return candidate


def move_aside(path: Path) -> Path:
    """Rename the store at ``path`` and its -wal/-shm to ``aside_path(path)``; returns the new name.

    Never deletes and never overwrites: a taken name gets a numeric suffix. The store must be closed.
    """
    aside = aside_path(path)
    path.rename(aside)
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(aside.with_name(aside.name + suffix))
    return aside


def move_aside_if_corrupt(db: str | os.PathLike[str]) -> str | None:
    """A corrupt store at ``db`` (and its -wal/-shm) renamed to ``<db>.corrupt-<UTC time>``; the warning.

    Never deletes and never touches a file that is another application's SQLite database, a newer
    schema or a locked store: those errors stand. Returns None when the store opens.
    """
    path = Path(db)
    try:
        open_store(path).close()
        return None
    except StoreCorruptError:
        if is_foreign_database(path):  # another application's readable SQLite database is not ours to move
            raise
    aside = move_aside(path)
    return f"store {path} is corrupt: moved it aside to {aside} and started a fresh store"
