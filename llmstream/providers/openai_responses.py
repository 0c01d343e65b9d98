"""The OpenAI Responses API (``client.responses.create(stream=True)``) on the official ``openai`` SDK.

The events are translated by ``_responses_wire`` (also the ``sdk_models=False`` fast path, where
llmstream decodes the body itself); the deltas, nearly every event of a stream, are read here
straight from the SDK's models. Background responses (``background=True``) resume after a dropped
connection from the last event's ``sequence_number`` (see :class:`ResumingStream`) and are cancelled
on the server when the stream is closed before the response finished.
"""

from __future__ import annotations

from typing import Any

from .._adapter import to_error
from .._errors import StreamInterruptedError
from .._hot_values import text_chunk
from .._output import responses_format
from .._settings import Request
from .._transport import AsyncNative, http_timeout
from .._types import StreamedChunk
from ._openai_events import EventResponse
from ._responses_items import input_items, tools_payload
from ._responses_resume import (
    AsyncResumingStream,
    Checked,
    ResumingStream,
    dict_identity,
    dict_kind,
    model_identity,
    model_kind,
)
from ._responses_wire import ResponsesEventTranslator
from .openai import OpenAIClient

__all__ = ["AsyncResumingStream", "Checked", "OpenAIResponsesClient", "OpenAIResponsesTranslator", "ResumingStream"]

_TEXT_DELTA = "response.output_text.delta"
_ARGUMENT_DELTAS = frozenset({"response.function_call_arguments.delta", "response.custom_tool_call_input.delta"})
_ENCRYPTED = "reasoning.encrypted_content"


class OpenAIResponsesTranslator:
    """``ResponseStreamEvent`` models → StreamedChunks. Deltas are read from the models; the other
    events (a few per stream) go to the dict translator as ``event.to_dict()``, with the model as raw."""

    __slots__ = ("_wire",)

    def __init__(self, provider: str = "openai-responses") -> None:
        self._wire = ResponsesEventTranslator(provider)

    def translate(self, event: Any) -> list[StreamedChunk] | tuple[StreamedChunk, ...]:
        wire = self._wire
        kind = event.type
        if kind == _TEXT_DELTA:
            wire.deltas += 1
            delta = event.delta
            return (text_chunk(delta, event),) if delta else ()
        if wire.started:
            if kind in _ARGUMENT_DELTAS:
                return wire.arguments(event.item_id, event.output_index, event.delta, event)
            if kind == "response.reasoning_summary_text.delta":
                return wire.reasoning(event.item_id, event.summary_index, event.delta, event)
            if kind == "response.reasoning_text.delta":
                return wire.reasoning(event.item_id, event.content_index, event.delta, event)
            if kind == "response.refusal.delta":
                return wire.refusal(event.delta, event)
        return wire.translate(event.to_dict(), event)

    def end(self) -> list[StreamedChunk]:
        return self._wire.end()

    def missing_terminal(self) -> str | None:
        return self._wire.missing_terminal()


