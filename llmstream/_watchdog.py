"""The stream watchdog: ``first_chunk_timeout``, ``idle_timeout`` and ``total_timeout`` checked on a
timer, beside the stream, instead of on every chunk.

Idle time is the gap between **content** chunks (text, reasoning, refusal, tool calls, server tools,
citations): keep-alive comments, pings and bookkeeping events reach no counter, so they do not
reset it. The per-chunk cost is one increment (``StreamState.beats``); the watchdog looks at the
counter ``_TICKS`` times per ``idle_timeout`` and fires when it stood still for a whole
``idle_timeout`` (so a gap is caught between 1x and 1.25x the knob). Time the caller holds the
stream (suspended at ``yield``, or running a callback) is not idle time: the server is not late.

:class:`Watchdog` decides (sans-IO, given the time); the sync shells share one timer thread
(:func:`schedule`), the async shells the event loop's ``call_later``. Firing calls the shell's
``_expire(reason)``, which marks the state and shuts the connection (even before its headers).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ._state import StreamState

__all__ = ["Watchdog", "schedule", "schedule_async"]

_TICKS = 4  # looks per idle_timeout
_MIN_TICK = 0.005
_BETWEEN = 0.05  # with total_timeout alone: how often to look between attempts


class Watchdog:
    """One stream's timeouts. ``check(now)`` fires (returns None) or says when to look again.

    It holds the shell weakly: a stream dropped without closing is still garbage-collected (and its
    finalizer closes the connection); the watchdog then stops at its next look.
    """

    __slots__ = ("_beats", "_shell", "_since", "_spent", "_state", "_tick", "handle", "stopped", "ticked")

    def __init__(self, shell: Any, state: StreamState) -> None:
        self._shell: Callable[[], Any] = weakref.ref(shell)
        self._state: StreamState | None = state
        settings = state.settings
        gaps = [gap for gap in (settings.idle_timeout, settings.first_chunk_timeout) if gap is not None]
        self._tick = max(_MIN_TICK, min(gaps) / _TICKS) if gaps else None
        self._beats = -1  # the content count at the last look (-1: not in the idle phase yet)
        self._since = 0.0  # when the count (or the caller's hold) last changed
        self._spent: float | None = None  # the attempt (its opened_at) already expired: wait for the next
        self.stopped = False
        self.ticked = False  # on the shared timer thread (sync)
        self.handle: Any = None  # the async timer handle, to cancel it

    @staticmethod
    def needed(state: StreamState) -> bool:
        """Whether any of the three timeouts is set (all three None: no watchdog at all)."""
        settings = state.settings
        return not (settings.total_timeout is None and settings.idle_timeout is None
                    and settings.first_chunk_timeout is None)

    def first(self) -> float | None:
        """When to look first (an absolute ``time.monotonic()``)."""
        return self.check(time.monotonic())

    def check(self, now: float) -> float | None:
        shell, state = self._shell(), self._state
        if self.stopped or shell is None or state is None:
            self.stop()
            return None
        deadline = state.deadline
        opened = state.opened_at
        # Between attempts (and while the SDK client is built) the shell itself keeps the deadline:
        # its retry wait ends there, and no attempt starts after it.
        if deadline is not None and now >= deadline and opened is not None:
            self.stopped = True
            shell._expire("total")
            return None
        due = deadline
        tick = self._tick
        if opened is not None and opened == self._spent:
            opened = None  # this attempt already expired; a retry starts a new one
        if opened is not None and tick is not None:  # an attempt is under way
            settings = state.settings
            if not state.delivered:
                self._beats = -1
                first = settings.first_chunk_timeout
                if first is not None:
                    if now >= opened + first:
                        self._spent = opened
                        shell._expire("first_chunk")
                        return now + tick
                    due = _earliest(due, opened + first)
            elif settings.idle_timeout is not None:
                beats = state.beats
                if beats != self._beats or not shell._reading():
                    self._beats = beats
                    self._since = now
                elif now - self._since >= settings.idle_timeout:
                    self._spent = opened
                    shell._expire("idle")
                    return now + tick
            due = _earliest(due, now + tick)
        elif tick is not None:  # between attempts: look for the next one
            due = _earliest(due, now + tick)
        if due is None or due <= now:  # a deadline passed between attempts (or moved): look again soon
            due = now + (tick or _BETWEEN)
        return due

    def stop(self) -> None:
        """The stream ended: let go of it at once (a sync timer entry may outlive it for one tick)."""
        if not self.stopped:
            self.stopped = True
            if self.ticked:
                _TICKER.forget()
        self._shell = _gone
        self._state = None
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.cancel()


def _gone() -> None:
    return None


def _earliest(a: float | None, b: float) -> float:
    return b if a is None or b < a else a


class _Ticker:
    """One daemon thread for the watchdogs of every sync stream (a heap of wake-up times), so that a
    thousand streams do not cost a thousand timer threads."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watchdog]] = []
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = 0  # entries of stopped watchdogs still in the heap

    def forget(self) -> None:
        """One more stopped watchdog: drop them all from the heap when they are most of it."""
        with self._cond:
            self._stopped += 1
            if self._stopped > 1000 and self._stopped * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].stopped]
                heapq.heapify(self._heap)
                self._stopped = 0

    def add(self, when: float, dog: Watchdog) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), dog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="llmstream-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0][2] is dog:
                self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                when, _, dog = self._heap[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            if dog.stopped:
                with self._cond:
                    self._stopped = max(0, self._stopped - 1)
                continue
            try:
                again = dog.check(time.monotonic())
            except Exception:  # never lose the thread every stream relies on
                again = None
            if again is not None:
                self.add(again, dog)

    def reset(self) -> None:
        """After fork: the thread is gone in the child, and so are its streams."""
        self._heap = []
        self._cond = threading.Condition()
        self._thread = None


_TICKER = _Ticker()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_TICKER.reset)


def schedule(dog: Watchdog) -> None:
    """Start a sync stream's watchdog on the shared timer thread."""
    when = dog.first()
    if when is not None:
        dog.ticked = True
        _TICKER.add(when, dog)


def schedule_async(dog: Watchdog, loop: Any) -> None:
    """Start an async stream's watchdog on its event loop."""

    def look() -> None:
        dog.handle = None
        again = dog.check(time.monotonic())
        if again is not None:
            dog.handle = loop.call_later(max(0.0, again - time.monotonic()), look)

    when = dog.first()
    if when is not None:
        dog.handle = loop.call_later(max(0.0, when - time.monotonic()), look)
