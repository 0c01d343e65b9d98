"""OpenRouter over httpx2 and llmstream's own WHATWG SSE decoder (no vendor SDK).

The wire is OpenAI's chat-completions stream with OpenRouter's additions: ``: OPENROUTER
PROCESSING`` keep-alive comments, ``reasoning`` / ``reasoning_details`` deltas, ``cost`` in the
usage chunk (which may come after the finish chunk), and mid-stream ``{"error": …}`` events with
``finish_reason: "error"`` on an HTTP 200. Each event's JSON is parsed exactly once, into plain
dicts that the translator reads directly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._client import BaseClient
from .._errors import InBandError, LLMStreamError, MalformedStreamError
from .._policy import Request, error_for_status
from .._types import ChunkType, StreamedChunk, text_chunk
from ..sse import SSEDecoder
from ._native import http_timeout, shutdown_response
from ._openai_wire import OpenAIWireState, messages_payload, tools_payload, usage_from_mapping

__all__ = ["DEFAULT_BASE_URL", "JSONEventParser", "OpenRouterClient", "OpenRouterTranslator"]

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING


class JSONEventParser:
    """Sans-IO: body bytes in, one dict per SSE ``data`` event out, until ``[DONE]``."""

    __slots__ = ("_decoder", "done", "events", "provider")

    def __init__(self, provider: str) -> None:
        self._decoder = SSEDecoder()
        self.provider = provider
        self.done = False
        self.events = 0

    def feed(self, data: bytes) -> list[Any]:
        out = []
        for event in self._decoder.feed(data):
            payload = event.data
            if payload == "[DONE]":
                self.done = True
                break
            self.events += 1
            try:
                out.append(json.loads(payload))
            except ValueError as exc:
                shown = payload if len(payload) <= 120 else payload[:120] + "…"
                raise MalformedStreamError(
                    f"event {self.events} is not JSON ({exc}): {shown!r}", provider=self.provider
                ) from exc
        return out


class _Response:
    """The native stream: an open httpx2 response yielding decoded event dicts."""

    __slots__ = ("provider", "response")

    def __init__(self, response: Any, provider: str) -> None:
        self.response = response
        self.provider = provider

    def __iter__(self) -> Iterator[Any]:
        parser = JSONEventParser(self.provider)
        for data in self.response.iter_bytes():
            yield from parser.feed(data)
            if parser.done:
                return

    async def _aiter(self) -> AsyncIterator[Any]:
        parser = JSONEventParser(self.provider)
        async for data in self.response.aiter_bytes():
            for event in parser.feed(data):
                yield event
            if parser.done:
                return

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiter()

    def close(self) -> None:
        self.response.close()

    async def aclose(self) -> None:
        await self.response.aclose()

    def cancel(self) -> None:
        shutdown_response(self.response)


class OpenRouterTranslator:
    """OpenRouter chunk dicts → StreamedChunks; the OpenAI wire rules with OpenRouter's extras."""

    __slots__ = ("_provider", "_wire")

    def __init__(self, provider: str = "openrouter") -> None:
        self._wire = OpenAIWireState()
        self._provider = provider

    def translate(self, chunk: dict[str, Any]) -> list[StreamedChunk] | tuple[StreamedChunk, ...]:
        wire = self._wire
        choices = chunk.get("choices")
        if wire.started and choices and len(choices) == 1 and "usage" not in chunk and "error" not in chunk:
            choice = choices[0]
            delta = choice.get("delta")
            # The hot path: a text delta and nothing else of interest.
            if (
                delta
                and not choice.get("finish_reason")
                and not choice.get("index")
                and not delta.get("tool_calls")
                and not delta.get("reasoning")
                and not delta.get("reasoning_details")
                and not delta.get("refusal")
            ):
                content = delta.get("content")
                return (text_chunk(content, chunk),) if content else ()
        out: list[StreamedChunk] = []
        if not wire.started:
            out.append(wire.start(chunk.get("id"), chunk.get("model"), chunk))
        error = chunk.get("error")
        for choice in choices or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            self._reasoning(delta, chunk, out)
            content = delta.get("content")
            if content:
                out.append(StreamedChunk(_TEXT, content, raw=chunk))
            refusal = delta.get("refusal")
            if refusal:
                out.append(StreamedChunk(ChunkType.REFUSAL, refusal, raw=chunk))
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                out.extend(
                    wire.tool_call(call.get("index"), call.get("id"), function.get("name"), function.get("arguments"),
                                   chunk)
                )
            finish = choice.get("finish_reason")
            if finish and not (finish == "error" and error):
                out.extend(wire.finish(finish, chunk))
        usage = chunk.get("usage")
        if usage:
            out.append(StreamedChunk(ChunkType.USAGE, usage=usage_from_mapping(usage), raw=chunk))
        if error:
            out.append(StreamedChunk(ChunkType.ERROR, error=_in_band(error, self._provider), raw=chunk))
        return out

    @staticmethod
    def _reasoning(delta: dict[str, Any], chunk: Any, out: list[StreamedChunk]) -> None:
        """``reasoning`` carries the text; ``reasoning_details`` repeats it with signatures and
        encrypted blocks, so its text is used only when ``reasoning`` is absent."""
        text = delta.get("reasoning")
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

    def end(self) -> list[StreamedChunk]:
        return self._wire.end()


