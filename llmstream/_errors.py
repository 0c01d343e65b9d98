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
    ├── StreamTimeoutError             no content chunk in first_chunk_timeout / idle_timeout, or total_timeout passed
    ├── MalformedStreamError           a frame that cannot be decoded
    ├── InBandError                    the provider sent an error event inside a 200 stream
    ├── ContentLimitError              the response grew past max_content_chars
    ├── CallbackError                  a user callback raised (the original is __cause__)
    ├── ToolArgumentsError             tool-call arguments are not valid JSON
    └── OutputValidationError          structured output invalid or truncated (.raw, .errors)

Every error raised after the first chunk carries ``.partial``: the completion rebuilt from
everything received so far. Messages and bodies pass through :func:`redact` so that an API key
echoed back by a provider never reaches a log; a client passes every error it raises through
:func:`sanitize` with its own secrets, which also cleans the exceptions chained to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._secrets import CREDENTIAL_HEADERS, REDACTED, redact, redact_bytes, redact_url

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
    "sanitize",
]

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
    """No content chunk within ``first_chunk_timeout`` (from the request) or ``idle_timeout`` (between
    content chunks; keep-alives and pings do not count), or ``total_timeout`` passed."""


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


# -- chain hygiene ---------------------------------------------------------------------------------

_E = TypeVar("_E", bound=BaseException)
#: Headers a copied request/response must not keep: the copy's own (redacted) content sets them.
_FRAMING = frozenset({"content-length", "transfer-encoding", "content-encoding"})


def sanitize(error: _E, secrets: Sequence[str] = ()) -> _E:
    """Clean ``error`` and every exception linked to it of ``secrets`` and key-shaped strings, in place.

    The whole chain is walked (``__cause__``, ``__context__`` also where ``__suppress_context__``
    hides it, exception groups): Python sets ``__context__`` to the exception being handled whenever
    one is raised in an ``except`` block, and error trackers walk it, so the vendor exception itself
    must be clean, not just a copy of it. Each exception keeps its type, traceback and attributes;
    its ``args``, strings, bodies and ``__notes__`` are redacted, and an httpx2 request or response
    it holds is replaced by a copy with credential headers masked, URL userinfo and ``?key=`` masked
    and the body redacted. Returns ``error``.
    """
    scrubber = _Scrubber(tuple(secrets))
    pending: list[Any] = [error]
    while pending:
        exc = pending.pop()
        if not isinstance(exc, BaseException) or id(exc) in scrubber.seen:
            continue
        scrubber.seen.add(id(exc))
        scrubber.exception(exc)
        pending += [exc.__cause__, exc.__context__, *getattr(exc, "exceptions", ())]
        pending += scrubber.found
        scrubber.found.clear()
    return error


class _Scrubber:
    __slots__ = ("found", "secrets", "seen")

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self.seen: set[int] = set()
        self.found: list[BaseException] = []  # exceptions held in attributes: scrubbed in turn

    def exception(self, exc: BaseException) -> None:
        try:
            args = tuple(self.value(arg) for arg in exc.args)
            if any(new is not old for new, old in zip(args, exc.args, strict=True)):
                exc.args = args
        except Exception:  # an exception type whose args cannot be set: its attributes still are
            pass
        state = getattr(exc, "__dict__", None)
        if state:
            for name, value in list(state.items()):
                clean = self.value(value)
                if clean is not value:
                    state[name] = clean

    def value(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            clean = redact(value, self.secrets)
            return value if clean == value else clean
        if isinstance(value, (bytes, bytearray)):
            return redact_bytes(bytes(value), self.secrets) if value else value
        if depth > 32:
            return value
        if isinstance(value, BaseException):
            self.found.append(value)
            return value
        if isinstance(value, dict):
            items = {key: self.header(key, item, depth) for key, item in value.items()}
            return value if all(items[key] is value[key] for key in value) else items
        if isinstance(value, (list, tuple)):
            cleaned = [self.value(item, depth + 1) for item in value]
            if all(new is old for new, old in zip(cleaned, value, strict=True)):
                return value
            return cleaned if isinstance(value, list) else type(value)(cleaned)  # type: ignore[call-arg]
        if type(value).__module__.startswith("httpx2"):
            return self.http(value)
        return value  # anything else is left as it is: it is not printed with the exception

    def header(self, name: Any, value: Any, depth: int) -> Any:
        if isinstance(name, str) and name.lower() in CREDENTIAL_HEADERS and isinstance(value, str) and value:
            return REDACTED
        return self.value(value, depth + 1)

    def http(self, value: Any) -> Any:
        import httpx2

        if isinstance(value, httpx2.Request):
            return self.request(value)
        if isinstance(value, httpx2.Response):
            return self.response(value)
        if isinstance(value, httpx2.Headers):
            return httpx2.Headers(self.headers(value))
        if isinstance(value, httpx2.URL):
            return httpx2.URL(redact_url(str(value), self.secrets))
        return value

    def headers(self, headers: Any) -> list[tuple[str, str]]:
        return [
            (name, REDACTED if name.lower() in CREDENTIAL_HEADERS else redact(value, self.secrets))
            for name, value in headers.multi_items()
            if name.lower() not in _FRAMING
        ]

    def request(self, request: Any) -> Any:
        import httpx2

        try:
            content = request.content
        except Exception:  # a streaming request body that was never read
            content = b""
        url = redact_url(str(request.url), self.secrets)
        return httpx2.Request(
            request.method, url, headers=self.headers(request.headers), content=self.value(content)
        )

    def response(self, response: Any) -> Any:
        import httpx2

        try:
            content = response.content
        except Exception:  # streamed and not read (or closed half-way)
            content = b""
        request = getattr(response, "_request", None)
        extensions = {
            key: response.extensions[key] for key in ("http_version", "reason_phrase") if key in response.extensions
        }
        return httpx2.Response(
            response.status_code,
            headers=self.headers(response.headers),
            content=self.value(content),
            request=self.request(request) if request is not None else None,
            extensions=extensions,
        )
