"""The one HTTP status → error-class table, shared by every provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import AuthenticationError, BadRequestError, ProviderError, RateLimitError, ServerError
from ._retry import retry_after_from_headers

__all__ = ["error_for_status"]


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """The one status → error-class table, shared by every provider."""
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
