"""BaseClient: configuration, the lazily built vendor SDK clients, and the adapter hooks each provider
fills in; ``client()``, the factory over the one provider registry (``_registry``)."""

from __future__ import annotations

import abc
import contextlib
import importlib
import os
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from . import _secrets
from ._adapter import Translator, to_error
from ._calls import ConversationLike, PublicCalls
from ._conversation import as_conversation
from ._errors import ConfigurationError, LLMStreamError, sanitize
from ._guard import DEFAULT_MAX_EVENT_BYTES
from ._keystore import stored_key
from ._meta import install_hint
from ._models import resolve_model
from ._observe import CacheAdapter, Watch, plan_cache, watch_for
from ._options import StreamingOptions
from ._output import OutputAdapter, output_mechanism, output_spec
from ._registry import PROVIDERS, resolve
from ._settings import SETTING_NAMES, Request, Settings
from ._stream import AsyncStream, Stream
from ._transport import hard_cancel
from ._types import Tool

__all__ = ["BaseClient", "ClientAdapter", "ConversationLike", "client", "import_sdk"]

_CACHE_MODES = ("read_write", "read_only", "refresh")


class BaseClient(PublicCalls[Stream, AsyncStream], abc.ABC):
    """What every provider client shares. Subclasses implement the adapter hooks, which the client's
    :meth:`adapter` hands to the stream shells:

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
        first_chunk_timeout: float | None = 600.0,
        retry_on_timeout: bool = False,
        max_content_chars: int | None = None,
        retry_backoff: float = 0.5,
        retry_after_cap: float = 30.0,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        cache: Any = None,
        cache_mode: str = "read_write",
        telemetry: Any = True,
        **sdk_options: Any,
    ) -> None:
        if not model:
            raise ConfigurationError("a model name is required", provider=self.provider)
        if max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0", provider=self.provider)
        self.model = model
        self.base_url = base_url
        if cache_mode not in _CACHE_MODES:
            raise ConfigurationError(f"cache_mode must be one of {_CACHE_MODES}, got {cache_mode!r}")
        self.cache = cache
        self.cache_mode = cache_mode
        self.telemetry = telemetry
        self.settings = Settings(
            max_retries=max_retries,
            timeout=timeout,
            idle_timeout=idle_timeout,
            total_timeout=total_timeout,
            first_chunk_timeout=first_chunk_timeout,
            retry_on_timeout=retry_on_timeout,
            max_content_chars=max_content_chars,
            retry_backoff=retry_backoff,
            retry_after_cap=retry_after_cap,
            max_event_bytes=max_event_bytes,
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
        return stored_key(self.provider) if self.env_keys else None  # `llmstream keys set`, after the variable

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

    def adapter(self) -> ClientAdapter:
        """This client as the stream shells see it (the :class:`~llmstream._adapter.Adapter` protocol)."""
        return ClientAdapter(self)

    def _to_error(self, exc: BaseException) -> LLMStreamError:
        """Any exception → an llmstream error, with this client's secrets redacted from the whole
        chain (the vendor exception stays in it, cleaned in place)."""
        return sanitize(to_error(exc, self.provider, self._map_error), self._secrets)

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
        cache_mode = extra.pop("cache_mode", self.cache_mode)
        if cache_mode not in _CACHE_MODES:
            raise ConfigurationError(f"cache_mode must be one of {_CACHE_MODES}, got {cache_mode!r}")
        output_type = extra.pop("output_type", None)
        return Request(
            cache=extra.pop("cache", self.cache),
            cache_mode=cache_mode,
            telemetry=extra.pop("telemetry", self.telemetry),
            model=extra.pop("model", None) or self.model,
            conversation=as_conversation(conversation),
            tools=tuple(tools or ()),
            max_tokens=max_tokens,
            temperature=temperature,
            extra=extra,
            settings=settings,
            output=None if output_type is None else output_spec(output_type),
        )

    def _sync_stream(
        self, conversation: ConversationLike, tools: Iterable[Tool] | None, max_tokens: int | None,
        temperature: float | None, options: StreamingOptions, extra: dict[str, Any],
    ) -> Stream:
        request = self._request(conversation, tools, max_tokens, temperature, extra)
        adapter, watch = self._adapter_for(request)
        return Stream(adapter, request, options, watch)

    def _async_stream(
        self, conversation: ConversationLike, tools: Iterable[Tool] | None, max_tokens: int | None,
        temperature: float | None, options: StreamingOptions, extra: dict[str, Any],
    ) -> AsyncStream:
        request = self._request(conversation, tools, max_tokens, temperature, extra)
        adapter, watch = self._adapter_for(request)
        return AsyncStream(adapter, request, options, watch)

    def _adapter_for(self, request: Request) -> tuple[Any, Watch | None]:
        """This client's adapter, or a cache hit's replay; and the stream's Watch (span, cache store)."""
        plan = plan_cache(self, request)
        watch = watch_for(self, request, plan)
        if plan is not None and plan.entry is not None:
            return CacheAdapter(self.provider, plan.entry), watch
        if request.output is not None:  # a rejected request says it asked for structured output
            return OutputAdapter(self.adapter(), output_mechanism(self.provider, request.model)), watch
        return self.adapter(), watch


class ClientAdapter:
    """A client's provider hooks as an :class:`~llmstream._adapter.Adapter`: the shells call these,
    never the client. The hooks are looked up at each call, so a subclass (or a test) may replace them."""

    __slots__ = ("_client", "provider")

    def __init__(self, client: BaseClient) -> None:
        self._client = client
        self.provider = client.provider

    def warm(self, asynchronous: bool) -> None:
        self._client._warm(asynchronous=asynchronous)

    def open(self, request: Request) -> Any:
        return self._client._open(request)

    async def aopen(self, request: Request) -> Any:
        return await self._client._aopen(request)

    def translator(self, request: Request) -> Translator:
        return self._client._translator(request)

    def map_error(self, exc: BaseException) -> LLMStreamError:
        return self._client._to_error(exc)

    def close(self, native: Any) -> None:
        native.close()

    async def aclose(self, native: Any) -> None:
        await native.aclose()

    def hard_cancel(self, native: Any) -> None:
        hard_cancel(native)


def _running_loop() -> Any:
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# -- the factory ---------------------------------------------------------------------------------


def client(spec: str, **kwargs: Any) -> BaseClient:
    """``llmstream.client("openai:gpt-4o-mini", **kw)``: the client for ``provider:model``."""
    provider, sep, model = resolve_model(spec, PROVIDERS).partition(":")
    if not sep or not model:
        raise ConfigurationError(f"expected 'provider:model', got {spec!r} (e.g. 'openai:gpt-4o-mini')")
    cls: type[BaseClient] | None = resolve(provider)
    if cls is None:
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigurationError(f"unknown provider {provider!r}; known: {known}")
    return cls(model, **kwargs)


def import_sdk(module: str, extra: str, provider: str) -> Any:
    """Import a vendor SDK, or explain which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {module!r} package is needed for {provider}: {install_hint(extra)}",
            provider=provider,
        ) from exc

