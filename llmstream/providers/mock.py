"""MockClient: a scripted provider for users' own tests, running through the real stream shells.

``llmstream.client("mock:echo")`` echoes the last user message back word by word; give ``text=``,
``chunks=`` or ``responses=`` (one script per call) for anything else, ``delay=`` for a pace, and
``fail_at=k`` to raise ``error`` before scripted chunk ``k`` (``fail_times`` attempts only, so
retries can be exercised).
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from .._client import BaseClient
from .._errors import LLMStreamError, StreamInterruptedError
from .._policy import Request
from .._types import ChunkType, FinishReason, StreamedChunk, ToolCall, ToolCallDelta, Usage

__all__ = ["MockClient", "script_for_text"]

Script = str | Sequence[StreamedChunk]
_WORDS = re.compile(r"\s*\S+\s*|\s+")


def script_for_text(
    text: str, *, model: str = "mock", tool_calls: Sequence[ToolCall] = (), input_tokens: int = 0
) -> list[StreamedChunk]:
    """The chunks a real provider would send for ``text`` (one per word) and ``tool_calls``."""
    words = _WORDS.findall(text)
    chunks = [StreamedChunk(ChunkType.START, id="mock-1", model=model)]
    chunks += [StreamedChunk(ChunkType.TEXT, word) for word in words]
    for index, call in enumerate(tool_calls):
        delta = ToolCallDelta(index, call.id, call.name, "")
        chunks.append(StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=delta))
        fragment = ToolCallDelta(index, arguments=call.arguments)
        chunks.append(StreamedChunk(ChunkType.TOOL_CALL_DELTA, tool_call=fragment))
        full = ToolCallDelta(index, call.id, call.name, call.arguments)
        chunks.append(StreamedChunk(ChunkType.TOOL_CALL_END, tool_call=full))
    chunks.append(StreamedChunk(ChunkType.USAGE, usage=Usage(input_tokens=input_tokens, output_tokens=len(words))))
    reason = FinishReason.TOOL_CALLS if tool_calls else FinishReason.STOP
    chunks.append(StreamedChunk(ChunkType.STOP, finish_reason=reason, raw_finish_reason=reason.value))
    return chunks


class _PassThrough:
    """The mock's events already are StreamedChunks."""

    __slots__ = ()

    def translate(self, event: StreamedChunk) -> tuple[StreamedChunk]:
        return (event,)

    def end(self) -> tuple[()]:
        return ()


class _Scripted:
    """A native stream over a script, sync and async, closable like a vendor's."""

    def __init__(self, chunks: Sequence[StreamedChunk], delay: float, fail_at: int | None, error: LLMStreamError):
        self._chunks = chunks
        self._delay = delay
        self._fail_at = fail_at
        self._error = error
        self.closed = False

    def __iter__(self) -> Iterator[StreamedChunk]:
        for index, chunk in enumerate(self._chunks):
            if self.closed:
                return
            if index == self._fail_at:
                raise copy.copy(self._error)
            if self._delay:
                time.sleep(self._delay)
            yield chunk
        if self._fail_at is not None and self._fail_at >= len(self._chunks):
            raise copy.copy(self._error)

    async def _aiter(self) -> AsyncIterator[StreamedChunk]:
        for index, chunk in enumerate(self._chunks):
            if self.closed:
                return
            if index == self._fail_at:
                raise copy.copy(self._error)
            if self._delay:
                await asyncio.sleep(self._delay)
            yield chunk
        if self._fail_at is not None and self._fail_at >= len(self._chunks):
            raise copy.copy(self._error)

    def __aiter__(self) -> AsyncIterator[StreamedChunk]:
        return self._aiter()

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True

    def cancel(self) -> None:
        self.closed = True


class MockClient(BaseClient):
    """A provider that needs no key and no network; records every request in ``requests``."""

    provider = "mock"
    key_optional = True

    def __init__(
        self,
        model: str = "echo",
        *,
        text: str | None = None,
        chunks: Sequence[StreamedChunk] | None = None,
        responses: Sequence[Script] | None = None,
        delay: float = 0.0,
        fail_at: int | None = None,
        fail_times: int | None = None,
        error: LLMStreamError | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retry_backoff", 0.0)
        super().__init__(model, **kwargs)
        scripts: list[Script] = list(responses or ())
        if chunks is not None:
            scripts.append(list(chunks))
        elif text is not None:
            scripts.append(text)
        self._scripts = scripts
        self._calls = 0
        self.delay = delay
        self.fail_at = fail_at
        self.fail_times = fail_times
        self.error = error or StreamInterruptedError("mock: connection dropped", provider=self.provider)
        self.requests: list[Request] = []
        self._failures = 0

    def _script(self, request: Request) -> list[StreamedChunk]:
        if self._scripts:
            script = self._scripts[min(self._calls, len(self._scripts) - 1)]
        else:  # echo the last user message
            users = [m.text for m in request.conversation.messages if m.role == "user"]
            script = users[-1] if users else ""
        self._calls += 1
        if isinstance(script, str):
            prompt_words = sum(len(m.text.split()) for m in request.conversation.messages)
            return script_for_text(script, model=request.model, input_tokens=prompt_words)
        return list(script)

    def _native(self, request: Request) -> _Scripted:
        self.requests.append(request)
        fail_at = self.fail_at
        if fail_at is not None and self.fail_times is not None:
            if self._failures >= self.fail_times:
                fail_at = None
            else:
                self._failures += 1
        return _Scripted(self._script(request), self.delay, fail_at, self.error)

    def _open(self, request: Request) -> _Scripted:
        return self._native(request)

    async def _aopen(self, request: Request) -> _Scripted:
        return self._native(request)

    def _translator(self, request: Request) -> _PassThrough:
        return _PassThrough()
