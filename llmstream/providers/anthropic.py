"""Anthropic Messages on the official ``anthropic`` SDK's native iterator (``messages.create(stream=True)``).

The SDK yields ``RawMessageStreamEvent`` models. Unknown event, block or delta types are still
built by the SDK (as the first member of the union, with ``type`` kept), so everything here
dispatches on the ``type`` strings, never on ``isinstance``, and ignores what it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._client import BaseClient, import_sdk
from .._errors import (
    ConfigurationError,
    InBandError,
    LLMStreamError,
    MalformedStreamError,
    StreamInterruptedError,
    StreamTimeoutError,
)
from .._output import anthropic_format, anthropic_native
from .._settings import Request
from .._status import error_for_status
from .._transport import AsyncNative, guarded_http_client, http_timeout
from .._types import ChunkType, FinishReason, StreamedChunk, Usage, text_chunk
from ._anthropic_wire import for_sdk, messages_payload, tools_payload
from ._parts import Parts
from ._server_tools import AnthropicServerTools

__all__ = ["AnthropicClient", "AnthropicTranslator", "map_anthropic_error", "messages_payload"]

#: Anthropic requires ``max_tokens``; this is sent when the caller gives none.
DEFAULT_MAX_TOKENS = 4096

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    # The answer was cut off by the context window: for the caller that is a truncation, like
    # max_tokens (OpenAI reports the same situation as "length").
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
    # pause_turn (a long server-tool turn to be continued) and anything new fall back to OTHER.
}

_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING
_NO_CHUNKS: tuple[StreamedChunk, ...] = ()


def _initial_arguments(block_input: Any) -> str:
    """What a ``tool_use`` block's END carries when no ``input_json_delta`` follows: the start
    block's whole ``input`` when it has one, else ``{}`` (a tool called with no arguments streams
    no input at all)."""
    if isinstance(block_input, Mapping) and block_input:
        return json.dumps(block_input)
    return "{}"


class AnthropicTranslator:
    """RawMessageStreamEvent → StreamedChunks. Pure, one per stream.

    State: the parts manager (START, client ``tool_use`` blocks keyed by content-block index and
    renumbered 0, 1, 2… as tool calls, the finish), the prompt usage parts (``message_delta``
    usage is cumulative and overrides only what it carries), and a thinking block's signature
    that came with its start block.
    """

    __slots__ = ("_output_blocks", "_output_tool", "_parts", "_pending_signature", "_prompt", "_server", "_stopped")

    def __init__(self, output_tool: str | None = None) -> None:
        # Structured output through a forced tool: that tool's input deltas are the answer's TEXT.
        self._output_tool = output_tool
        self._output_blocks: set[int] = set()
        self._parts = Parts()
        self._server: AnthropicServerTools | None = None  # made at the first server-tool block
        self._prompt: tuple[int, int, int] = (0, 0, 0)  # input, cache read, cache creation
        self._pending_signature: dict[int, str] = {}
        self._stopped = False  # message_stop came

    def translate(self, event: Any) -> tuple[StreamedChunk, ...] | list[StreamedChunk]:
        kind = event.type
        if kind == "content_block_delta":
            delta = event.delta
            # The hot path: one text fragment, no copies. (Fields a frame lacks are None.)
            delta_kind = delta.type if delta is not None else None
            if delta_kind == "text_delta":
                text = delta.text
                return (text_chunk(text, event),) if text else _NO_CHUNKS
            return self._delta(event, delta, delta_kind)
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_stop":
            return self._block_stop(event)
        if kind == "message_delta":
            return self._message_delta(event)
        if kind == "message_start":
            return self._message_start(event)
        if kind == "error":  # only seen when events come from elsewhere: the SDK raises these itself
            return (StreamedChunk(ChunkType.ERROR, error=_in_band(getattr(event, "error", None)), raw=event),)
        if kind == "message_stop":
            self._stopped = True
        return _NO_CHUNKS  # ping, message_stop, and event types newer than this code

    def missing_terminal(self) -> str | None:
        """The message's end (``message_stop``, or a ``stop_reason``) never came: None when it did."""
        return None if self._stopped or self._parts.finished else "message_stop"

    def end(self) -> list[StreamedChunk]:
        """Blocks that never closed (a stream that ended early): keep signatures, finish tool calls;
        a message that never said why it stopped gets the inferred STOP."""
        out = [StreamedChunk(_REASONING, "", signature=sig) for sig in self._pending_signature.values()]
        self._pending_signature.clear()
        out += self._parts.end()
        return out

    # -- content blocks ---------------------------------------------------------------------------

    def _block_start(self, event: Any) -> tuple[StreamedChunk, ...]:
        block = event.content_block
        block_kind = block.type if block is not None else None
        index = event.index
        if block_kind == "text":
            text = block.text  # normally "", but a block may arrive with its text already
            return (StreamedChunk(_TEXT, text, raw=event),) if text else _NO_CHUNKS
        if block_kind == "thinking":
            thinking, signature = getattr(block, "thinking", None), getattr(block, "signature", None)
            if signature:  # sent at the block's stop, after any text deltas, so it closes the right block
                self._pending_signature[index] = signature
            return (StreamedChunk(_REASONING, thinking, raw=event),) if thinking else _NO_CHUNKS
        if block_kind == "redacted_thinking":
            data = getattr(block, "data", None) or ""
            return (StreamedChunk(_REASONING, "", redacted_data=data, raw=event),)
        if block_kind == "tool_use" and self._output_tool is not None and block.name == self._output_tool:
            self._output_blocks.add(index)
            given = getattr(block, "input", None)
            return (StreamedChunk(_TEXT, json.dumps(given), raw=event),) if given else _NO_CHUNKS
        if block_kind == "tool_use":
            initial = _initial_arguments(getattr(block, "input", None))
            _, chunk = self._parts.open_call(index, block.id, block.name, event, initial=initial)
            return (chunk,)
        # server_tool_use, web_search_tool_result, mcp_* …: run by Anthropic, never calls for the client.
        server = self._server
        if server is None:
            server = self._server = AnthropicServerTools()
        return server.block_start(index, block, event) or _NO_CHUNKS

    def _delta(self, event: Any, delta: Any, delta_kind: str | None) -> tuple[StreamedChunk, ...]:
        if delta_kind == "input_json_delta" and event.index in self._output_blocks:
            fragment = delta.partial_json
            return (StreamedChunk(_TEXT, fragment, raw=event),) if fragment else _NO_CHUNKS
        if delta_kind == "input_json_delta":
            call = self._parts.call(event.index)
            fragment = delta.partial_json
            if call is None or call.closed or not fragment:  # a server tool's input, or an empty fragment
                if call is None and self._server is not None:
                    self._server.input_delta(event.index, fragment)
                return _NO_CHUNKS
            return (self._parts.fragment(call, fragment, event),)
        if delta_kind == "thinking_delta":
            thinking = delta.thinking
            return (StreamedChunk(_REASONING, thinking, raw=event),) if thinking else _NO_CHUNKS
        if delta_kind == "signature_delta":
            signature = delta.signature
            if not signature:
                return _NO_CHUNKS
            self._pending_signature.pop(event.index, None)  # the delta supersedes a start-block one
            return (StreamedChunk(_REASONING, "", signature=signature, raw=event),)
        if delta_kind == "citations_delta":
            return (AnthropicServerTools.citation(delta, event),)
        return _NO_CHUNKS  # unknown deltas are ignored

    def _block_stop(self, event: Any) -> tuple[StreamedChunk, ...]:
        index = event.index
        call = self._parts.call(index)
        if call is not None and not call.closed:
            return (self._parts.close_call(call, event),)
        signature = self._pending_signature.pop(index, None)
        if signature is not None:
            return (StreamedChunk(_REASONING, "", signature=signature, raw=event),)
        if self._server is not None:
            return self._server.block_stop(index, event) or _NO_CHUNKS
        return _NO_CHUNKS

    # -- message-level events ---------------------------------------------------------------------

    def _message_start(self, event: Any) -> list[StreamedChunk]:
        message = event.message
        if message is None:
            return []
        parts = self._parts
        out = [] if parts.started else [parts.start(message.id, message.model, event)]
        usage = message.usage
        if usage is not None:
            self._prompt = (
                usage.input_tokens or 0,
                usage.cache_read_input_tokens or 0,
                usage.cache_creation_input_tokens or 0,
            )
            out.append(StreamedChunk(ChunkType.USAGE, usage=self._usage(usage), raw=event))
        return out

    def _message_delta(self, event: Any) -> list[StreamedChunk]:
        out: list[StreamedChunk] = []
        usage = event.usage
        if usage is not None:
            # Cumulative: output replaces; input parts replace only when this event carries them.
            fresh, read, created = self._prompt
            if usage.input_tokens is not None:
                fresh = usage.input_tokens
            if usage.cache_read_input_tokens is not None:
                read = usage.cache_read_input_tokens
            if usage.cache_creation_input_tokens is not None:
                created = usage.cache_creation_input_tokens
            self._prompt = (fresh, read, created)
            out.append(StreamedChunk(ChunkType.USAGE, usage=self._usage(usage), raw=event))
        delta = event.delta
        reason = delta.stop_reason if delta is not None else None
        if reason:
            finish = FINISH_REASONS.get(reason, FinishReason.OTHER)
            if reason == "tool_use" and self._output_blocks:  # the forced output tool: a complete object
                finish = FinishReason.STOP
            stop = self._parts.stop(finish, reason, event)
            if stop is not None:
                out.append(stop)
        return out

    def _usage(self, usage: Any) -> Usage:
        fresh, read, created = self._prompt
        details = getattr(usage, "output_tokens_details", None)
        thinking = getattr(details, "thinking_tokens", None) if details is not None else None
        return Usage(
            input_tokens=fresh + read + created,  # OpenAI semantics: every prompt token
            output_tokens=usage.output_tokens or 0,
            cached_input_tokens=read,
            cache_write_tokens=created,
            reasoning_tokens=thinking or 0,
        )


