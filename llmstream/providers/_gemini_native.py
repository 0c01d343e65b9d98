"""The Gemini streams below the shells, on google-genai's own HTTP clients.

google-genai keeps the HTTP response of a stream to itself and turns a timeout into a server deadline
(``X-Server-Timeout``), so the client puts two httpx2 event hooks on the SDK's HTTP clients: the
request hook applies llmstream's timeouts (connect = ``timeout``, each read = the idle gap), the
response hook hands the response to the stream that sent it (through a context variable), so that
closing or cancelling a stream closes its connection at once.

**The fast path** (``GeminiClient(sdk_models=False)``) needs the body's bytes, which google-genai
never hands out: its ``generate_content_stream`` parses every SSE event (``json.loads``), dumps it
back to a string, parses it again and builds a pydantic model. The least invasive place to take the
bytes over is the one seam all of its streaming goes through, ``BaseApiClient.request_streamed(method,
path, request_dict, http_options)`` (``async_request_streamed`` for ``.aio``): by then the SDK has
validated the config and built the REST body and path (``_GenerateContentParameters_to_mldev`` /
``_to_vertex``: contents, tools, ``extra_body``, Vertex's project path). :func:`install_raw_seam`
wraps that method on the client's own ``genai.Client`` (an instance attribute; nothing global is
patched); while a fast-path stream opens (a context variable says so) the wrapper does what the
original does before reading: the SDK's ``_build_request`` (URL, API version, headers, key) and
``_request(stream=True)`` (Vertex bearer token and its refresh, quota project, sending on the SDK's
httpx2 client with our transport and hooks, and ``errors.APIError.raise_for_response`` for any
status but 200, so HTTP errors are the SDK's own exceptions, mapped as on the SDK path). Instead of
reading the body it raises :class:`_Opened` with the open httpx2 response: a ``BaseException``, so
it passes the SDK's ``except Exception`` (automatic continuation) and ends its generators at once.
The opener catches it and reads the bytes itself (``_gemini_events``: the SSE decoder, one
``json.loads`` per event). Going through the public ``generate_content_stream`` keeps every
request the SDK would send byte for byte; only the three private methods are relied on, checked when
the client is built (a google-genai without them streams on the SDK path).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._errors import MalformedStreamError
from .._guard import LIMIT_EXTENSION
from .._settings import Settings
from .._transport import INFLIGHT, AsyncNative, StreamClosing, connection_closed, http_timeout
from ._gemini_events import GeminiEventResponse

__all__ = [
    "AsyncGeminiStream", "GeminiStream", "aopen_raw", "event_hooks", "install_raw_seam", "open_raw",
    "raw_seam_available",
]

#: The stream whose request is being sent: the event hooks read its settings and give it the response.
_SINK: contextvars.ContextVar[Any] = contextvars.ContextVar("llmstream_gemini_stream", default=None)


def event_hooks(default: Settings) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """httpx2 event hooks (sync, async) for the SDK's HTTP clients."""

    def on_request(request: Any) -> None:
        sink = _SINK.get()
        if getattr(sink, "closing", False):  # the SDK reconnecting (automatic continuation) while we close
            raise StreamClosing
        settings = default if sink is None else sink.settings
        request.extensions[INFLIGHT] = getattr(sink, "inflight", None)  # sent on a read: cancel() aborts it too
        if sink is not None:  # sent on the stream's first iteration: the byte guard needs its limit
            request.extensions[LIMIT_EXTENSION] = settings.max_event_bytes
        # The SDK passes a timeout (none at all unless HttpOptions.timeout) with every request: ours wins.
        request.extensions["timeout"] = http_timeout(settings).as_dict()
        if settings.total_timeout is not None:  # a server deadline: the total budget, never the idle gap
            request.headers["X-Server-Timeout"] = str(math.ceil(settings.total_timeout))

    def on_response(response: Any) -> None:
        sink = _SINK.get()
        if sink is not None:
            sink.response = response

    async def on_arequest(request: Any) -> None:
        on_request(request)

    async def on_aresponse(response: Any) -> None:
        on_response(response)

    sync: dict[str, list[Any]] = {"request": [on_request], "response": [on_response]}
    return sync, {"request": [on_arequest], "response": [on_aresponse]}


class GeminiStream:
    """The SDK's sync generator; ``close()`` also closes the HTTP response it opened, whose socket the
    shells' ``hard_cancel`` can also shut down from another thread."""

    __slots__ = ("_events", "_native", "inflight", "response", "settings")

    def __init__(self, native: Iterator[Any], settings: Settings) -> None:
        self._native = native
        self.settings = settings
        self.response: Any = None
        self._events = self._iterate()

    def __iter__(self) -> Iterator[Any]:
        return self._events

    def _iterate(self) -> Iterator[Any]:
        native = self._native
        while True:
            token = _SINK.set(self)  # every request of this stream (continuation hops too) is sent in next()
            try:
                event = next(native)
            except StopIteration:
                return
            finally:
                _SINK.reset(token)
            yield event

    def close(self) -> None:
        for closer in (self._events.close, self._native.close):  # type: ignore[attr-defined]
            with contextlib.suppress(ValueError):  # "generator already executing": closed from another thread
                closer()
        if self.response is not None:
            self.response.close()  # also unblocks a read in progress in another thread


