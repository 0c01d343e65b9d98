"""Fallbacks: ``llmstream.fallback(client_a, client_b, ...)`` behaves like a client that moves on to the
next client when one fails before its first chunk reached the caller.

Each client first uses its own retries (``max_retries``; set 0 to fall back at once). Once a chunk
was delivered, an error is raised as it is: the caller has seen text, and switching to another
model mid-answer would splice two different answers together. ``Completion.provider`` tells which
client answered; ``stream.errors`` lists the failures that were fallen back from.

Which errors move on (:func:`is_fallback_error`, replaceable with ``should_fallback=``):

- yes: ``AuthenticationError`` (that provider's key; the next has its own), ``RateLimitError``,
  ``ServerError``, any other ``ProviderError`` status (402 out of credits, 408, 409, ...),
  ``StreamInterruptedError``, ``StreamTimeoutError``, ``InBandError``, ``MalformedStreamError``;
- ``BadRequestError`` only for 404 (the model name belongs to one provider) and 413 (the limits
  are the provider's): a 400/422 is a malformed request the next provider would reject too, and
  hiding it behind a fallback would cost one failed call per client and bury the real message;
- no: ``ConfigurationError`` (a missing key or SDK is a setup bug to see, not to route around),
  ``CallbackError`` (the caller's own code), ``ContentLimitError`` and anything unexpected.

Import it as ``from llmstream.fallback import fallback, FallbackClient`` (or from ``llmstream``). The
package attribute ``llmstream.fallback`` is the :func:`fallback` function, not this module (the
function shadows the module's name); ``sys.modules["llmstream.fallback"]`` is the module.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import attrs
from typing_extensions import Self

from ._calls import ConversationLike, PublicCalls
from ._conversation import as_conversation
from ._errors import (
    BadRequestError,
    CallbackError,
    ConfigurationError,
    InBandError,
    LLMStreamError,
    MalformedStreamError,
    ProviderError,
    StreamInterruptedError,
    StreamTimeoutError,
)
from ._options import ProcessorLike, StreamingOptions, call_async, call_sync
from ._types import Completion, FinishReason, StreamedChunk, Tool

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._stream import AsyncStream, Stream

__all__ = ["AsyncFallbackStream", "FallbackClient", "FallbackStream", "fallback", "is_fallback_error"]

Opener = Callable[[Any, StreamingOptions], Any]  # (client, options) -> that client's Stream/AsyncStream
FallbackRule = Callable[[LLMStreamError], bool]


def is_fallback_error(error: LLMStreamError) -> bool:
    """The default rule: may the next client be tried after ``error``? (See the module docstring.)"""
    if isinstance(error, BadRequestError):
        return error.status_code in (404, 413)
    if isinstance(error, ProviderError):
        return True
    return isinstance(error, (StreamInterruptedError, StreamTimeoutError, InBandError, MalformedStreamError))


class _FallbackBase:
    """What the sync and async fallback streams share: the chain, the options, the bookkeeping."""

    def __init__(self, owner: FallbackClient, opener: Opener, options: StreamingOptions):
        self._clients = owner.clients
        self._should = owner.should_fallback
        self._opener = opener
        self._options = options
        self._piped: tuple[ProcessorLike, ...] = ()
        self._inner: Any = None
        self._cancelled = False
        self._finished = False
        self.errors: list[LLMStreamError] = []  # the failures fallen back from (and the last one)
        self.client: BaseClient | None = None  # the client answering now

    @property
    def completion(self) -> Completion:
        """The answering client's completion (its ``provider`` names it); before any, an empty one."""
        if self._inner is not None:
            completion: Completion = self._inner.completion
            return completion
        return Completion(finish_reason=FinishReason.CANCELLED if self._cancelled else None)

    def pipe(self, *processors: ProcessorLike) -> Self:
        """Add processors (before iterating); each client's stream gets them, reset between clients."""
        if self._inner is not None:
            raise RuntimeError("pipe() must be called before the stream is read")
        self._piped = (*self._piped, *processors)
        return self

    def _open(self, position: int) -> Any:
        processors = (*self._options.processors, *self._piped)
        if position:  # the previous client may have left state behind in a processor
            for processor in processors:
                reset = getattr(processor, "reset", None)
                if reset is not None:
                    reset()
        # on_error is ours to call: only for the error that ends the whole chain.
        options = attrs.evolve(self._options, on_error=None, processors=processors)
        self.client = self._clients[position]
        self._inner = self._opener(self.client, options)
        return self._inner

    def cancel(self) -> None:
        """Thread-safe: the answering client's stream is cancelled; no further client is tried."""
        self._cancelled = True
        if self._inner is not None:
            self._inner.cancel()

    def _moves_on(self, error: LLMStreamError, delivered: bool, position: int) -> bool:
        """Record the failure; True when the next client may take over, else the chain is over."""
        self.errors.append(error)
        last = position + 1 >= len(self._clients)
        self._finished = delivered or self._cancelled or last or not self._should(error)
        return not self._finished


