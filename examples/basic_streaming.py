"""Stream an answer to the terminal as it arrives, with one callback.

    python examples/basic_streaming.py                       # the mock provider: no key, no network
    python examples/basic_streaming.py openai:gpt-4o-mini    # a real one (OPENAI_API_KEY in the environment)
"""

from __future__ import annotations

import sys

import llmstream
from llmstream import Conversation, StreamedChunk


def show(chunk: StreamedChunk) -> None:
    # str(chunk) is the text delta ("" for usage, stop and the other events), so this prints only text.
    print(chunk, end="", flush=True)


def main(model: str = "mock:echo") -> None:
    # The mock echoes the prompt back word by word; a small delay makes the streaming visible.
    client = llmstream.client(model, delay=0.04) if model.startswith("mock:") else llmstream.client(model)
    conversation = Conversation().system("Be brief.").user("Each word is printed the moment it arrives.")
    completion = client.stream_complete(conversation, on_chunk=show)
    print()
    usage = completion.usage
    tokens = f"{usage.input_tokens} in, {usage.output_tokens} out" if usage else "no usage reported"
    print(f"[{completion.finish_reason} · {tokens} · {completion.stats.duration_ms:.0f} ms]")


if __name__ == "__main__":
    main(*sys.argv[1:2])
