"""Gemini on the official ``google-genai`` SDK's native stream (``models.generate_content_stream``).

The SDK yields whole ``GenerateContentResponse`` models, read here by attribute. google-genai keeps
the HTTP response of a stream to itself and turns a timeout into a server deadline
(``X-Server-Timeout``), so the client puts two httpx2 event hooks on the SDK's own HTTP clients: the
request hook applies llmstream's timeouts (connect = ``timeout``, each read = the idle gap), the
response hook hands the response to the stream that sent it (through a context variable), so that
closing or cancelling a stream closes its connection at once.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import math
import os
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._client import BaseClient, import_sdk
from .._errors import (
    AuthenticationError,
    ConfigurationError,
    InBandError,
    LLMStreamError,
    MalformedStreamError,
    RateLimitError,
    ServerError,
)
from .._settings import Request, Settings
from .._status import error_for_status
from .._transport import AsyncNative, StreamClosing, connection_closed, guarded_transport, http_timeout
from .._types import ChunkType, FinishReason, StreamedChunk, Usage, text_chunk, usage_chunk
from ._gemini_wire import contents_payload, tools_payload
from ._parts import Parts
from ._passthrough import into_gemini_extra_body
from ._server_tools import GeminiServerTools
from ._vertex import PartialCalls, map_auth_error, use_vertex, vertex_auth

__all__ = ["FINISH_REASONS", "GeminiClient", "GeminiTranslator", "contents_payload", "map_gemini_error"]

_FILTERED = "SAFETY RECITATION BLOCKLIST PROHIBITED_CONTENT SPII IMAGE_SAFETY IMAGE_PROHIBITED_CONTENT"
# The model's function-call turn failed: the caller has nothing usable to run.
_FAILED = "MALFORMED_FUNCTION_CALL UNEXPECTED_TOOL_CALL TOO_MANY_TOOL_CALLS MISSING_THOUGHT_SIGNATURE"
#: Gemini's finish reason → ours. LANGUAGE, OTHER, CONTINUATION (seen only with the SDK's automatic
#: continuation off) and anything new are OTHER.
FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    **dict.fromkeys([*_FILTERED.split(), "IMAGE_RECITATION", "MODEL_ARMOR"], FinishReason.CONTENT_FILTER),
    **dict.fromkeys([*_FAILED.split(), "MALFORMED_RESPONSE"], FinishReason.ERROR),
}

_TEXT, _REASONING = ChunkType.TEXT, ChunkType.REASONING


class GeminiTranslator:
    """GenerateContentResponse (the SDK's model) → StreamedChunks, pure, one per stream: the first candidate
    only (as ``response.text``); code parts and grounding are SERVER_TOOL / CITATION chunks; calls arrive
    whole (START, one DELTA, END; ``call_<n>_<name>`` when Gemini gives no id)."""

    __slots__ = ("_partial", "_parts", "_server", "_texts")

    def __init__(self) -> None:
        self._parts = Parts()
        self._partial = PartialCalls()  # Vertex: a call whose arguments arrive in pieces
        self._server, self._texts = GeminiServerTools(), list[str]()  # texts: the answer, for grounding offsets

    def translate(self, event: Any) -> list[StreamedChunk]:
        out: list[StreamedChunk] = []
        parts = self._parts
        if not parts.started:
            out.append(parts.start(event.response_id, event.model_version, event))
        candidates = event.candidates
        candidate = candidates[0] if candidates else None
        content = candidate.content if candidate is not None else None
        if content is not None and content.parts:
            for part in content.parts:
                text = part.text
                # The hot path: a plain answer-text part.
                if text and not part.thought and part.thought_signature is None and not part.function_call:
                    out.append(text_chunk(text, event))
                    self._texts.append(text)
                else:
                    self._part(part, event, out)
        if candidate is not None and candidate.grounding_metadata is not None:  # {} until the last chunk
            out += self._server.grounding(candidate.grounding_metadata, self._texts, event)
        usage = event.usage_metadata
        if usage is not None:
            out.append(usage_chunk(_usage(usage), event))
        if candidate is not None and candidate.finish_reason is not None:
            self._partial.close(parts, event, out)
            self._stop(_name(candidate.finish_reason), event, out)
        elif candidate is None and event.prompt_feedback is not None:
            blocked = event.prompt_feedback.block_reason
            if blocked:  # the prompt itself was blocked: no candidate at all, only the reason
                stop = parts.stop(FinishReason.CONTENT_FILTER, _name(blocked), event)
                if stop is not None:
                    out.append(stop)
        return out

    def end(self) -> list[StreamedChunk]:
        out: list[StreamedChunk] = []  # usage is cumulative: a call still in pieces and a missing finish are owed
        self._partial.close(self._parts, None, out)
        return out + self._parts.end()

    def _part(self, part: Any, raw: Any, out: list[StreamedChunk]) -> None:
        signature = base64.b64encode(part.thought_signature).decode() if part.thought_signature else None
        call = part.function_call
        pieces = call is not None and (self._partial.open or call.partial_args or call.will_continue)
        if pieces and self._partial.feed(call, signature, raw, out, self._parts):
            return
        if call is not None:
            arguments = json.dumps(call.args or {}, separators=(",", ":"), ensure_ascii=False)
            self._parts.whole_call(call.id, call.name or "", arguments, raw, out, signature=signature)
            return
        if part.text:
            out.append(StreamedChunk(_REASONING if part.thought else _TEXT, part.text, raw=raw))
            self._texts += () if part.thought else (part.text,)
        out += self._server.part(part, raw)  # code parts (with their signatures); nothing for others
        if signature is not None:
            # Kept as a reasoning block so that ``conversation.append(completion)`` sends it back.
            out.append(StreamedChunk(_REASONING, "", signature=signature, raw=raw))

    def _stop(self, word: str, raw: Any, out: list[StreamedChunk]) -> None:
        finish = FINISH_REASONS.get(word, FinishReason.OTHER)
        if finish is FinishReason.STOP and self._parts.calls:
            finish = FinishReason.TOOL_CALLS  # Gemini says STOP after function calls too
        stop = self._parts.stop(finish, word, raw)
        if stop is not None:
            out.append(stop)


def _name(value: Any) -> str:
    """An SDK enum's name (unknown values become pseudo-members that keep theirs), or the string."""
    return str(getattr(value, "name", value))


def _usage(usage: Any) -> Usage:
    thoughts = usage.thoughts_token_count or 0
    return Usage(
        # Tool-use prompt tokens (e.g. search results fed back) are prompt tokens billed as input.
        input_tokens=(usage.prompt_token_count or 0) + (usage.tool_use_prompt_token_count or 0),
        output_tokens=(usage.candidates_token_count or 0) + thoughts,
        cached_input_tokens=usage.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
    )


# -- errors ----------------------------------------------------------------------------------------

_RETRY_DELAY = re.compile(r"(\d+(?:\.\d+)?)s")


def _retry_delay(error: dict[str, Any]) -> float | None:
    """Gemini's ``google.rpc.RetryInfo`` (``"retryDelay": "26s"``), used when no header says."""
    for item in error.get("details") or ():
        match = _RETRY_DELAY.fullmatch(str(item.get("retryDelay", ""))) if isinstance(item, dict) else None
        if match:
            return float(match.group(1))
    return None


def map_gemini_error(exc: BaseException, provider: str) -> LLMStreamError | None:
    """google-genai exceptions → the llmstream error tree; httpx2 failures fall through to the shells."""
    errors = import_sdk("google.genai.errors", "gemini", provider)
    if isinstance(exc, errors.UnknownApiResponseError):
        return MalformedStreamError(f"undecodable Gemini stream: {exc}", provider=provider)
    if not isinstance(exc, errors.APIError):
        return None
    body = exc.details
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message") or exc.message or exc)
    if getattr(exc.response, "status_code", None) == 200:  # an {"error": …} event inside a 200 stream
        return InBandError(message, code=str(error.get("status") or exc.code), body=body, provider=provider)
    if "API_KEY_INVALID" in json.dumps(body, default=str) or "API key not valid" in message:
        # Gemini reports a bad key as 400 INVALID_ARGUMENT: for the caller it is an auth failure.
        return AuthenticationError(message, provider=provider, status_code=exc.code, body=body)
    headers = getattr(exc.response, "headers", None)
    mapped = error_for_status(exc.code, message, provider=provider, body=body, headers=headers)
    if isinstance(mapped, (RateLimitError, ServerError)) and mapped.retry_after is None:
        mapped.retry_after = _retry_delay(error)
    return mapped


# -- the native streams ----------------------------------------------------------------------------

#: The stream whose request is being sent: the event hooks read its settings and give it the response.
_SINK: contextvars.ContextVar[Any] = contextvars.ContextVar("llmstream_gemini_stream", default=None)


def _event_hooks(default: Settings) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """httpx2 event hooks (sync, async) for the SDK's HTTP clients."""

    def on_request(request: Any) -> None:
        sink = _SINK.get()
        if getattr(sink, "closing", False):  # the SDK reconnecting (automatic continuation) while we close
            raise StreamClosing
        settings = default if sink is None else sink.settings
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


class _GeminiStream:
    """The SDK's sync generator; ``close()`` also closes the HTTP response it opened, whose socket the
    shells' ``hard_cancel`` can also shut down from another thread."""

    __slots__ = ("_events", "_native", "response", "settings")

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


class _AsyncGeminiStream(AsyncNative):
    """The SDK's async generator. ``aclose()`` closes the captured HTTP response, then runs the SDK's
    generator chain down (its own ``aclose`` would end only the outermost generator).
    ``response`` also lets the shells' ``hard_cancel`` shut its socket down from any thread."""

    __slots__ = ("_native", "closing", "settings")

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


class GeminiClient(BaseClient):
    """Gemini API. ``base_url`` is the host root; ``api_version=`` and other options go to the SDK.

    Keys come from ``api_key``, ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``. ``vertexai=True``: Vertex AI
    (``provider == "vertex"``), ``project``/``location``/``credentials`` or express mode: ``_vertex.py``.
    """

    provider = "gemini"
    env_keys = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def __init__(self, model: str, *, vertexai: bool | None = None, project: str | None = None,
                 location: str | None = None, credentials: Any = None, **kwargs: Any) -> None:  # fmt: skip
        vertex = use_vertex(vertexai, os.environ)
        if vertex:
            setattr(self, "provider", "vertex")  # noqa: B010 - this instance's provider; the class says gemini
        super().__init__(model, **kwargs)
        self._vertex = vertex_auth(vertex, project, location, credentials, kwargs.get("api_key"))
        if self._vertex is not None:
            self._api_key = self._vertex.api_key  # never a key from the environment beside credentials
        self._genai: Any = None
        self._loop_bound = False  # an explicit async transport: its pool serves one event loop only

    def _make_sdk(self, *, asynchronous: bool) -> Any:
        # One genai.Client serves both: the client itself is sync, its ``.aio`` async (with a pool
        # per event loop, so the per-loop rebuild of ``async_sdk`` can reuse it).
        if self._genai is None or (asynchronous and self._loop_bound):
            self._genai = self._new_genai()
        return self._genai.aio if asynchronous else self._genai

    def _new_genai(self) -> Any:
        genai = import_sdk("google.genai", "gemini", self.provider)
        options = dict(self._sdk_options)
        http = options.pop("http_options", None) or {}
        http = dict(http) if isinstance(http, dict) else http.model_dump(exclude_none=True)
        if self.base_url is not None:
            http["base_url"] = self.base_url
        if "api_version" in options:
            http["api_version"] = options.pop("api_version")
        # One attempt: no SDK retries (nor its implicit aiohttp reconnect); our policy covers all providers.
        http["retry_options"] = genai.types.HttpRetryOptions(attempts=1)
        sync_hooks, async_hooks = _event_hooks(self.settings)
        sync_args = {**(http.get("client_args") or {}), "event_hooks": sync_hooks}
        if "transport" not in sync_args:  # bounded lines/events, BOM and SSE comments normalized, a 1,000 pool
            sync_args["transport"] = guarded_transport(self.settings, asynchronous=False, normalize_sse=True)
        http["client_args"] = sync_args
        async_args = {**(http.get("async_client_args") or {}), "event_hooks": async_hooks}
        if "transport" not in async_args:
            # Also keeps the SDK off aiohttp (past the hooks and the httpx2 error mapping): one HTTP
            # stack for sync and async. The transport's pool belongs to one event loop.
            async_args["transport"] = guarded_transport(self.settings, asynchronous=True, normalize_sse=True)
            self._loop_bound = True
        http["async_client_args"] = async_args
        http_options = genai.types.HttpOptions(**http)
        auth = self._vertex.client_kwargs() if self._vertex is not None else {"api_key": self._require_key()}
        return genai.Client(http_options=http_options, **auth, **options)

    def close(self) -> None:
        self._genai = None  # its sync side is closed now: the next use builds a fresh genai.Client
        super().close()

    async def aclose(self) -> None:
        self._genai = None
        await super().aclose()

    def _params(self, request: Request, types: Any) -> dict[str, Any]:
        # Tools here are declarations, never Python callables: the SDK's AFC loop has nothing to do.
        no_afc = types.AutomaticFunctionCallingConfig(disable=True)
        config: dict[str, Any] = {"automatic_function_calling": no_afc}
        system = request.conversation.system_prompt
        if system is not None:
            config["system_instruction"] = system
        if request.tools:
            config["tools"] = tools_payload(request.tools, types)
        if request.max_tokens is not None:
            config["max_output_tokens"] = request.max_tokens
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.output is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = request.output.schema
        config.update(request.extra)  # e.g. thinking_config, safety_settings, tool_config
        try:
            config = into_gemini_extra_body(config, types.GenerateContentConfig)  # unknown fields: extra_body
            generate_config = types.GenerateContentConfig(**config)
        except ValueError as exc:  # pydantic's ValidationError: an unknown or mistyped extra
            raise ConfigurationError(f"invalid Gemini request option: {exc}", provider=self.provider) from exc
        contents = contents_payload(request.conversation, types)
        return {"model": request.model, "contents": contents, "config": generate_config}

    def _open(self, request: Request) -> _GeminiStream:
        types = import_sdk("google.genai.types", "gemini", self.provider)
        # A generator: the request goes out on the first iteration, where HTTP errors raise.
        native = self.sdk.models.generate_content_stream(**self._params(request, types))
        return _GeminiStream(native, request.settings)

    async def _aopen(self, request: Request) -> _AsyncGeminiStream:
        types = import_sdk("google.genai.types", "gemini", self.provider)
        native = await self.async_sdk.models.generate_content_stream(**self._params(request, types))
        return _AsyncGeminiStream(native, request.settings)

    def _translator(self, request: Request) -> GeminiTranslator:
        return GeminiTranslator()

    def _map_error(self, exc: BaseException) -> LLMStreamError | None:
        return (map_auth_error(exc) if self._vertex else None) or map_gemini_error(exc, self.provider)
