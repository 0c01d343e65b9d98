"""The llmstream error tree.

::

    LLMStreamError                     .provider, .partial (Completion so far, or None)
    ├── ConfigurationError             missing key, unknown provider, bad argument
    ├── ProviderError                  .status_code, .body (redacted)
    │   ├── AuthenticationError        401/403
    │   ├── RateLimitError             429, .retry_after
    │   ├── BadRequestError            400/404/422
    │   └── ServerError                5xx, overloaded
    ├── StreamInterruptedError         connection lost mid-stream
    ├── StreamTimeoutError             no chunk within idle_timeout (or total timeout passed)
    ├── MalformedStreamError           a frame that cannot be decoded
    ├── InBandError                    the provider sent an error event inside a 200 stream
    ├── ContentLimitError              the response grew past max_content_chars
    ├── CallbackError                  a user callback raised (the original is __cause__)
    ├── ToolArgumentsError             tool-call arguments are not valid JSON
    └── OutputValidationError          structured output invalid or truncated (.raw, .errors)

Every error raised after the first chunk carries ``.partial``: the completion rebuilt from
everything received so far. Messages and bodies pass through :func:`redact` so that an API key
echoed back by a provider never reaches a log.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._types import Completion

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "CallbackError",
    "ConfigurationError",
    "ContentLimitError",
    "InBandError",
    "LLMStreamError",
    "MalformedStreamError",
    "OutputValidationError",
    "ProviderError",
    "RateLimitError",
    "ServerError",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "ToolArgumentsError",
    "redact",
]

# Key-shaped strings of the vendors we talk to, plus header/query forms that carry any key.
_KEY_PATTERNS = [
    re.compile(r"sk-(?:ant-|or-|proj-)?[A-Za-z0-9_\-]{16,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=]{8,}"),
    re.compile(r"(?i)((?:x-api-key|x-goog-api-key|api-key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"),
    re.compile(r"([?&]key=)[^&\s\"']+"),
]


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace API keys (known shapes and the given literal secrets) with ``[REDACTED]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[REDACTED]")
    for pattern in _KEY_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
        else:
            text = pattern.sub("[REDACTED]", text)
    return text


class LLMStreamError(Exception):
    """Base of every error llmstream raises; ``partial`` is the completion received so far."""

    def __init__(self, message: str, *, provider: str | None = None, partial: Completion | None = None):
        self.message = redact(message)
        super().__init__(self.message)
        self.provider = provider
        self.partial = partial

    def __str__(self) -> str:
        return f"[{self.provider}] {self.message}" if self.provider else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, provider={self.provider!r})"


class ConfigurationError(LLMStreamError):
    """Missing key, unknown provider, bad argument."""


class ProviderError(LLMStreamError):
    """The provider answered with an error status; ``body`` is redacted."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        partial: Completion | None = None,
        status_code: int | None = None,
        body: Any = None,
    ):
        super().__init__(message, provider=provider, partial=partial)
        self.status_code = status_code
        self.body = _redact_body(body)

    def __str__(self) -> str:
        text = super().__str__()  # the status code is part of what went wrong: 500 vs 503 vs 529
        if self.status_code is None or str(self.status_code) in self.message:
            return text
        return f"{text} (HTTP {self.status_code})"


class AuthenticationError(ProviderError):
    """401/403."""


class RateLimitError(ProviderError):
    """429; ``retry_after`` in seconds when the provider said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class BadRequestError(ProviderError):
    """400/404/422."""


class ServerError(ProviderError):
    """5xx or overloaded; ``retry_after`` in seconds when the provider said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class StreamInterruptedError(LLMStreamError):
    """The connection was lost mid-stream."""


class StreamTimeoutError(LLMStreamError):
    """No chunk within ``idle_timeout``, or ``total_timeout`` passed."""


class MalformedStreamError(LLMStreamError):
    """A frame that cannot be decoded."""


class InBandError(LLMStreamError):
    """The provider sent an error event inside a 200 stream."""

    def __init__(self, message: str, *, code: str | None = None, body: Any = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.code = code
        self.body = _redact_body(body)


class ContentLimitError(LLMStreamError):
    """The response grew past ``max_content_chars`` (a guard against unbounded memory)."""


class CallbackError(LLMStreamError):
    """A user callback raised; the original exception is ``__cause__``."""


class ToolArgumentsError(LLMStreamError):
    """Tool-call arguments are not valid JSON."""

    def __init__(self, message: str, *, tool_call_id: str | None = None, tool_name: str | None = None,
                 arguments: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.tool_call_id = tool_call_id
        self.tool_name = tool_name
        self.arguments = arguments


class OutputValidationError(LLMStreamError):
    """Structured output that is not valid JSON or does not match the output type.

    ``raw`` is the text the model produced; ``errors`` lists what failed, one line per problem.
    """

    def __init__(self, message: str, *, raw: str = "", errors: list[str] | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.raw = raw
        self.errors = list(errors or ())


def _redact_body(body: Any) -> Any:
    if isinstance(body, str):
        return redact(body)
    if isinstance(body, dict):
        return {k: _redact_body(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_redact_body(v) for v in body]
    return body
