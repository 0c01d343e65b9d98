"""The OpenAI Responses API (``client.responses.create(stream=True)``) on the official ``openai`` SDK.

The events are translated by ``_responses_wire`` (also the ``sdk_models=False`` fast path, where
llmstream decodes the body itself); the deltas, nearly every event of a stream, are read here
straight from the SDK's models. Background responses (``background=True``) resume after a dropped
connection from the last event's ``sequence_number`` (see :class:`ResumingStream`) and are cancelled
on the server when the stream is closed before the response finished.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from .._adapter import to_error
from .._errors import MalformedStreamError, StreamInterruptedError
from .._output import responses_format
from .._settings import Request
from .._transport import AsyncNative, hard_cancel, http_timeout
from .._types import StreamedChunk, text_chunk
from ._openai_events import EventResponse
from ._responses_items import input_items, tools_payload
from ._responses_wire import ResponsesEventTranslator
from .openai import OpenAIClient

__all__ = ["AsyncResumingStream", "Checked", "OpenAIResponsesClient", "OpenAIResponsesTranslator", "ResumingStream"]

_TEXT_DELTA = "response.output_text.delta"
_ARGUMENT_DELTAS = frozenset({"response.function_call_arguments.delta", "response.custom_tool_call_input.delta"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})
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


def _model_kind(event: Any) -> Any:
    return event.type


def _dict_kind(event: Any) -> Any:
    return event.get("type")


def _model_identity(event: Any) -> tuple[Any, Any, Any]:
    kind = event.type
    response_id = event.response.id if kind == "response.created" else None
    return kind, getattr(event, "sequence_number", None), response_id


def _dict_identity(event: Any) -> tuple[Any, Any, Any]:
    kind = event.get("type")
    response = event.get("response") if kind == "response.created" else None
    return kind, event.get("sequence_number"), response.get("id") if isinstance(response, dict) else None


class Checked:
    """A native stream that raises :class:`StreamInterruptedError` when its body ends before the
    response's terminal event (``response.completed``/``incomplete``/``failed`` or ``error``): a 200
    cut short is never an empty or partial success. Sync: iterate it; async: ``achecked`` it."""

    __slots__ = ("_kind", "_provider", "_stream")

    def __init__(self, stream: Any, provider: str, kind: Callable[[Any], Any]) -> None:
        self._stream = stream
        self._provider = provider
        self._kind = kind

    @property
    def response(self) -> Any:
        return getattr(self._stream, "response", None)

    def __iter__(self) -> Iterator[Any]:
        last = None
        for event in self._stream:
            last = event
            yield event
        self._check(last)

    async def achecked(self) -> AsyncIterator[Any]:
        last = None
        async for event in self._stream:
            last = event
            yield event
        self._check(last)

    def _check(self, last: Any) -> None:
        if last is None:  # not one event: no event stream at all (HTML, JSON, an empty body…)
            raise MalformedStreamError("the 200 stream ended without a single event (expected response.completed)",
                                       provider=self._provider)
        if self._kind(last) not in _TERMINAL:
            raise StreamInterruptedError("the stream ended before the response's terminal event "
                                         "(response.completed)", provider=self._provider)

    def close(self) -> None:
        self._stream.close()

    def cancel(self) -> None:
        hard_cancel(self._stream)


class _Resuming:
    """What the sync and async resuming streams share: the position in the response, the decisions."""

    def __init__(self, identity: Callable[[Any], tuple[Any, Any, Any]], resumable: Callable[[BaseException], bool],
                 retries: int) -> None:
        self._identity = identity
        self._resumable = resumable
        self._retries = retries
        self.attempts = 0  # resumes so far
        self.response_id: str | None = None
        self.last: int | None = None  # sequence_number of the last event handed out
        self.finished = False  # a terminal event was handed out
        self.cancelled = False

    def seen(self, event: Any) -> bool:
        """Track the event; False for one the caller already had (a server repeating itself)."""
        kind, sequence, response_id = self._identity(event)
        if sequence is not None:
            if self.last is not None and sequence <= self.last:
                return False
            self.last = sequence
        if response_id:
            self.response_id = str(response_id)
        if kind in _TERMINAL:
            self.finished = True
        return True

    def can_resume(self, exc: BaseException | None) -> bool:
        """A dropped connection (or a body ended before the terminal event) of a known background response."""
        return (
            not self.cancelled and not self.finished and self.response_id is not None and self.last is not None
            and self.attempts < self._retries and (exc is None or self._resumable(exc))
        )


class ResumingStream(_Resuming):
    """A background response's event stream that survives dropped connections (sync).

    On a transport error (or a body that ends before ``response.completed``) it reopens the stream
    with ``GET /v1/responses/{id}?stream=true&starting_after=<last sequence_number>`` through
    ``reopen(response_id, last)``, at most ``retries`` times: the caller sees each event once.
    ``close()`` before the response finished cancels it on the server (``cancel(response_id)``).
    """

    def __init__(self, first: Any, reopen: Callable[[str, int], Any], cancel: Callable[[str], Any], *,
                 identity: Callable[[Any], tuple[Any, Any, Any]], resumable: Callable[[BaseException], bool],
                 retries: int) -> None:
        super().__init__(identity, resumable, retries)
        self._stream = first
        self._events = iter(first)
        self._reopen = reopen
        self._cancel = cancel

    @property
    def response(self) -> Any:
        return getattr(self._stream, "response", None)

    def __iter__(self) -> ResumingStream:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                event = next(self._events)
            except StopIteration:
                if not self.can_resume(None):
                    raise
                self._resume()
                continue
            except Exception as exc:
                if not self.can_resume(exc):
                    raise
                self._resume()
                continue
            if self.seen(event):
                return event

    def _resume(self) -> None:
        self.attempts += 1
        with contextlib.suppress(Exception):
            self._stream.close()
        assert self.response_id is not None and self.last is not None
        self._stream = self._reopen(self.response_id, self.last)
        self._events = iter(self._stream)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()
        if not self.finished and self.response_id is not None:
            self.finished = True
            with contextlib.suppress(Exception):  # best effort: stop generation and billing
                self._cancel(self.response_id)

    def cancel(self) -> None:
        """From any thread: no more resumes; the connection is shut at once."""
        self.cancelled = True
        hard_cancel(self._stream)


class AsyncResumingStream(_Resuming):
    """The async twin of :class:`ResumingStream`; ``reopen`` and ``cancel`` are coroutine functions,
    each opened stream an :class:`AsyncNative`."""

    def __init__(self, first: AsyncNative, reopen: Callable[[str, int], Awaitable[AsyncNative]],
                 cancel: Callable[[str], Awaitable[Any]], *, identity: Callable[[Any], tuple[Any, Any, Any]],
                 resumable: Callable[[BaseException], bool], retries: int) -> None:
        super().__init__(identity, resumable, retries)
        self._native = first
        self._events = first.__aiter__()
        self._reopen = reopen
        self._cancel = cancel

    @property
    def response(self) -> Any:
        return self._native.response

    def __aiter__(self) -> AsyncResumingStream:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                event = await self._events.__anext__()
            except StopAsyncIteration:
                if not self.can_resume(None):
                    raise
                await self._resume()
                continue
            except Exception as exc:
                if not self.can_resume(exc):
                    raise
                await self._resume()
                continue
            if self.seen(event):
                return event

    async def _resume(self) -> None:
        self.attempts += 1
        with contextlib.suppress(Exception):
            await self._native.aclose()
        assert self.response_id is not None and self.last is not None
        self._native = await self._reopen(self.response_id, self.last)
        self._events = self._native.__aiter__()

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._native.aclose()
        if not self.finished and self.response_id is not None:
            self.finished = True
            with contextlib.suppress(Exception):
                await self._cancel(self.response_id)

    def cancel(self) -> None:
        self.cancelled = True
        hard_cancel(self._native)


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
        kind = _model_kind if self.sdk_models else _dict_kind

        def open_checked(response_id: str | None = None, after: int | None = None) -> Checked:
            return Checked(open_sync(response_id, after), self.provider, kind)

        return ResumingStream(
            open_checked(), open_checked,
            lambda response_id: responses.cancel(response_id, timeout=self.settings.timeout),
            identity=_model_identity if self.sdk_models else _dict_identity, resumable=self._resumable,
            retries=request.settings.max_retries,
        )

    async def _aopen(self, request: Request) -> Any:
        responses = self.async_sdk.responses
        timeout = http_timeout(request.settings)

        async def open_async(response_id: str | None = None, after: int | None = None) -> tuple[Any, Any]:
            """The event stream (models or dicts) and the stream to close."""
            if self.sdk_models:
                if response_id is None:
                    stream = await responses.create(**self._params(request))
                else:
                    stream = await responses.retrieve(response_id, stream=True, starting_after=after, timeout=timeout)
                return stream, stream
            if response_id is None:
                manager = responses.with_streaming_response.create(**self._params(request))
            else:
                manager = responses.with_streaming_response.retrieve(
                    response_id, stream=True, starting_after=after, timeout=timeout)
            response = (await manager.__aenter__()).http_response
            return EventResponse(response, self.provider, request.settings.max_event_bytes), response

        if not request.extra.get("background"):
            events, closing = await open_async()
            return AsyncNative(events, closing.aclose if closing is not events else events.close,
                               response=events.response)
        kind = _model_kind if self.sdk_models else _dict_kind

        async def open_checked(response_id: str | None = None, after: int | None = None) -> AsyncNative:
            events, closing = await open_async(response_id, after)
            checked = Checked(events, self.provider, kind)
            return AsyncNative(checked.achecked(), closing.aclose if closing is not events else events.close,
                               response=events.response)

        return AsyncResumingStream(
            await open_checked(), open_checked,
            lambda response_id: responses.cancel(response_id, timeout=self.settings.timeout),
            identity=_model_identity if self.sdk_models else _dict_identity, resumable=self._resumable,
            retries=request.settings.max_retries,
        )

    def _translator(self, request: Request) -> Any:
        if self.sdk_models:
            return OpenAIResponsesTranslator(self.provider)
        return ResponsesEventTranslator(self.provider)
