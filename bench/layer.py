"""llmstream's own per-chunk cost, without the network and the vendor SDK's decoding, in a fresh process.

``python bench/layer.py URL CHUNKS ROUNDS`` captures each provider's native events once (the vendor
SDK's models; OpenRouter's event dicts), then replays the list through ``client.stream()`` with a
client whose ``_open`` returns the list: what remains is exactly llmstream's work per event (translate,
accumulate, hold/deliver, the shell's generator). Prints JSON: microseconds per wire event (median).
A provider whose client cannot be built is reported with its error.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contenders

_KEY = "sk" "-bench-not-a-real-key"


class _Replay:
    def __init__(self, events: list[Any]) -> None:
        self.events = events

    def __iter__(self) -> Iterator[Any]:
        return iter(self.events)

    def close(self) -> None:
        pass


def _capture(wire: str, url: str, count: int) -> tuple[type, list[Any], dict[str, Any]]:
    import llmstream

    base = f"{url}/{wire}/{count}"
    if wire == "openai":
        import openai

        sdk = openai.OpenAI(api_key=_KEY, base_url=base + "/v1", max_retries=0)
        stream = sdk.chat.completions.create(
            model="m", messages=contenders._MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        return llmstream.OpenAIClient, list(stream), {"base_url": base + "/v1"}
    if wire == "anthropic":
        import anthropic

        sdk = anthropic.Anthropic(api_key=_KEY, base_url=base, max_retries=0)
        events = list(sdk.messages.create(model="m", max_tokens=10, messages=contenders._MESSAGES, stream=True))
        return llmstream.AnthropicClient, events, {"base_url": base}
    if wire == "gemini":
        from google import genai

        options = genai.types.HttpOptions(base_url=base, api_version="v1beta")
        sdk = genai.Client(api_key=_KEY, http_options=options)
        events = list(sdk.models.generate_content_stream(model="m", contents="x"))
        return llmstream.GeminiClient, events, {"base_url": base, "api_version": "v1beta"}
    import httpx2

    from llmstream.providers.openrouter import JSONEventParser

    parser = JSONEventParser("openrouter")
    events = []
    with httpx2.stream("POST", base + "/v1/chat/completions", json={}) as response:
        for data in response.iter_bytes():
            events += parser.feed(data)
    return llmstream.OpenRouterClient, events, {"base_url": base + "/v1"}


def _replayer(cls: type, events: list[Any], options: dict[str, Any]) -> Callable[[], Any]:
    from llmstream import Conversation

    class Replayed(cls):  # type: ignore[valid-type, misc]
        def _open(self, request: Any) -> _Replay:
            return _Replay(events)

        def _warm(self, *, asynchronous: bool) -> None:
            pass

    client = Replayed("m", api_key=_KEY, **options)
    conversation = Conversation().user("x")

    def run() -> Any:
        with client.stream(conversation) as stream:
            for _ in stream:
                pass
        return stream.completion

    return run


def _median_cpu(run: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        before = time.process_time()
        run()
        times.append(time.process_time() - before)
    return statistics.median(times)


def main(url: str, count: int, rounds: int) -> None:
    out: dict[str, Any] = {}
    for wire in ("openai", "anthropic", "gemini", "openrouter"):
        try:
            cls, events, options = _capture(wire, url, count)
            run = _replayer(cls, events, options)
            run()
        except Exception as exc:
            out[wire] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        bare = _median_cpu(lambda events=events: [None for _ in events], rounds)
        full = _median_cpu(run, rounds)
        out[wire] = {"events": len(events), "us_per_event": (full - bare) / len(events) * 1e6}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
