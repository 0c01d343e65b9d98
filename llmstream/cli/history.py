"""The CLI's conversation log: one SQLite file (stdlib ``sqlite3``) in the user's data directory.

Every exchange is one row of ``responses``: the messages the turn added (``input``), then what the
model streamed back, saved complete also when the stream failed part-way (``partial = 1`` with the
error text). A conversation is rebuilt by replaying its rows in order, so ``-c`` sends exactly the
history the user saw, tool calls and reasoning signatures included. API keys are never written:
error texts are already redacted by :class:`llmstream.LLMStreamError`, and the key in use is
scrubbed once more before saving.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from .._conversation import Conversation, Message
from .._types import Completion, ReasoningBlock, Tool, ToolCall
from .logdb import connect, log_error
from .stored import keyless, part_again

__all__ = ["LogStore", "LoggedResponse", "default_logs_path", "reading", "tool_from_json", "tool_to_json"]

def default_cache_path() -> Path:
    """``$LLMSTREAM_CACHE_DB``, else ``cache.db`` beside the conversation log."""
    override = os.environ.get("LLMSTREAM_CACHE_DB")
    return Path(override).expanduser() if override else default_logs_path().with_name("cache.db")


def default_logs_path() -> Path:
    """``$LLMSTREAM_LOGS_DB``, else ``logs.db`` in the platform's per-user data directory."""
    override = os.environ.get("LLMSTREAM_LOGS_DB")
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "llmstream" / "logs.db"


# -- JSON forms of the value types ---------------------------------------------------------------


def tool_to_json(tool: Tool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "parameters": dict(tool.parameters)}


def tool_from_json(data: dict[str, Any]) -> Tool:
    """Our own shape, or OpenAI's ``{"type": "function", "function": {...}}``."""
    spec = data.get("function", data) if data.get("type") == "function" else data
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ValueError(f"a tool needs a 'name': {data!r}")
    parameters = spec.get("parameters") or spec.get("input_schema") or {"type": "object", "properties": {}}
    return Tool(spec["name"], spec.get("description") or "", parameters)


def _call_to_json(call: ToolCall) -> dict[str, Any]:
    out: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments}
    if call.signature:
        out["signature"] = call.signature
    return out


def _call_from_json(data: dict[str, Any]) -> ToolCall:
    return ToolCall(data["id"], data["name"], data.get("arguments") or "", data.get("signature"))


def _block_to_json(block: ReasoningBlock) -> dict[str, Any]:
    return {k: v for k, v in attrs.asdict(block).items() if v not in (None, "")}