def _in_band(error: Any, provider: str) -> InBandError:
    if isinstance(error, dict):
        message = str(error.get("message") or "provider error")
        code = error.get("code")
        return InBandError(message, code=None if code is None else str(code), body=error, provider=provider)
    return InBandError(str(error), provider=provider)


def _error_message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return fallback


class OpenRouterClient(BaseClient):
    """OpenRouter (https://openrouter.ai); key from ``OPENROUTER_API_KEY``.

    ``referer`` and ``title`` set OpenRouter's optional ``HTTP-Referer`` / ``X-Title`` attribution
    headers. Remaining keyword arguments go to the ``httpx2.Client`` (e.g. ``transport``).
    """

    provider = "openrouter"
    env_keys = ("OPENROUTER_API_KEY",)

    def __init__(self, model: str, *, referer: str | None = None, title: str | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.base_url = (self.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.referer = referer
        self.title = title

    def _make_sdk(self, *, asynchronous: bool) -> Any:
        import httpx2

        cls = httpx2.AsyncClient if asynchronous else httpx2.Client
        return cls(timeout=http_timeout(self.settings), **self._sdk_options)

    def _headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._require_key()}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        if self.referer:
            headers["HTTP-Referer"] = self.referer
        if self.title:
            headers["X-Title"] = self.title
        return headers

    def _payload(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages_payload(request.conversation),
            "stream": True,
            "stream_options": {"include_usage": True},
            "usage": {"include": True},
        }
        if request.tools:
            body["tools"] = tools_payload(request.tools)
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        body.update(request.extra)
        return body

    def _build(self, http: Any, request: Request) -> Any:
        return http.build_request(
            "POST",
            f"{self.base_url}/chat/completions",
            headers=self._headers(),
            content=json.dumps(self._payload(request)).encode(),
            timeout=http_timeout(request.settings),
        )

    def _raise_for_status(self, response: Any, body: bytes) -> None:
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")[:500]
        message = _error_message(parsed, f"HTTP {response.status_code}")
        raise error_for_status(
            response.status_code, message, provider=self.provider, body=parsed, headers=response.headers
        )

    def _open(self, request: Request) -> _Response:
        http = self.sdk
        response = http.send(self._build(http, request), stream=True)
        if response.status_code >= 400:
            try:
                body = response.read()
            finally:
                response.close()
            self._raise_for_status(response, body)
        return _Response(response, self.provider)

    async def _aopen(self, request: Request) -> _Response:
        http = self.async_sdk
        response = await http.send(self._build(http, request), stream=True)
        if response.status_code >= 400:
            try:
                body = await response.aread()
            finally:
                await response.aclose()
            self._raise_for_status(response, body)
        return _Response(response, self.provider)

    def _translator(self, request: Request) -> OpenRouterTranslator:
        return OpenRouterTranslator(self.provider)

    def _map_error(self, exc: BaseException) -> LLMStreamError | None:
        return None  # httpx2 failures are mapped by the common transport table
