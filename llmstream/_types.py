"""Value types: the chunk every provider is mapped into, and the completion rebuilt from them."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

import attrs

from ._errors import LLMStreamError, ToolArgumentsError

__all__ = [
    "ChunkType",
    "Citation",
    "Completion",
    "FinishReason",
    "ProviderOutput",
    "ReasoningBlock",
    "ServerToolEvent",
    "ServerToolStatus",
    "StreamStats",
    "StreamedChunk",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]


class FinishReason(str, enum.Enum):
    """Why the model stopped; ``Completion.raw_finish_reason`` keeps the vendor's own word."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"
    CANCELLED = "cancelled"
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


class ChunkType(str, enum.Enum):
    START = "start"
    TEXT = "text"
    REASONING = "reasoning"
    TOOL_CALL_START = "tool_call_start"
    TOOL_CALL_DELTA = "tool_call_delta"
    TOOL_CALL_END = "tool_call_end"
    USAGE = "usage"
    STOP = "stop"
    ERROR = "error"
    # Beyond DESIGN's table: OpenAI ``refusal`` deltas, kept apart from the answer text.
    REFUSAL = "refusal"
    #: A vendor-side tool (web search, code execution, file search, MCP, image generation).
    SERVER_TOOL = "server_tool"
    #: A source behind the answer (Anthropic citations, Gemini grounding, url_citation annotations).
    CITATION = "citation"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(slots=True, init=False)
class Usage:
    """A cumulative usage snapshot, normalized to OpenAI semantics.

    ``input_tokens`` counts every prompt token, cached ones included; ``cached_input_tokens`` is the
    cached subset and ``cache_write_tokens`` Anthropic's cache creation. ``output_tokens`` includes
    ``reasoning_tokens``. ``cost`` is set when the provider reports one (OpenRouter).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None

    # Hand-written (Gemini sends a usage snapshot with every chunk): the slots' own setters, as in
    # StreamedChunk, instead of attrs' object.__setattr__ per field.
    def __init__(
        self, input_tokens: int = 0, output_tokens: int = 0, cached_input_tokens: int = 0, cache_write_tokens: int = 0,
        reasoning_tokens: int = 0, cost: float | None = None,
    ) -> None:
        _usage_input(self, input_tokens)
        _usage_output(self, output_tokens)
        _usage_cached(self, cached_input_tokens)
        _usage_write(self, cache_write_tokens)
        _usage_reasoning(self, reasoning_tokens)
        _usage_cost(self, cost)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


_usage_input, _usage_output, _usage_cached, _usage_write, _usage_reasoning, _usage_cost = (
    Usage.__dict__[field.name].__set__ for field in attrs.fields(Usage)
)


@attrs.frozen(slots=True)
class ToolCallDelta:
    """A piece of a tool call: START carries id and name, DELTA a fragment, END the full JSON."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


def _parse_arguments(arguments: str | None, *, call_id: str | None, name: str | None, partial: bool) -> Any:
    if not arguments or not arguments.strip():
        return {}
    if partial:
        import jiter

        try:
            return jiter.from_json(arguments.encode(), partial_mode="trailing-strings")
        except ValueError:
            return {}
    try:
        return json.loads(arguments)
    except ValueError as exc:
        shown = arguments if len(arguments) <= 200 else arguments[:200] + "…"
        raise ToolArgumentsError(
            f"tool call {name!r} (id {call_id!r}) has arguments that are not valid JSON: {exc}; got {shown!r}",
            tool_call_id=call_id,
            tool_name=name,
            arguments=arguments,
        ) from exc