def _message_to_json(message: Message) -> dict[str, Any]:
    content: Any = message.content
    if not isinstance(content, str):  # content parts: attachments by reference (path/URL, size, sha256)
        from .._content_dicts import part_to_json

        content = [part_to_json(part) for part in content]
    out: dict[str, Any] = {"role": message.role, "content": content}
    if message.tool_calls:
        out["tool_calls"] = [_call_to_json(c) for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    if message.reasoning_blocks:
        out["reasoning_blocks"] = [_block_to_json(b) for b in message.reasoning_blocks]
    if message.is_error:
        out["is_error"] = True
    return out


def _message_from_json(data: dict[str, Any]) -> Message:
    content: Any = data.get("content") or ""
    if isinstance(content, list):
        content = tuple(part_again(part) for part in content)
    return Message(
        data["role"],
        content,
        tool_calls=tuple(_call_from_json(c) for c in data.get("tool_calls") or ()),
        tool_call_id=data.get("tool_call_id"),
        name=data.get("name"),
        reasoning_blocks=tuple(ReasoningBlock(**b) for b in data.get("reasoning_blocks") or ()),
        is_error=bool(data.get("is_error")),
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@attrs.frozen
class LoggedResponse:
    """One saved exchange, as ``llmstream logs`` shows it."""

    conversation_id: str
    conversation_model: str
    created_at: str
    provider: str | None
    model: str | None
    prompt: str
    text: str
    reasoning: str
    tool_calls: list[ToolCall]
    input_tokens: int | None
    output_tokens: int | None
    finish_reason: str | None
    duration_ms: float | None
    partial: bool
    error: str | None

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["tool_calls"] = [_call_to_json(c) for c in self.tool_calls]
        return data


@contextlib.contextmanager
def reading(path: Path) -> Iterator[LogStore]:
    """The log opened for reading only; any database failure inside the block is a :class:`LogError`."""
    with LogStore.open(path, readonly=True) as store:
        try:
            yield store
        except sqlite3.Error as exc:
            raise log_error(exc, path, "read") from None


class LogStore:
    """The log database. Open with :meth:`open`; every write is its own transaction."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path | None = None, *, readonly: bool = False) -> LogStore:
        """The log; ``readonly`` opens an up-to-date file without writing to it, so a read-only file
        or directory can still be listed and continued. A corrupt, unreadable or locked file is a
        :class:`LogError` (one line for the user), never a traceback."""
        path = path or default_logs_path()
        return cls(connect(path, readonly=readonly), path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    def last_conversation_id(self) -> str | None:
        row = self._db.execute("SELECT conversation_id FROM responses ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def resolve(self, cid: str) -> str | None:
        """A full conversation id from the id or an unambiguous prefix of it (as git does)."""
        rows = self._db.execute(
            "SELECT id FROM conversations WHERE substr(id, 1, ?) = ? LIMIT 2", (len(cid), cid)
        ).fetchall()
        return str(rows[0][0]) if len(rows) == 1 else None

    def conversation_model(self, cid: str) -> str | None:
        row = self._db.execute("SELECT model FROM conversations WHERE id = ?", (cid,)).fetchone()
        return None if row is None else str(row[0])

    def conversation_options(self, cid: str) -> dict[str, Any]:
        """The client options the conversation ran with (``base_url``, ``max_retries``, ...)."""
        try:
            row = self._db.execute("SELECT options FROM conversations WHERE id = ?", (cid,)).fetchone()
        except sqlite3.OperationalError as exc:  # a version 1 log opened read-only: no options yet
            if "no such column" not in str(exc):
                raise
            return {}
        data = json.loads(row[0]) if row is not None and row[0] else {}
        return dict(data) if isinstance(data, dict) else {}

    def conversation_tools(self, cid: str) -> list[Tool]:
        row = self._db.execute("SELECT tools FROM conversations WHERE id = ?", (cid,)).fetchone()
        if row is None or not row[0]:
            return []
        return [tool_from_json(t) for t in json.loads(row[0])]

    def rebuild(self, cid: str) -> Conversation:
        """The conversation as it can be sent again: every turn's input, then its answer.

        A partial answer keeps only its text: a tool call cut mid-arguments or an unsigned thinking
        block would make the provider reject the whole history.
        """
        conversation = Conversation()
        rows = self._db.execute(
            "SELECT input, text, tool_calls, reasoning_blocks, partial FROM responses"
            " WHERE conversation_id = ? ORDER BY id",
            (cid,),
        )
        for row in rows:
            for data in json.loads(row["input"]):
                conversation.append(_message_from_json(data))
            if row["partial"]:
                if row["text"]:
                    conversation.append(Message("assistant", row["text"]))
                continue
            calls = tuple(_call_from_json(c) for c in json.loads(row["tool_calls"]))
            blocks = tuple(ReasoningBlock(**b) for b in json.loads(row["reasoning_blocks"]))
            if row["text"] or calls or blocks:
                conversation.append(Message("assistant", row["text"], tool_calls=calls, reasoning_blocks=blocks))
        return conversation

    def recent(self, limit: int, cid: str | None = None) -> list[LoggedResponse]:
        """The newest ``limit`` exchanges (of one conversation when ``cid`` is given), oldest first."""
        where, params = ("WHERE r.conversation_id = ?", (cid, limit)) if cid else ("", (limit,))
        rows = self._db.execute(
            "SELECT r.*, c.model AS conversation_model FROM responses r"
            f" JOIN conversations c ON c.id = r.conversation_id {where} ORDER BY r.id DESC LIMIT ?",
            params,
        ).fetchall()
        return [
            LoggedResponse(
                conversation_id=row["conversation_id"],
                conversation_model=row["conversation_model"],
                created_at=row["created_at"],
                provider=row["provider"],
                model=row["model"],
                prompt=row["prompt"],
                text=row["text"],
                reasoning=row["reasoning"],
                tool_calls=[_call_from_json(c) for c in json.loads(row["tool_calls"])],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                finish_reason=row["finish_reason"],
                duration_ms=row["duration_ms"],
                partial=bool(row["partial"]),
                error=row["error"],
            )
            for row in reversed(rows)
        ]

    # -- writing ----------------------------------------------------------------------------------

    def save(
        self,
        *,
        conversation_id: str | None,
        model_spec: str,
        input_messages: Sequence[Message],
        completion: Completion,
        tools: Iterable[Tool] = (),
        error: str | None = None,
        secrets_to_scrub: Iterable[str] = (),
        client_options: Mapping[str, Any] | None = None,
    ) -> str:
        """Save one exchange (a new conversation when ``conversation_id`` is None); return its id.

        ``error`` set means the answer is partial: it is saved as far as it got. ``client_options``
        (never a key) are what ``-c`` reuses.
        """
        options = _dumps(keyless(client_options)) if client_options else None
        for secret in secrets_to_scrub:
            if error and secret and len(secret) >= 4:
                error = error.replace(secret, "[REDACTED]")
        prompt = next((m.text for m in reversed(input_messages) if m.role == "user"), "")
        if not prompt:  # a turn of tool results only
            prompt = next((f"[tool result {m.tool_call_id}]" for m in input_messages if m.role == "tool"), "")
        usage = completion.usage
        stats = completion.stats
        tool_list = [tool_to_json(t) for t in tools]
        with self._db:
            if conversation_id is None:
                conversation_id = secrets.token_hex(8)
                name = " ".join(prompt.split())[:80]
                self._db.execute(
                    "INSERT INTO conversations (id, model, name, tools, options, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (conversation_id, model_spec, name, _dumps(tool_list) if tool_list else None, options, _now()),
                )
            elif options:  # options given on a later turn are what the next -c uses
                self._db.execute("UPDATE conversations SET options = ? WHERE id = ?", (options, conversation_id))
            elif tool_list:  # tools given on a later turn replace the saved ones
                self._db.execute(
                    "UPDATE conversations SET tools = ? WHERE id = ?", (_dumps(tool_list), conversation_id)
                )
            self._db.execute(
                "INSERT INTO responses (conversation_id, created_at, provider, model, input, prompt, text, reasoning,"
                " reasoning_blocks, refusal, tool_calls, input_tokens, output_tokens, usage, finish_reason,"
                " raw_finish_reason, response_id, duration_ms, first_chunk_ms, partial, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    _now(),
                    completion.provider,
                    completion.model or model_spec.partition(":")[2],
                    _dumps([_message_to_json(m) for m in input_messages]),
                    prompt,
                    completion.text,
                    completion.reasoning,
                    _dumps([_block_to_json(b) for b in completion.reasoning_blocks]),
                    completion.refusal,
                    _dumps([_call_to_json(c) for c in completion.tool_calls]),
                    usage.input_tokens if usage else None,
                    usage.output_tokens if usage else None,
                    _dumps(attrs.asdict(usage)) if usage else None,
                    completion.finish_reason.value if completion.finish_reason else None,
                    completion.raw_finish_reason,
                    completion.id,
                    stats.duration_ms,
                    stats.time_to_first_chunk_ms,
                    1 if error is not None else 0,
                    error,
                ),
            )
        return conversation_id
