"""Loopback fake provider server: a real HTTP/1.1 server on 127.0.0.1 for tests.

Each request is answered with the next :class:`Scripted` response (FIFO, whatever the path), or with
what ``server.responder(request)`` builds, or with ``server.default``, or with a 500 JSON error when
nothing is scripted. Bodies are written piece by piece with hand-written chunked framing and can be
delayed, gated, stalled or dropped mid-stream::

    with LoopbackServer() as server:
        server.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(["Hel", "lo"]))))
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0)
        ...
        assert server.requests[-1].path == "/v1/chat/completions"

Use ``loopback = pytest.fixture(loopback_fixture)`` in a test module to get a fresh server per test.
The wire-format builders of :mod:`tests.wire` are re-exported here.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import wire, wire_responses
from .wire import *  # noqa: F403 - the builders are part of this module's API
from .wire import Vendor, json_error_body
from .wire_responses import *  # noqa: F403 - the Responses API's builders too

__all__ = ["LoopbackServer", "RecordedRequest", "Scripted", "error_response", "loopback_fixture"]
__all__ += wire.__all__
__all__ += wire_responses.__all__

NO_SCRIPT_MESSAGE = "loopback: no scripted response"
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)  # 0 on Windows: fall back to select()
_LINGER_ZERO = struct.pack("ii", 1, 0)  # SO_LINGER on with a 0 s timeout: close() sends RST


@dataclass
class Scripted:
    """One scripted HTTP response.

    ``body`` (sent with Content-Length) wins over ``chunks`` (sent with ``Transfer-Encoding: chunked``,
    one flushed HTTP chunk per element; empty pieces are skipped). The checkpoints ``gate_after``,
    ``drop_after`` and ``stall_after`` count body chunks already written (``0`` = right after the
    headers) and are applied in that order when several share a value. ``drop_reset`` makes a drop
    send a TCP RST instead of a FIN. Content-Type defaults to ``text/event-stream`` for chunked
    bodies and to ``application/json`` for a ``body`` that parses as JSON.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    body: bytes | None = None
    delay_first: float = 0.0
    delay_between: float = 0.0
    drop_after: int | None = None
    drop_reset: bool = False
    stall_after: int | None = None
    stall_max: float = 60.0
    gate_after: int | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Scripted:
        """A non-streamed JSON response."""
        return cls(status=status, headers=dict(headers or {}), body=json.dumps(payload).encode())

    def final_headers(self) -> dict[str, str]:
        """Headers to send, with the default Content-Type filled in unless one was given."""
        headers = dict(self.headers)
        if not any(name.lower() == "content-type" for name in headers):
            if self.body is None:
                headers["Content-Type"] = "text/event-stream"
            else:
                try:
                    json.loads(self.body)
                    headers["Content-Type"] = "application/json"
                except ValueError:
                    headers["Content-Type"] = "text/plain; charset=utf-8"
        return headers


