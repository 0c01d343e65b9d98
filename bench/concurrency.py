"""Many concurrent async streams through llmstream's real OpenAI async path, in a fresh process.

``python bench/concurrency.py URL STREAMS CHUNKS ROUNDS SEQUENTIAL`` runs, ROUNDS times and
interleaved: SEQUENTIAL single streams one after another (the baseline), then STREAMS streams at once
(``asyncio.gather`` of ``AsyncStream`` iterations over one ``OpenAIClient``); then the baseline once
more. Each stream carries CHUNKS text chunks plus two tool calls. Prints JSON: CPU per wire event for
both (medians), errors, and whether every stream's completion was whole.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wire import body, text_pieces


async def _one(client: Any, conversation: Any, expected: int) -> bool:
    async with client.astream(conversation) as stream:
        async for _ in stream:
            pass
    completion = stream.completion
    return len(completion.text) == expected and len(completion.tool_calls) == 2


async def _main(url: str, streams: int, chunks: int, rounds: int, sequential: int) -> dict[str, Any]:
    import llmstream
    from llmstream import Conversation

    client = llmstream.OpenAIClient(
        "gpt-4o-mini", api_key="sk" "-bench-not-a-real-key", base_url=f"{url}/openai/{chunks}/v1", max_retries=0,
        timeout=60.0,
    )
    conversation = Conversation().user("Write about rivers.")
    expected = len("".join(text_pieces(chunks)))
    events = body("openai", chunks).events
    await _one(client, conversation, expected)  # warm-up: imports, the SDK client, the pool

    single: list[float] = []
    many: list[float] = []
    errors: list[str] = []
    incomplete = 0
    async def one_at_a_time() -> None:
        nonlocal incomplete
        before = time.process_time()
        for _ in range(sequential):
            if not await _one(client, conversation, expected):
                incomplete += 1
        single.append((time.process_time() - before) / (sequential * events))

    for _ in range(rounds):
        await one_at_a_time()
        before = time.process_time()
        results = await asyncio.gather(
            *(_one(client, conversation, expected) for _ in range(streams)), return_exceptions=True
        )
        many.append((time.process_time() - before) / (streams * events))
        for result in results:
            if isinstance(result, BaseException):
                errors.append(f"{type(result).__name__}: {result}")
            elif not result:
                incomplete += 1
    await one_at_a_time()
    await client.aclose()
    return {
        "streams": streams,
        "chunks": chunks,
        "events_per_stream": events,
        "rounds": rounds,
        "single_cpu_per_event": statistics.median(single),
        "concurrent_cpu_per_event": statistics.median(many),
        "errors": len(errors),
        "first_errors": sorted(set(errors))[:3],
        "incomplete": incomplete,
    }


def main() -> None:
    url, streams, chunks, rounds, sequential = sys.argv[1], *map(int, sys.argv[2:6])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    print(json.dumps(asyncio.run(_main(url, streams, chunks, rounds, sequential))))


if __name__ == "__main__":
    main()
