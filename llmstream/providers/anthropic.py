"""Anthropic Messages on the official ``anthropic`` SDK's native iterator (``messages.create(stream=True)``).

The events are translated by ``_anthropic_events`` (the SDK's models) or, with ``sdk_models=False``,
decoded and translated by ``_anthropic_dicts`` (plain dicts); the request is built here and in
``_anthropic_wire``; SDK exceptions are mapped here.
"""

from __future__ import annotations

from typing import Any

from .._client import BaseClient, import_sdk
from .._errors import (
    ConfigurationError,
    LLMStreamError,
    MalformedStreamError,
    StreamInterruptedError,
    StreamTimeoutError,
)
from .._output import anthropic_format, anthropic_native
from .._settings import Request
from .._status import error_for_status
from .._transport import AsyncNative, guarded_http_client, guarded_transport, http_timeout
from ._anthropic_dicts import AnthropicEventResponse, AnthropicEventTranslator
from ._anthropic_events import FINISH_REASONS, AnthropicTranslator, in_band_error
from ._anthropic_wire import messages_payload, tools_payload
from ._passthrough import into_extra_body

__all__ = ["FINISH_REASONS", "AnthropicClient", "AnthropicTranslator", "map_anthropic_error", "messages_payload"]

#: Anthropic requires ``max_tokens``; this is sent when the caller gives none.
DEFAULT_MAX_TOKENS = 4096


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
            error = in_band_error(inner, body, exc.message)  # a non-JSON event's data is the SDK's message
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

    ``sdk_models=False`` is the fast path, as on :class:`~llmstream.OpenAIClient`: the SDK still
    builds and sends the request, authenticates and raises its HTTP errors, but the body is decoded
    by llmstream (``_anthropic_dicts``) instead of the SDK building a pydantic model per event: the
    same chunks, completion and errors. ``chunk.raw`` is then the event's dict, not the SDK's model.
    """

    provider = "anthropic"
    env_keys = ("ANTHROPIC_API_KEY",)

    def __init__(self, model: str, *, sdk_models: bool = True, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.sdk_models = sdk_models

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
        if self.sdk_models:
            return {"http_client": guarded_http_client(self.settings, asynchronous=asynchronous)}
        # The fast path's own decoder bounds lines and events and drops a BOM: no byte guard below it.
        transport = guarded_transport(self.settings, asynchronous=asynchronous, guard=False)
        return {"http_client": guarded_http_client(self.settings, asynchronous=asynchronous, transport=transport)}

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
        messages = self.sdk.messages
        params = into_extra_body(messages.create, self._params(request))
        if self.sdk_models:
            return messages.create(**params)
        # Entering sends the request and raises the SDK's error for a bad status; closing the
        # httpx2 response is all its context manager's exit would do.
        response = messages.with_streaming_response.create(**params).__enter__().http_response
        return AnthropicEventResponse(response, self.provider, request.settings.max_event_bytes)

    async def _aopen(self, request: Request) -> AsyncNative:
        messages = self.async_sdk.messages
        params = into_extra_body(messages.create, self._params(request))
        if self.sdk_models:
            stream = await messages.create(**params)
            return AsyncNative(stream, stream.close, response=stream.response)
        response = (await messages.with_streaming_response.create(**params).__aenter__()).http_response
        events = AnthropicEventResponse(response, self.provider, request.settings.max_event_bytes)
        return AsyncNative(events, response.aclose, response=response)

    def _translator(self, request: Request) -> AnthropicTranslator:
        output_tool = forced_output_tool(request)
        if self.sdk_models:
            return AnthropicTranslator(output_tool)
        return AnthropicEventTranslator(output_tool)

    def _map_error(self, exc: BaseException) -> LLMStreamError | None:
        return map_anthropic_error(exc, self.provider)