def _callback_error(exc: Exception, provider: str | None) -> CallbackError:
    error = CallbackError(f"on_error callback raised {type(exc).__name__}: {exc}", provider=provider)
    error.__cause__ = exc
    return error


class FallbackStream(_FallbackBase):
    """Iterate chunks from the first client that answers; like :class:`~llmstream.Stream`."""

    def __init__(self, owner: FallbackClient, opener: Opener, options: StreamingOptions):
        super().__init__(owner, opener, options)
        self._iterator = self._run()

    def __enter__(self) -> FallbackStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[StreamedChunk]:
        return self._iterator

    def __next__(self) -> StreamedChunk:
        return next(self._iterator)

    def close(self) -> None:
        self._cancelled = self._cancelled or not self._finished
        self._iterator.close()
        if self._inner is not None:
            self._inner.close()

    def until_done(self) -> Completion:
        for _ in self._iterator:
            pass
        return self.completion

    def _run(self) -> Generator[StreamedChunk, None, None]:
        for position in range(len(self._clients)):
            if self._cancelled:
                return
            delivered = False
            try:
                stream: Stream = self._open(position)
                with stream:
                    for chunk in stream:
                        delivered = True
                        yield chunk
                self._finished = True
                return
            except LLMStreamError as error:
                if self._moves_on(error, delivered, position):
                    continue
                on_error = self._options.on_error
                if on_error is not None:
                    try:
                        call_sync(on_error, error)
                    except Exception as exc:
                        raise _callback_error(exc, error.provider) from exc
                raise


class AsyncFallbackStream(_FallbackBase):
    """The async twin of :class:`FallbackStream`, like :class:`~llmstream.AsyncStream`."""

    def __init__(self, owner: FallbackClient, opener: Opener, options: StreamingOptions):
        super().__init__(owner, opener, options)
        self._iterator = self._run()

    async def __aenter__(self) -> AsyncFallbackStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[StreamedChunk]:
        return self._iterator

    async def __anext__(self) -> StreamedChunk:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        self._cancelled = self._cancelled or not self._finished
        await self._iterator.aclose()
        if self._inner is not None:
            await self._inner.aclose()

    async def until_done(self) -> Completion:
        async for _ in self._iterator:
            pass
        return self.completion

    async def _run(self) -> AsyncGenerator[StreamedChunk, None]:
        for position in range(len(self._clients)):
            if self._cancelled:
                return
            delivered = False
            try:
                stream: AsyncStream = self._open(position)
                async with stream:
                    async for chunk in stream:
                        delivered = True
                        yield chunk
                self._finished = True
                return
            except LLMStreamError as error:
                if self._moves_on(error, delivered, position):
                    continue
                on_error = self._options.on_error
                if on_error is not None:
                    try:
                        await call_async(on_error, error)
                    except Exception as exc:
                        raise _callback_error(exc, error.provider) from exc
                raise


class FallbackClient(PublicCalls["FallbackStream", "AsyncFallbackStream"]):
    """Behaves like a client (same four calls, same signatures); see the module docstring.

    Per-call keywords (``tools``, ``max_tokens``, extras) go to every client in the chain.
    """

    provider = "fallback"

    def __init__(self, *clients: BaseClient, should_fallback: FallbackRule = is_fallback_error):
        if not clients:
            raise ConfigurationError("fallback() needs at least one client")
        self.clients: tuple[BaseClient, ...] = clients
        self.should_fallback = should_fallback

    def __repr__(self) -> str:
        return f"FallbackClient({', '.join(repr(c) for c in self.clients)})"

    def close(self) -> None:
        for client in self.clients:
            client.close()

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    @staticmethod
    def _opener(conversation: ConversationLike, asynchronous: bool, **kwargs: Any) -> Opener:
        conv = as_conversation(conversation)  # once: an iterable of messages is read only once
        kwargs["tools"] = tuple(kwargs["tools"] or ())

        def opener(client: BaseClient, options: StreamingOptions) -> Any:
            return (client.astream if asynchronous else client.stream)(conv, options=options, **kwargs)

        return opener

    def _sync_stream(
        self, conversation: ConversationLike, tools: Iterable[Tool] | None, max_tokens: int | None,
        temperature: float | None, options: StreamingOptions, extra: dict[str, Any],
    ) -> FallbackStream:
        opener = self._opener(conversation, False, tools=tools, max_tokens=max_tokens, temperature=temperature, **extra)
        return FallbackStream(self, opener, options)

    def _async_stream(
        self, conversation: ConversationLike, tools: Iterable[Tool] | None, max_tokens: int | None,
        temperature: float | None, options: StreamingOptions, extra: dict[str, Any],
    ) -> AsyncFallbackStream:
        opener = self._opener(conversation, True, tools=tools, max_tokens=max_tokens, temperature=temperature, **extra)
        return AsyncFallbackStream(self, opener, options)


def fallback(*clients: BaseClient, should_fallback: FallbackRule = is_fallback_error) -> FallbackClient:
    """A client that tries ``clients`` in order (see the module docstring for when it moves on)."""
    return FallbackClient(*clients, should_fallback=should_fallback)
