"""Ask three providers at once and watch their answers interleave (asyncio.gather).

Three MockClients stand in for OpenAI, Anthropic and Gemini, each at its own pace; swap them for
``llmstream.client("openai:gpt-4o-mini")`` and friends to run it for real.

    python examples/async_fanout.py
"""

from __future__ import annotations

import asyncio

import llmstream
from llmstream import BaseClient, Completion, StreamedChunk

PROMPT = "Name a river."
ANSWERS = {
    "openai": ("The Danube flows through ten countries.", 0.010),
    "anthropic": ("The Amazon carries the most water.", 0.017),
    "gemini": ("The Nile is the longest, by most counts.", 0.023),
}


async def ask(name: str, client: BaseClient) -> Completion:
    def show(chunk: StreamedChunk) -> None:
        if chunk.text:
            print(f"[{name:>9}] {chunk.text.strip()}", flush=True)

    return await client.astream_complete(PROMPT, on_chunk=show)


async def fan_out() -> dict[str, Completion]:
    clients = {name: llmstream.MockClient(name, text=text, delay=delay) for name, (text, delay) in ANSWERS.items()}
    completions = await asyncio.gather(*(ask(name, client) for name, client in clients.items()))
    return dict(zip(clients, completions, strict=True))


def main() -> None:
    completions = asyncio.run(fan_out())
    print()
    for name, completion in completions.items():
        print(f"{name:>9}: {completion.text}  ({completion.stats.duration_ms:.0f} ms)")


if __name__ == "__main__":
    main()
