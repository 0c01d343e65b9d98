"""Sans-IO pieces of the stream shells: settings, the request, retry policy, error mapping."""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import attrs

from ._conversation import Conversation
from ._errors import (
    BadRequestError,
    ConfigurationError,
    InBandError,
    LLMStreamError,
    MalformedStreamError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
)
from ._types import StreamedChunk, Tool

__all__ = ["Request", "Settings", "Translator", "backoff_delay", "is_retryable", "map_transport_error"]


@attrs.frozen(slots=True)
class Settings:
    """The resilience knobs; set on the client, overridable per call."""

    max_retries: int = 2
    timeout: float | None = 10.0
    idle_timeout: float | None = 60.0
    total_timeout: float | None = None
    max_content_chars: int | None = None
    retry_backoff: float = 0.5
    retry_backoff_max: float = 8.0
    retry_after_cap: float = 30.0

    def __attrs_post_init__(self) -> None:
        for name in ("timeout", "idle_timeout", "total_timeout"):  # 0 would fail late, as a socket error
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be more than 0 seconds (None: no limit), got {value!r}")

    @property
    def read_timeout(self) -> float | None:
        """What the HTTP layer may wait for one read: the idle gap, never past the total budget."""
        if self.total_timeout is None:
            return self.idle_timeout
        if self.idle_timeout is None:
            return self.total_timeout
        return min(self.idle_timeout, self.total_timeout)


SETTING_NAMES = frozenset(f.name for f in attrs.fields(Settings))


@attrs.frozen(slots=True)
class Request:
    """Everything a provider adapter needs to open one stream."""

    model: str
    conversation: Conversation
    tools: tuple[Tool, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    settings: Settings = attrs.field(factory=Settings)


class Translator(Protocol):
    """Per-stream state of a provider's pure translation: vendor event in, chunks out."""

    def translate(self, event: Any) -> Iterable[StreamedChunk]: ...

    def end(self) -> Iterable[StreamedChunk]:
        """Chunks owed when the vendor stream ends (e.g. tool calls never closed explicitly)."""
        ...


def is_retryable(error: LLMStreamError) -> bool:
    if isinstance(error, (StreamInterruptedError, StreamTimeoutError, RateLimitError, ServerError, InBandError)):
        return True
    return isinstance(error, ProviderError) and error.status_code in (408, 409)


def backoff_delay(attempt: int, error: LLMStreamError, settings: Settings, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter; a provider's Retry-After wins, up to the cap."""
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None and retry_after >= 0:
        return float(min(retry_after, settings.retry_after_cap))
    base = min(settings.retry_backoff_max, settings.retry_backoff * (2**attempt))
    return float(base * (0.5 + 0.5 * (rng or random).random()))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds or an HTTP date; ``retry-after-ms`` is handled by the caller."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_after_from_headers(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """The one status → error-class table, shared by every provider."""
    from ._errors import AuthenticationError

    kwargs: dict[str, Any] = {"provider": provider, "status_code": status, "body": body}
    if status in (401, 403):
        return AuthenticationError(message, **kwargs)
    if status == 429:
        return RateLimitError(message, retry_after=retry_after_from_headers(headers), **kwargs)
    if status in (400, 404, 413, 422):
        return BadRequestError(message, **kwargs)
    if status >= 500 or status == 529:
        return ServerError(message, retry_after=retry_after_from_headers(headers), **kwargs)
    return ProviderError(message, **kwargs)


def map_transport_error(exc: BaseException, provider: str) -> LLMStreamError | None:
    """httpx2 transport failures and undecodable frames, common to every provider."""
    import httpx2

    if isinstance(exc, httpx2.TimeoutException):
        if isinstance(exc, httpx2.ConnectTimeout):
            return StreamTimeoutError(f"connect timed out: {exc}", provider=provider)
        return StreamTimeoutError(f"no data from the provider in time: {exc}", provider=provider)
    if isinstance(exc, (httpx2.TransportError, httpx2.StreamError)):
        return StreamInterruptedError(f"connection lost: {type(exc).__name__}: {exc}", provider=provider)
    if isinstance(exc, json.JSONDecodeError):
        return MalformedStreamError(f"undecodable JSON in stream at char {exc.pos}: {exc.msg}", provider=provider)
    if isinstance(exc, UnicodeDecodeError):
        return MalformedStreamError(f"stream is not valid UTF-8: {exc}", provider=provider)
    return None
