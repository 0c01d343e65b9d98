"""The project's own cassettes (``cassettes/<provider>/<test>.yaml``, ``cassettes/demo/``), replayed offline.

Each test streams through the real llmstream client of its provider with ``base_url=None`` (the
vendor's real endpoint): vcrpy, configured by ``llmstream.testing.vcr_config()``, answers from the
cassette and nothing reaches the network (``record_mode="none"``, and pytest-recording blocks
sockets). A test fails when its cassette is not played completely or holds anything key-shaped.

Recording:

- ``make record`` (``LLMSTREAM_RECORD=1 … --record-mode=once``) re-records every cassette from the
  real APIs with the keys of the environment (they are read when this module is imported, because
  the suite's autouse fixture hides them from every test).
- ``pytest tests/test_project_cassettes.py --record-mode=rewrite`` without ``LLMSTREAM_RECORD``
  records them from the loopback server, rewriting the URIs to the real endpoints; such cassettes
  start with the comment :data:`LOOPBACK_COMMENT`. That is how the committed ones were made.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest
import yaml
from vcr.persisters.filesystem import FilesystemPersister

import llmstream
from llmstream import BaseClient, ChunkType, Completion, Conversation, FinishReason, Tool
from llmstream.testing import SCRUBBED_HEADERS, assert_no_secrets
from llmstream.testing import vcr_config as llmstream_vcr_config
from tests.helpers import collect
from tests.loopback import (
    LoopbackServer,
    Scripted,
    anthropic_stream,
    anthropic_text_events,
    gemini_stream,
    gemini_text_responses,
    openai_stream,
    openai_text_chunks,
)

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
LOOPBACK_COMMENT = "# recorded from the llmstream loopback server, not the real API; re-record with make record\n"
RECORD_REAL = os.environ.get("LLMSTREAM_RECORD") == "1"
# Read at import time: tests/conftest.py removes these variables from every test's environment.
REAL_KEYS = {
    "openai": os.environ.get("OPENAI_API_KEY"),
    "anthropic": os.environ.get("ANTHROPIC_API_KEY"),
    "gemini": os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"),
    "openrouter": os.environ.get("OPENROUTER_API_KEY"),
}
REAL_ROOTS = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "openrouter": "https://openrouter.ai",
}
LOOPBACK_BASE = {"openai": "/v1", "anthropic": "", "gemini": "", "openrouter": "/api/v1"}
MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
    "openrouter": "openai/gpt-4o-mini",
}
PROVIDERS = sorted(MODELS)
WEATHER = Tool(
    "get_weather",
    "Current weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")


# -- vcrpy configuration -------------------------------------------------------------------------------


def recording_from_loopback(config: pytest.Config) -> bool:
    return not RECORD_REAL and (config.getoption("--record-mode") or "none") != "none"


class LoopbackPersister(FilesystemPersister):
    """Saves cassettes with :data:`LOOPBACK_COMMENT` on top, so that nobody mistakes them for real traffic."""

    @staticmethod
    def save_cassette(cassette_path: Any, cassette_dict: Any, serializer: Any) -> None:
        FilesystemPersister.save_cassette(cassette_path, cassette_dict, serializer)
        path = Path(cassette_path)
        path.write_text(LOOPBACK_COMMENT + path.read_text(encoding="utf-8"), encoding="utf-8")


def as_real_endpoint(request: Any) -> Any:
    """Loopback URIs become the real endpoint they stand for, so that playback matches the real host."""
    url = urlsplit(request.uri)
    if url.hostname != "127.0.0.1":
        return request
    if url.path.startswith("/api/v1/"):
        root = REAL_ROOTS["openrouter"]
    elif url.path.endswith("/chat/completions"):
        root = REAL_ROOTS["openai"]
    elif url.path.endswith("/messages"):
        root = REAL_ROOTS["anthropic"]
    else:
        root = REAL_ROOTS["gemini"]
    request.uri = root + url.path + (f"?{url.query}" if url.query else "")
    if "host" in request.headers:
        request.headers["host"] = urlsplit(root).netloc
    return request


def provider_of(request: pytest.FixtureRequest) -> str:
    params = request.node.callspec.params  # type: ignore[attr-defined]
    return str(params["provider"]) if "provider" in params else DEMOS[params["demo"]][0]


@pytest.fixture
def vcr_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """``llmstream.testing.vcr_config()`` plus this suite's recording modes."""
    record_mode = request.config.getoption("--record-mode") or "none"
    if RECORD_REAL:
        provider = provider_of(request)
        if not REAL_KEYS[provider]:  # checked before pytest-recording deletes the cassette to rewrite it
            pytest.skip(f"LLMSTREAM_RECORD=1 but no {provider} key in the environment: its cassette is kept")
        record_mode = "rewrite"  # `make record` says "once", which would keep the existing files
    config = llmstream_vcr_config(record_mode=record_mode, before_record_request=as_real_endpoint)
    if recording_from_loopback(request.config):
        config["persister"] = LoopbackPersister
    return config


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    """``cassettes/<provider>/<test>.yaml``; the demo streams go to ``cassettes/demo/<name>.yaml``."""
    params = request.node.callspec.params  # type: ignore[attr-defined]
    if "demo" in params:
        return f"demo/{params['demo']}"
    return f"{params['provider']}/{request.node.originalname.removeprefix('test_')}"  # type: ignore[attr-defined]