class OpenAIResponsesClient(OpenAIClient):
    """OpenAI's Responses API: reasoning summaries, encrypted reasoning, built-in tools, background mode.

    Same knobs as :class:`OpenAIClient` (``sdk_models=False`` included). System messages become
    ``instructions``; an appended completion goes back as its own output items. Per-call extras pass
    through (``reasoning={"effort": …, "summary": "auto"}``, ``store``, ``previous_response_id``,
    ``background``, ``include``); with ``store=False`` encrypted reasoning is requested so that it can be
    sent back. With ``background=True`` a dropped connection resumes where it stopped (counted against
    ``max_retries``), and closing the stream early cancels the response.
    """

    provider = "openai-responses"

    def _params(self, request: Request) -> dict[str, Any]:
        extra = dict(request.extra)
        stateless = extra.get("store") is False
        conversation = request.conversation
        params: dict[str, Any] = {
            "model": request.model,
            "input": input_items(conversation, previous_response_id=extra.get("previous_response_id"),
                                 stateless=stateless),
            "stream": True,
            "timeout": http_timeout(request.settings),
        }
        instructions = conversation.system_prompt
        if instructions:
            params["instructions"] = instructions
        if request.tools:
            params["tools"] = tools_payload(request.tools)
        if request.max_tokens is not None:
            params["max_output_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if stateless:
            include = list(extra.pop("include", None) or ())
            if _ENCRYPTED not in include:
                include.append(_ENCRYPTED)
            params["include"] = include
        if request.output is not None:
            params["text"] = responses_format(request.output)
        params.update(extra)
        return params

    def _resumable(self, exc: BaseException) -> bool:
        return isinstance(to_error(exc, self.provider, self._map_error), StreamInterruptedError)

    def _open(self, request: Request) -> Any:
        responses = self.sdk.responses
        timeout = http_timeout(request.settings)

        def open_sync(response_id: str | None = None, after: int | None = None) -> Any:
            # A plain stream's terminal event is checked by the translator (``missing_terminal``); a
            # background one is wrapped in ``Checked`` so that a body cut short can be resumed.
            if response_id is None:
                if self.sdk_models:
                    return responses.create(**self._params(request))
                manager = responses.with_streaming_response.create(**self._params(request))
            else:
                if self.sdk_models:
                    return responses.retrieve(response_id, stream=True, starting_after=after, timeout=timeout)
                manager = responses.with_streaming_response.retrieve(
                    response_id, stream=True, starting_after=after, timeout=timeout)
            return EventResponse(manager.__enter__().http_response, self.provider, request.settings.max_event_bytes)

        if not request.extra.get("background"):
            return open_sync()
        kind = model_kind if self.sdk_models else dict_kind

        def open_checked(response_id: str | None = None, after: int | None = None) -> Checked:
            return Checked(open_sync(response_id, after), self.provider, kind)

        return ResumingStream(
            open_checked(), open_checked,
            lambda response_id: responses.cancel(response_id, timeout=self.settings.timeout),
            identity=model_identity if self.sdk_models else dict_identity, resumable=self._resumable,
            retries=request.settings.max_retries,
        )

    async def _aopen(self, request: Request) -> Any:
        responses = self.async_sdk.responses
        timeout = http_timeout(request.settings)

        async def open_async(response_id: str | None = None, after: int | None = None) -> tuple[Any, Any]:
            """The event stream (models or dicts) and the coroutine function that closes it."""
            if self.sdk_models:
                if response_id is None:
                    stream = await responses.create(**self._params(request))
                else:
                    stream = await responses.retrieve(response_id, stream=True, starting_after=after, timeout=timeout)
                return stream, stream.close
            if response_id is None:
                manager = responses.with_streaming_response.create(**self._params(request))
            else:
                manager = responses.with_streaming_response.retrieve(
                    response_id, stream=True, starting_after=after, timeout=timeout)
            response = (await manager.__aenter__()).http_response
            return EventResponse(response, self.provider, request.settings.max_event_bytes), response.aclose

        if not request.extra.get("background"):
            events, aclose = await open_async()
            return AsyncNative(events, aclose, response=events.response)
        kind = model_kind if self.sdk_models else dict_kind

        async def open_checked(response_id: str | None = None, after: int | None = None) -> AsyncNative:
            events, aclose = await open_async(response_id, after)
            return AsyncNative(Checked(events, self.provider, kind).achecked(), aclose, response=events.response)

        return AsyncResumingStream(
            await open_checked(), open_checked,
            lambda response_id: responses.cancel(response_id, timeout=self.settings.timeout),
            identity=model_identity if self.sdk_models else dict_identity, resumable=self._resumable,
            retries=request.settings.max_retries,
        )

    def _translator(self, request: Request) -> Any:
        if self.sdk_models:
            return OpenAIResponsesTranslator(self.provider)
        return ResponsesEventTranslator(self.provider)
