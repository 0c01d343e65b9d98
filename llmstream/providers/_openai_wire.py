"""The OpenAI chat-completions wire, sans-IO: its two translators and its request shape.

``OpenAITranslator`` reads the openai SDK's ``ChatCompletionChunk`` models; ``OpenAIEventTranslator``
reads the same chunks as plain dicts (decoded by ``_openai_events``: OpenRouter, ``OpenAIClient(
sdk_models=False)``). Only field extraction differs between them: START, tool-call keys and the
finish are the shared parts manager's (``_parts``); content, finish words and usage are read here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._conversation import Conversation
from .._errors import InBandError
from .._hot_values import text_chunk
from .._types import ChunkType, FinishReason, StreamedChunk, Tool, Usage
from ._parts import Parts
from ._reasoning_details import ReasoningDetails, reasoning_details
from ._server_tools import citation_from_annotation

__all__ = [
    "FINISH_REASONS",
    "WIRE_DONE",
    "OpenAIEventTranslator",
    "OpenAITranslator",
    "messages_payload",
    "tools_payload",
    "usage_from_mapping",
]

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": FinishReason.STOP,
    "end_turn": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "max_tokens": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
    "error": FinishReason.ERROR,
}

_TEXT = ChunkType.TEXT
#: The delta keys besides ``content`` (and ``role``) that a chunk dict's hot path must look at.
_OTHER_DELTA_KEYS = frozenset({"tool_calls", "reasoning_content", "reasoning", "reasoning_details", "refusal"})
_REASONING = ChunkType.REASONING
_REFUSAL = ChunkType.REFUSAL
_USAGE = ChunkType.USAGE


class _WireDone:
    """The native streams' last event when the body carried ``data: [DONE]`` (which the openai SDK and
    ``_openai_events`` swallow): the chat wire's terminal event. It looks like an empty chunk to both
    translators' hot paths (no choices, no usage), so only their slow path tests for it."""

    __slots__ = ()
    choices = ()
    usage = None

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def __contains__(self, key: object) -> bool:
        return False

    def __repr__(self) -> str:
        return "WIRE_DONE"


WIRE_DONE = _WireDone()


class _ChatTranslator:
    """What both translators share: one parts manager per stream, its end, and whether the wire's
    terminal event (a finish_reason, or ``[DONE]``: compatible servers may send either alone) came."""

    __slots__ = ("_done", "_parts")

    def __init__(self) -> None:
        self._parts = Parts()
        self._done = False

    def end(self) -> list[StreamedChunk]:
        return self._parts.end()

    def missing_terminal(self) -> str | None:
        """What the body lacked to be complete (None: it ended properly); asked before :meth:`end`,
        whose inferred finish must not hide a body cut short."""
        return None if self._done or self._parts.finished else "a finish_reason or data: [DONE]"


def _content(content: str | None, refusal: str | None, raw: Any, out: list[StreamedChunk]) -> None:
    if content:
        out.append(StreamedChunk(_TEXT, content, raw=raw))
    if refusal:  # refusals go to Completion.refusal, never to the text
        out.append(StreamedChunk(_REFUSAL, refusal, raw=raw))


def _annotations(annotations: Any, raw: Any, out: list[StreamedChunk]) -> None:
    """``url_citation`` annotations (OpenRouter's web plugin, search models) as CITATION chunks."""
    for annotation in annotations if isinstance(annotations, list) else ():
        citation = citation_from_annotation(annotation)
        if citation is not None:
            out.append(StreamedChunk(ChunkType.CITATION, citation=citation, raw=raw))


def _finish(parts: Parts, reason: str, raw: Any, out: list[StreamedChunk]) -> None:
    parts.close_calls(raw, out)
    stop = parts.stop(FINISH_REASONS.get(reason, FinishReason.OTHER), reason, raw)
    if stop is not None:
        out.append(stop)


