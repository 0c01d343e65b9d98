"""OpenAI (and any OpenAI-compatible server) on the official ``openai`` SDK's native iterator."""

from __future__ import annotations

import os
from typing import Any

from .._client import BaseClient, import_sdk
from .._errors import InBandError, LLMStreamError, StreamInterruptedError, StreamTimeoutError
from .._output import response_format
from .._settings import Request
from .._status import error_for_status
from .._transport import AsyncNative, guarded_http_client, http_timeout
from ._openai_events import ChatStream, EventResponse, achat_events
from ._openai_wire import WIRE_DONE, OpenAIEventTranslator, OpenAITranslator, messages_payload, tools_payload
from ._passthrough import into_extra_body

__all__ = ["OpenAIClient", "OpenAITranslator", "map_openai_error"]


def map_openai_error(exc: BaseException, provider: str) -> LLMStreamError | None:
    """openai SDK exceptions → the llmstream error tree (also used by OpenAI-compatible paths)."""
    openai = import_sdk("openai", "openai", provider)
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        message = _message_of(body) or exc.message
        return error_for_status(
            exc.status_code, message, provider=provider, body=body, headers=exc.response.headers
        )
    if isinstance(exc, openai.APITimeoutError):
        return StreamTimeoutError(f"timed out: {exc}", provider=provider)
    if isinstance(exc, openai.APIConnectionError):
        return StreamInterruptedError(f"connection error: {exc.__cause__ or exc}", provider=provider)
    if isinstance(exc, openai.APIError):  # an {"error": …} event inside a 200 stream
        body = exc.body
        code = body.get("code") if isinstance(body, dict) else None
        return InBandError(exc.message, code=str(code) if code is not None else None, body=body, provider=provider)
    return None


def _message_of(body: Any) -> str | None:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return None


class OpenAIClient(BaseClient):
    """OpenAI chat completions; ``base_url`` (``http://host/v1``) points it at any compatible server.

    Keys come from ``api_key`` or ``OPENAI_API_KEY``. With a custom ``base_url`` a key is optional
    (local servers such as vLLM or Ollama need none).

    ``sdk_models=False`` is the fast path: the SDK still builds and sends the request, authenticates
    and raises its errors, but the body is decoded by llmstream (its SSE decoder, one ``json.loads``
    per event, a dict translator) instead of the SDK building a pydantic model per chunk: about 5x
    less CPU per chunk, the same chunks and completion. ``chunk.raw`` is then the event's dict.
    """

    provider = "openai"
    env_keys = ("OPENAI_API_KEY",)

    def __init__(self, model: str, *, sdk_models: bool = True, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.sdk_models = sdk_models
        # A server named by OPENAI_BASE_URL (vLLM, Ollama) is as custom as one passed as base_url.
        self._custom_endpoint = self.base_url is not None or bool(os.environ.get("OPENAI_BASE_URL"))
        self.key_optional = self._custom_endpoint  # type: ignore[misc]

    def _make_sdk(self, *, asynchronous: bool) -> Any:
        openai = import_sdk("openai", "openai", self.provider)
        cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
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
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages_payload(request.conversation),
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": http_timeout(request.settings),
        }
        if request.tools:
            params["tools"] = tools_payload(request.tools)
        if request.max_tokens is not None:
            # The official API wants max_completion_tokens (reasoning models reject max_tokens);
            # compatible servers mostly know only max_tokens.
            key = "max_tokens" if self._custom_endpoint else "max_completion_tokens"
            params[key] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.output is not None:
            params["response_format"] = response_format(request.output)
        params.update(request.extra)  # provider-specific extras pass through as given
        return into_extra_body(import_sdk("openai", "openai", self.provider).resources.chat.Completions.create, params)

    def _open(self, request: Request) -> Any:
        completions = self.sdk.chat.completions
        if self.sdk_models:
            return ChatStream(completions.create(**self._params(request)), WIRE_DONE)
        # Entering sends the request and raises the SDK's error for a bad status; closing the
        # httpx2 response is all its context manager's exit would do.
        response = completions.with_streaming_response.create(**self._params(request)).__enter__().http_response
        return EventResponse(response, self.provider, request.settings.max_event_bytes, WIRE_DONE)

    async def _aopen(self, request: Request) -> AsyncNative:
        completions = self.async_sdk.chat.completions
        if self.sdk_models:
            stream = await completions.create(**self._params(request))
            return AsyncNative(achat_events(stream, WIRE_DONE), stream.close, response=stream.response)
        manager = completions.with_streaming_response.create(**self._params(request))
        response = (await manager.__aenter__()).http_response
        events = EventResponse(response, self.provider, request.settings.max_event_bytes, WIRE_DONE)
        return AsyncNative(events, response.aclose, response=response)

    def _translator(self, request: Request) -> OpenAITranslator | OpenAIEventTranslator:
        return OpenAITranslator() if self.sdk_models else OpenAIEventTranslator(self.provider)

    def _map_error(self, exc: BaseException) -> LLMStreamError | None:
        return map_openai_error(exc, self.provider)

