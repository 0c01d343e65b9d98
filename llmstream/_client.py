"""BaseClient: configuration, the four public calls, and the adapter hooks each provider fills in."""

from __future__ import annotations

import abc
import contextlib
import importlib
import os
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import attrs

from . import _secrets
from ._conversation import Conversation, as_conversation
from ._errors import ConfigurationError, LLMStreamError, sanitize
from ._options import Callback, StreamingOptions, resolve_options
from ._policy import SETTING_NAMES, Request, Settings, Translator, map_transport_error
from ._stream import AsyncStream, Stream
from ._types import Completion, FinishReason, Tool

__all__ = ["BaseClient", "client"]

ConversationLike = Conversation | str | Iterable[Mapping[str, Any]]


class BaseClient(abc.ABC):
    """What every provider client shares. Subclasses implement the adapter hooks:

    - ``_open(request)`` / ``_aopen(request)``: start the vendor SDK's native stream and return an
      object that iterates vendor events and has ``close()`` (``aclose()`` for async). Only these
      touch I/O.
    - ``_translator(request)``: fresh per-stream state whose ``translate(event)`` is pure.
    - ``_map_error(exc)``: the one place vendor exceptions become llmstream errors.
    """

    provider: ClassVar[str] = "base"
    #: Environment variables holding the API key, first found wins.
    env_keys: ClassVar[tuple[str, ...]] = ()
    #: Whether the provider can run with no key at all (mock, local OpenAI-compatible servers).
    key_optional: ClassVar[bool] = False

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = 2,
        timeout: float | None = 10.0,
        idle_timeout: float | None = 60.0,
        total_timeout: float | None = None,
        max_content_chars: int | None = None,
        retry_backoff: float = 0.5,
        **sdk_options: Any,
    ) -> None:
        if not model:
            raise ConfigurationError("a model name is required", provider=self.provider)
        if max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0", provider=self.provider)
        self.model = model
        self.base_url = base_url
        self.settings = Settings(
            max_retries=max_retries,
            timeout=timeout,
            idle_timeout=idle_timeout,
            total_timeout=total_timeout,
            max_content_chars=max_content_chars,
            retry_backoff=retry_backoff,
        )
        self._api_key = api_key if api_key is not None else self._key_from_env()
        self._secrets = _secrets.client_secrets(self._api_key, base_url)  # what no text may show
        _secrets.register(self, self._secrets)
        self._sdk_options = sdk_options
        self._sync_sdk: Any = None
        self._async_sdk: Any = None
        self._async_loop: Any = None

    def _key_from_env(self) -> str | None:
        for name in self.env_keys:
            value = os.environ.get(name)
            if value:
                return value
        return None

    def _require_key(self) -> str:
        if self._api_key:
            return self._api_key
        if self.key_optional:
            return "not-needed"
        names = " or ".join(self.env_keys) or "api_key"
        raise ConfigurationError(
            f"no API key: pass api_key=... or set {names}", provider=self.provider
        )

    def __repr__(self) -> str:
        # Never the key: not even a prefix of it.
        base = f", base_url={_secrets.redact(self.base_url, self._secrets)!r}" if self.base_url else ""
        return f"{type(self).__name__}(model={self.model!r}{base})"

    # -- the vendor SDK clients, built lazily ---------------------------------------------------

    @property
    def sdk(self) -> Any:
        """The vendor SDK's sync client (built on first use)."""
        if self._sync_sdk is None:
            self._sync_sdk = self._make_sdk(asynchronous=False)
        return self._sync_sdk

    @property
    def async_sdk(self) -> Any:
        """The vendor SDK's async client, built on first use and again in each new event loop:
        an httpx2 connection pool is bound to the loop it was made in."""
        loop = _running_loop()
        if self._async_sdk is None or self._async_loop is not loop:
            self._async_sdk = self._make_sdk(asynchronous=True)
            self._async_loop = loop
        return self._async_sdk

    def _warm(self, *, asynchronous: bool) -> None:
        """Build the SDK client before a stream's clock starts: importing an SDK is not latency."""
        with contextlib.suppress(NotImplementedError):  # providers without a vendor client (mock)
            _ = self.async_sdk if asynchronous else self.sdk

    def _make_sdk(self, *, asynchronous: bool) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Close the vendor SDK's sync HTTP client (connection pool)."""
        if self._sync_sdk is not None and hasattr(self._sync_sdk, "close"):
            self._sync_sdk.close()
        self._sync_sdk = None

    async def aclose(self) -> None:
        """Close both HTTP clients."""
        self.close()
        sdk, self._async_sdk = self._async_sdk, None
        closer = getattr(sdk, "close", None) or getattr(sdk, "aclose", None)
        if closer is not None:
            result = closer()
            if hasattr(result, "__await__"):
                await result

    def __enter__(self) -> BaseClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> BaseClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- adapter hooks ---------------------------------------------------------------------------

    @abc.abstractmethod
    def _open(self, request: Request) -> Any: ...

    @abc.abstractmethod
    async def _aopen(self, request: Request) -> Any: ...

    @abc.abstractmethod
    def _translator(self, request: Request) -> Translator: ...

    def _map_error(self, exc: BaseException) -> LLMStreamError | None:
        return None

    def _to_error(self, exc: BaseException) -> LLMStreamError:
        """Ours as they are; then the provider's mapping; then transport failures; else wrapped."""
        if isinstance(exc, LLMStreamError):
            return sanitize(exc, self._secrets)
        error = self._map_error(exc) or map_transport_error(exc, self.provider)
        if error is None:
            error = LLMStreamError(f"unexpected {type(exc).__name__}: {exc}", provider=self.provider)
        if error.provider is None:
            error.provider = self.provider
        error.__cause__ = exc
        return sanitize(error, self._secrets)  # the vendor exception too: it stays in the chain

    # -- the public calls ------------------------------------------------------------------------

    def _request(
        self,
        conversation: ConversationLike,
        tools: Iterable[Tool] | None,
        max_tokens: int | None,
        temperature: float | None,
        extra: dict[str, Any],
    ) -> Request:
        overrides = {name: extra.pop(name) for name in list(extra) if name in SETTING_NAMES}
        settings = attrs.evolve(self.settings, **overrides) if overrides else self.settings
        return Request(
            model=extra.pop("model", None) or self.model,
            conversation=as_conversation(conversation),
            tools=tuple(tools or ()),
            max_tokens=max_tokens,
            temperature=temperature,
            extra=extra,
            settings=settings,
        )

    def stream(
        self,
        conversation: ConversationLike,
        *,
        tools: Iterable[Tool] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        options: StreamingOptions | None = None,
        on_start: Callback | None = None,
        on_chunk: Callback | None = None,
        on_error: Callback | None = None,
        on_complete: Callback | None = None,
        **extra: Any,
    ) -> Stream:
        """Open a stream; iterate it in a ``with`` block. Extra keywords go to the vendor request
        (resilience knobs such as ``idle_timeout=`` override the client's for this call)."""
        request = self._request(conversation, tools, max_tokens, temperature, extra)
        return Stream(self, request, resolve_options(options, on_start, on_chunk, on_error, on_complete))

    def astream(
        self,
        conversation: ConversationLike,
        *,
        tools: Iterable[Tool] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        options: StreamingOptions | None = None,
        on_start: Callback | None = None,
        on_chunk: Callback | None = None,
        on_error: Callback | None = None,
        on_complete: Callback | None = None,
        **extra: Any,
    ) -> AsyncStream:
        """The async twin of :meth:`stream`: ``async with client.astream(conv) as stream``."""
        request = self._request(conversation, tools, max_tokens, temperature, extra)
        return AsyncStream(self, request, resolve_options(options, on_start, on_chunk, on_error, on_complete))

    def stream_complete(
        self,
        conversation: ConversationLike,
        *,
        tools: Iterable[Tool] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        options: StreamingOptions | None = None,
        on_start: Callback | None = None,
        on_chunk: Callback | None = None,
        on_error: Callback | None = None,
        on_complete: Callback | None = None,
        raise_on_error: bool = True,
        **extra: Any,
    ) -> Completion:
        """Stream to the callbacks and return the completion. With ``raise_on_error=False`` a
        provider or stream failure is returned as ``completion.error`` instead of raised."""
        stream = self.stream(
            conversation, tools=tools, max_tokens=max_tokens, temperature=temperature, options=options,
            on_start=on_start, on_chunk=on_chunk, on_error=on_error, on_complete=on_complete, **extra,
        )
        try:
            with stream:
                return stream.until_done()
        except LLMStreamError as error:
            if raise_on_error:
                raise
            return _as_failed_completion(error, stream.completion)

    async def astream_complete(
        self,
        conversation: ConversationLike,
        *,
        tools: Iterable[Tool] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        options: StreamingOptions | None = None,
        on_start: Callback | None = None,
        on_chunk: Callback | None = None,
        on_error: Callback | None = None,
        on_complete: Callback | None = None,
        raise_on_error: bool = True,
        **extra: Any,
    ) -> Completion:
        """The async twin of :meth:`stream_complete`; callbacks may be coroutine functions."""
        stream = self.astream(
            conversation, tools=tools, max_tokens=max_tokens, temperature=temperature, options=options,
            on_start=on_start, on_chunk=on_chunk, on_error=on_error, on_complete=on_complete, **extra,
        )
        try:
            async with stream:
                return await stream.until_done()
        except LLMStreamError as error:
            if raise_on_error:
                raise
            return _as_failed_completion(error, stream.completion)


