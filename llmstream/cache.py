"""A response cache whose hits replay as streams.

``cache=MemoryCache()``, ``SQLiteCache(path, ttl=None)`` or ``RedisCache(url, ttl=None)`` on a client
or on one call. The key is a hash of the canonical request (provider, model, base URL without its
userinfo, messages with attachments by content hash, tools, every generation parameter, the output
type), never the API key. A hit is replayed through the ordinary stream shells, so callbacks,
processors and ``completion`` behave as for a live stream, with ``completion.cached`` set. Only
complete successes are stored. A broken cache (corrupt file, locked database, Redis gone) is a
logged warning and a miss, never a failed call.
"""

from __future__ import annotations

import collections
import enum
import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from ._types import (
    ChunkType,
    Citation,
    Completion,
    FinishReason,
    ServerToolEvent,
    ServerToolStatus,
    StreamedChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "Cache", "CacheMode", "MemoryCache", "RedisCache", "SQLiteCache", "cache_key", "cacheable", "completion_from_entry",
    "entry_from_completion", "replay_chunks",
]

log = logging.getLogger("llmstream.cache")

CacheMode = Literal["read_write", "read_only", "refresh"]
#: Bumped whenever the stored shape changes: older entries are then misses, never misreadings.
FORMAT = 1
_WORDS = re.compile(r"\S+\s*|\s+")


class Cache(Protocol):
    """What a cache backend does: ``get`` a stored entry (or None), ``set`` one. Both may fail: the
    caller turns a failure into a warning and a miss."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, entry: dict[str, Any]) -> None: ...


# -- the key -------------------------------------------------------------------------------------


def _canon(value: Any) -> Any:
    """A JSON-able, order-independent form of a request value; bytes by their sha256."""
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": hashlib.sha256(bytes(value)).hexdigest()}
    if isinstance(value, Mapping):
        return {str(k): _canon(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return {
            "__type__": type(value).__name__,
            **{f.name: _canon(getattr(value, f.name)) for f in fields if f.eq and f.name != "raw"},
        }
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_canon(v) for v in value), key=json.dumps)
    if isinstance(value, type):
        return _schema_of(value)
    return repr(value)


def _schema_of(kind: type) -> Any:
    """An output type by its JSON schema where it has one (pydantic), else by its qualified name."""
    schema = getattr(kind, "model_json_schema", None)
    if callable(schema):
        return schema()
    return f"{kind.__module__}.{kind.__qualname__}"


def _public_url(base_url: str | None) -> str | None:
    """The base URL as a key part: no userinfo, no ``key=`` query (secrets are never hashed in)."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in ("key", "api_key", "api-key")])
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), query, ""))


