"""What the sync and async stream shells share: the adapter and state they hold, the read-only views
(completion, partial output, accumulator), and the thread-safe stops: ``cancel()`` from any thread
and the watchdog's ``_expire`` (first_chunk_timeout, idle_timeout, total_timeout).

A stop marks the sans-IO state (so no chunk and no callback reaches the caller afterwards), aborts
the request in flight even before its response headers (``_inflight``), shuts the open response's
socket (the adapter's ``hard_cancel``) and wakes a retry wait. ``cancel()`` returns only once a
callback already running has returned, and no callback starts after it (``_gate``).
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any, ClassVar

from typing_extensions import Self

from ._accumulator import StreamingAccumulator
from ._adapter import Adapter
from ._inflight import CURRENT, Inflight
from ._observe import Watch
from ._options import ProcessorLike, StreamingOptions
from ._settings import Request
from ._state import StreamState
from ._types import Completion
from ._watchdog import Watchdog

__all__ = ["ShellBase"]


class ShellBase:
    _asynchronous: ClassVar[bool] = False

    def __init__(self, adapter: Adapter, request: Request, options: StreamingOptions, watch: Watch | None = None):
        self._adapter = adapter
        self._request = request
        self._options = options
        self._state = StreamState(adapter.provider, request.settings, options.processors, request.output)
        self._state.cached = bool(getattr(adapter, "cached", False))
        if watch is not None:
            self._state.watch = watch
            # A stream dropped without being closed still ends its span (once: Watch.end is idempotent).
            weakref.finalize(self, watch.end, None, None, cancelled=True)
        self._native: Any = None
        self._inflight: Inflight | None = None
        self._dog: Watchdog | None = None
        self._lock = threading.Lock()
        self._gate = threading.RLock()  # held while a callback runs: cancel() waits for it
        self._in_callback = False

    @property
    def completion(self) -> Completion:
        """The final completion once the stream ended; before that, the partial so far."""
        result = self._state.result
        return result if result is not None else self._state.acc.completion()

    @property
    def partial_output(self) -> Any:
        """With ``output_type=``: the object so far, leniently parsed (never raises); else None."""
        spec = self._request.output
        return None if spec is None else spec.partial(self._state.acc.text)

    @property
    def accumulator(self) -> StreamingAccumulator:
        return self._state.acc

    def pipe(self, *processors: ProcessorLike) -> Self:
        """Add processors (before iterating): they see each chunk before the accumulator does."""
        if self._state.acc.chunks:
            raise RuntimeError("pipe() must be called before the stream is read")
        self._state.use(processors)
        return self

    @contextlib.contextmanager
    def _sending(self) -> Iterator[None]:
        """Around ``open``: the requests it sends can be aborted before their headers arrive."""
        inflight = Inflight(self._state)
        with self._lock:
            self._inflight = inflight
            if self._state.halted:
                inflight.aborted = True
        token = CURRENT.set(inflight)
        try:
            yield
        finally:
            CURRENT.reset(token)

    def _adopt(self, native: Any) -> bool:
        """Publish the open native stream; False when a cancel() raced the open."""
        with self._lock:
            self._native = native
            inflight = self._inflight
            # Without a traced request (a custom transport) the open returning is the sign of headers;
            # a Gemini generator sends its request later, on the first read (traced then).
            if (inflight is None or not inflight.sent) and getattr(native, "response", True) is not None:
                self._state.answered = True
            if hasattr(type(native), "inflight"):  # a native that sends its request on a read (Gemini's)
                native.inflight = inflight
            return not self._state.cancelled

    def cancel(self) -> None:
        """Thread-safe: shut the connection down at once (even before the response headers arrive);
        the reader ends as cancelled. Once this returns, no callback runs any more."""
        with self._lock:
            self._state.cancel()
            native, inflight = self._native, self._inflight
        self._halt(native, inflight)
        self._wake()
        with self._gate:  # a callback running in another thread finishes first; none starts after
            pass

    def _expire(self, reason: str) -> None:
        """The watchdog fired: on the timer thread (sync) or the event loop (async)."""
        with self._lock:
            if self._state.result is not None or self._state.cancelled:
                return
            self._state.expire(reason)
            native, inflight = self._native, self._inflight
        self._halt(native, inflight)
        if reason == "total":
            self._wake()

    def _halt(self, native: Any, inflight: Inflight | None) -> None:
        # The native stream's own cancel first: it may need to know before its socket fails (a
        # resuming Responses stream must not take the shut socket for a dropped connection).
        self._adapter.hard_cancel(native)
        if inflight is not None:
            inflight.abort()

    def _warm(self) -> None:
        """Build the vendor SDK client; the time it takes (an import, a first client) is not the
        stream's: the total deadline moves by it."""
        began = time.monotonic()
        self._adapter.warm(self._asynchronous)
        self._state.excuse(time.monotonic() - began)

    def _wake(self) -> None:
        """End a retry wait at once (cancel, total deadline)."""

    def _take_native(self) -> Any:
        with self._lock:
            native, self._native = self._native, None
            self._inflight = None
        return native

    def _disarm(self) -> None:
        dog, self._dog = self._dog, None
        if dog is not None:
            dog.stop()