class AsyncGeminiStream(AsyncNative):
    """The SDK's async generator. ``aclose()`` closes the captured HTTP response, then runs the SDK's
    generator chain down (its own ``aclose`` would end only the outermost generator).
    ``response`` also lets the shells' ``hard_cancel`` shut its socket down from any thread."""

    __slots__ = ("_native", "closing", "inflight", "settings")

    def __init__(self, native: AsyncIterator[Any], settings: Settings) -> None:
        super().__init__(self._iterate(), self._close)
        self._native = native
        self.settings = settings
        self.closing = False

    async def _iterate(self) -> AsyncIterator[Any]:
        native = self._native
        while True:
            token = _SINK.set(self)
            try:
                event = await native.__anext__()
            except (StopAsyncIteration, StreamClosing):  # the end, or a reconnection refused while closing
                return
            finally:
                _SINK.reset(token)
            yield event

    async def _close(self) -> None:
        self.closing = True
        if self.response is not None:
            await self.response.aclose()
            if connection_closed(self.response):
                return  # AsyncNative.aclose then runs the SDK's generators down
        for closer in (self._events.aclose, self._native.aclose):  # type: ignore[attr-defined]
            with contextlib.suppress(RuntimeError):  # running in another task: its own error ends it
                await closer()  # nothing sent yet, or HTTP/2: end what can be ended without reading


# -- the fast path: the SDK sends the request, llmstream reads the bytes --------------------------------

_SEAM = ("_build_request", "_request", "_async_request", "request_streamed", "async_request_streamed")


class _Opened(BaseException):
    """Carries the SDK's open response out of its generator chain (see the module docstring)."""

    def __init__(self, response: Any) -> None:
        super().__init__("the fast path took the response over")
        self.response = response


class _RawSink:
    """What the event hooks read while a fast-path stream opens (as they read a stream)."""

    __slots__ = ("closing", "response", "settings")
    raw = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.response: Any = None
        self.closing = False


def raw_seam_available() -> bool:
    """Whether this google-genai has the methods the fast path relies on (else it streams on the SDK path)."""
    from google.genai import _api_client

    base = getattr(_api_client, "BaseApiClient", None)
    return base is not None and all(callable(getattr(base, name, None)) for name in _SEAM)


def install_raw_seam(genai: Any) -> bool:
    """Wrap ``request_streamed`` / ``async_request_streamed`` on this ``genai.Client``'s API client;
    False (nothing done) when this google-genai lacks the methods the fast path relies on."""
    api = getattr(genai, "_api_client", None)
    if api is None or not all(callable(getattr(api, name, None)) for name in _SEAM):
        return False
    original, aoriginal = api.request_streamed, api.async_request_streamed

    def request_streamed(method: str, path: str, request_dict: dict[str, object], http_options: Any = None) -> Any:
        if not getattr(_SINK.get(), "raw", False):
            return original(method, path, request_dict, http_options)
        opened = api._request(api._build_request(method, path, request_dict, http_options), http_options, stream=True)
        raise _Opened(opened.response_stream)

    async def async_request_streamed(method: str, path: str, request_dict: dict[str, object],
                                     http_options: Any = None) -> Any:  # fmt: skip
        if not getattr(_SINK.get(), "raw", False):
            return await aoriginal(method, path, request_dict, http_options)
        http_request = api._build_request(method, path, request_dict, http_options)
        opened = await api._async_request(http_request=http_request, http_options=http_options, stream=True)
        raise _Opened(opened.response_stream)

    api.request_streamed = request_streamed
    api.async_request_streamed = async_request_streamed
    return True


def _taken_over(provider: str) -> MalformedStreamError:
    return MalformedStreamError(
        "google-genai streamed without its request_streamed seam: use sdk_models=True with this version",
        provider=provider,
    )


def open_raw(models: Any, params: dict[str, Any], settings: Settings, provider: str) -> GeminiEventResponse:
    """Send the request through ``models.generate_content_stream``; the open response's events as dicts."""
    native = models.generate_content_stream(**params)
    token = _SINK.set(_RawSink(settings))
    try:
        next(native)  # the request goes out here; an HTTP error raises the SDK's own exception
    except _Opened as opened:
        return GeminiEventResponse(opened.response, provider, settings.max_event_bytes)
    except StopIteration:
        pass
    finally:
        _SINK.reset(token)
        native.close()
    raise _taken_over(provider)


async def aopen_raw(models: Any, params: dict[str, Any], settings: Settings, provider: str) -> AsyncNative:
    """The async twin of :func:`open_raw` (on the client's ``.aio`` models)."""
    native = await models.generate_content_stream(**params)
    token = _SINK.set(_RawSink(settings))
    try:
        await native.__anext__()
    except _Opened as opened:
        response = opened.response
        events = GeminiEventResponse(response, provider, settings.max_event_bytes)
        return AsyncNative(events, response.aclose, response=response)
    except StopAsyncIteration:
        pass
    finally:
        _SINK.reset(token)
        await native.aclose()
    raise _taken_over(provider)
