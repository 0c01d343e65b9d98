"""Server-side tools and citations, sans-IO, for the Anthropic and Gemini wires and OpenRouter.

Each class keeps the little per-stream state its vendor needs and turns vendor objects (the SDK's
models or plain dicts from the fast path: fields are read with :func:`field`) into SERVER_TOOL and
CITATION chunks. The translators call them; nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._types import ChunkType, Citation, ServerToolEvent, ServerToolStatus, StreamedChunk

__all__ = ["AnthropicServerTools", "GeminiServerTools", "citation_from_annotation", "field", "plain"]

_STARTED = ServerToolStatus.STARTED
_IN_PROGRESS = ServerToolStatus.IN_PROGRESS
_COMPLETED = ServerToolStatus.COMPLETED
_FAILED = ServerToolStatus.FAILED


def field(obj: Any, name: str, camel: str | None = None) -> Any:
    """A field of a vendor object: an SDK model's attribute or a dict's key (also its camelCase)."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        value = obj.get(name)
        if value is None and camel is not None:
            value = obj.get(camel)
        return value
    return getattr(obj, name, None)


def plain(value: Any) -> Any:
    """A vendor value as plain Python (SDK pydantic models dumped once, when the event is rare)."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True, by_alias=True)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _server_tool(event: ServerToolEvent, raw: Any) -> StreamedChunk:
    return StreamedChunk(ChunkType.SERVER_TOOL, server_tool=event, raw=raw)


class _AnthropicBlock:
    __slots__ = ("fragments", "id", "initial", "name")

    def __init__(self, call_id: str, name: str, initial: Any) -> None:
        self.id = call_id
        self.name = name
        self.initial = initial
        self.fragments: list[str] = []

    def arguments(self) -> Any:
        if self.fragments:
            try:
                return json.loads("".join(self.fragments))
            except ValueError:
                return "".join(self.fragments)  # kept as sent: never dropped
        return plain(self.initial) or {}


class AnthropicServerTools:
    """``server_tool_use`` / ``mcp_tool_use`` blocks, their ``*_tool_result`` blocks, ``citations_delta``.

    A use block is ``started`` at its start, ``in_progress`` (with its input) at its stop; its result
    block is ``completed`` or ``failed`` (``is_error``, or an ``*_error`` content type).
    """

    __slots__ = ("_names", "_open")

    def __init__(self) -> None:
        self._open: dict[int, _AnthropicBlock] = {}
        self._names: dict[str, str] = {}

    def block_start(self, index: int, block: Any, raw: Any) -> tuple[StreamedChunk, ...] | None:
        """Chunks for a server block; None when the block is not one of these."""
        kind = field(block, "type") or ""
        if kind in ("server_tool_use", "mcp_tool_use"):
            name = field(block, "name") or ""
            if kind == "mcp_tool_use":
                name = f"mcp:{field(block, 'server_name') or ''}.{name}"
            call_id = field(block, "id") or f"server_tool_{index}"
            self._open[index] = _AnthropicBlock(call_id, name, field(block, "input"))
            self._names[call_id] = name
            return (_server_tool(ServerToolEvent(call_id, name, _STARTED), raw),)
        if kind.endswith("_tool_result"):
            call_id = field(block, "tool_use_id") or ""
            content = plain(field(block, "content"))
            failed = bool(field(block, "is_error")) or _is_error_content(content)
            name = self._names.get(call_id) or kind.removesuffix("_tool_result")
            event = ServerToolEvent(call_id, name, _FAILED if failed else _COMPLETED, output=content, raw=plain(block))
            return (_server_tool(event, raw),)
        return None

    def input_delta(self, index: int, fragment: str) -> bool:
        """True when the fragment belongs to a server tool's input (and was kept)."""
        block = self._open.get(index)
        if block is None:
            return False
        if fragment:
            block.fragments.append(fragment)
        return True

    def block_stop(self, index: int, raw: Any) -> tuple[StreamedChunk, ...] | None:
        block = self._open.pop(index, None)
        if block is None:
            return None
        event = ServerToolEvent(block.id, block.name, _IN_PROGRESS, arguments=block.arguments())
        return (_server_tool(event, raw),)

    @staticmethod
    def citation(delta: Any, raw: Any) -> StreamedChunk:
        """A ``citations_delta``: where in the source lives in ``raw`` (char/page/block ranges)."""
        cited = field(delta, "citation")
        source_id = field(cited, "document_index")
        citation = Citation(
            url=field(cited, "url"),
            title=field(cited, "title") or field(cited, "document_title"),
            cited_text=field(cited, "cited_text"),
            source_id=None if source_id is None else str(source_id),
        )
        return StreamedChunk(ChunkType.CITATION, citation=citation, raw=raw)


