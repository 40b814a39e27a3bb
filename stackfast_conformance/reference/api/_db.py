"""The auth database: a real sqlite file standing in for Neon Postgres.

``DATABASE_URL`` is ``sqlite:////abs/path/auth.db``; empty means "no database"
(auth not ready). While the ``DB_OUTAGE_FLAG`` file exists every access fails
like an unreachable network database; callers retry with backoff for up to
``DB_RETRY_SECONDS`` (R2.3) and then give up with ``DatabaseUnavailable``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ._config import ApiConfig

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, github_id TEXT UNIQUE, login TEXT, email TEXT, created_at REAL);
CREATE TABLE IF NOT EXISTS sessions (
  token TEXT PRIMARY KEY, id TEXT, user_id TEXT, expires_at REAL, created_at REAL);
CREATE TABLE IF NOT EXISTS oauth_states (
  state TEXT PRIMARY KEY, callback_url TEXT, created_at REAL);
"""

HANG_CAP_SECONDS = 600.0


class DatabaseUnavailable(Exception):
    pass


class AuthDatabase:
    def __init__(self, path: Path, config: ApiConfig) -> None:
        self._path = path
        self._outage_flag = Path(config.db_outage_flag) if config.db_outage_flag else None
        self._retry_seconds = config.db_retry_seconds
        self._no_retry = config.has("db-no-retry")
        self._hangs = config.has("db-hangs")
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        # fault rollback-schema-mismatch: every build "migrates" the schema to its own build number,
        # so after a rollback the older build no longer fits the schema (R12.3)
        self._schema_ahead = config.has("rollback-schema-mismatch") and _schema_ahead_of(self._conn, config.build_id)

    @classmethod
    def open(cls, config: ApiConfig) -> AuthDatabase:
        """Open the configured database; raises ValueError/sqlite3.Error when it cannot."""
        url = config.database_url
        if not url.startswith("sqlite:///"):
            raise ValueError(f"unsupported DATABASE_URL scheme: {url.split(':', 1)[0]!r}")
        return cls(Path(url[len("sqlite:///") :]), config)

    def close(self) -> None:
        self._conn.close()

    def _reachable(self) -> bool:
        return self._outage_flag is None or not self._outage_flag.exists()

    async def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run one DB operation, retrying an outage with backoff up to the deadline."""
        started = time.monotonic()
        budget = HANG_CAP_SECONDS if self._hangs else self._retry_seconds
        delay = 0.05
        while True:
            if self._reachable():
                if self._schema_ahead:
                    raise sqlite3.OperationalError("no such column: users.avatar_url (schema migrated by a newer build)")
                return operation(self._conn)
            elapsed = time.monotonic() - started
            if self._no_retry or elapsed >= budget:
                raise DatabaseUnavailable(f"database unreachable after {elapsed:.1f}s")
            await asyncio.sleep(min(delay, budget - elapsed))
            delay = min(delay * 2, 1.0)


def _schema_ahead_of(conn: sqlite3.Connection, build_id: str) -> bool:
    """Record ``build_id``'s number as the schema version; True when a newer build already migrated it."""
    digits = "".join(ch for ch in build_id.rsplit("-", 1)[-1] if ch.isdigit())
    build = int(digits) if digits else 0
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), build INTEGER)")
    row = conn.execute("SELECT build FROM schema_version WHERE id = 1").fetchone()
    if row is None or int(row[0]) < build:
        conn.execute("INSERT OR REPLACE INTO schema_version (id, build) VALUES (1, ?)", (build,))
        return False
    return int(row[0]) > build