def _in_band(error: Any, body: Any = None, fallback: str = "error event in the stream") -> InBandError:
    """An ``error`` event's ``{"type", "message"}`` (a dict or an SDK model) as an InBandError."""
    if isinstance(error, Mapping):
        code, message = error.get("type"), error.get("message")
    else:
        code, message = getattr(error, "type", None), getattr(error, "message", None)
    code = str(code) if code else None
    text = str(message) if message else fallback
    return InBandError(f"{code}: {text}" if code else text, code=code, body=body)


# -- errors -------------------------------------------------------------------------------------


def map_anthropic_error(exc: BaseException, provider: str) -> LLMStreamError | None:
    """anthropic SDK exceptions → the llmstream error tree.

    The SDK raises an ``event: error`` inside a 200 stream as ``APIStatusError`` built from the
    200 response, so a status below 400 is what tells an in-band error from an HTTP one.
    """
    anthropic = import_sdk("anthropic", "anthropic", provider)
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body
        inner = body.get("error") if isinstance(body, dict) else None
        if exc.status_code < 400:
            error = _in_band(inner, body, exc.message)  # a non-JSON event's data is the SDK's message
            error.provider = provider
            return error
        message = inner.get("message") if isinstance(inner, dict) else None
        message = message if isinstance(message, str) and message else exc.message
        return error_for_status(
            exc.status_code, message, provider=provider, body=body, headers=exc.response.headers
        )
    if isinstance(exc, anthropic.APITimeoutError):  # before APIConnectionError: it is a subclass
        return StreamTimeoutError(f"timed out: {exc.__cause__ or exc}", provider=provider)
    if isinstance(exc, anthropic.APIConnectionError):
        return StreamInterruptedError(f"connection error: {exc.__cause__ or exc}", provider=provider)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return MalformedStreamError(f"unexpected data from the API: {exc.message}", provider=provider)
    return None


