"""llmstream.testing: the cassette configuration, the secret scan, and replay()/areplay()."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import llmstream
import llmstream._replay
import llmstream.testing
from llmstream import (
    AuthenticationError,
    ChunkType,
    Completion,
    ConfigurationError,
    StreamedChunk,
    StreamingAccumulator,
)
from llmstream.testing import (
    SCRUBBED_HEADERS,
    areplay,
    assert_no_secrets,
    find_secrets,
    replay,
    vcr_config,
    vcr_config_fixture,  # noqa: F401 - registers the "vcr_config" fixture for this module, as users do
)
from tests.conftest import SHARED_CASSETTES
from tests.oracles import corpus, expect_matches, oracle, shared_ssl_context

ROOT = Path(__file__).resolve().parents[1]
PROJECT_CASSETTES = sorted((ROOT / "cassettes").rglob("*.yaml"))
DEMOS = ROOT / "cassettes" / "demo"
SHARED = list(corpus(SHARED_CASSETTES))  # the Responses API's recordings (openai_responses/) included

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def _ssl() -> Iterator[None]:
    with shared_ssl_context():
        yield


def accumulate(chunks: list[StreamedChunk]) -> Completion:
    return StreamingAccumulator().add_all(chunks).completion()


# -- the cassette configuration -----------------------------------------------------------------------


def test_vcr_config_scrubs_keys_and_replays_strictly() -> None:
    config = vcr_config()
    assert set(config["filter_headers"]) == {"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie"}
    assert config["filter_query_parameters"] == ["key"]
    assert config["decode_compressed_response"] is True
    assert config["allow_playback_repeats"] is False
    assert config["record_mode"] == "none"
    assert vcr_config(record_mode="once", match_on=["method", "path"])["match_on"] == ["method", "path"]


def test_set_cookie_is_dropped_from_recorded_responses() -> None:
    response = {"headers": {"Set-Cookie": ["__cf_bm=abc"], "content-type": ["text/event-stream"]}}
    assert vcr_config()["before_record_response"](response)["headers"] == {"content-type": ["text/event-stream"]}


def test_the_fixture_follows_record_mode(vcr_config: dict[str, Any], request: pytest.FixtureRequest) -> None:
    """``vcr_config`` here is llmstream's fixture (imported above): "none" unless --record-mode says."""
    assert vcr_config["record_mode"] == (request.config.getoption("--record-mode") or "none")
    assert vcr_config["filter_headers"] == list(SCRUBBED_HEADERS)