def cache_key(
    *,
    provider: str,
    model: str,
    base_url: str | None,
    conversation: Any,
    tools: Iterable[Any] = (),
    max_tokens: int | None = None,
    temperature: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The sha256 of the canonical request. Dict order never matters; the API key is never part."""
    request = {
        "format": FORMAT,
        "provider": provider,
        "model": model,
        "base_url": _public_url(base_url),
        "messages": _canon(getattr(conversation, "messages", conversation)),
        "tools": _canon(list(tools)),
        "max_tokens": max_tokens,
        "temperature": temperature,
        "extra": _canon(dict(extra or {})),
    }
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def cacheable(extra: Mapping[str, Any] | None) -> bool:
    """Requests that depend on server-side state are never cached."""
    extra = extra or {}
    return not (extra.get("previous_response_id") or extra.get("background") or extra.get("store") is True)


# -- entries ------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


def entry_from_completion(completion: Completion) -> dict[str, Any] | None:
    """What is stored for a completion: only complete successes (never errors, cancels, filters)."""
    if completion.error is not None or completion.finish_reason in (
        None, FinishReason.ERROR, FinishReason.CANCELLED, FinishReason.CONTENT_FILTER,
    ):
        return None
    usage = completion.usage
    return {
        "format": FORMAT,
        "text": completion.text,
        "refusal": completion.refusal,
        "reasoning_blocks": [attrs.asdict(block) for block in completion.reasoning_blocks],
        "tool_calls": [attrs.asdict(call) for call in completion.tool_calls],
        "server_tools": [
            {"id": t.id, "name": t.name, "status": t.status.value, "arguments": _jsonable(t.arguments),
             "output": _jsonable(t.output), "raw": _jsonable(t.raw)}
            for t in completion.server_tools
        ],
        "citations": [attrs.asdict(c) for c in completion.citations],
        "usage": None if usage is None else attrs.asdict(usage),
        "finish_reason": completion.finish_reason.value if completion.finish_reason else None,
        "raw_finish_reason": completion.raw_finish_reason,
        "model": completion.model,
        "id": completion.id,
    }


def replay_chunks(entry: Mapping[str, Any], *, by_word: bool = False) -> list[StreamedChunk]:
    """The chunks a hit replays: START, REASONING, TEXT (one block, or word by word), REFUSAL,
    SERVER_TOOL, CITATION, TOOL_CALL_START/DELTA/END, USAGE, STOP."""
    out = [StreamedChunk(ChunkType.START, id=entry.get("id"), model=entry.get("model"))]
    for block in entry.get("reasoning_blocks") or ():
        out.append(
            StreamedChunk(
                ChunkType.REASONING, block.get("text") or "", signature=block.get("signature"),
                redacted_data=block.get("redacted_data"),
            )
        )
    for tool in entry.get("server_tools") or ():
        event = ServerToolEvent(
            tool["id"], tool["name"], ServerToolStatus(tool["status"]), tool.get("arguments"), tool.get("output"),
            raw=tool.get("raw"),
        )
        out.append(StreamedChunk(ChunkType.SERVER_TOOL, server_tool=event))
    text = entry.get("text") or ""
    if text:
        pieces = _WORDS.findall(text) if by_word else [text]
        out.extend(StreamedChunk(ChunkType.TEXT, piece) for piece in pieces)
    if entry.get("refusal"):
        out.append(StreamedChunk(ChunkType.REFUSAL, entry["refusal"]))
    for citation in entry.get("citations") or ():
        out.append(StreamedChunk(ChunkType.CITATION, citation=Citation(**citation)))
    for index, call in enumerate(entry.get("tool_calls") or ()):
        done = ToolCall(**call)
        out.append(StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=ToolCallDelta(index, done.id, done.name)))
        if done.arguments:
            fragment = ToolCallDelta(index, arguments=done.arguments)
            out.append(StreamedChunk(ChunkType.TOOL_CALL_DELTA, tool_call=fragment))
        full = ToolCallDelta(index, done.id, done.name, done.arguments)
        out.append(StreamedChunk(ChunkType.TOOL_CALL_END, tool_call=full, signature=done.signature))
    if entry.get("usage") is not None:
        out.append(StreamedChunk(ChunkType.USAGE, usage=Usage(**entry["usage"])))
    reason = entry.get("finish_reason")
    out.append(
        StreamedChunk(
            ChunkType.STOP, finish_reason=FinishReason(reason) if reason else FinishReason.OTHER,
            raw_finish_reason=entry.get("raw_finish_reason"),
        )
    )
    return out


def completion_from_entry(entry: Mapping[str, Any], provider: str | None = None) -> Completion:
    """The completion a hit stands for (what replaying its chunks through an accumulator gives)."""
    from ._accumulator import StreamingAccumulator

    completion = StreamingAccumulator(provider=provider).add_all(replay_chunks(entry)).completion()
    return attrs.evolve(completion, cached=True)


def _valid(entry: Any) -> dict[str, Any] | None:
    return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None


# -- backends -----------------------------------------------------------------------------------


class MemoryCache:
    """An in-process LRU of ``max_entries``; thread-safe. ``clock`` is injectable for TTL tests."""

    def __init__(self, max_entries: int = 1024, ttl: float | None = None, clock: Callable[[], float] = time.time):
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._entries: collections.OrderedDict[str, tuple[float, dict[str, Any]]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            stored_at, entry = found
            if self.ttl is not None and self._clock() - stored_at > self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def set(self, key: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries[key] = (self._clock(), entry)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class SQLiteCache:
    """A cache file shared by processes on one machine (WAL mode; standard library ``sqlite3``)."""

    def __init__(self, path: str | Path, ttl: float | None = None, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.ttl = ttl
        self._clock = clock
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r}, ttl={self.ttl!r})"

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, stored_at REAL, value TEXT)")
            self._local.db = db
        return db

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db().execute("SELECT stored_at, value FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        if self.ttl is not None and self._clock() - row[0] > self.ttl:
            self._db().execute("DELETE FROM entries WHERE key = ?", (key,))
            return None
        return _valid(json.loads(row[1]))

    def set(self, key: str, entry: dict[str, Any]) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO entries (key, stored_at, value) VALUES (?, ?, ?)",
            (key, self._clock(), json.dumps(entry, ensure_ascii=False)),
        )

    def stats(self) -> dict[str, Any]:
        count, size = self._db().execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM entries").fetchone()
        return {"path": str(self.path), "entries": count, "bytes": size}

    def clear(self) -> int:
        cursor = self._db().execute("DELETE FROM entries")
        return cursor.rowcount

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class RedisCache:
    """A cache shared by many processes or machines, on redis-py (the optional extra ``redis``)."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", ttl: float | None = None, prefix: str = "llmstream:"):
        self.url = url
        self.ttl = ttl
        self.prefix = prefix
        self._client: Any = None

    def __repr__(self) -> str:
        return f"RedisCache({_public_url(self.url)!r}, ttl={self.ttl!r})"

    def _redis(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return self._client

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._redis().get(self.prefix + key)
        return None if value is None else _valid(json.loads(value))

    def set(self, key: str, entry: dict[str, Any]) -> None:
        ttl = None if self.ttl is None else max(1, int(self.ttl))
        self._redis().set(self.prefix + key, json.dumps(entry, ensure_ascii=False), ex=ttl)


# -- the safe wrappers the shells use --------------------------------------------------------------


def lookup(cache: Cache, key: str) -> dict[str, Any] | None:
    """A hit, or None; a broken cache is a warning and a miss."""
    try:
        return _valid(cache.get(key))
    except Exception as exc:  # any backend failure: corrupt file, lock, network
        log.warning("llmstream cache %r unreadable, treated as a miss: %s: %s", cache, type(exc).__name__, exc)
        return None


def store(cache: Cache, key: str, completion: Completion) -> bool:
    """Store a complete success; a broken cache is a warning, never a failed call."""
    entry = entry_from_completion(completion)
    if entry is None:
        return False
    try:
        cache.set(key, entry)
    except Exception as exc:
        log.warning("llmstream cache %r not written: %s: %s", cache, type(exc).__name__, exc)
        return False
    return True
