"""The requests of one stream attempt as the transport sends them, so that ``cancel()`` and the
watchdog can abort a request that is still waiting for its response headers, from any thread.

Until the headers arrive a vendor SDK holds the HTTP response to itself, so there is no response
whose socket :func:`~llmstream._transport.shutdown_response` could shut. The shell sets an
:class:`Inflight` in a context variable while it opens the stream (and the Gemini stream carries it
into the requests it sends while iterating); the guarded transport (:class:`ScopedTransport`) sees
it and adds an httpcore ``trace`` hook to the request, which

- notes the connection's socket as the request is about to go out (the pool's reserved connection),
  so that :meth:`Inflight.abort` can shut it down: the blocked read of the headers ends at once;
- refuses to connect or send once the attempt was aborted;
- notes when the response headers arrived (the server accepted the request: ``retry_on_timeout``);
- forgets the socket when the response closes, so that a late cancel never touches a connection the
  pool gave to another stream.

Nothing here runs per chunk: httpcore traces a response body once, not per read.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
from collections.abc import Callable
from typing import Any

from ._errors import StreamInterruptedError

__all__ = ["CURRENT", "EXTENSION", "Inflight", "RequestAborted", "attach", "pool_of"]

#: The attempt whose requests the transport is sending (set by the shells around ``open``).
CURRENT: contextvars.ContextVar[Inflight | None] = contextvars.ContextVar("llmstream_inflight", default=None)

_REFUSE = frozenset((
    "connection.connect_tcp.started", "connection.connect_unix_socket.started", "connection.start_tls.started",
    "http11.send_request_headers.started", "http11.send_request_body.started",
    "http11.receive_response_headers.started",
))


class RequestAborted(StreamInterruptedError):
    """The stream was cancelled (or timed out) while its request was being sent."""


class Inflight:
    """One attempt's requests: ``abort()`` from any thread; ``sent``, and the owner's ``answered``."""

    __slots__ = ("aborted", "owner", "sent", "sock")

    def __init__(self, owner: Any = None) -> None:
        self.owner = owner  # told ``answered = True`` when the response headers arrive (the stream state)
        self.aborted = False
        self.sent = False  # a request of this attempt went through the guarded transport
        self.sock: Any = None  # the socket of the request in flight

    def abort(self) -> None:
        self.aborted = True
        _shutdown(self.sock)

    def _hold(self, sock: Any) -> None:
        self.sock = sock
        if self.aborted:  # abort() ran before the socket was known: it could not shut it
            _shutdown(sock)

    def _traced(self, name: str, info: dict[str, Any], pool: Any) -> None:
        if name == "http11.send_request_headers.started":
            self._hold(_socket_of(pool, info.get("request")))
        elif name == "http11.receive_response_headers.complete":
            if self.owner is not None:
                self.owner.answered = True
        elif name == "http11.response_closed.started":
            self.sock = None
            return
        if self.aborted and name in _REFUSE:
            raise RequestAborted("the stream was stopped while its request was being sent")


#: A request extension naming the attempt, for requests sent outside the shells' ``open`` (Gemini's
#: generator sends its request on the first read): the vendor client's request hook sets it.
EXTENSION = "llmstream_inflight"


def attach(request: Any, pool: Any, asynchronous: bool) -> None:
    """Give an httpx2 request of the current attempt (if any) the trace hook; chains a user's own."""
    extensions = request.extensions
    inflight = extensions.pop(EXTENSION, None) or CURRENT.get()
    if inflight is None:
        return
    inflight.sent = True
    user: Callable[..., Any] | None = extensions.get("trace")
    if asynchronous:

        async def atrace(name: str, info: dict[str, Any]) -> None:
            inflight._traced(name, info, pool)
            if user is not None:
                await user(name, info)

        extensions["trace"] = atrace
    else:

        def trace(name: str, info: dict[str, Any]) -> None:
            inflight._traced(name, info, pool)
            if user is not None:
                user(name, info)

        extensions["trace"] = trace


def _socket_of(pool: Any, request: Any) -> Any:
    """The socket of the connection the pool reserved for ``request`` (httpcore2 internals, read
    defensively: anything unexpected means only that the request cannot be aborted early)."""
    try:
        for pool_request in list(getattr(pool, "_requests", ())):
            if pool_request.request is request:
                connection = getattr(pool_request.connection, "_connection", None)
                stream = getattr(connection, "_network_stream", None)
                return None if stream is None else stream.get_extra_info("socket")
    except Exception:
        return None
    return None


def _shutdown(sock: Any) -> None:
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):  # already closed, or not a socket
            sock.shutdown(socket.SHUT_RDWR)


def pool_of(transport: Any) -> Any:
    """The httpcore2 connection pool under an httpx2 transport, or None."""
    return getattr(transport, "_pool", None)
