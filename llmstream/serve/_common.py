"""What every protocol shares: the encoder protocol, SSE framing, error → HTTP status and shapes."""

from __future__ import annotations

import json
from typing import Any, Protocol

from .._errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    LLMStreamError,
    ProviderError,
    RateLimitError,
    StreamTimeoutError,
)
from .._events_json import usage_json
from .._types import Completion, StreamedChunk

__all__ = [
    "DONE",
    "Encoder",
    "HEARTBEAT",
    "dumps",
    "error_status",
    "openai_error",
    "sse",
    "usage_json",
]

#: The SSE comment sent while the upstream is silent: every SSE parser skips it.
HEARTBEAT = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def sse(data: Any) -> bytes:
    """One ``data:`` frame. JSON text never holds a raw newline, so one line is enough."""
    return b"data: " + dumps(data).encode() + b"\n\n"


class Encoder(Protocol):
    """A sans-IO protocol encoder: chunks in, the bytes a client of that protocol reads out.

    ``open()`` is sent once the upstream accepted the request, ``encode`` per chunk (``b""`` when
    the chunk has no form in the protocol yet), then exactly one of ``finish`` or ``fail``.
    ``refuse`` is the HTTP error response (status, body) for a failure before anything was sent.
    """

    media_type: str
    headers: dict[str, str]
    heartbeat: bytes

    def open(self) -> bytes: ...

    def encode(self, chunk: StreamedChunk) -> bytes: ...

    def finish(self, completion: Completion) -> bytes: ...

    def fail(self, error: BaseException) -> bytes: ...

    def refuse(self, error: BaseException) -> tuple[int, bytes]: ...


def error_status(error: BaseException) -> int:
    """The HTTP status that tells a client what went wrong upstream (before the stream started)."""
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and 400 <= status <= 599:
        return status
    if isinstance(error, AuthenticationError):
        return 401
    if isinstance(error, RateLimitError):
        return 429
    if isinstance(error, (BadRequestError, ConfigurationError)):
        return 400
    if isinstance(error, StreamTimeoutError):
        return 504
    if isinstance(error, LLMStreamError):
        return 502
    return 500


_OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                 404: "not_found_error", 413: "invalid_request_error", 429: "rate_limit_error"}


def openai_error(message: str, status: int, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` as api.openai.com answers."""
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_message(error: BaseException) -> str:
    """The client-facing text of a failure: our errors are already redacted; others name only the type."""
    if isinstance(error, LLMStreamError):
        return str(error)
    return f"internal error ({type(error).__name__})"


def error_code(error: BaseException) -> str | None:
    code = getattr(error, "code", None)
    if isinstance(code, str):
        return code
    if isinstance(error, ProviderError) and error.status_code is not None:
        return str(error.status_code)
    return type(error).__name__
