"""Gemini on the official ``google-genai`` SDK (``models.generate_content_stream``): the client and
the one place google-genai's errors become ours.

The SDK yields whole ``GenerateContentResponse`` models, translated by ``_gemini_translate``; with
``sdk_models=False`` the SDK still builds, authenticates and sends the request and raises its HTTP
errors, but llmstream reads the body (``_gemini_native``) and translates dicts (``_gemini_dicts``).
The streams, their event hooks and how the fast path takes the bytes over: ``_gemini_native``.
"""

from __future__ import annotations

import json
import os
import re
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
from .._settings import Request
from .._status import error_for_status
from .._transport import AsyncNative, guarded_transport
from ._gemini_dicts import GeminiDictTranslator
from ._gemini_events import GeminiEventResponse
from ._gemini_native import (
    AsyncGeminiStream,
    GeminiStream,
    aopen_raw,
    event_hooks,
    install_raw_seam,
    open_raw,
    raw_seam_available,
)
from ._gemini_translate import FINISH_REASONS, GeminiTranslator
from ._gemini_wire import contents_payload, tools_payload
from ._passthrough import into_gemini_extra_body
from ._vertex import map_auth_error, use_vertex, vertex_auth

__all__ = ["FINISH_REASONS", "GeminiClient", "GeminiTranslator", "contents_payload", "map_gemini_error"]

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


class GeminiClient(BaseClient):
    """Gemini API. ``base_url`` is the host root; ``api_version=`` and other options go to the SDK.

    Keys come from ``api_key``, ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``. ``vertexai=True``: Vertex AI
    (``provider == "vertex"``), ``project``/``location``/``credentials`` or express mode: ``_vertex.py``.

    ``sdk_models=False`` is the fast path: google-genai still validates, builds, authenticates and sends
    the request and raises its HTTP errors, but llmstream reads the body (its SSE decoder, one
    ``json.loads`` per event, a dict translator) instead of the SDK parsing each event twice and building
    a pydantic model of it: the same chunks and completion, several times less CPU per chunk.
    ``chunk.raw`` is then the event's dict (the REST JSON, camelCase) instead of a
    ``GenerateContentResponse``. The SDK's automatic continuation (``CONTINUATION`` finishes) is not
    followed there: such a stream ends with that finish reason (``FinishReason.OTHER``).
    """

    provider = "gemini"
    env_keys = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def __init__(self, model: str, *, vertexai: bool | None = None, project: str | None = None,
                 location: str | None = None, credentials: Any = None, sdk_models: bool = True,
                 **kwargs: Any) -> None:  # fmt: skip
        vertex = use_vertex(vertexai, os.environ)
        if vertex:
            setattr(self, "provider", "vertex")  # noqa: B010 - this instance's provider; the class says gemini
        super().__init__(model, **kwargs)
        self._vertex = vertex_auth(vertex, project, location, credentials, kwargs.get("api_key"))
        if self._vertex is not None:
            self._api_key = self._vertex.api_key  # never a key from the environment beside credentials
        self.sdk_models = sdk_models
        self._raw = False  # the fast path's seam is on the current genai.Client
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
        sync_hooks, async_hooks = event_hooks(self.settings)
        sync_args = {**(http.get("client_args") or {}), "event_hooks": sync_hooks}
        fast = not self.sdk_models and raw_seam_available()  # llmstream's SSE decoder bounds the bytes itself
        if "transport" not in sync_args:  # bounded lines/events, BOM and SSE comments normalized, a 1,000 pool
            sync_args["transport"] = guarded_transport(
                self.settings, asynchronous=False, normalize_sse=True, guard=not fast
            )
        http["client_args"] = sync_args
        async_args = {**(http.get("async_client_args") or {}), "event_hooks": async_hooks}
        if "transport" not in async_args:
            # Also keeps the SDK off aiohttp (past the hooks and the httpx2 error mapping): one HTTP
            # stack for sync and async. The transport's pool belongs to one event loop.
            async_args["transport"] = guarded_transport(
                self.settings, asynchronous=True, normalize_sse=True, guard=not fast
            )
            self._loop_bound = True
        http["async_client_args"] = async_args
        http_options = genai.types.HttpOptions(**http)
        auth = self._vertex.client_kwargs() if self._vertex is not None else {"api_key": self._require_key()}
        client = genai.Client(http_options=http_options, **auth, **options)
        self._raw = fast and install_raw_seam(client)
        return client

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

    def _open(self, request: Request) -> GeminiStream | GeminiEventResponse:
        types = import_sdk("google.genai.types", "gemini", self.provider)
        models = self.sdk.models
        if self._raw:  # the request goes out now; HTTP errors raise here
            return open_raw(models, self._params(request, types), request.settings, self.provider)
        # A generator: the request goes out on the first iteration, where HTTP errors raise.
        return GeminiStream(models.generate_content_stream(**self._params(request, types)), request.settings)

    async def _aopen(self, request: Request) -> AsyncNative:
        types = import_sdk("google.genai.types", "gemini", self.provider)
        models = self.async_sdk.models
        if self._raw:
            return await aopen_raw(models, self._params(request, types), request.settings, self.provider)
        native = await models.generate_content_stream(**self._params(request, types))
        return AsyncGeminiStream(native, request.settings)

    def _translator(self, request: Request) -> GeminiTranslator | GeminiDictTranslator:
        # After _open/_aopen (the genai.Client, and so the seam, exist by then) — see _fast().
        return GeminiDictTranslator(self.provider) if self._fast() else GeminiTranslator()

    def _fast(self) -> bool:
        if not self.sdk_models and self._genai is None:
            self._make_sdk(asynchronous=False)  # builds the genai.Client and its seam
        return self._raw

    def _map_error(self, exc: BaseException) -> LLMStreamError | None:
        return (map_auth_error(exc) if self._vertex else None) or map_gemini_error(exc, self.provider)
