"""Prototype (bench-only): the OpenAI wire decoded by llmstream itself instead of the SDK's models.

The official ``openai`` SDK still builds the request, authenticates, resolves the base URL and raises
its own errors for HTTP error statuses (``with_streaming_response.create`` hands back the raw httpx2
response once the status is known to be good). The body is then decoded by ``llmstream.sse`` +
``json.loads`` into plain dicts, translated by the dict-based ``OpenRouterTranslator`` (the same OpenAI
wire rules as the SDK path, via ``OpenAIWireState``). This skips the SDK's per-chunk pydantic model
construction, its own Python SSE decoder and its generator layers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from llmstream import OpenAIClient
from llmstream._policy import Request
from llmstream.providers.openrouter import JSONEventParser, OpenRouterTranslator

__all__ = ["RawOpenAIClient"]


class _RawStream:
    """The native stream of the raw path: an open httpx2 response yielding event dicts."""

    __slots__ = ("_manager", "provider", "response")

    def __init__(self, manager: Any, response: Any, provider: str) -> None:
        self._manager = manager  # the SDK's response context manager: closing it releases the connection
        self.response = response
        self.provider = provider

    def __iter__(self) -> Iterator[Any]:
        parser = JSONEventParser(self.provider)
        feed = parser.feed
        for data in self.response.iter_bytes():
            yield from feed(data)
            if parser.done:
                return

    async def _aiter(self) -> AsyncIterator[Any]:
        parser = JSONEventParser(self.provider)
        feed = parser.feed
        async for data in self.response.aiter_bytes():
            for event in feed(data):
                yield event
            if parser.done:
                return

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiter()

    def close(self) -> None:
        self._manager.__exit__(None, None, None)

    async def aclose(self) -> None:
        await self._manager.__aexit__(None, None, None)

    def cancel(self) -> None:
        """Thread-safe hard close of the socket under an async response (as ``AsyncNative.cancel``)."""
        stream = getattr(self.response, "stream", None)
        for name in ("_stream", "_httpcore_stream"):
            stream = getattr(stream, name, stream)
        close = getattr(stream, "close", None)
        if close is not None:
            try:
                result = close()
                if hasattr(result, "close"):
                    result.close()  # an un-awaited coroutine: discard it quietly
            except Exception:
                pass


class RawOpenAIClient(OpenAIClient):
    """``OpenAIClient`` with the SDK kept for the request and errors, and llmstream decoding the body."""

    def _open(self, request: Request) -> _RawStream:
        manager = self.sdk.chat.completions.with_streaming_response.create(**self._params(request))
        api_response = manager.__enter__()  # sends the request; HTTP errors raise the SDK's exceptions
        return _RawStream(manager, api_response.http_response, self.provider)

    async def _aopen(self, request: Request) -> _RawStream:
        manager = self.async_sdk.chat.completions.with_streaming_response.create(**self._params(request))
        api_response = await manager.__aenter__()
        return _RawStream(manager, api_response.http_response, self.provider)

    def _translator(self, request: Request) -> OpenRouterTranslator:  # type: ignore[override]
        return OpenRouterTranslator(self.provider)