def test_vcr_replays_a_cassette_in_a_users_suite(tmp_path: Path) -> None:
    """The documented setup end to end in a fresh pytest: the plugin-style import, --record-mode
    honoured, and a project cassette replayed offline through the real OpenAI client."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["llmstream.testing"]\n')
    (tmp_path / "test_app.py").write_text(textwrap.dedent("""
        import pytest
        import llmstream

        @pytest.mark.vcr
        def test_answer(vcr_config, vcr):
            assert vcr_config["record_mode"] == "once" and "authorization" in vcr_config["filter_headers"]
            client = llmstream.client("openai:gpt-4o-mini", api_key="test", max_retries=0)
            assert "river" in client.stream_complete("Tell me about rivers.").text.lower()
            assert vcr.all_played and vcr.play_count == 1
    """))
    cassette = tmp_path / "cassettes" / "test_app" / "test_answer.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text((DEMOS / "openai_text.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--record-mode=once", "-W",
         "ignore::DeprecationWarning", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert cassette.read_text() == (DEMOS / "openai_text.yaml").read_text()  # replayed, not re-recorded


# -- secrets -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "sk" "-proj-" + "FAKE" * 8,
        "sk" "-ant-api03-" + "x" * 40,
        "sk" "-or-v1-" + "0123456789abcdef" * 4,
        "sk-" + "fake0" * 5,
        '{"key": "AI' + "za" + "FAKE" * 8 + "xyz" + '"}',  # 35 characters after the prefix, as Google's
        "Authorization: Bearer " + "not-a-real-token.payload",
    ],
)
def test_find_secrets_catches_key_shapes(text: str) -> None:
    found = find_secrets(text)
    assert found and all(len(item) <= 13 for item in found)  # reported cut short


@pytest.mark.parametrize(
    "text",
    [
        "a risk-assessment-framework-for-rivers-2024 document",
        "signature: EuYBCkYIBxgCKkBrZWVwIHRoaXMgc2lnbmF0dXJlIGludGFjdDogaXQgdmVyaWZpZXMgdGhlIHRoaW5raW5n",
        "api_key: test-key",
        "the bearer of good news",
        "task-0123456789abcdefghijklmnop",
    ],
)
def test_find_secrets_ignores_look_alikes(text: str) -> None:
    assert find_secrets(text) == []


def test_assert_no_secrets_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("interactions: []\n")
    bad = tmp_path / "sub" / "leak.yaml"
    bad.parent.mkdir()
    bad.write_text("headers:\n  x-api-key: sk" "-ant-api03-" + "q" * 30 + "\n")
    assert_no_secrets(tmp_path / "ok.yaml")
    with pytest.raises(AssertionError, match=r"leak\.yaml: sk" "-ant-api03…"):
        assert_no_secrets(tmp_path)


# -- replay --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROJECT_CASSETTES, ids=[p.relative_to(ROOT).as_posix() for p in PROJECT_CASSETTES])
def test_replay_project_cassettes(path: Path) -> None:
    chunks = list(replay(path))
    completion = accumulate(chunks)
    assert chunks[0].type is ChunkType.START
    assert completion.finish_reason is not None and completion.usage is not None
    assert completion.text or completion.tool_calls


def test_replay_demo_cassettes_show_what_the_demo_needs() -> None:
    text = accumulate(list(replay(DEMOS / "openai_text.yaml")))
    assert text.stats.chunks >= 40 and "river" in text.text.lower() and text.usage is not None
    thinking = accumulate(list(replay(DEMOS / "anthropic_thinking.yaml")))
    assert thinking.reasoning and thinking.text and thinking.reasoning_blocks[0].signature
    tools = accumulate(list(replay(DEMOS / "openai_parallel_tools.yaml")))
    assert [(c.name, c.args) for c in tools.tool_calls] == [("get_weather", {"city": "Paris"}),
                                                           ("get_weather", {"city": "Tokyo"})]


@pytest.mark.skipif(not SHARED, reason=f"the shared cassette corpus is not at {SHARED_CASSETTES}")
@pytest.mark.parametrize("rec", SHARED, ids=[rec.id for rec in SHARED])
def test_replay_reads_every_shared_recording(rec: Any) -> None:
    """replay() recognizes provider, model and endpoint of every real recording (gzip, Azure, Groq,
    DeepSeek and Vertex hosts, the Responses API on OpenAI and OpenRouter included) and gives what the
    vendor's own accumulator gives."""
    expected = oracle(rec)
    if expected.error is not None:
        with pytest.raises(expected.error):
            list(replay(rec.path))
        return
    expect_matches(accumulate(list(replay(rec.path))), expected)