def client_for(provider: str, script: list[bytes], request: pytest.FixtureRequest) -> BaseClient:
    """The provider's real client: at the real endpoint (playback, or recording with real keys), or
    at the loopback server serving ``script`` (recording without keys)."""
    kwargs: dict[str, Any] = {"max_retries": 0}
    if RECORD_REAL:
        return llmstream.client(f"{provider}:{MODELS[provider]}", api_key=REAL_KEYS[provider], **kwargs)
    base_url = None
    if recording_from_loopback(request.config):
        server: LoopbackServer = request.getfixturevalue("loopback")
        server.enqueue(Scripted(chunks=script))
        base_url = server.url + LOOPBACK_BASE[provider]
    return llmstream.client(f"{provider}:{MODELS[provider]}", api_key="test-key", base_url=base_url, **kwargs)


# -- scripted loopback streams (what the committed cassettes hold until `make record`) -----------------

PROCESSING = b": OPENROUTER PROCESSING\n\n"


def openai_tool_script(provider: str) -> list[bytes]:
    chunks = openai_text_chunks(
        ["It's", " worth", " checking", " the", " live", " weather", " for", " Paris", "."],
        model="gpt-4o-mini-2024-07-18",
        id="chatcmpl-CRfZ3PIxnE4kVt9qkWdh1LbW5gT7a",
        tool_calls=[{"id": "call_x3Qd7JmVpWn2Hs8LkT5bR1cE", "name": "get_weather",
                     "arguments_pieces": ['{"', "city", '":"', "Paris", '"}']}],
        usage={"prompt_tokens": 71, "completion_tokens": 24, "total_tokens": 95,
               "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
    )
    if provider == "openai":
        return openai_stream(chunks)
    # OpenRouter: its own ids and provider field, keep-alive comments, and a cost in the usage.
    for chunk in chunks:
        chunk.update(id="gen-1763790421-Xk2PqLm9RtVw4Ys7Bn3D", model="openai/gpt-4o-mini", provider="OpenAI")
        if chunk.get("usage"):
            chunk["usage"] = {**chunk["usage"], "cost": 0.00002505, "is_byok": False}
    frames = openai_stream(chunks)
    return [PROCESSING, *frames[:1], PROCESSING, *frames[1:]]


def with_message_id(events: list[tuple[str, dict[str, Any]]], message_id: str) -> list[bytes]:
    """The builder's events with a message id shaped like Anthropic's."""
    events[0][1]["message"]["id"] = message_id
    return anthropic_stream(events)


def anthropic_tool_script() -> list[bytes]:
    events = anthropic_text_events(
        ["I'll check", " the current weather", " in Paris for you."],
        model="claude-haiku-4-5-20251001",
        input_tokens=412,
        output_tokens=67,
        tool_uses=[{"id": "toolu_01Hq8VbN3xKcR7mTfW2yLpZs", "name": "get_weather",
                    "input_pieces": ['{"city', '": "Pari', 's"}']}],
    )
    return with_message_id(events, "msg_01NfQx4Rk8TbV2mYc7Lw3HsZ")


def gemini_tool_script() -> list[bytes]:
    return gemini_stream(
        gemini_text_responses(
            ["Let me look up", " the weather in Paris."],
            model_version="gemini-2.5-flash",
            function_calls=[{"name": "get_weather", "args": {"city": "Paris"}}],
            prompt_tokens=58,
            candidates_tokens=19,
            response_id="7ZMhaf3yO4Sbz7IPr8WG-Q4",
        )
    )


TOOL_SCRIPTS: dict[str, Callable[[], list[bytes]]] = {
    "openai": lambda: openai_tool_script("openai"),
    "openrouter": lambda: openai_tool_script("openrouter"),
    "anthropic": anthropic_tool_script,
    "gemini": gemini_tool_script,
}

RIVERS = (
    "Rivers are the planet's patient sculptors. Over millions of years, flowing water carves canyons, "
    "builds deltas and spreads fertile silt across floodplains. The Amazon alone carries about a fifth "
    "of all the fresh water that reaches the oceans, and the Nile's yearly floods made farming possible "
    "in ancient Egypt."
)


def word_pieces(text: str) -> list[str]:
    """Token-like pieces: each word with its leading space, punctuation on its own."""
    import re

    return re.findall(r"\s?[\w']+|[^\w\s]", text)


def demo_script(name: str) -> list[bytes]:
    if name == "openai_text":
        pieces = word_pieces(RIVERS)
        return openai_stream(openai_text_chunks(
            pieces, model="gpt-4o-mini-2024-07-18", id="chatcmpl-CRg0aT5bWq1Lm8ZkPy3Xv6Ns2Jd4h",
            usage={"prompt_tokens": 27, "completion_tokens": len(pieces), "total_tokens": 27 + len(pieces),
                   "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
        ))
    if name == "anthropic_thinking":
        thinking = word_pieces(
            "The user wants one surprising fact about rivers. Meanders are a good one: water flows faster on "
            "the outside of a bend, erodes that bank and drops sediment on the inside, so bends grow until "
            "they cut themselves off as oxbow lakes."
        )
        answer = word_pieces(
            "Rivers almost never run straight. Faster water on the outside of each bend wears the bank away "
            "while slower water on the inside drops sand, so the loops keep growing until the river cuts "
            "through the neck and leaves an oxbow lake behind."
        )
        signature = (
            "EuYBCkYIBxgCKkBrZWVwIHRoaXMgc2lnbmF0dXJlIGludGFjdDogaXQgdmVyaWZpZXMgdGhlIHRoaW5raW5nIGJsb2Nr"
            "EgxMb29wYmFja0RlbW8aDGxsbXN0cmVhbS1kZW1vIjBsb29wYmFjay1yZWNvcmRlZC1zaWduYXR1cmUtbm90LWZyb20tYW50aHJvcGlj"
        )
        events = anthropic_text_events(
            answer, model="claude-haiku-4-5-20251001", input_tokens=46, output_tokens=158,
            thinking_pieces=thinking, signature=signature,
        )
        return with_message_id(events, "msg_01Kd8WmZ3qTx7Rb2Vn5LyHcF")
    if name == "openai_parallel_tools":
        calls = [
            {"id": "call_Vb7kQ2mXn9Lp4Rt8Hs1dZw3E", "name": "get_weather",
             "arguments_pieces": ['{"ci', 'ty": "', "Paris", '"}']},
            {"id": "call_Jt5nW8cYq2Fm6Kd1Ps9xBv4R", "name": "get_weather",
             "arguments_pieces": ['{"ci', 'ty": "', "Tokyo", '"}']},
        ]
        return openai_stream(openai_text_chunks(
            [], model="gpt-4o-mini-2024-07-18", id="chatcmpl-CRg2Lk9PzQ4wTn7Ye1Hb5Xs8Vm3cF", tool_calls=calls,
            usage={"prompt_tokens": 64, "completion_tokens": 46, "total_tokens": 110,
                   "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
        ))
    raise AssertionError(name)


# -- the tests ---------------------------------------------------------------------------------------------


def is_playback(request: pytest.FixtureRequest) -> bool:
    return not RECORD_REAL and (request.config.getoption("--record-mode") or "none") == "none"


def stream_both_ways(
    client: BaseClient, conversation: Conversation, cassette: Any, request: pytest.FixtureRequest, **kwargs: Any
) -> Completion:
    """Stream sync (recording or playback); in playback, rewind the cassette and stream it async too:
    both shells must give the same completion, and each must play the cassette exactly once."""
    chunks, completion = collect(client, conversation, "sync", **kwargs)
    assert completion.error is None, completion.error
    assert chunks[0].type is ChunkType.START and chunks[-1].type in (ChunkType.STOP, ChunkType.USAGE)
    if not is_playback(request):
        assert len(cassette) == 1, "one stream, one recorded interaction"
        return completion
    assert cassette.all_played and cassette.play_count == 1, f"{cassette._path} was not played exactly once"
    cassette.rewind()
    async_chunks, async_completion = collect(client, conversation, "async", **kwargs)
    assert cassette.all_played and cassette.play_count == 1
    assert async_chunks == chunks
    assert attrs.evolve(async_completion, stats=completion.stats) == completion
    return completion


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.parametrize("provider", PROVIDERS)
def test_text_tool_call_and_usage(provider: str, vcr: Any, request: pytest.FixtureRequest) -> None:
    conversation = Conversation().system("Be brief.").user(
        "What's the weather in Paris? Say one short sentence first, then call get_weather."
    )
    client = client_for(provider, TOOL_SCRIPTS[provider](), request)
    completion = stream_both_ways(client, conversation, vcr, request, tools=[WEATHER])
    assert completion.text.strip()
    assert [(call.name, call.args) for call in completion.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert completion.tool_calls[0].id
    assert completion.finish_reason is FinishReason.TOOL_CALLS
    assert completion.usage is not None and completion.usage.input_tokens > 0 and completion.usage.output_tokens > 0


DEMOS = {
    "openai_text": ("openai", Conversation().system("Answer in a short paragraph.").user(
        "Tell me something interesting about rivers."), {}),
    "anthropic_thinking": ("anthropic", Conversation().user("Tell me one surprising fact about rivers."),
                           {"max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}}),
    "openai_parallel_tools": ("openai", Conversation().user("What's the weather in Paris and in Tokyo?"),
                              {"tools": [WEATHER]}),
}


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.parametrize("demo", sorted(DEMOS))
def test_demo(demo: str, vcr: Any, request: pytest.FixtureRequest) -> None:
    """The streams ``llmstream demo`` replays (through ``llmstream.testing.replay``)."""
    provider, conversation, kwargs = DEMOS[demo]
    completion = stream_both_ways(client_for(provider, demo_script(demo), request), conversation, vcr, request,
                                  **kwargs)
    assert completion.usage is not None and completion.usage.output_tokens > 0
    if demo == "openai_text":
        assert completion.stats.chunks >= 40 and completion.text.count(". ") >= 2 and "river" in completion.text.lower()
        assert completion.finish_reason is FinishReason.STOP
    elif demo == "anthropic_thinking":
        assert completion.reasoning and completion.text
        assert completion.reasoning_blocks and completion.reasoning_blocks[0].signature
    else:
        assert [call.name for call in completion.tool_calls] == ["get_weather", "get_weather"]
        assert {call.args["city"] for call in completion.tool_calls} == {"Paris", "Tokyo"}
        assert completion.finish_reason is FinishReason.TOOL_CALLS


# -- hygiene of every committed cassette ------------------------------------------------------------------


def all_cassettes() -> list[Path]:
    return sorted(CASSETTES.rglob("*.yaml"))


def test_cassettes_hold_no_secrets() -> None:
    assert_no_secrets(CASSETTES)
    for path in all_cassettes():
        for interaction in yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]:
            headers = {name.lower() for name in interaction["request"]["headers"]}
            assert not headers & set(SCRUBBED_HEADERS), f"{path}: unscrubbed {headers & set(SCRUBBED_HEADERS)}"
            assert "key=" not in urlsplit(interaction["request"]["uri"]).query
            assert not {n.lower() for n in interaction["response"]["headers"]} & {"set-cookie"}


def test_every_cassette_belongs_to_a_test() -> None:
    """No stale cassette; loopback-made ones say so on their first line and point at real endpoints."""
    expected = {f"{provider}/text_tool_call_and_usage.yaml" for provider in PROVIDERS}
    expected |= {f"demo/{name}.yaml" for name in DEMOS}
    assert {str(path.relative_to(CASSETTES)) for path in all_cassettes()} == expected
    for path in all_cassettes():
        text = path.read_text(encoding="utf-8")
        for interaction in yaml.safe_load(text)["interactions"]:
            assert urlsplit(interaction["request"]["uri"]).hostname != "127.0.0.1", path
        if text.startswith(LOOPBACK_COMMENT):
            assert "127.0.0.1" not in text, f"{path} still names the loopback server"
