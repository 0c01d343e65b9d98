"""The log database file itself: its schema, and opening it for reading or writing without a
traceback when the file is corrupt, read-only (file or directory) or locked by another process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .args import LogError

__all__ = ["BUSY_TIMEOUT", "SCHEMA_VERSION", "connect", "log_error"]

#: Seconds a reader or writer waits for another process's lock on the log before giving up.
BUSY_TIMEOUT = 10.0

SCHEMA_VERSION = 2  # 2: conversations.options

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id          TEXT PRIMARY KEY,
    model       TEXT NOT NULL,            -- the "provider:model" spec the conversation runs on
    name        TEXT NOT NULL DEFAULT '', -- the first prompt, shortened, for listings
    tools       TEXT,                     -- JSON list of tool definitions, sent again on -c
    options     TEXT,                     -- JSON client options (base_url, retries...; never a key), reused on -c
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,  -- also the order of the conversation
    conversation_id     TEXT NOT NULL REFERENCES conversations(id),
    created_at          TEXT NOT NULL,
    provider            TEXT,
    model               TEXT,
    input               TEXT NOT NULL,    -- JSON list of the messages this turn added
    prompt              TEXT NOT NULL DEFAULT '',
    text                TEXT NOT NULL DEFAULT '',
    reasoning           TEXT NOT NULL DEFAULT '',
    reasoning_blocks    TEXT NOT NULL DEFAULT '[]',
    refusal             TEXT NOT NULL DEFAULT '',
    tool_calls          TEXT NOT NULL DEFAULT '[]',
    input_tokens        INTEGER,
    output_tokens       INTEGER,
    usage               TEXT,             -- JSON: every Usage field
    finish_reason       TEXT,
    raw_finish_reason   TEXT,
    response_id         TEXT,
    duration_ms         REAL,
    first_chunk_ms      REAL,
    partial             INTEGER NOT NULL DEFAULT 0,
    error               TEXT
);
CREATE INDEX IF NOT EXISTS responses_by_conversation ON responses (conversation_id, id);
"""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the log at ``path`` with the current schema.

    ``readonly`` opens an existing log with ``mode=ro`` and writes nothing (not even the schema, nor
    an upgrade of an older file); otherwise the file is created or brought up to date. Any failure is a
    :class:`LogError` saying what is wrong with the file.
    """
    try:
        if readonly and path.exists():
            connection = _readonly(path)
            if connection is not None:
                return connection
        path.parent.mkdir(parents=True, exist_ok=True)
        # A second llmstream writing at the same moment waits for the lock instead of failing.
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT)
        try:
            connection.row_factory = sqlite3.Row
            with connection:
                connection.executescript(_SCHEMA)
                columns = {row[1] for row in connection.execute("PRAGMA table_info(conversations)")}
                if "options" not in columns:  # a version 1 file
                    connection.execute("ALTER TABLE conversations ADD COLUMN options TEXT")
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            connection.close()
            raise
    except (sqlite3.Error, OSError) as exc:
        raise log_error(exc, path, "read" if readonly else "open") from None
    return connection


def _readonly(path: Path) -> sqlite3.Connection | None:
    """``path`` opened read-only when it holds the log's tables (an older version reads too: what it
    lacks reads as empty); None when it has none yet and needs writing first."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
    try:
        connection.row_factory = sqlite3.Row
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except BaseException:
        connection.close()
        raise
    if {"conversations", "responses"} <= tables:
        return connection
    connection.close()
    return None


def log_error(exc: BaseException, path: Path, doing: str) -> LogError:
    """A database failure as one line: what the file's problem is and what to do about it."""
    text = str(exc) or type(exc).__name__
    lower = text.lower()
    if "not a database" in lower or "malformed" in lower or "encrypted" in lower:
        why = f"it is corrupt ({text}); move it away and a new log starts"
    elif "locked" in lower or "busy" in lower:
        why = "another process holds a lock on it; try again when that one is done"
    elif "readonly" in lower or "read-only" in lower or isinstance(exc, PermissionError):
        why = f"it is read-only ({text})"
    elif "unable to open" in lower:
        why = f"{text}: check the permissions of the file and of its directory"
    else:
        why = text
    return LogError(f"cannot {doing} the log database {path}: {why}")
