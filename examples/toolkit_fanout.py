"""Fan-out: stream three answers at once; one fails midway and the others still complete.

Runs with no API key (the mock provider): ``python examples/toolkit_fanout.py``.
"""

from __future__ import annotations

import asyncio

import llmstream
from llmstream import ChunkType
from llmstream.fanout import amerge, merge


def clients() -> dict[str, llmstream.BaseClient]:
    return {
        "echo": llmstream.client("mock:echo"),
        "poet": llmstream.MockClient(text="rivers run to the sea"),
        "flaky": llmstream.MockClient(text="this one will drop", fail_at=3, max_retries=0),
    }


def main() -> None:
    streams = {name: c.stream("compare these answers") for name, c in clients().items()}
    with merge(streams) as merged:
        for source, chunk in merged:  # as they arrive, interleaved
            if chunk.type is ChunkType.ERROR:
                print(f"{source}: failed ({type(chunk.error).__name__})")
    for source, completion in merged.completions.items():
        status = "error" if completion.error else completion.finish_reason
        print(f"{source}: {completion.text!r} [{status}]")

    async def run_async() -> dict[str, str]:
        async with amerge({name: c.astream("async too") for name, c in clients().items()}) as amerged:
            async for _ in amerged:
                pass
        return {source: c.text for source, c in amerged.completions.items()}

    print("async:", asyncio.run(run_async()))


if __name__ == "__main__":
    main()
