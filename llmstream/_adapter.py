"""The provider adapter protocol: what the stream shells need from a provider, and nothing more.

The shells (``_stream``) hold an :class:`Adapter` and never a client. A client hands out its adapter
(``BaseClient.adapter()``); a provider fills it in by implementing the client's hooks (``_open``,
``_aopen``, ``_translator``, ``_map_error``) in its one file, registered by one line in ``_registry``.

Layers, one way down: public calls (``_calls``) → clients (``_client``, ``providers/``) → shells
(``_stream``) → sans-IO stream state (``_state``) → adapter protocol (this module) → transport
(``_transport``) → values (``_settings``, ``_errors``, ``_types``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ._errors import LLMStreamError, MalformedStreamError, StreamInterruptedError
from ._settings import Request
from ._transport import map_transport_error, pool_wait_error
from ._types import StreamedChunk

__all__ = ["Adapter", "ErrorMapper", "Translator", "complete", "to_error", "unfinished"]

#: A provider's own mapping of its vendor exceptions; None when the exception is not the vendor's.
ErrorMapper = Callable[[BaseException], "LLMStreamError | None"]


class Translator(Protocol):
    """Per-stream state of a provider's pure translation: vendor event in, chunks out."""

    def translate(self, event: Any) -> Iterable[StreamedChunk]: ...

    def end(self) -> Iterable[StreamedChunk]:
        """Chunks owed when the vendor stream ends (e.g. tool calls never closed explicitly)."""
        ...

    # Optional: ``missing_terminal() -> str | None``, asked when the body ended (before ``end()``):
    # None when the wire's terminal event (or finish) came, else what was missing, e.g. "message_stop".
    # The stream then fails with :func:`unfinished`. A translator without it (mock, cache replay) is complete.


class Adapter(Protocol):
    """One provider as the shells see it. Only ``open``/``aopen`` and the ``close``/``hard_cancel``
    of the native stream they return touch I/O; ``translator`` and ``map_error`` are pure."""

    provider: str

    def warm(self, asynchronous: bool) -> None:
        """Build the vendor SDK client before the stream's clock starts (an import is not latency)."""

    def open(self, request: Request) -> Any:
        """Send the request; return the native stream (iterable, ``close()``)."""

    async def aopen(self, request: Request) -> Any:
        """Send the request; return the native async stream (async iterable, ``aclose()``)."""

    def translator(self, request: Request) -> Translator:
        """Fresh per-stream translation state."""

    def map_error(self, exc: BaseException) -> LLMStreamError:
        """Any exception of an attempt → an llmstream error (see :func:`to_error`)."""

    def close(self, native: Any) -> None:
        """Close a sync native stream (its HTTP response and connection)."""

    async def aclose(self, native: Any) -> None:
        """Close an async native stream."""

    def hard_cancel(self, native: Any) -> None:
        """Stop a native stream from any thread (shut its socket down)."""


def to_error(exc: BaseException, provider: str, provider_mapping: ErrorMapper | None = None) -> LLMStreamError:
    """Ours as they are; a pool wait that timed out; then the provider's mapping; then transport failures;
    else wrapped.

    The result has ``provider`` set and the original as ``__cause__`` (unless it already was ours).
    """
    if isinstance(exc, LLMStreamError):
        return exc
    error = pool_wait_error(exc, provider)  # before the provider's mapping, which would blame the provider
    if error is None and provider_mapping is not None:
        error = provider_mapping(exc)
    error = error or map_transport_error(exc, provider)
    if error is None:
        error = LLMStreamError(f"unexpected {type(exc).__name__}: {exc}", provider=provider)
    if error.provider is None:
        error.provider = provider
    error.__cause__ = exc
    return error


def complete() -> None:
    """``missing_terminal`` of a translator that does not know its wire's terminal event: nothing missing."""


def unfinished(missing: str, chunks: int, provider: str) -> LLMStreamError:
    """A 200 body that ended before its wire's terminal event (``missing``); with no chunk at all, it held
    no event. Never an empty or partial success: the partial is attached by the stream state."""
    if not chunks:
        return MalformedStreamError(f"the 200 stream ended without a single event (expected {missing})",
                                    provider=provider)
    return StreamInterruptedError(f"the stream ended before its terminal event ({missing}): the body was cut "
                                  "short; what arrived is in .partial", provider=provider)
