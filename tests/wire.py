"""Wire-format builders for the loopback fake provider server.

Pure functions that produce the exact bytes (and the JSON payloads behind them) that the OpenAI Chat
Completions, Anthropic Messages and Gemini ``streamGenerateContent?alt=sse`` endpoints put on the wire.
Every ``*_stream`` builder returns one SSE frame per list element, ready for ``Scripted(chunks=...)``;
pass the result through :func:`rechunk` to cut it at arbitrary byte offsets instead.

Shapes were checked against the installed SDK models (``openai.types.chat.ChatCompletionChunk``,
``anthropic.types.RawMessageStreamEvent``, ``google.genai.types.GenerateContentResponse``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "DEFAULT_OPENAI_USAGE",
    "Vendor",
    "anthropic_error_body",
    "anthropic_error_event",
    "anthropic_stream",
    "anthropic_text_events",
    "gemini_error_body",
    "gemini_stream",
    "gemini_text_responses",
    "json_error_body",
    "openai_error_body",
    "openai_stream",
    "openai_text_chunks",
    "rechunk",
    "sse_frame",
]

Vendor = Literal["openai", "anthropic", "gemini"]

DEFAULT_OPENAI_USAGE: Mapping[str, int] = MappingProxyType(
    {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
)
_CREATED = 1_700_000_000


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------------- generic


def sse_frame(data: str | Mapping[str, Any], event: str | None = None, *, newline: str = "\n") -> bytes:
    """Encode one Server-Sent Events frame: optional ``event:`` line, ``data:`` line(s), blank line.

    A mapping is serialised as compact JSON; a multi-line string becomes several ``data:`` lines.
    ``newline`` is ``"\\n"`` for OpenAI/Anthropic and ``"\\r\\n"`` for Gemini.
    """
    text = data if isinstance(data, str) else _dumps(data)
    lines = [f"event: {event}"] if event is not None else []
    lines += [f"data: {line}" for line in text.split("\n")]
    return (newline.join(lines) + newline + newline).encode("utf-8")


def rechunk(
    data: bytes | Iterable[bytes], spec: int | Sequence[int] = 0, *, max_piece: int = 16
) -> list[bytes]:
    """Re-split a body at arbitrary byte offsets to exercise incremental parsers.

    ``data`` is a body or a list of pieces (joined first). ``spec`` is either a seed for
    ``random.Random`` (piece sizes drawn from ``1..max_piece``, so frames, lines and multi-byte UTF-8
    sequences get cut anywhere) or an explicit sequence of piece sizes, cycled until the body is used up.
    Joining the result always gives back the original bytes; no piece is empty.
    """
    blob = data if isinstance(data, bytes) else b"".join(data)
    if isinstance(spec, int):
        rng = random.Random(spec)
        sizes: Iterable[int] = iter(lambda: rng.randint(1, max_piece), None)
    else:
        if not spec or any(size < 1 for size in spec):
            raise ValueError("piece sizes must be positive")
        sizes = (spec[i % len(spec)] for i in range(len(blob)))
    pieces: list[bytes] = []
    offset = 0
    for size in sizes:
        if offset >= len(blob):
            break
        pieces.append(blob[offset : offset + size])
        offset += size
    return pieces


# --------------------------------------------------------------------------------------------- OpenAI


def openai_stream(events: Iterable[Mapping[str, Any]], done: bool = True) -> list[bytes]:
    """Frame Chat Completions chunk dicts as ``data: {...}`` SSE frames, then ``data: [DONE]``."""
    frames = [sse_frame(event) for event in events]
    if done:
        frames.append(sse_frame("[DONE]"))
    return frames


def openai_text_chunks(
    text_pieces: Sequence[str],
    *,
    model: str = "gpt-4o-mini",
    id: str = "chatcmpl-loop",
    usage: Mapping[str, Any] | None = DEFAULT_OPENAI_USAGE,
    finish_reason: str | None = None,
    tool_calls: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Build ``ChatCompletionChunk`` dicts the way the real API streams them.

    Role chunk (``{"role": "assistant", "content": ""}``), one chunk per text piece, then per tool call
    (``{"id", "name", "arguments_pieces": [...]}``) a header delta with index/id/type/name and empty
    arguments followed by argument fragments, a final empty delta carrying ``finish_reason`` (default
    ``"tool_calls"`` when tools were called, else ``"stop"``), and — when ``usage`` is given, as with
    ``stream_options={"include_usage": True}`` — a usage-only chunk with ``choices: []``.
    """

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": id,
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": model,
            "system_fingerprint": "fp_loopback",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    chunks += [chunk({"content": piece}) for piece in text_pieces]
    for index, call in enumerate(tool_calls or ()):
        header = {
            "index": index,
            "id": call.get("id", f"call_{index + 1}"),
            "type": "function",
            "function": {"name": call["name"], "arguments": ""},
        }
        chunks.append(chunk({"tool_calls": [header]}))
        for fragment in call.get("arguments_pieces", [_dumps(call.get("arguments", {}))]):
            chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
    chunks.append(chunk({}, finish_reason or ("tool_calls" if tool_calls else "stop")))
    if usage is not None:
        final = chunk({})
        final["choices"] = []
        final["usage"] = dict(usage)
        chunks.append(final)
    return chunks


