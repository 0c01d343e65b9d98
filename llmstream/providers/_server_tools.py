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

__all__ = ["AnthropicServerTools", "GeminiServerTools", "citation_from_annotation", "field", "plain", "sent_back"]

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
    __slots__ = ("block", "fragments", "id", "initial", "name")

    def __init__(self, call_id: str, name: str, initial: Any, block: dict[str, Any]) -> None:
        self.id = call_id
        self.name = name
        self.initial = initial
        self.block = block  # the start block as JSON, its ``input`` filled in at the stop
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
    block is ``completed`` or ``failed`` (``is_error``, or an ``*_error`` content type). The event's
    ``raw`` is the tuple of content blocks to send back, as JSON: the use block (with its whole
    input), then its result block (encrypted search results and ``encrypted_content`` included).
    """

    __slots__ = ("_names", "_open", "_uses")

    def __init__(self) -> None:
        self._open: dict[int, _AnthropicBlock] = {}
        self._names: dict[str, str] = {}
        self._uses: dict[str, dict[str, Any]] = {}

    def block_start(self, index: int, block: Any, raw: Any) -> tuple[StreamedChunk, ...] | None:
        """Chunks for a server block; None when the block is not one of these."""
        kind = field(block, "type") or ""
        if kind in ("server_tool_use", "mcp_tool_use"):
            name = field(block, "name") or ""
            if kind == "mcp_tool_use":
                name = f"mcp:{field(block, 'server_name') or ''}.{name}"
            call_id = field(block, "id") or f"server_tool_{index}"
            self._open[index] = _AnthropicBlock(call_id, name, field(block, "input"), plain(block))
            self._names[call_id] = name
            return (_server_tool(ServerToolEvent(call_id, name, _STARTED), raw),)
        if kind.endswith("_tool_result"):
            call_id = field(block, "tool_use_id") or ""
            result = plain(block)
            content = result.get("content") if isinstance(result, dict) else None
            failed = bool(field(block, "is_error")) or _is_error_content(content)
            name = self._names.get(call_id) or kind.removesuffix("_tool_result")
            use = self._uses.pop(call_id, None)
            sent_back = (result,) if use is None else (use, result)
            event = ServerToolEvent(call_id, name, _FAILED if failed else _COMPLETED, output=content, raw=sent_back)
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
        arguments = block.arguments()
        use = {**block.block, "input": arguments}
        self._uses[block.id] = use
        event = ServerToolEvent(block.id, block.name, _IN_PROGRESS, arguments=arguments, raw=(use,))
        return (_server_tool(event, raw),)

    @staticmethod
    def citation(delta: Any, raw: Any) -> StreamedChunk:
        """A ``citations_delta``: where in the source lives in ``raw`` (char/page/block ranges)."""
        cited = field(delta, "citation")
        source_id = field(cited, "document_index")
        citation = Citation(
            url=field(cited, "url") or field(cited, "source"),  # search_result_location: its source
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
    into characters of the answer text so far.
    """

    __slots__ = ("_code_runs", "_grounded", "_last_code", "_last_part")

    def __init__(self) -> None:
        self._code_runs = 0
        self._last_code: str | None = None
        self._last_part: Any = None
        self._grounded = False

    def part(self, part: Any, raw: Any) -> tuple[StreamedChunk, ...]:
        """A code part's chunk; none for other parts. The event's ``raw`` holds the parts themselves
        (the code, then its result; thought signatures on them), to be sent back as they came."""
        code = field(part, "executable_code", "executableCode")
        if code is not None:
            call_id = field(code, "id") or f"code_execution_{self._code_runs}"
            self._code_runs += 1
            self._last_code, self._last_part = call_id, part
            arguments = {"language": _enum_name(field(code, "language")), "code": field(code, "code") or ""}
            event = ServerToolEvent(call_id, "code_execution", _STARTED, arguments=arguments, raw=(part,))
            return (_server_tool(event, raw),)
        result = field(part, "code_execution_result", "codeExecutionResult")
        if result is not None:
            call_id = field(result, "id") or self._last_code or f"code_execution_{self._code_runs}"
            outcome = _enum_name(field(result, "outcome"))
            status = _COMPLETED if outcome in (None, "OUTCOME_OK") else _FAILED
            output = {"outcome": outcome, "output": field(result, "output") or ""}
            code_part, self._last_code, self._last_part = self._last_part, None, None
            sent_back = (part,) if code_part is None else (code_part, part)
            event = ServerToolEvent(call_id, "code_execution", status, output=output, raw=sent_back)
            return (_server_tool(event, raw),)
        return ()

    def grounding(self, metadata: Any, texts: list[str], raw: Any) -> list[StreamedChunk]:
        """Chunks for a candidate's grounding metadata (the first non-empty one of the response);
        ``texts`` are the answer's text pieces so far, joined only when there is something to place."""
        chunks = field(metadata, "grounding_chunks", "groundingChunks") or []
        queries = field(metadata, "web_search_queries", "webSearchQueries") or []
        if self._grounded or not (chunks or queries):
            return []
        self._grounded = True
        sources, positions = [], []  # the supports index every grounding chunk, web or not
        for position, chunk in enumerate(chunks):
            web = field(chunk, "web") or field(chunk, "retrieved_context", "retrievedContext")
            if web is not None:
                sources.append({"url": field(web, "uri"), "title": field(web, "title")})
                positions.append(position)
        out = []
        if queries:
            event = ServerToolEvent(
                "google_search", "web_search", _COMPLETED, arguments={"queries": list(queries)}, output=sources,
                raw=plain(metadata),
            )
            out.append(_server_tool(event, raw))
        spans = _first_support_per_chunk(field(metadata, "grounding_supports", "groundingSupports") or [])
        encoded = "".join(texts).encode()
        for position, source in zip(positions, sources, strict=True):
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


def sent_back(text: str, server_tools: Any) -> list[str | tuple[Any, ...]]:
    """An assistant turn's text and its server tools' ``raw`` blocks, in the order they came: text
    pieces (``str``, never empty) between the tuples of vendor blocks, split at ``text_offset``."""
    out: list[str | tuple[Any, ...]] = []
    position = 0
    for tool in server_tools:
        blocks = tool.raw
        if not isinstance(blocks, tuple) or not blocks:
            continue  # nothing to send back (Gemini's grounding metadata, another vendor's value)
        offset = min(max(position, tool.text_offset or 0), len(text))
        if offset > position:
            out.append(text[position:offset])
            position = offset
        out.append(blocks)
    if position < len(text):
        out.append(text[position:])
    return out
