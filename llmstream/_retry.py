"""The retry rules: which errors are retried, the backoff delay, Retry-After (sans-IO)."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from ._errors import (
    InBandError,
    LLMStreamError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
)
from ._settings import Settings

__all__ = ["backoff_delay", "is_retryable", "parse_retry_after", "retry_after_from_headers", "waits_too_long"]


def is_retryable(error: LLMStreamError) -> bool:
    if isinstance(error, (StreamInterruptedError, StreamTimeoutError, RateLimitError, ServerError, InBandError)):
        return True
    return isinstance(error, ProviderError) and error.status_code in (408, 409)


def waits_too_long(error: LLMStreamError, settings: Settings) -> bool:
    """A provider's Retry-After beyond ``retry_after_cap``: raise at once (with ``.retry_after``) rather
    than sleep the cap and ask again too early."""
    retry_after = getattr(error, "retry_after", None)
    return retry_after is not None and retry_after > settings.retry_after_cap


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
