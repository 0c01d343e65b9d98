"""Wire-format builders for the OpenAI Responses API (``POST /v1/responses``, ``stream=True``).

The loopback server (``tests/loopback.py``) re-exports them with the other wires' builders. Shapes
were checked against the installed SDK's ``openai.types.responses.ResponseStreamEvent`` models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .wire import _CREATED, _dumps, sse_frame

__all__ = ["DEFAULT_RESPONSES_USAGE", "responses_stream", "responses_text_events"]

DEFAULT_RESPONSES_USAGE: Mapping[str, Any] = MappingProxyType({
    "input_tokens": 10, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}, "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15,
})


def responses_stream(events: Iterable[Mapping[str, Any]], *, start: int = 0) -> list[bytes]:
    """Frame Responses events as ``event: <type>\\ndata: {...}`` SSE frames, numbering ``sequence_number``
    from ``start`` where an event has none (the real API numbers every event from 0)."""
    frames = []
    for number, event in enumerate(events, start=start):
        data = {**event, "sequence_number": event.get("sequence_number", number)}
        frames.append(sse_frame(data, event=str(data.get("type"))))
    return frames


def _response(id: str, model: str, status: str, output: list[Any], usage: Mapping[str, Any] | None,
              background: bool) -> dict[str, Any]:
    return {"id": id, "object": "response", "created_at": _CREATED, "status": status, "model": model,
            "output": output, "usage": dict(usage) if usage is not None else None, "error": None,
            "incomplete_details": None, "background": background, "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": []}


class _Builder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.output: list[dict[str, Any]] = []

    def item(self, added: dict[str, Any], middle: list[dict[str, Any]], done: dict[str, Any]) -> None:
        index = len(self.output)
        self.events.append({"type": "response.output_item.added", "output_index": index, "item": added})
        self.events.extend({**event, "output_index": index} for event in middle)
        self.events.append({"type": "response.output_item.done", "output_index": index, "item": done})
        self.output.append(done)

    def reasoning(self, rid: str, parts: Sequence[Sequence[str]], encrypted: str | None) -> None:
        middle: list[dict[str, Any]] = []
        summary = []
        for n, pieces in enumerate(parts):
            text = "".join(pieces)
            part = {"type": "summary_text", "text": ""}
            where = {"item_id": rid, "summary_index": n}
            middle.append({"type": "response.reasoning_summary_part.added", **where, "part": part})
            middle += [{"type": "response.reasoning_summary_text.delta", **where, "delta": p} for p in pieces]
            middle.append({"type": "response.reasoning_summary_text.done", **where, "text": text})
            middle.append({"type": "response.reasoning_summary_part.done", **where, "part": {**part, "text": text}})
            summary.append({"type": "summary_text", "text": text})
        done: dict[str, Any] = {"id": rid, "type": "reasoning", "summary": summary}
        if encrypted is not None:
            done["encrypted_content"] = encrypted
        self.item({"id": rid, "type": "reasoning", "summary": []}, middle, done)

    def message(self, mid: str, pieces: Sequence[str]) -> None:
        text = "".join(pieces)
        part = {"type": "output_text", "annotations": [], "text": ""}
        where = {"item_id": mid, "content_index": 0}
        middle = [{"type": "response.content_part.added", **where, "part": part}]
        middle += [{"type": "response.output_text.delta", **where, "delta": p, "logprobs": []} for p in pieces]
        middle.append({"type": "response.output_text.done", **where, "text": text, "logprobs": []})
        middle.append({"type": "response.content_part.done", **where, "part": {**part, "text": text}})
        message = {"id": mid, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        self.item(message, middle, {**message, "status": "completed", "content": [{**part, "text": text}]})

    def call(self, fid: str, call: Mapping[str, Any], n: int) -> None:
        pieces = list(call.get("arguments_pieces", [_dumps(call.get("arguments", {}))]))
        arguments = "".join(pieces)
        added = {"id": fid, "type": "function_call", "status": "in_progress",
                 "call_id": call.get("call_id", f"call_{n}"), "name": call["name"], "arguments": ""}
        middle: list[dict[str, Any]] = [] if call.get("done_only") else [
            {"type": "response.function_call_arguments.delta", "item_id": fid, "delta": p} for p in pieces]
        middle.append({"type": "response.function_call_arguments.done", "item_id": fid, "arguments": arguments})
        self.item(added, middle, {**added, "status": "completed", "arguments": arguments})


def responses_text_events(
    text_pieces: Sequence[str],
    *,
    model: str = "gpt-5-mini",
    id: str = "resp_loop",
    reasoning_pieces: Sequence[Sequence[str]] | None = None,
    encrypted_content: str | None = None,
    function_calls: Sequence[Mapping[str, Any]] | None = None,
    usage: Mapping[str, Any] | None = DEFAULT_RESPONSES_USAGE,
    status: str = "completed",
    background: bool = False,
) -> list[dict[str, Any]]:
    """Build a Responses event sequence for :func:`responses_stream`.

    ``response.created``, ``response.in_progress``, an optional reasoning item (one summary part per
    inner list of ``reasoning_pieces``; ``encrypted_content`` on its done item), the message item (its
    text streamed as ``output_text.delta``; left out when ``text_pieces`` is empty and calls are made),
    ``function_calls`` items (``{"call_id", "name", "arguments_pieces": [...]}``; ``"done_only": True``
    sends the arguments only in ``.done``), then ``response.<status>`` holding every output item.
    """
    created = _response(id, model, "queued" if background else "in_progress", [], None, background)
    build = _Builder()
    build.events += [{"type": "response.created", "response": created},
                     {"type": "response.in_progress", "response": {**created, "status": "in_progress"}}]
    if reasoning_pieces is not None:
        build.reasoning(f"rs_{id}", reasoning_pieces, encrypted_content)
    if text_pieces or not function_calls:
        build.message(f"msg_{id}", text_pieces)
    for n, call in enumerate(function_calls or ()):
        build.call(f"fc_{id}_{n}", call, n)
    final = _response(id, model, status, build.output, usage, background)
    if status == "incomplete":
        final["incomplete_details"] = {"reason": "max_output_tokens"}
    build.events.append({"type": f"response.{status}", "response": final})
    return build.events