def test_replay_never_opens_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("replay() tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for path in PROJECT_CASSETTES:
        assert list(replay(path))


def test_pace_sleeps_between_text_and_reasoning_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(llmstream._replay.time, "sleep", sleeps.append)
    chunks = list(replay(DEMOS / "anthropic_thinking.yaml", pace=0.02))
    paced = [c for c in chunks if c.type in (ChunkType.TEXT, ChunkType.REASONING)]
    assert len(paced) > 20 and sleeps == [0.02] * (len(paced) - 1)
    sleeps.clear()
    list(replay(DEMOS / "anthropic_thinking.yaml"))
    assert sleeps == []


def test_areplay_gives_the_same_chunks_with_the_same_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    monkeypatch.setattr(llmstream._replay.asyncio, "sleep", fake_sleep)

    async def collect(stream: AsyncIterator[StreamedChunk]) -> list[StreamedChunk]:
        return [chunk async for chunk in stream]

    for path in sorted(DEMOS.glob("*.yaml")):
        assert asyncio.run(collect(areplay(path))) == list(replay(path))
    chunks = asyncio.run(collect(areplay(DEMOS / "openai_text.yaml", pace=0.01)))
    assert sleeps == [0.01] * (sum(c.type is ChunkType.TEXT for c in chunks) - 1)


def test_breaking_out_of_a_replay_closes_it() -> None:
    stream = replay(DEMOS / "openai_text.yaml")
    first = next(iter(stream))
    assert first.type is ChunkType.START
    stream.close()  # type: ignore[attr-defined]  # a generator: closing runs the client's cleanup
    assert list(stream) == []


def write_cassette(path: Path, *interactions: tuple[dict[str, Any], dict[str, Any]]) -> Path:
    data = {"version": 1, "interactions": [{"request": req, "response": resp} for req, resp in interactions]}
    path.write_text(yaml.safe_dump(data))
    return path


def request(uri: str, body: Any = None, method: str = "POST") -> dict[str, Any]:
    return {"method": method, "uri": uri, "body": json.dumps(body) if body is not None else None, "headers": {}}


def response(status: int, body: str, content_type: str = "text/event-stream") -> dict[str, Any]:
    return {"status": {"code": status, "message": ""}, "headers": {"Content-Type": [content_type]},
            "body": {"string": body}}


SSE = (
    'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    '"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)


def test_replay_picks_the_streamed_interaction(tmp_path: Path) -> None:
    path = write_cassette(
        tmp_path / "two.yaml",
        (request("https://api.openai.com/v1/models", method="GET"), response(200, '{"data": []}', "application/json")),
        (request("https://api.openai.com/v1/chat/completions", {"model": "m", "stream": True}), response(200, SSE)),
    )
    assert accumulate(list(replay(path))).text == "Hi"
    assert list(replay(path, interaction=1)) == list(replay(path))


def test_replay_of_an_openai_compatible_host(tmp_path: Path) -> None:
    uri = "https://llm.internal.example/v1/chat/completions"
    path = write_cassette(tmp_path / "c.yaml", (request(uri, {"model": "m", "stream": True}), response(200, SSE)))
    chunks = list(replay(path))
    assert chunks[0].model == "m" and accumulate(chunks).text == "Hi"


def test_replay_raises_the_recorded_http_error(tmp_path: Path) -> None:
    body = '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'
    path = write_cassette(
        tmp_path / "401.yaml",
        (request("https://api.anthropic.com/v1/messages", {"model": "claude-x", "stream": True}),
         response(401, body, "application/json")),
    )
    with pytest.raises(AuthenticationError, match="invalid x-api-key"):
        list(replay(path))


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://example.com/v1/embeddings", "cannot tell which provider"),
        ("https://example.com/v1/audio/speech", "cannot tell which provider"),
    ],
)
def test_replay_refuses_what_it_cannot_replay(tmp_path: Path, uri: str, message: str) -> None:
    path = write_cassette(tmp_path / "x.yaml", (request(uri, {"model": "m", "stream": True}), response(200, SSE)))
    with pytest.raises(ConfigurationError, match=message):
        replay(path)  # refused at once, before any iteration


def test_replay_refuses_a_file_that_is_no_cassette(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("just: text\n")
    with pytest.raises(ConfigurationError, match="not a vcrpy cassette"):
        replay(tmp_path / "empty.yaml")


# -- the module's public face ----------------------------------------------------------------------------------


def test_mock_client_is_re_exported() -> None:
    assert llmstream.testing.MockClient is llmstream.MockClient
    assert sorted(llmstream.testing.__all__) == llmstream.testing.__all__


def test_importing_it_loads_no_test_framework_and_no_vendor_sdk() -> None:
    """The CLI demo imports llmstream.testing: it must work without pytest, vcrpy or PyYAML loaded,
    and ``import llmstream`` must not load llmstream.testing at all."""
    code = (
        "import sys, llmstream; assert 'llmstream.testing' not in sys.modules\n"
        "import llmstream.testing\n"
        "heavy = {'pytest', 'vcr', 'yaml', 'openai', 'anthropic', 'google.genai'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
