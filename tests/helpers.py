"""Run the same scenario through the sync and the async shell."""

from __future__ import annotations

import asyncio
from typing import Any

from llmstream import BaseClient, Completion, LLMStreamError, StreamedChunk


def complete(client: BaseClient, conversation: Any, mode: str, **kwargs: Any) -> Completion:
    if mode == "sync":
        return client.stream_complete(conversation, **kwargs)
    return asyncio.run(client.astream_complete(conversation, **kwargs))


def collect(client: BaseClient, conversation: Any, mode: str, **kwargs: Any) -> tuple[list[StreamedChunk], Completion]:
    """All chunks through the iterator form, and the completion after."""
    if mode == "sync":
        with client.stream(conversation, **kwargs) as stream:
            chunks = list(stream)
        return chunks, stream.completion

    async def run() -> tuple[list[StreamedChunk], Completion]:
        async with client.astream(conversation, **kwargs) as stream:
            chunks = [chunk async for chunk in stream]
        return chunks, stream.completion

    return asyncio.run(run())


def failure(client: BaseClient, conversation: Any, mode: str, **kwargs: Any) -> tuple[LLMStreamError, list[str]]:
    """The error a stream raises, and the text deltas the caller received before it."""
    seen: list[str] = []
    try:
        complete(client, conversation, mode, on_chunk=lambda c: seen.append(c.text) if c.text else None, **kwargs)
    except LLMStreamError as error:
        return error, seen
    raise AssertionError("the stream did not fail")
