"""The contenders that run in the project's own virtualenv, one worker process each.

``python bench/contenders.py NAME URL COUNT [WARMUP_COUNT]`` builds contender ``NAME`` against the bench
server at ``URL`` for streams of ``COUNT`` text chunks (warmed up on a stream of WARMUP_COUNT) and serves
the :mod:`protocol`. Each ``run`` opens one
stream and consumes it the way a user of that library would (the vendor SDK's own iterator consumed
bare; llmstream's iterator form, which also accumulates the completion).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol import serve

__all__ = ["CLIENTS", "CONTENDERS", "FIRST_COUNT", "make"]

_PROMPT = "Write a long essay about rivers, then call the tools."
_MESSAGES = [{"role": "user", "content": _PROMPT}]
_KEY = "sk" "-bench-not-a-real-key"

Mark = Callable[[], object] | None
Runner = Callable[..., Any]
_END = object()


def _count(stream: Any, mark: Mark) -> int:
    """Consume ``stream``, calling ``mark`` right after its first item (no per-item cost without one)."""
    iterator = iter(stream)
    events = 0
    if mark is not None:
        if next(iterator, _END) is _END:
            return 0
        mark()
        events = 1
    for _ in iterator:
        events += 1
    return events


def _base(url: str, wire: str, count: int) -> str:
    return f"{url}/{wire}/{count}"


# -- the vendor SDKs' own iterators, consumed bare ----------------------------------------------------
# Each sends the request llmstream sends (``max_tokens=64000`` in the vendor's words): google-genai, for
# one, does more work per chunk when the request has a config.


def openai_sdk(url: str, count: int) -> Runner:
    import openai

    client = openai.OpenAI(api_key=_KEY, base_url=_base(url, "openai", count) + "/v1", max_retries=0)

    def run(mark: Mark = None) -> int:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=_MESSAGES, stream=True, stream_options={"include_usage": True},
            max_completion_tokens=64000,
        )
        return _count(stream, mark)

    return run


def responses_sdk(url: str, count: int) -> Runner:
    import openai

    client = openai.OpenAI(api_key=_KEY, base_url=_base(url, "responses", count) + "/v1", max_retries=0)

    def run(mark: Mark = None) -> int:
        stream = client.responses.create(model="gpt-5-mini", input=_MESSAGES, stream=True, max_output_tokens=64000)
        return _count(stream, mark)

    return run


def anthropic_sdk(url: str, count: int) -> Runner:
    import anthropic

    client = anthropic.Anthropic(api_key=_KEY, base_url=_base(url, "anthropic", count), max_retries=0)

    def run(mark: Mark = None) -> int:
        stream = client.messages.create(model="claude-sonnet-4-5", max_tokens=64000, messages=_MESSAGES, stream=True)
        return _count(stream, mark)

    return run


def gemini_sdk(url: str, count: int) -> Runner:
    from google import genai

    options = genai.types.HttpOptions(base_url=_base(url, "gemini", count), api_version="v1beta")
    client = genai.Client(api_key=_KEY, http_options=options)

    def run(mark: Mark = None) -> int:
        stream = client.models.generate_content_stream(
            model="gemini-2.5-flash", contents=_PROMPT, config={"max_output_tokens": 64000}
        )
        return _count(stream, mark)

    return run


_FLOOR_PATHS = {
    "openai": "/v1/chat/completions",
    "openrouter": "/v1/chat/completions",
    "responses": "/v1/responses",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
}


def floor(wire: str) -> Callable[[str, int], Runner]:
    """A wire's floor: httpx2 ``iter_lines`` + one ``json.loads`` per ``data:`` line of the same bytes.

    What a hand-written client of that wire does at the least (OpenRouter's baseline since the start).
    """

    def factory(url: str, count: int) -> Runner:
        import httpx2

        http = httpx2.Client(timeout=60.0)
        endpoint = _base(url, wire, count) + _FLOOR_PATHS[wire]
        payload = {"model": "m", "messages": _MESSAGES, "stream": True}
        headers = {"Authorization": f"Bearer {_KEY}", "Accept": "text/event-stream"}
        loads = json.loads

        def run(mark: Mark = None) -> int:
            events = 0
            with http.stream("POST", endpoint, json=payload, headers=headers) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        data = line[6:]
                        if data == "[DONE]":
                            break
                        loads(data)
                        events += 1
                        if mark is not None:
                            mark()
                            mark = None
            return events

        return run

    return factory


# -- llmstream ------------------------------------------------------------------------------------------


def _llmstream(client: Any) -> Runner:
    from llmstream import Conversation

    conversation = Conversation().user(_PROMPT)

    def run(mark: Mark = None) -> list[int]:
        with client.stream(conversation, max_tokens=64000) as stream:
            chunks = _count(stream, mark)
        completion = stream.completion
        return [chunks, len(completion.text), len(completion.tool_calls)]

    return run


def llmstream_openai(url: str, count: int) -> Runner:
    import llmstream

    return _llmstream(llmstream.OpenAIClient("gpt-4o-mini", api_key=_KEY, base_url=_base(url, "openai", count) + "/v1"))


def llmstream_openai_raw(url: str, count: int) -> Runner:
    import llmstream

    base_url = _base(url, "openai", count) + "/v1"
    return _llmstream(llmstream.OpenAIClient("gpt-4o-mini", api_key=_KEY, base_url=base_url, sdk_models=False))


def llmstream_responses(url: str, count: int, sdk_models: bool = True) -> Runner:
    import llmstream

    base_url = _base(url, "responses", count) + "/v1"
    return _llmstream(llmstream.OpenAIResponsesClient("gpt-5-mini", api_key=_KEY, base_url=base_url,
                                                      sdk_models=sdk_models))


def llmstream_responses_raw(url: str, count: int) -> Runner:
    return llmstream_responses(url, count, sdk_models=False)


def llmstream_anthropic(url: str, count: int, **extra: Any) -> Runner:
    import llmstream

    base_url = _base(url, "anthropic", count)
    return _llmstream(llmstream.AnthropicClient("claude-sonnet-4-5", api_key=_KEY, base_url=base_url, **extra))


def llmstream_anthropic_raw(url: str, count: int) -> Runner:
    return llmstream_anthropic(url, count, sdk_models=False)


def llmstream_gemini(url: str, count: int, **extra: Any) -> Runner:
    import llmstream

    client = llmstream.GeminiClient(
        "gemini-2.5-flash", api_key=_KEY, base_url=_base(url, "gemini", count), api_version="v1beta", **extra
    )
    return _llmstream(client)


def llmstream_gemini_raw(url: str, count: int) -> Runner:
    return llmstream_gemini(url, count, sdk_models=False)


def llmstream_openrouter(url: str, count: int) -> Runner:
    import llmstream

    client = llmstream.OpenRouterClient(
        "openai/gpt-4o-mini", api_key=_KEY, base_url=_base(url, "openrouter", count) + "/v1"
    )
    return _llmstream(client)


CONTENDERS: dict[str, Callable[[str, int], Runner]] = {
    "openai-sdk": openai_sdk,
    "openai-llmstream": llmstream_openai,
    "openai-raw": llmstream_openai_raw,
    "responses-sdk": responses_sdk,
    "responses-llmstream": llmstream_responses,
    "responses-raw": llmstream_responses_raw,
    "anthropic-sdk": anthropic_sdk,
    "anthropic-llmstream": llmstream_anthropic,
    "anthropic-raw": llmstream_anthropic_raw,
    "gemini-sdk": gemini_sdk,
    "gemini-llmstream": llmstream_gemini,
    "gemini-raw": llmstream_gemini_raw,
    "openrouter-httpx2": floor("openrouter"),
    "openrouter-llmstream": llmstream_openrouter,
}


CONTENDERS.update({f"{wire}-floor": floor(wire) for wire in _FLOOR_PATHS if wire != "openrouter"})

# The client class behind each llmstream contender, by module and name (probed, never imported up front).
CLIENTS = {
    "openai": ("llmstream.providers.openai", "OpenAIClient"),
    "responses": ("llmstream.providers.openai_responses", "OpenAIResponsesClient"),
    "anthropic": ("llmstream.providers.anthropic", "AnthropicClient"),
    "gemini": ("llmstream.providers.gemini", "GeminiClient"),
    "openrouter": ("llmstream.providers.openrouter", "OpenRouterClient"),
}
FIRST_COUNT = 50


def make(name: str, url: str, count: int) -> Runner:
    return CONTENDERS[name](url, count)


def _streams(name: str, url: str, count: int, warm: int, streams: int) -> None:
    """Warm up, then run ``streams`` streams and exit (the callgrind count takes 3 minus 1 of them)."""
    make(name, url, warm)()
    run = make(name, url, count)
    for _ in range(streams):
        run()


if __name__ == "__main__":
    name, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    warm = int(sys.argv[4]) if len(sys.argv) > 4 else count
    if "--streams" in sys.argv:
        _streams(name, url, count, warm, int(sys.argv[sys.argv.index("--streams") + 1]))
        sys.exit(0)
    serve(
        make(name, url, count), warmup=make(name, url, warm) if warm != count else None,
        first=make(name, url, FIRST_COUNT),
    )