class OpenAITranslator(_ChatTranslator):
    """ChatCompletionChunk (the SDK's pydantic model) → StreamedChunks. Pure, one per stream.

    Only the first choice (index 0) is followed, so ``n > 1`` gives the first choice's answer.
    Reasoning arrives as ``reasoning_content`` (DeepSeek, vLLM) or ``reasoning`` (OpenRouter-style)
    fields that the SDK keeps as pydantic extras.
    """

    __slots__ = ()

    def translate(self, chunk: Any) -> list[StreamedChunk] | tuple[StreamedChunk, ...]:
        parts = self._parts
        choices = chunk.choices
        if parts.started and len(choices) == 1 and chunk.usage is None:
            choice = choices[0]
            delta = choice.delta
            # The hot path: a plain text delta and nothing else.
            if (
                choice.finish_reason is None
                and choice.index == 0
                and delta.tool_calls is None
                and delta.content
                and not delta.__pydantic_extra__
                and delta.refusal is None
            ):
                return (text_chunk(delta.content, chunk),)
        if chunk is WIRE_DONE:
            self._done = True
            return ()
        out: list[StreamedChunk] = []
        if not parts.started:
            out.append(parts.start(chunk.id, chunk.model, chunk))
        for choice in choices:
            if choice.index:  # n > 1: only the first choice; a choice without index is the first, as on the dict path
                continue
            delta = choice.delta
            if delta is not None:
                extra = delta.__pydantic_extra__
                if extra:
                    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
                    if isinstance(reasoning, str) and reasoning:
                        out.append(StreamedChunk(_REASONING, reasoning, raw=chunk))
                _content(delta.content, delta.refusal, chunk, out)
                if extra and extra.get("annotations"):
                    _annotations(extra["annotations"], chunk, out)
                for call in delta.tool_calls or ():
                    function = call.function
                    if function is None:
                        parts.call_delta(call.index, call.id, None, None, chunk, out)
                    else:
                        parts.call_delta(call.index, call.id, function.name, function.arguments, chunk, out)
            if choice.finish_reason:
                _finish(parts, choice.finish_reason, chunk, out)
        if chunk.usage is not None:
            out.append(StreamedChunk(_USAGE, usage=usage_from_mapping(chunk.usage), raw=chunk))
        return out


class OpenAIEventTranslator(_ChatTranslator):
    """OpenAI-wire chunk dicts → StreamedChunks. Pure, one per stream.

    Reads what the SDK translator reads (``reasoning_content`` or ``reasoning``, refusals, tool calls,
    usage) plus OpenRouter's extras: ``reasoning_details`` (signatures, encrypted blocks) and the
    ``{"error": …}`` member of a chunk, which becomes an ERROR chunk after what the chunk carried.
    """

    __slots__ = ("_details", "_provider")

    def __init__(self, provider: str = "openrouter") -> None:
        super().__init__()
        self._provider = provider
        # OpenRouter's reasoning_details, kept verbatim for the next turn (on the STOP's provider_output).
        self._details = ReasoningDetails() if provider == "openrouter" else None

    def end(self) -> list[StreamedChunk]:
        out = self._parts.end()
        if self._details:
            _keep(self._details, out)
        return out

    def translate(self, chunk: dict[str, Any] | _WireDone) -> list[StreamedChunk] | tuple[StreamedChunk, ...]:
        parts = self._parts
        choices = chunk.get("choices")
        # OpenAI sends ``"usage": null`` in every chunk when usage is asked for: null is no usage.
        if parts.started and choices and len(choices) == 1 and not chunk.get("usage") and not chunk.get("error"):
            choice = choices[0]
            delta = choice.get("delta")
            # The hot path: a text delta and nothing else of interest (a delta without any of the
            # other keys is the common case, decided in one set operation; null values count as absent).
            if (
                delta
                and not choice.get("finish_reason")
                and not choice.get("index")
                and (
                    _OTHER_DELTA_KEYS.isdisjoint(delta)
                    or not (
                        delta.get("tool_calls") or delta.get("reasoning_content") or delta.get("reasoning")
                        or delta.get("reasoning_details") or delta.get("refusal")
                    )
                )
            ):
                content = delta.get("content")
                if content:
                    return (text_chunk(content, chunk),)
                if not delta.get("annotations"):
                    return ()
        if chunk is WIRE_DONE:
            self._done = True
            return ()
        out: list[StreamedChunk] = []
        if not parts.started:
            out.append(parts.start(chunk.get("id"), chunk.get("model"), chunk))
        error = chunk.get("error")
        for choice in choices or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            _reasoning(delta, chunk, out)
            if self._details is not None and delta.get("reasoning_details"):
                self._details.add(delta["reasoning_details"])
            _content(delta.get("content"), delta.get("refusal"), chunk, out)
            if delta.get("annotations"):
                _annotations(delta["annotations"], chunk, out)
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                parts.call_delta(
                    call.get("index"), call.get("id"), function.get("name"), function.get("arguments"), chunk, out
                )
            finish = choice.get("finish_reason")
            if finish and not (finish == "error" and error):
                _finish(parts, finish, chunk, out)
                if self._details:
                    _keep(self._details, out)
        usage = chunk.get("usage")
        if usage:
            out.append(StreamedChunk(_USAGE, usage=usage_from_mapping(usage), raw=chunk))
        if error:
            out.append(StreamedChunk(ChunkType.ERROR, error=_in_band(error, self._provider), raw=chunk))
        return out


