"""Does the fast OpenAI path give what the SDK path gives? Run in a fresh process.

``python bench/equivalence.py URL CHUNKS`` streams the same OpenAI body through ``OpenAIClient`` (the
SDK's models) and ``OpenAIClient(sdk_models=False)`` (llmstream decodes the body), sync and async, and
compares the chunk
sequences (``StreamedChunk`` equality ignores ``raw``) and the completions (ignoring ``stats``, which
hold timings). Prints JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _client(sdk_models: bool, url: str, chunks: int, **options: Any) -> Any:
    from llmstream import OpenAIClient

    return OpenAIClient(
        "gpt-4o-mini", api_key="sk" "-bench-not-a-real-key", base_url=url.format(chunks=chunks), sdk_models=sdk_models,
        **options,
    )


def _sync(client: Any, conversation: Any) -> tuple[list[Any], Any]:
    with client.stream(conversation) as stream:
        chunks = list(stream)
    return chunks, stream.completion


async def _async(client: Any, conversation: Any) -> tuple[list[Any], Any]:
    async with client.astream(conversation) as stream:
        chunks = [chunk async for chunk in stream]
    await client.aclose()
    return chunks, stream.completion


def main(url: str, count: int) -> None:
    import attrs

    from llmstream import Conversation, StreamStats

    conversation = Conversation().user("Write about rivers, then call the tools.")
    results: dict[str, Any] = {}
    for mode in ("sync", "async"):
        runs = []
        for sdk_models in (True, False):
            client = _client(sdk_models, url + "/openai/{chunks}/v1", count)
            if mode == "sync":
                runs.append(_sync(client, conversation))
            else:
                runs.append(asyncio.run(_async(client, conversation)))
        (native_chunks, native), (raw_chunks, raw) = runs
        first_difference = next(
            (i for i, (a, b) in enumerate(zip(native_chunks, raw_chunks, strict=False)) if a != b), None
        )
        results[mode] = {
            "chunks": len(native_chunks),
            "same_chunks": native_chunks == raw_chunks,
            "first_difference": first_difference,
            "same_completion": attrs.evolve(native, stats=StreamStats()) == attrs.evolve(raw, stats=StreamStats()),
            "text_chars": len(native.text),
            "tool_calls": len(native.tool_calls),
            "finish_reason": str(native.finish_reason),
        }
    errors = []
    for sdk_models in (True, False):  # an HTTP error status: the SDK raises, llmstream maps
        client = _client(sdk_models, url + "/nowhere/v1", count, max_retries=0)
        try:
            _sync(client, conversation)
            errors.append("no error")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    results["http_error"] = {"native": errors[0], "raw": errors[1], "same": errors[0] == errors[1]}
    results["identical"] = all(r["same_chunks"] and r["same_completion"] for r in results.values() if "chunks" in r)
    results["identical"] = results["identical"] and errors[0] == errors[1]
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