def _is_error_content(content: Any) -> bool:
    kind = content.get("type") if isinstance(content, Mapping) else None
    return isinstance(kind, str) and kind.endswith("_error")


class GeminiServerTools:
    """``executableCode`` / ``codeExecutionResult`` parts and ``groundingMetadata``.

    Code runs are ``code_execution`` events (started with the code, then completed or failed with
    the outcome). Google Search grounding is one ``web_search`` event per response with its
    ``webSearchQueries``, and one citation per grounding chunk, its offsets turned from UTF-8 bytes
    into characters of the answer text (``text_so_far``).
    """

    __slots__ = ("_code_runs", "_grounded", "_last_code")

    def __init__(self) -> None:
        self._code_runs = 0
        self._last_code: str | None = None
        self._grounded = False

    def part(self, part: Any, raw: Any) -> StreamedChunk | None:
        code = field(part, "executable_code", "executableCode")
        if code is not None:
            call_id = field(code, "id") or f"code_execution_{self._code_runs}"
            self._code_runs += 1
            self._last_code = call_id
            arguments = {"language": _enum_name(field(code, "language")), "code": field(code, "code") or ""}
            return _server_tool(ServerToolEvent(call_id, "code_execution", _STARTED, arguments=arguments), raw)
        result = field(part, "code_execution_result", "codeExecutionResult")
        if result is not None:
            call_id = field(result, "id") or self._last_code or f"code_execution_{self._code_runs}"
            outcome = _enum_name(field(result, "outcome"))
            status = _COMPLETED if outcome in (None, "OUTCOME_OK") else _FAILED
            output = {"outcome": outcome, "output": field(result, "output") or ""}
            return _server_tool(ServerToolEvent(call_id, "code_execution", status, output=output), raw)
        return None

    def grounding(self, metadata: Any, text_so_far: str, raw: Any) -> list[StreamedChunk]:
        """Chunks for a candidate's grounding metadata (the first non-empty one of the response)."""
        chunks = field(metadata, "grounding_chunks", "groundingChunks") or []
        queries = field(metadata, "web_search_queries", "webSearchQueries") or []
        if self._grounded or not (chunks or queries):
            return []
        self._grounded = True
        sources = []
        for chunk in chunks:
            web = field(chunk, "web")
            if web is not None:
                sources.append({"url": field(web, "uri"), "title": field(web, "title")})
        out = []
        if queries:
            event = ServerToolEvent(
                "google_search", "web_search", _COMPLETED, arguments={"queries": list(queries)}, output=sources,
                raw=plain(metadata),
            )
            out.append(_server_tool(event, raw))
        spans = _first_support_per_chunk(field(metadata, "grounding_supports", "groundingSupports") or [])
        encoded = text_so_far.encode()
        for position, source in enumerate(sources):
            segment = spans.get(position)
            start = end = cited = None
            if segment is not None:
                cited = field(segment, "text")
                start = _char_offset(encoded, field(segment, "start_index", "startIndex") or 0)
                end_byte = field(segment, "end_index", "endIndex")
                end = None if end_byte is None else _char_offset(encoded, end_byte)
            citation = Citation(url=source["url"], title=source["title"], cited_text=cited, start=start, end=end,
                                source_id=str(position))
            out.append(StreamedChunk(ChunkType.CITATION, citation=citation, raw=raw))
        return out


def _first_support_per_chunk(supports: list[Any]) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for support in supports:
        for index in field(support, "grounding_chunk_indices", "groundingChunkIndices") or ():
            found.setdefault(int(index), field(support, "segment"))
    return found


def _char_offset(encoded: bytes, byte_offset: int) -> int:
    """A UTF-8 byte offset into the answer as a character offset (clamped to the text)."""
    return len(encoded[: max(0, int(byte_offset))].decode("utf-8", errors="ignore"))


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def citation_from_annotation(annotation: Any) -> Citation | None:
    """An OpenAI-style ``url_citation`` annotation (OpenRouter's web plugin, Chat Completions)."""
    if field(annotation, "type") != "url_citation":
        return None
    cited = field(annotation, "url_citation") or annotation
    start, end = field(cited, "start_index"), field(cited, "end_index")
    return Citation(
        url=field(cited, "url"),
        title=field(cited, "title"),
        cited_text=field(cited, "content"),
        start=start,
        end=end,
    )