@attrs.frozen(slots=True)
class ToolCall:
    """A complete tool call. ``arguments`` is the raw JSON string exactly as streamed.

    ``signature`` keeps an opaque provider token (Gemini's thought signature) that must be sent back
    with the call on the next turn.
    """

    id: str
    name: str
    arguments: str = ""
    signature: str | None = None

    @property
    def args(self) -> Any:
        """The parsed arguments; ``""``/``None`` is ``{}``; invalid JSON raises ``ToolArgumentsError``."""
        return _parse_arguments(self.arguments, call_id=self.id, name=self.name, partial=False)

    @property
    def partial_args(self) -> Any:
        """Best-effort parse of arguments still streaming (jiter partial mode); never raises."""
        return _parse_arguments(self.arguments, call_id=self.id, name=self.name, partial=True)


@attrs.frozen(slots=True)
class ReasoningBlock:
    """One block of reasoning as the provider sent it, kept so it can be sent back intact.

    ``signature`` is Anthropic's thinking signature or Gemini's thought signature; ``redacted_data``
    holds an Anthropic ``redacted_thinking`` payload (encrypted, no readable text).
    """

    text: str = ""
    signature: str | None = None
    redacted_data: str | None = None


class ServerToolStatus(str, enum.Enum):
    STARTED = "started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(slots=True)
class ServerToolEvent:
    """A tool the vendor ran itself; never a client tool call.

    ``name`` is the vendor's tool name as sent (``web_search``, ``code_execution``, ``mcp:<server>.<tool>``);
    ``arguments`` and ``output`` are the vendor's JSON as plain Python values (the query or code; the
    results or stdout). ``raw`` keeps what the vendor sent back, for the next turn: a tuple of
    the vendor's content blocks / parts to send back in order, or any other vendor value (not sent).
    ``text_offset`` is where in the answer text the call happened (characters of text before its
    first event), set by the accumulator; it puts ``raw`` back between the right pieces of text.
    """

    id: str
    name: str
    status: ServerToolStatus = ServerToolStatus.STARTED
    arguments: Any = None
    output: Any = None
    raw: Any = attrs.field(default=None, eq=False, repr=False)
    text_offset: int | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(slots=True)
class Citation:
    """A source behind the answer. ``start``/``end`` are character offsets into the answer text where
    the vendor gives them; fields the vendor lacks are ``None``."""

    url: str | None = None
    title: str | None = None
    cited_text: str | None = None
    start: int | None = None
    end: int | None = None
    source_id: str | None = None


@attrs.frozen(slots=True)
class ProviderOutput:
    """A turn's output exactly as the vendor sent it, kept so that the turn can be sent back verbatim.

    ``wire`` names the format (``"openai-responses"``: ``items`` are the response's output items as
    JSON dicts, in order: reasoning with its ``encrypted_content``, messages, function calls, server
    tools); ``id`` is the vendor's id of the response. A provider sends ``items`` back only when it
    speaks ``wire``; every other provider uses the text and tool calls of the message instead.
    """

    wire: str
    items: tuple[Any, ...] = ()
    id: str | None = None