def openai_error_body(
    status: int, message: str, *, type_: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """``{"error": {"message", "type", "param": null, "code"}}`` as returned by api.openai.com."""
    defaults: dict[int, tuple[str, str | None]] = {
        401: ("invalid_request_error", "invalid_api_key"),
        404: ("invalid_request_error", "model_not_found"),
        429: ("requests", "rate_limit_exceeded"),
    }
    default_type, default_code = defaults.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    error = {"message": message, "type": type_ or default_type, "param": None, "code": code or default_code}
    return {"error": error}


# --------------------------------------------------------------------------------------------- Anthropic


def anthropic_stream(events: Iterable[tuple[str, Mapping[str, Any]]]) -> list[bytes]:
    """Frame ``(event_type, data)`` pairs as ``event: <type>\\ndata: <json>\\n\\n``.

    ``"type": <event_type>`` is added to the data when missing, as the real API always includes it.
    """
    return [sse_frame({"type": name, **data}, event=name) for name, data in events]


def anthropic_text_events(
    text_pieces: Sequence[str],
    *,
    model: str = "claude-sonnet-4-5",
    input_tokens: int = 10,
    output_tokens: int = 5,
    thinking_pieces: Sequence[str] | None = None,
    signature: str = "sig",
    tool_uses: Sequence[Mapping[str, Any]] | None = None,
    stop_reason: str | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """Build a realistic Messages API event sequence for :func:`anthropic_stream`.

    ``message_start``, ``ping``, an optional thinking block (``thinking_delta`` events then a
    ``signature_delta``), the text block (omitted only when ``text_pieces`` is empty and tools are
    used), ``tool_uses`` blocks (``{"id", "name", "input_pieces": [...]}`` or ``{"id", "name", "input":
    {...}}``) streamed as ``input_json_delta`` fragments, ``message_delta`` (stop reason defaults to
    ``"tool_use"`` when tools were used, else ``"end_turn"``) and ``message_stop``.
    """
    message: dict[str, Any] = {
        "id": "msg_loop",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": message}), ("ping", {})]
    index = 0

    def block(start: dict[str, Any], deltas: Iterable[dict[str, Any]]) -> None:
        nonlocal index
        events.append(("content_block_start", {"index": index, "content_block": start}))
        events.extend(("content_block_delta", {"index": index, "delta": delta}) for delta in deltas)
        events.append(("content_block_stop", {"index": index}))
        index += 1

    if thinking_pieces is not None:
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in thinking_pieces]
        deltas.append({"type": "signature_delta", "signature": signature})
        block({"type": "thinking", "thinking": "", "signature": ""}, deltas)
    if text_pieces or not tool_uses:
        block({"type": "text", "text": ""}, ({"type": "text_delta", "text": piece} for piece in text_pieces))
    for n, tool in enumerate(tool_uses or ()):
        pieces = tool.get("input_pieces", [_dumps(tool.get("input", {}))])
        block(
            {"type": "tool_use", "id": tool.get("id", f"toolu_{n + 1}"), "name": tool["name"], "input": {}},
            ({"type": "input_json_delta", "partial_json": piece} for piece in pieces),
        )
    delta = {"stop_reason": stop_reason or ("tool_use" if tool_uses else "end_turn"), "stop_sequence": None}
    events.append(("message_delta", {"delta": delta, "usage": {"output_tokens": output_tokens}}))
    events.append(("message_stop", {}))
    return events


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_error_body(status: int, message: str, *, type_: str | None = None) -> dict[str, Any]:
    """``{"type": "error", "error": {"type", "message"}}``; the type defaults from the status code."""
    error_type = type_ or _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": error_type, "message": message}}


def anthropic_error_event(
    type_: str = "overloaded_error", message: str = "Overloaded"
) -> tuple[str, dict[str, Any]]:
    """A mid-stream ``event: error`` for :func:`anthropic_stream` (the SDK raises it as an API error)."""
    return ("error", {"error": {"type": type_, "message": message}})


# --------------------------------------------------------------------------------------------- Gemini


def gemini_stream(responses: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """Frame ``GenerateContentResponse`` dicts as ``data: <json>\\r\\n\\r\\n`` (``alt=sse`` framing)."""
    return [sse_frame(response, newline="\r\n") for response in responses]


def gemini_text_responses(
    text_pieces: Sequence[str],
    *,
    model_version: str = "gemini-2.5-flash",
    thought_pieces: Sequence[str] | None = None,
    function_calls: Sequence[Mapping[str, Any]] | None = None,
    prompt_tokens: int = 10,
    candidates_tokens: int = 5,
    thoughts_tokens: int = 0,
    response_id: str = "loop-response-1",
) -> list[dict[str, Any]]:
    """Build camelCase ``GenerateContentResponse`` dicts, one per streamed chunk.

    Thought parts (``{"text", "thought": true}``) come first, one per chunk, then one chunk per text
    piece, then one chunk holding every ``functionCall`` part (``{"name", "args"}``). The last chunk
    carries ``finishReason: "STOP"``. ``usageMetadata`` is on every chunk with a cumulative
    ``candidatesTokenCount`` reaching ``candidates_tokens`` on the last one.
    """
    part_groups: list[list[dict[str, Any]]] = [[{"text": t, "thought": True}] for t in thought_pieces or ()]
    part_groups += [[{"text": piece}] for piece in text_pieces]
    if function_calls:
        calls = [{"name": call["name"], "args": dict(call.get("args", {}))} for call in function_calls]
        part_groups.append([{"functionCall": call} for call in calls])
    if not part_groups:
        part_groups.append([{"text": ""}])
    responses = []
    for n, parts in enumerate(part_groups, start=1):
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if n == len(part_groups):
            candidate["finishReason"] = "STOP"
        produced = candidates_tokens * n // len(part_groups)
        usage = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": produced,
            "totalTokenCount": prompt_tokens + produced + thoughts_tokens,
        }
        if thoughts_tokens > 0:
            usage["thoughtsTokenCount"] = thoughts_tokens
        responses.append(
            {
                "candidates": [candidate],
                "usageMetadata": usage,
                "modelVersion": model_version,
                "responseId": response_id,
            }
        )
    return responses


_GEMINI_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gemini_error_body(status: int, message: str, *, type_: str | None = None) -> dict[str, Any]:
    """``{"error": {"code", "message", "status"}}`` (google.rpc.Status); ``type_`` overrides ``status``."""
    status_text = type_ or _GEMINI_STATUSES.get(status, "UNKNOWN")
    return {"error": {"code": status, "message": message, "status": status_text}}


def json_error_body(vendor: Vendor, status: int, message: str, *, type_: str | None = None) -> dict[str, Any]:
    """The realistic JSON error body ``vendor`` sends with HTTP ``status``."""
    builders = {"openai": openai_error_body, "anthropic": anthropic_error_body, "gemini": gemini_error_body}
    return builders[vendor](status, message, type_=type_)