def error_response(
    vendor: Vendor,
    status: int,
    message: str = "loopback error",
    *,
    type_: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Scripted:
    """A :class:`Scripted` JSON error exactly as ``vendor`` sends it (e.g. add ``retry-after`` headers)."""
    return Scripted.json(json_error_body(vendor, status, message, type_=type_), status, headers)


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it. ``query`` keeps the last value of repeated keys."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any | None
    target: str = ""


class _Abort(Exception):
    """Raised inside a handler to end the connection without finishing the response."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def _serve(self) -> None:
        owner = self.server.owner
        try:
            recorded = self._record()
        except (ValueError, OSError):
            self.close_connection = True
            return
        owner._record(recorded)
        script = owner._next_script(recorded)
        try:
            if script is None:
                body = json.dumps({"error": {"message": NO_SCRIPT_MESSAGE, "type": "loopback"}}).encode()
                self._send_head(500, {"Content-Type": "application/json", "Content-Length": str(len(body))})
                self._write(body)
            else:
                self._play(script)
        except (_Abort, OSError):  # includes client disconnects
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _record(self) -> RecordedRequest:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked_body()
        else:
            body = self.rfile.read(int(headers.get("content-length", "0") or 0))
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        return RecordedRequest(self.command, url.path, query, headers, body, parsed, self.path)

    def _read_chunked_body(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _send_head(self, status: int, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()  # flushes the buffered status line and headers

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def _play(self, script: Scripted) -> None:
        if script.delay_first and self._wait(script.delay_first):
            raise _Abort
        headers = script.final_headers()
        if script.body is not None:
            headers.setdefault("Content-Length", str(len(script.body)))
            self._send_head(script.status, headers)
            self._write(script.body)
            return
        headers["Transfer-Encoding"] = "chunked"
        self._send_head(script.status, headers)
        pieces = [piece for piece in script.chunks if piece]
        for written, piece in enumerate(pieces):
            self._checkpoint(script, written)
            if written and script.delay_between and self._wait(script.delay_between):
                raise _Abort
            self._write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.server.owner._count_chunk()
        self._checkpoint(script, len(pieces))
        self._write(b"0\r\n\r\n")

    def _checkpoint(self, script: Scripted, written: int) -> None:
        if script.gate_after == written and not self.server.owner._pass_gate(self._client_gone):
            raise _Abort
        if script.drop_after == written:
            if script.drop_reset:  # linger 0: the final close() sends RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
            raise _Abort
        if script.stall_after == written:
            self._wait(script.stall_max)
            raise _Abort

    def _wait(self, seconds: float) -> bool:
        """Block up to ``seconds``; return True early when the server stops or the client goes away."""
        owner = self.server.owner
        return owner._wait_for(lambda: owner._stop.is_set() or self._client_gone(), seconds)

    def _client_gone(self) -> bool:
        """Non-blocking EOF probe (no ``select()``: it fails for descriptors above FD_SETSIZE)."""
        try:
            if _DONTWAIT:
                return bool(self.connection.recv(1, socket.MSG_PEEK | _DONTWAIT) == b"")
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except BlockingIOError:
            return False  # connected, nothing pending
        except (OSError, ValueError):
            return True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # listen backlog: hundreds of concurrent streams connect at once (default 5)
    owner: LoopbackServer

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._opened(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            with contextlib.suppress(OSError):  # no FIN first when a drop_reset armed linger-0 (RST on close)
                if request.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8) != _LINGER_ZERO:
                    request.shutdown(socket.SHUT_WR)
        finally:
            self.close_request(request)
            self.owner._closed(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is None or isinstance(error, _DISCONNECTS) or self.owner._stop.is_set():
            return
        self.owner.errors.append(error)
        super().handle_error(request, client_address)  # prints the traceback: a bug in the loopback


class LoopbackServer:
    """A scripted HTTP/1.1 server on ``127.0.0.1`` with an ephemeral port, served from a daemon thread.

    Single use: start it (or enter it as a context manager), then :meth:`stop` it once.

    Attributes: ``url``, ``port``, ``requests`` (snapshot list of :class:`RecordedRequest`),
    ``default`` (answer used when the queue is empty), ``responder`` (when set, builds the answer
    from the request instead of ``default``, e.g. to echo its headers), ``open_connections`` (client
    sockets currently open), ``total_connections`` (accepted so far, to check keep-alive reuse),
    ``chunks_written``, ``errors`` (unexpected handler exceptions; disconnects are not errors).
    """

    def __init__(self) -> None:
        self.default: Scripted | None = None
        self.responder: Callable[[RecordedRequest], Scripted] | None = None
        self.errors: list[BaseException] = []
        self.total_connections = 0
        self._queue: deque[Scripted] = deque()
        self._requests: list[RecordedRequest] = []
        self._conns: set[socket.socket] = set()
        self._stop = threading.Event()
        self._cond = threading.Condition()  # guards everything below and wakes every waiter
        self._permits = 0
        self._parked = 0
        self._chunks = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LoopbackServer:
        """Bind to an ephemeral port and start serving (idempotent)."""
        if self._httpd is None:
            self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
            self._httpd.owner = self
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="loopback", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop promptly: wake stalled/gated/delayed handlers, close client sockets, join the thread."""
        if self._httpd is None or self._stop.is_set():
            return
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._httpd.shutdown()  # no more accepts after this returns
        with self._cond:
            for conn in self._conns:
                with contextlib.suppress(OSError):  # unblocks handler reads; the handler closes it
                    conn.shutdown(socket.SHUT_RDWR)
            self._cond.wait_for(lambda: not self._conns, timeout)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("LoopbackServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ scripting

    def enqueue(self, *responses: Scripted) -> None:
        """Append responses; each request consumes the oldest one."""
        with self._cond:
            self._queue.extend(responses)

    @property
    def pending(self) -> int:
        """Scripted responses not consumed yet."""
        with self._cond:
            return len(self._queue)

    def release(self, count: int = 1) -> None:
        """Let ``count`` handlers through their ``gate_after`` checkpoint (permits may be banked early)."""
        with self._cond:
            self._permits += count
            self._cond.notify_all()

    def wait_gated(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` handlers are parked at a gate."""
        return self._wait_for(lambda: self._parked >= count, timeout)

    # ------------------------------------------------------------------ inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def open_connections(self) -> int:
        with self._cond:
            return len(self._conns)

    @property
    def chunks_written(self) -> int:
        """Body chunks written so far over all responses."""
        with self._cond:
            return self._chunks

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no client connection is open (e.g. after a client closed a stream early)."""
        return self._wait_for(lambda: not self._conns, timeout)

    # ------------------------------------------------------------------ handler side

    def _wait_for(self, predicate: Callable[[], bool], timeout: float, tick: float = 0.02) -> bool:
        """``Condition.wait_for`` that re-checks at least every ``tick`` s (for socket-state predicates)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (result := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, tick))
            return bool(result)

    def _pass_gate(self, client_gone: Callable[[], bool]) -> bool:
        with self._cond:
            self._parked += 1
            self._cond.notify_all()
        passed = self._wait_for(lambda: self._permits > 0 or self._stop.is_set() or client_gone(), 3600)
        with self._cond:
            self._parked -= 1
            if passed and self._permits > 0 and not self._stop.is_set():
                self._permits -= 1
                return True
            return False

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(request)

    def _next_script(self, request: RecordedRequest) -> Scripted | None:
        with self._cond:
            if self._queue:
                return self._queue.popleft()
            responder = self.responder
        return responder(request) if responder is not None else self.default

    def _count_chunk(self) -> None:
        with self._cond:
            self._chunks += 1
            self._cond.notify_all()

    def _opened(self, conn: socket.socket) -> None:
        with self._cond:
            self._conns.add(conn)
            self.total_connections += 1

    def _closed(self, conn: socket.socket) -> None:
        with self._cond:
            self._conns.discard(conn)
            self._cond.notify_all()


def loopback_fixture() -> Iterator[LoopbackServer]:
    """Generator for ``loopback = pytest.fixture(loopback_fixture)``: a started server, stopped after."""
    with LoopbackServer() as server:
        yield server