def _keep(details: ReasoningDetails, out: list[StreamedChunk]) -> None:
    """The STOP among ``out`` carries the reasoning details so far (``Completion.provider_output``)."""
    for position, chunk in enumerate(out):
        if chunk.type is ChunkType.STOP:
            out[position] = StreamedChunk(
                ChunkType.STOP, finish_reason=chunk.finish_reason, raw_finish_reason=chunk.raw_finish_reason,
                provider_output=details.output(), raw=chunk.raw,
            )


def _reasoning(delta: dict[str, Any], chunk: Any, out: list[StreamedChunk]) -> None:
    """``reasoning_content`` (DeepSeek, vLLM) or ``reasoning`` (OpenRouter, newer vLLM, which may send
    both with the same text) carries the text, as in the SDK translator; ``reasoning_details``
    repeats it with signatures and encrypted blocks, so its text is used only when neither is there."""
    text = delta.get("reasoning_content") or delta.get("reasoning")
    details = delta.get("reasoning_details") or ()
    if isinstance(text, str) and text:
        out.append(StreamedChunk(_REASONING, text, raw=chunk))
        text_given = True
    else:
        text_given = False
    for detail in details:
        if not isinstance(detail, dict):
            continue
        kind = detail.get("type")
        if kind == "reasoning.encrypted":
            out.append(StreamedChunk(_REASONING, redacted_data=str(detail.get("data") or ""), raw=chunk))
            continue
        if not text_given:
            piece = detail.get("text") if kind == "reasoning.text" else detail.get("summary")
            if isinstance(piece, str) and piece:
                out.append(StreamedChunk(_REASONING, piece, raw=chunk))
        signature = detail.get("signature")
        if signature:
            out.append(StreamedChunk(_REASONING, signature=str(signature), raw=chunk))


_NO_MESSAGE = "An error occurred during streaming"  # as the openai SDK words it


def _in_band(error: Any, provider: str) -> InBandError:
    if isinstance(error, dict):
        message = str(error.get("message") or _NO_MESSAGE)
        code = error.get("code")
        return InBandError(message, code=None if code is None else str(code), body=error, provider=provider)
    return InBandError(_NO_MESSAGE, body=error, provider=provider)


def _get(mapping: Any, key: str) -> Any:
    if mapping is None:
        return None
    if isinstance(mapping, Mapping):
        return mapping.get(key)
    return getattr(mapping, key, None)


def usage_from_mapping(usage: Any) -> Usage:
    """OpenAI-style usage (a dict or the SDK's model) → the normalized snapshot."""
    prompt_details = _get(usage, "prompt_tokens_details")
    completion_details = _get(usage, "completion_tokens_details")
    cached = _get(prompt_details, "cached_tokens")
    if cached is None:
        cached = _get(usage, "prompt_cache_hit_tokens")  # DeepSeek
    cache_write = _get(prompt_details, "cache_write_tokens")
    cost = _get(usage, "cost")
    return Usage(
        input_tokens=_get(usage, "prompt_tokens") or 0,
        output_tokens=_get(usage, "completion_tokens") or 0,
        cached_input_tokens=cached or 0,
        cache_write_tokens=cache_write or 0,
        reasoning_tokens=_get(completion_details, "reasoning_tokens") or 0,
        cost=float(cost) if isinstance(cost, (int, float)) else None,
    )


def messages_payload(conversation: Conversation, provider: str = "openai") -> list[dict[str, Any]]:
    """A Conversation in the chat-completions request shape. Content parts go in the documented
    shapes (``_content_shapes``); ``provider`` is ``"openrouter"`` for what OpenRouter takes beyond OpenAI."""
    out: list[dict[str, Any]] = []
    budget: Budget | None = None
    for message in conversation.messages:
        content: Any = message.content
        if type(content) is not str:  # parts: text-only requests never pay for this
            from ._content_shapes import Budget, openai_content

            budget = budget or Budget(provider)
            content = openai_content(content, message.role, provider, budget)
        if message.role == "tool":
            out.append({"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content})
        elif message.role == "assistant" and message.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments or "{}"},
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": message.role, "content": content})
        if provider == "openrouter" and message.role == "assistant":
            details = reasoning_details(message)  # as OpenRouter asks: the turn's reasoning, verbatim
            if details:
                out[-1]["reasoning_details"] = details
    return out


def tools_payload(tools: tuple[Tool, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
        }
        for t in tools
    ]