def forced_output_tool(request: Request) -> str | None:
    """The name of the forced tool that carries structured output (older models), else None."""
    output = request.output
    return None if output is None or anthropic_native(request.model) else output.name


# -- the client ---------------------------------------------------------------------------------


class AnthropicClient(BaseClient):
    """Anthropic Messages API. ``base_url`` is the host root (``http://host``; the SDK adds
    ``/v1/messages``). Keys come from ``api_key`` or ``ANTHROPIC_API_KEY``.

    Extended thinking is a pass-through extra:
    ``client.stream(conv, thinking={"type": "enabled", "budget_tokens": 1024})``.
    """

    provider = "anthropic"
    env_keys = ("ANTHROPIC_API_KEY",)

    def _make_sdk(self, *, asynchronous: bool) -> Any:
        anthropic = import_sdk("anthropic", "anthropic", self.provider)
        cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
        return cls(
            api_key=self._require_key(),
            base_url=self.base_url,
            max_retries=0,  # one retry policy for every provider: ours
            timeout=http_timeout(self.settings),
            **self._http_client_option(asynchronous),
            **self._sdk_options,
        )

    def _http_client_option(self, asynchronous: bool) -> dict[str, Any]:
        if "http_client" in self._sdk_options:
            return {}  # the user's own client wins
        return {"http_client": guarded_http_client(self.settings, asynchronous=asynchronous)}

    def _params(self, request: Request) -> dict[str, Any]:
        conversation = request.conversation
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS,
            "messages": messages_payload(conversation),
            "stream": True,
            "timeout": http_timeout(request.settings),
        }
        system = conversation.system_prompt
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = tools_payload(request.tools)
        if request.temperature is not None:
            params["temperature"] = request.temperature
        params.update(request.extra)  # thinking=, top_k=, metadata=… pass through as given
        output = request.output
        if output is not None and anthropic_native(request.model):  # structured outputs: the answer is JSON text
            params["output_config"] = {**(params.get("output_config") or {}), "format": anthropic_format(output)}
        elif output is not None:  # older models: a forced tool whose input is the object
            if params.get("thinking"):
                raise ConfigurationError(
                    f"output_type= uses a forced tool on {request.model} (no native structured outputs before "
                    "Claude 4.5), which extended thinking does not allow: drop thinking= or output_type="
                )
            tool = {"name": output.name, "description": f"Reply with the {output.name} object.",
                    "input_schema": output.schema}
            params["tools"] = [*params.get("tools", ()), tool]
            params["tool_choice"] = {"type": "tool", "name": output.name}
        return params

    def _open(self, request: Request) -> Any:
        create = self.sdk.messages.create
        return create(**for_sdk(create, self._params(request)))

    async def _aopen(self, request: Request) -> AsyncNative:
        create = self.async_sdk.messages.create
        stream = await create(**for_sdk(create, self._params(request)))
        return AsyncNative(stream, stream.close, response=stream.response)

    def _translator(self, request: Request) -> AnthropicTranslator:
        return AnthropicTranslator(forced_output_tool(request))

    def _map_error(self, exc: BaseException) -> LLMStreamError | None:
        return map_anthropic_error(exc, self.provider)
