"""The store's file format: schema version, migrations, opening and identity checks, SQLite error translation.

A file that is not a spanscope store, is damaged, is locked too long or was written by a newer schema
is reported with a clear error and never modified.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from spanscope.collectors.errors import (
    StoreCorruptError,
    StoreDiskFullError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
)
from spanscope.collectors.groups import GROUPS_SCHEMA

_log = logging.getLogger("spanscope.collectors.store")

SCHEMA_VERSION = 2
APPLICATION_ID = 0x5350534E  # "SPSN": marks a file as a spanscope store
_SQLITE_HEADER = b"SQLite format 3\x00"

# Migrations from version N to N+1, applied in order inside one transaction. Version 0 is "empty".
_MIGRATIONS: dict[int, Sequence[str]] = {
    0: (
        """CREATE TABLE resources (
            id INTEGER PRIMARY KEY,
            digest TEXT NOT NULL UNIQUE,
            body BLOB NOT NULL
        )""",
        """CREATE TABLE spans (
            trace_id TEXT NOT NULL,
            span_id TEXT NOT NULL,
            parent_id TEXT,
            service TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER NOT NULL,
            status TEXT NOT NULL,
            in_progress INTEGER NOT NULL,
            resource_id INTEGER,
            body BLOB NOT NULL,
            PRIMARY KEY (trace_id, span_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE traces (
            trace_id TEXT PRIMARY KEY,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER NOT NULL,
            root_span_id TEXT NOT NULL,
            root_service TEXT NOT NULL,
            root_name TEXT NOT NULL,
            root_start_ns INTEGER NOT NULL,
            root_is_entry INTEGER NOT NULL,
            span_count INTEGER NOT NULL,
            in_progress_count INTEGER NOT NULL,
            error INTEGER NOT NULL,
            fault INTEGER NOT NULL,
            throttle INTEGER NOT NULL,
            services TEXT NOT NULL,
            seq INTEGER NOT NULL
        )""",
        "CREATE INDEX traces_start ON traces (start_ns)",
        "CREATE INDEX traces_seq ON traces (seq)",
        """CREATE TABLE trace_services (
            service TEXT NOT NULL,
            trace_id TEXT NOT NULL,
            PRIMARY KEY (service, trace_id)
        ) WITHOUT ROWID""",
    ),
    1: GROUPS_SCHEMA,  # saved filter groups (collectors.groups)
}


def connect(path: Path, *, readonly: bool, busy_timeout_s: float) -> sqlite3.Connection:
    """The store's connection (WAL, explicit transactions), created and migrated unless ``readonly``."""
    exists = path.exists()
    if exists:
        _check_header(path)
    elif readonly:
        raise StoreError(f"store {path} does not exist")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if readonly:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=busy_timeout_s,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(str(path), timeout=busy_timeout_s, check_same_thread=False)
        conn.isolation_level = None  # explicit transactions
        _check_identity(conn, path, readonly=readonly)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            _migrate(conn)
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        return conn
    except sqlite3.DatabaseError as exc:
        raise translate(exc, path) from exc


def is_foreign_database(path: Path) -> bool:
    """True when ``path`` is a readable SQLite database of another application (not ours to move or change)."""
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.DatabaseError:
        return False
    return bool(app_id != APPLICATION_ID)


def _check_identity(conn: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id == 0 and version == 0 and tables == 0:
        if readonly:
            raise StoreError(f"store {path} is empty")
        return  # a new or empty file: ours to initialise
    if app_id != APPLICATION_ID:
        raise StoreCorruptError(f"{path} is an SQLite database but not a spanscope store; it was left untouched")
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"store {path} has schema version {version}, newer than this spanscope's {SCHEMA_VERSION}; "
            "upgrade spanscope (the file was left untouched)"
        )


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        while version < SCHEMA_VERSION:
            for statement in _MIGRATIONS[version]:
                conn.execute(statement)
            version += 1
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={version}")
        conn.execute("COMMIT")
    except BaseException:
        rollback_if_open(conn)
        raise


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read store {path}: {exc.strerror or exc}") from exc
    if header and header != _SQLITE_HEADER:
        raise StoreCorruptError(f"{path} is not an SQLite database (corrupt or not a store); it was left untouched")


def rollback_if_open(conn: sqlite3.Connection) -> None:
    """Roll back the connection's transaction unless SQLite already did (it does on a full disk, among others).

    A ROLLBACK without a transaction raises and would hide the error that ended the transaction (a full
    disk, a corrupt page): the caller re-raises that one, so a failing ROLLBACK is only logged.
    """
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        _log.warning("rollback failed after a store error: %s", exc)


_SQLITE_FULL = 13
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def translate(exc: sqlite3.DatabaseError, path: Path) -> StoreError:
    text = str(exc)
    primary = int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF  # extended codes keep the primary in the low byte
    corrupt_text = "malformed" in text or "not a database" in text or "corrupt" in text
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or corrupt_text:
        return StoreCorruptError(f"store {path} is damaged ({text}); it was left untouched")
    if primary == _SQLITE_FULL or "disk is full" in text:
        return StoreDiskFullError(f"disk full: {path} ({text}); writes fail until space is freed")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreLockedError(f"store {path} stayed locked by another process: {text}")
    return StoreError(f"store {path}: {text}")