@attrs.frozen(slots=True)
class Tool:
    """A function the model may call; ``parameters`` is a JSON schema object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(factory=lambda: {"type": "object", "properties": {}})


@attrs.frozen(slots=True, repr=False, init=False)
class StreamedChunk:
    """One normalized event. Only the fields its ``type`` uses are set (see DESIGN's chunk table).

    ``signature`` / ``redacted_data`` ride on REASONING (and TEXT or TOOL_CALL_* for Gemini) chunks;
    ``raw`` is the vendor event, excluded from equality and repr.
    """

    type: ChunkType
    text: str = ""
    id: str | None = None
    model: str | None = None
    tool_call: ToolCallDelta | None = None
    usage: Usage | None = None
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    error: LLMStreamError | None = None
    signature: str | None = None
    redacted_data: str | None = None
    server_tool: ServerToolEvent | None = None
    citation: Citation | None = None
    provider_output: ProviderOutput | None = None
    raw: Any = attrs.field(default=None, eq=False)

    # Hand-written: one chunk per token makes this the hottest constructor. attrs' frozen __init__
    # binds object.__setattr__ and calls it per field; the slots' own setters are ~25% cheaper.
    def __init__(
        self, type: ChunkType, text: str = "", id: str | None = None, model: str | None = None,
        tool_call: ToolCallDelta | None = None, usage: Usage | None = None, finish_reason: FinishReason | None = None,
        raw_finish_reason: str | None = None, error: LLMStreamError | None = None, signature: str | None = None,
        redacted_data: str | None = None, server_tool: ServerToolEvent | None = None, citation: Citation | None = None,
        provider_output: ProviderOutput | None = None, raw: Any = None,
    ) -> None:
        _set_type(self, type)
        _set_text(self, text)
        _set_id(self, id)
        _set_model(self, model)
        _set_tool_call(self, tool_call)
        _set_usage(self, usage)
        _set_finish_reason(self, finish_reason)
        _set_raw_finish_reason(self, raw_finish_reason)
        _set_error(self, error)
        _set_signature(self, signature)
        _set_redacted_data(self, redacted_data)
        _set_server_tool(self, server_tool)
        _set_citation(self, citation)
        _set_provider_output(self, provider_output)
        _set_raw(self, raw)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        fields = [f"type={self.type.value}"]
        for name in ("text", "id", "model", "tool_call", "usage", "finish_reason", "error", "signature", "server_tool",
                     "citation"):
            value = getattr(self, name)
            if value:
                fields.append(f"{name}={value!r}")
        return f"StreamedChunk({', '.join(fields)})"


# The slots' own setters, for StreamedChunk.__init__ (they bypass the frozen __setattr__).
_setters = {field.name: StreamedChunk.__dict__[field.name].__set__ for field in attrs.fields(StreamedChunk)}
(
    _set_type, _set_text, _set_id, _set_model, _set_tool_call, _set_usage, _set_finish_reason, _set_raw_finish_reason,
    _set_error, _set_signature, _set_redacted_data, _set_server_tool, _set_citation, _set_provider_output, _set_raw,
) = (_setters.pop(name) for name in (
    "type", "text", "id", "model", "tool_call", "usage", "finish_reason", "raw_finish_reason", "error", "signature",
    "redacted_data", "server_tool", "citation", "provider_output", "raw",
))
if _setters:  # pragma: no cover - a new field must be set in StreamedChunk.__init__ too
    raise ImportError(f"StreamedChunk.__init__ does not set {sorted(_setters)}")
@attrs.frozen(slots=True)
class StreamStats:
    """Figures of one stream. ``time_to_first_chunk_ms`` counts any chunk (START included);
    ``time_to_first_token_ms`` the first content chunk (text, reasoning, refusal, a tool call, a server
    tool or a citation), and ``output_tokens_per_s`` is measured from it."""

    time_to_first_chunk_ms: float | None = None
    duration_ms: float = 0.0
    chunks: int = 0
    output_tokens_per_s: float | None = None
    time_to_first_token_ms: float | None = None


@attrs.frozen(slots=True)
class Completion:
    """Everything one stream said, rebuilt. On failure ``error`` is set and the rest is the partial."""

    text: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCall] = attrs.field(factory=list)
    usage: Usage | None = None
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    model: str | None = None
    id: str | None = None
    provider: str | None = None
    stats: StreamStats = attrs.field(factory=StreamStats)
    error: LLMStreamError | None = None
    reasoning_blocks: list[ReasoningBlock] = attrs.field(factory=list)
    #: Vendor-side tools, one entry per call in its final state.
    server_tools: list[ServerToolEvent] = attrs.field(factory=list)
    #: Sources behind the answer, in the vendor's order, each URL once.
    citations: list[Citation] = attrs.field(factory=list)
    #: True when the completion was replayed from a cache.
    cached: bool = False
    #: The validated object when the call asked for structured output (``output_type=``).
    output: Any = None
    #: The vendor's own output of the turn, for sending it back verbatim (the Responses API's items).
    provider_output: ProviderOutput | None = None

    def __str__(self) -> str:
        return self.text
