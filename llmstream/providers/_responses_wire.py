"""The OpenAI Responses wire, sans-IO: event dicts → StreamedChunks (items and requests: ``_responses_items``).

:class:`ResponsesEventTranslator` reads the event dicts of ``POST /v1/responses`` (``stream=True``) as
llmstream decodes them itself (``sdk_models=False``); the SDK path (``openai_responses``) hands it
the few events it does not read natively as dicts too, so that every rule lives here once. The
events are named in the openai SDK's ``types/responses/response_stream_event.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import InBandError
from .._hot_values import text_chunk
from .._types import (
    ChunkType,
    FinishReason,
    ProviderOutput,
    ServerToolEvent,
    ServerToolStatus,
    StreamedChunk,
    ToolCallDelta,
)
from ._responses_items import SERVER_ITEMS, STATUSES, WIRE, citation, json_value, tool_name, tool_values, usage_of

__all__ = ["TERMINAL", "ResponsesEventTranslator"]

_REASONING = ChunkType.REASONING
_SERVER_TOOL = ChunkType.SERVER_TOOL
_CALL_ITEMS = {"function_call": "arguments", "custom_tool_call": "input"}
_INCOMPLETE = {"max_output_tokens": FinishReason.LENGTH, "content_filter": FinishReason.CONTENT_FILTER}
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})


class _Call:
    __slots__ = ("closed", "custom", "fragments", "id", "index", "initial", "name")

    def __init__(self, index: int, call_id: str | None, name: str | None, custom: bool, initial: str) -> None:
        self.index = index
        self.id = call_id
        self.name = name
        self.custom = custom
        self.initial = initial
        self.fragments: list[str] = []
        self.closed = False


class ResponsesEventTranslator:
    """Responses event dicts → StreamedChunks. Pure, one per stream (a resumed stream keeps it).

    ``translate(event, raw)`` takes the event as a dict; ``raw`` (default: the dict) is what the
    chunks carry. An event type llmstream does not know gives no chunk and is no error; what it
    built stays in the output items the completion keeps (``Completion.provider_output``).
    """

    __slots__ = (
        "_by_index", "_by_item", "_calls", "_cited", "_finished", "_items", "_last_call", "_marks", "_provider",
        "_reasoning_key", "_reasoning_parts", "_reasoning_seen", "_refusals", "_shell", "_tools", "deltas", "started",
    )

    def __init__(self, provider: str = "openai-responses") -> None:
        self._provider = provider
        self.started = False
        # Text and refusal deltas so far, and their counts at the last ``.done``: a ``.done`` after no
        # delta of its part brings the part's text itself. Reasoning parts are known by their keys.
        self.deltas = 0
        self._refusals = 0
        self._marks = [0, 0]
        self._reasoning_seen: set[tuple[Any, Any]] = set()
        self._calls: list[_Call] = []
        self._by_item: dict[str, _Call] = {}
        self._by_index: dict[int, _Call] = {}
        self._last_call: _Call | None = None
        self._reasoning_key: tuple[Any, Any] | None = None
        self._reasoning_parts = 0
        self._tools: dict[str, tuple[str, ServerToolStatus]] = {}
        self._shell: dict[Any, str] = {}  # a shell call's call_id → its item id (its output is another item)
        self._items: dict[int, Any] = {}
        self._cited: set[Any] = set()
        self._finished = False

    # -- the deltas (also called by the SDK-model translator) -------------------------------------

    def text(self, delta: str, raw: Any) -> tuple[StreamedChunk, ...]:
        self.deltas += 1
        return (text_chunk(delta, raw),) if delta else ()

    def refusal(self, delta: str, raw: Any) -> tuple[StreamedChunk, ...]:
        self._refusals += 1
        return (StreamedChunk(ChunkType.REFUSAL, delta, raw=raw),) if delta else ()

    def reasoning(self, item_id: Any, part: Any, delta: str, raw: Any) -> tuple[StreamedChunk, ...]:
        """Summary parts and reasoning-text parts, each joined to the one before by a blank line."""
        key = (item_id, part)
        if key != self._reasoning_key:
            self._reasoning_key = key
            self._reasoning_seen.add(key)
            self._reasoning_parts += 1
            if self._reasoning_parts > 1:
                delta = "\n\n" + delta
        return (StreamedChunk(_REASONING, delta, raw=raw),) if delta else ()

    def arguments(self, item_id: Any, output_index: Any, delta: str, raw: Any) -> list[StreamedChunk]:
        out: list[StreamedChunk] = []
        call = self._find_call(item_id, output_index)
        if call is None:  # a fragment of a call never announced: it begins here
            call = self._new_call(item_id, output_index, None, None, False, "", raw, out)
        if delta:
            call.fragments.append(delta)
            out.append(
                StreamedChunk(ChunkType.TOOL_CALL_DELTA, tool_call=ToolCallDelta(call.index, arguments=delta), raw=raw)
            )
        return out

    # -- everything else, as dicts --------------------------------------------------------------

    def translate(self, event: Mapping[str, Any], raw: Any = None) -> list[StreamedChunk] | tuple[StreamedChunk, ...]:
        if raw is None:
            raw = event
        kind = event.get("type")
        if kind == "response.output_text.delta":
            return self.text(event.get("delta") or "", raw)
        if kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
            return self._started(raw, self.arguments(event.get("item_id"), event.get("output_index"),
                                                     event.get("delta") or "", raw))
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            part = event.get("summary_index", event.get("content_index"))
            return self.reasoning(event.get("item_id"), part, event.get("delta") or "", raw)
        if kind == "response.refusal.delta":
            return self.refusal(event.get("delta") or "", raw)
        out: list[StreamedChunk] = []
        if not self.started:
            response = event.get("response") if kind == "response.created" else None
            response = response if isinstance(response, Mapping) else {}
            self.started = True
            out.append(StreamedChunk(ChunkType.START, id=response.get("id") or None,
                                     model=response.get("model") or None, raw=raw))
        error = event.get("error")
        if error and kind != "error":  # an ``{"error": …}`` event, as the openai SDK raises it
            self._finished = True
            out.append(StreamedChunk(ChunkType.ERROR, raw=raw, error=_in_band(error, self._provider)))
            return out
        if not isinstance(kind, str):
            return out
        if kind in TERMINAL:
            self._terminal(kind, event, raw, out)
        elif kind == "response.output_item.added":
            self._item_added(event, raw, out)
        elif kind == "response.output_item.done":
            self._item_done(event, raw, out)
        elif kind in ("response.function_call_arguments.done", "response.custom_tool_call_input.done"):
            call = self._find_call(event.get("item_id"), event.get("output_index"))
            if call is None:
                call = self._new_call(event.get("item_id"), event.get("output_index"), None, event.get("name"),
                                      kind.startswith("response.custom"), "", raw, out)
            full = event.get("arguments") if "arguments" in event else event.get("input")
            self._close(call, full, event.get("name"), raw, out)
        elif kind == "response.output_text.annotation.added":
            self._cited.add(event.get("output_index"))
            source = citation(event.get("annotation"))
            if source is not None:
                out.append(StreamedChunk(ChunkType.CITATION, citation=source, raw=raw))
        elif kind.endswith(".done") and kind in _TEXT_DONE:
            self._text_done(kind, event, raw, out)
        else:
            self._tool_progress(kind, event, raw, out)
        return out

    def _started(self, raw: Any, chunks: list[StreamedChunk]) -> list[StreamedChunk]:
        if not self.started:
            self.started = True
            chunks.insert(0, StreamedChunk(ChunkType.START, raw=raw))
        return chunks

    def _text_done(self, kind: str, event: Mapping[str, Any], raw: Any, out: list[StreamedChunk]) -> None:
        """A ``.done`` with the part's whole text: the text itself when no delta of it came."""
        text = event.get("text") if kind != "response.refusal.done" else event.get("refusal")
        if not isinstance(text, str):
            text = ""
        marks = self._marks
        if kind == "response.output_text.done":
            if self.deltas == marks[0]:
                out.extend(self.text(text, raw))
            marks[0] = self.deltas
        elif kind == "response.refusal.done":
            if self._refusals == marks[1]:
                out.extend(self.refusal(text, raw))
            marks[1] = self._refusals
        else:
            part = event.get("summary_index", event.get("content_index"))
            if (event.get("item_id"), part) not in self._reasoning_seen:
                out.extend(self.reasoning(event.get("item_id"), part, text, raw))

    # -- tool calls -------------------------------------------------------------------------------

    def _find_call(self, item_id: Any, output_index: Any) -> _Call | None:
        if item_id is not None and item_id in self._by_item:
            return self._by_item[item_id]
        if output_index is not None and output_index in self._by_index:
            return self._by_index[output_index]
        if item_id is None and output_index is None:
            return self._last_call  # neither: continues the latest call
        return None

    def _new_call(self, item_id: Any, output_index: Any, call_id: Any, name: Any, custom: bool, initial: str,
                  raw: Any, out: list[StreamedChunk]) -> _Call:
        call = _Call(len(self._calls), call_id or None, name or None, custom, initial)
        self._calls.append(call)
        if item_id is not None:
            self._by_item[item_id] = call
        if output_index is not None:
            self._by_index[output_index] = call
        self._last_call = call
        out.append(StreamedChunk(ChunkType.TOOL_CALL_START,
                                 tool_call=ToolCallDelta(call.index, call.id, call.name, ""), raw=raw))
        return call

    def _close(self, call: _Call, full: Any, name: Any, raw: Any, out: list[StreamedChunk]) -> None:
        """END with the full arguments: the ``.done`` value, else the fragments, else the item's own."""
        if call.closed:
            return
        call.closed = True
        call.name = call.name or name or None
        if not isinstance(full, str) or not full:
            full = "".join(call.fragments) or call.initial
        out.append(StreamedChunk(ChunkType.TOOL_CALL_END,
                                 tool_call=ToolCallDelta(call.index, call.id, call.name, full), raw=raw))

    # -- output items -----------------------------------------------------------------------------

    def _item_added(self, event: Mapping[str, Any], raw: Any, out: list[StreamedChunk]) -> None:
        item = event.get("item")
        if not isinstance(item, Mapping):
            return
        kind = item.get("type")
        if kind in _CALL_ITEMS:
            initial = item.get(_CALL_ITEMS[kind])
            self._new_call(item.get("id"), event.get("output_index"), item.get("call_id"), item.get("name"),
                           kind == "custom_tool_call", initial if isinstance(initial, str) else "", raw, out)
        elif kind in SERVER_ITEMS:
            self._server_tool(item, ServerToolStatus.STARTED, raw, out)

    def _item_done(self, event: Mapping[str, Any], raw: Any, out: list[StreamedChunk]) -> None:
        item = event.get("item")
        if not isinstance(item, Mapping):
            return
        index = event.get("output_index")
        self._items[index if isinstance(index, int) else len(self._items)] = item
        kind = item.get("type")
        if kind in _CALL_ITEMS:
            call = self._find_call(item.get("id"), index)
            if call is None:
                call = self._new_call(item.get("id"), index, item.get("call_id"), item.get("name"),
                                      kind == "custom_tool_call", "", raw, out)
            call.id = call.id or item.get("call_id") or None
            self._close(call, item.get(_CALL_ITEMS[kind]), item.get("name"), raw, out)
        elif kind in SERVER_ITEMS:
            status = STATUSES.get(str(item.get("status")), ServerToolStatus.COMPLETED)
            if item.get("error"):
                status = ServerToolStatus.FAILED
            self._server_tool(item, status, raw, out)
        elif kind == "shell_call_output":
            self._shell_output(item, raw, out)
        elif kind == "message" and index not in self._cited:  # annotations sent only with the item
            for part in item.get("content") or ():
                for annotation in (part.get("annotations") or ()) if isinstance(part, Mapping) else ():
                    source = citation(annotation)
                    if source is not None:
                        out.append(StreamedChunk(ChunkType.CITATION, citation=source, raw=raw))

    def _server_tool(self, item: Mapping[str, Any], status: ServerToolStatus, raw: Any,
                     out: list[StreamedChunk]) -> None:
        item_id = str(item.get("id") or item.get("call_id") or "")
        name = tool_name(item)
        self._tools[item_id] = (name, status)
        if name == "shell":
            self._shell[item.get("call_id")] = item_id
        arguments, output = tool_values(item)
        event = ServerToolEvent(item_id, name, status, arguments, output, raw=dict(item))
        out.append(StreamedChunk(_SERVER_TOOL, server_tool=event, raw=raw))

    def _shell_output(self, item: Mapping[str, Any], raw: Any, out: list[StreamedChunk]) -> None:
        item_id = self._shell.get(item.get("call_id"))
        if item_id is not None:
            event = ServerToolEvent(item_id, "shell", ServerToolStatus.COMPLETED, None, item.get("output"),
                                    raw=dict(item))
            out.append(StreamedChunk(_SERVER_TOOL, server_tool=event, raw=raw))

    def _tool_progress(self, kind: str, event: Mapping[str, Any], raw: Any, out: list[StreamedChunk]) -> None:
        """``response.web_search_call.searching`` and the like: a status change of a known server tool."""
        item_id = event.get("item_id")
        known = self._tools.get(str(item_id)) if item_id is not None else None
        if known is None:
            return  # an event llmstream does not know (or of an item it does not map): ignored, never an error
        status = STATUSES.get(kind.rsplit(".", 1)[-1])
        arguments = None
        if kind in ("response.mcp_call_arguments.done", "response.code_interpreter_call_code.done"):
            value = event.get("arguments") if "arguments" in event else event.get("code")
            arguments = json_value(value) if kind.startswith("response.mcp") else {"code": value}
            status = ServerToolStatus.IN_PROGRESS
        if status is None or (status == known[1] and arguments is None):
            return
        self._tools[str(item_id)] = (known[0], status)
        server_tool = ServerToolEvent(str(item_id), known[0], status, arguments, None)
        out.append(StreamedChunk(_SERVER_TOOL, server_tool=server_tool, raw=raw))

    # -- the end ---------------------------------------------------------------------------------

    def _terminal(self, kind: str, event: Mapping[str, Any], raw: Any, out: list[StreamedChunk]) -> None:
        self._finished = True
        if kind == "error":
            code = event.get("code")
            message = str(event.get("message") or _NO_MESSAGE)
            out.append(StreamedChunk(ChunkType.ERROR, raw=raw, error=InBandError(
                message, code=None if code is None else str(code), body=dict(event), provider=self._provider)))
            return
        response = event.get("response")
        response = response if isinstance(response, Mapping) else {}
        usage = response.get("usage")
        if isinstance(usage, Mapping):
            out.append(StreamedChunk(ChunkType.USAGE, usage=usage_of(usage), raw=raw))
        if kind == "response.failed":
            error = response.get("error")
            error = error if isinstance(error, Mapping) else {}
            code = error.get("code")
            message = str(error.get("message") or "the response failed (response.failed)")
            out.append(StreamedChunk(ChunkType.ERROR, raw=raw, error=InBandError(
                message, code=None if code is None else str(code), body=dict(error) or None,
                provider=self._provider)))
            return
        for call in self._calls:
            self._close(call, None, None, raw, out)
        if kind == "response.incomplete":
            details = response.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, Mapping) else None
            word = str(reason or "incomplete")
            finish = _INCOMPLETE.get(word, FinishReason.OTHER)
        else:
            word = str(response.get("status") or "completed")
            finish = FinishReason.TOOL_CALLS if self._calls else FinishReason.STOP
        output = response.get("output")
        items = tuple(output) if isinstance(output, list) and output else tuple(
            self._items[index] for index in sorted(self._items))
        kept = ProviderOutput(WIRE, items, response.get("id") or None)
        out.append(StreamedChunk(ChunkType.STOP, finish_reason=finish, raw_finish_reason=word,
                                 provider_output=kept, raw=raw))

    def end(self) -> list[StreamedChunk]:
        """Nothing is owed: a body cut short is reported by :meth:`missing_terminal` (or resumed,
        in background mode), and a stream the caller stopped owes nothing."""
        return []

    def missing_terminal(self) -> str | None:
        return None if self._finished else "response.completed"


_TEXT_DONE = frozenset({"response.output_text.done", "response.refusal.done", "response.reasoning_summary_text.done",
                        "response.reasoning_text.done"})
_NO_MESSAGE = "An error occurred during streaming"


def _in_band(error: Any, provider: str) -> InBandError:
    if isinstance(error, Mapping):
        code = error.get("code")
        message = error.get("message")
        return InBandError(message if isinstance(message, str) and message else _NO_MESSAGE,
                           code=None if code is None else str(code), body=dict(error), provider=provider)
    return InBandError(_NO_MESSAGE, body=error, provider=provider)