def _running_loop() -> Any:
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _as_failed_completion(error: LLMStreamError, fallback: Completion) -> Completion:
    partial = error.partial or fallback
    if partial.error is error:
        return partial
    return attrs.evolve(partial, error=error, finish_reason=FinishReason.ERROR)


# -- the factory ---------------------------------------------------------------------------------

#: provider prefix → (module, class). Modules are imported only when asked for, so that
#: ``import llmstream`` loads no vendor SDK.
PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("llmstream.providers.openai", "OpenAIClient"),
    "openai-responses": ("llmstream.providers.openai_responses", "OpenAIResponsesClient"),
    "anthropic": ("llmstream.providers.anthropic", "AnthropicClient"),
    "gemini": ("llmstream.providers.gemini", "GeminiClient"),
    "google": ("llmstream.providers.gemini", "GeminiClient"),
    "openrouter": ("llmstream.providers.openrouter", "OpenRouterClient"),
    "mock": ("llmstream.providers.mock", "MockClient"),
}


def client(spec: str, **kwargs: Any) -> BaseClient:
    """``llmstream.client("openai:gpt-4o-mini", **kw)``: the client for ``provider:model``."""
    provider, sep, model = spec.partition(":")
    if not sep or not model:
        raise ConfigurationError(f"expected 'provider:model', got {spec!r} (e.g. 'openai:gpt-4o-mini')")
    entry = PROVIDERS.get(provider.lower())
    if entry is None:
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigurationError(f"unknown provider {provider!r}; known: {known}")
    module = importlib.import_module(entry[0])
    cls: type[BaseClient] = getattr(module, entry[1])
    return cls(model, **kwargs)


def import_sdk(module: str, extra: str, provider: str) -> Any:
    """Import a vendor SDK, or explain which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {module!r} package is needed for {provider}: pip install 'llmstream[{extra}]'",
            provider=provider,
        ) from exc

