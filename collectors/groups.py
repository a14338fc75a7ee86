"""Saved filter groups (X-Ray's groups): a name and a filter expression, kept in the store's ``groups`` table.

The expression is stored as text; the command line checks it with the filter parser before saving
and expands ``group.name = "NAME"`` with :func:`load_groups`. A store written before groups existed
(schema 1) opened read-only has no table: it simply has no groups.

>>> import tempfile, os
>>> from spanscope.collectors.store import open_store
>>> with open_store(os.path.join(tempfile.mkdtemp(), "spans.db")) as store:
...     save_group(store, "slow", "responsetime > 5")
...     load_groups(store)
{'slow': 'responsetime > 5'}
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spanscope.collectors.errors import StoreError

if TYPE_CHECKING:
    from spanscope.collectors.store import Store

__all__ = ["GROUPS_SCHEMA", "Group", "delete_group", "list_groups", "load_groups", "save_group"]

# Migration 1 -> 2 of the store (collectors.store.schema._MIGRATIONS)
GROUPS_SCHEMA = (
    """CREATE TABLE groups (
        name TEXT PRIMARY KEY,
        expression TEXT NOT NULL,
        created_ns INTEGER NOT NULL
    ) WITHOUT ROWID""",
)
MAX_NAME_CHARS = 32  # X-Ray's limit for group names


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    expression: str
    created_ns: int


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME_CHARS or not all(c.isalnum() or c in "-_" for c in name):
        raise StoreError(f"group name {name!r}: use 1 to {MAX_NAME_CHARS} letters, digits, '-' or '_'")


def save_group(store: Store, name: str, expression: str, *, replace: bool = False) -> None:
    """Save (or with ``replace`` overwrite) the group ``name``; StoreError if it exists already."""
    _check_name(name)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    with store.connection() as conn:
        try:
            conn.execute(
                f"{verb} INTO groups (name, expression, created_ns) VALUES (?, ?, ?)",
                (name, expression, time.time_ns()),
            )
        except sqlite3.IntegrityError:
            raise StoreError(f"group {name!r} exists already (remove it first, or use --replace)") from None


def delete_group(store: Store, name: str) -> bool:
    """Remove the group ``name``; False if there was none."""
    with store.connection() as conn:
        return conn.execute("DELETE FROM groups WHERE name = ?", (name,)).rowcount > 0


def list_groups(store: Store) -> list[Group]:
    """Every saved group, by name."""
    with store.connection() as conn:
        try:
            rows = conn.execute("SELECT name, expression, created_ns FROM groups ORDER BY name").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # a schema-1 store opened read-only
            raise
    return [Group(r[0], r[1], int(r[2])) for r in rows]


def load_groups(store: Store) -> dict[str, str]:
    """``{name: expression}`` of every saved group, for ``compile_filter(..., groups=...)``."""
    return {g.name: g.expression for g in list_groups(store)}
