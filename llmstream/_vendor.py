"""The vendor SDK clients of one llmstream client: built lazily, once, under a lock.

- The sync client is built once, whatever the number of threads that first use it together (a second
  client built by a race is dropped, and a dropped google-genai ``Client`` closes its HTTP client in
  ``__del__``, under the streams that run on it).
- The async client is built once per event loop (an httpx2 connection pool belongs to the loop it was
  made in), kept in a map keyed weakly by loop, and closed by that loop's own shutdown: the loop's
  ``shutdown_asyncgens`` (what ``asyncio.run`` does before closing the loop) finalizes a small
  guardian async generator registered on it, whose ``finally`` awaits the client's close. So
  ``asyncio.run(...)`` per call leaves no socket of the previous loop to the garbage collector. A loop
  closed without that shutdown is forgotten when the next loop builds its client.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Callable
from typing import Any

__all__ = ["VendorClients", "close_async_sdk", "running_loop"]


def running_loop() -> Any:
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def close_async_sdk(sdk: Any) -> None:
    """Close an async vendor client: ``close()`` (openai, anthropic) or ``aclose()`` (httpx2, google-genai)."""
    closer = getattr(sdk, "close", None) or getattr(sdk, "aclose", None)
    if closer is not None:
        result = closer()
        if hasattr(result, "__await__"):
            await result


class _Entry:
    """One event loop's async client, and the guardian that closes it at the loop's shutdown."""

    __slots__ = ("guardian", "sdk")

    def __init__(self, sdk: Any) -> None:
        self.sdk = sdk
        self.guardian: Any = None


class VendorClients:
    """Sync: :meth:`sync`. Async: :meth:`for_loop` (the running loop's). ``build()`` makes one (it holds
    no reference to the llmstream client: no cycle)."""

    __slots__ = ("__weakref__", "_last", "_lock", "_loops", "_sync")

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._sync: Any = None
        self._last: tuple[Any, Any] | None = None  # (loop, client) last used: the common case, no lookup
        self._loops: weakref.WeakKeyDictionary[Any, _Entry] = weakref.WeakKeyDictionary()

    # -- sync --------------------------------------------------------------------------------------

    def sync(self, build: Callable[[], Any]) -> Any:
        sdk = self._sync
        if sdk is None:
            with self._lock:
                sdk = self._sync
                if sdk is None:
                    sdk = self._sync = build()
        return sdk

    def take_sync(self) -> Any:
        with self._lock:
            sdk, self._sync = self._sync, None
        return sdk

    # -- async, per event loop ---------------------------------------------------------------------

    def for_loop(self, loop: Any, build: Callable[[], Any], owned: bool) -> Any:
        """The client of ``loop`` (None: no loop running), built on its first use. ``owned``: its HTTP
        client is llmstream's own (not one the user passed), so closing it with its loop is ours to do."""
        last = self._last
        if last is not None and last[0] is loop:
            return last[1]
        with self._lock:
            entry = self._loops.get(loop) if loop is not None else None
            if entry is None or entry.sdk is None:
                self._forget_closed_loops()
                entry = _Entry(build())
                if loop is not None:
                    shared = any(other.sdk is entry.sdk for other in self._loops.values())
                    self._loops[loop] = entry
                    if not shared and owned:  # a client several loops share is not closed by one
                        self._guard(loop, entry)
            self._last = (loop, entry.sdk)
            return entry.sdk

    def take_async(self, loop: Any) -> Any:
        """Forget the loop's client (to close it now): its guardian then has nothing left to close."""
        with self._lock:
            if self._last is not None and self._last[0] is loop:
                self._last = None
            entry = self._loops.pop(loop, None) if loop is not None else None
            if entry is None:
                return None
            sdk, entry.sdk = entry.sdk, None
            return sdk

    def _guard(self, loop: Any, entry: _Entry) -> None:
        """Register a guardian async generator on the running ``loop``: started here (the loop's
        first-iteration hook records it), finalized by the loop's ``shutdown_asyncgens``."""
        guardian = _guardian(entry, weakref.ref(self), loop)
        step = guardian.asend(None)
        try:
            step.send(None)  # runs to its first yield without awaiting anything
        except StopIteration:
            entry.guardian = guardian

    def _closed_by_loop(self, loop: Any, entry: _Entry) -> Any:
        with self._lock:
            if self._loops.get(loop) is entry:
                del self._loops[loop]
            if self._last is not None and self._last[0] is loop:
                self._last = None
            sdk, entry.sdk = entry.sdk, None
            return sdk

    def _forget_closed_loops(self) -> None:
        """Loops closed without their shutdown (their guardian never ran): end the guardians here, without
        awaiting (their loop cannot run any more), so that nothing keeps those loops alive."""
        for loop, entry in list(self._loops.items()):
            if not loop.is_closed():
                continue
            del self._loops[loop]
            entry.sdk = None
            guardian, entry.guardian = entry.guardian, None
            if guardian is not None:
                with contextlib.suppress(StopIteration, StopAsyncIteration):
                    guardian.asend(None).send(None)  # runs its finally: nothing left to close


async def _guardian(entry: _Entry, owner: weakref.ref[VendorClients], loop: Any) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        clients = owner()
        sdk = clients._closed_by_loop(loop, entry) if clients is not None else entry.sdk
        entry.sdk = None
        if sdk is not None:
            await close_async_sdk(sdk)
