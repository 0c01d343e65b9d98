"""llmstream.cache: keys, entries, backends (the stream integration is in test_cache_streams.py)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from llmstream import (
    ChunkType,
    Citation,
    Completion,
    Conversation,
    FinishReason,
    ReasoningBlock,
    ServerToolEvent,
    ServerToolStatus,
    StreamingAccumulator,
    Tool,
    ToolCall,
    Usage,
)
from llmstream.cache import (
    MemoryCache,
    SQLiteCache,
    cache_key,
    cacheable,
    completion_from_entry,
    entry_from_completion,
    lookup,
    replay_chunks,
    store,
)

WEATHER = Tool("get_weather", "weather", {"type": "object", "properties": {"city": {"type": "string"}}})


def key(**overrides: object) -> str:
    request: dict[str, object] = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "base_url": None,
        "conversation": Conversation().system("Be brief.").user("Hi"),
        "tools": [WEATHER],
        "max_tokens": 10,
        "temperature": 0.2,
        "extra": {"top_p": 0.9, "metadata": {"a": 1, "b": 2}},
    }
    request.update(overrides)
    return cache_key(**request)  # type: ignore[arg-type]


def test_key_ignores_dict_order_and_changes_with_every_parameter() -> None:
    base = key()
    assert key(extra={"metadata": {"b": 2, "a": 1}, "top_p": 0.9}) == base
    changed = [
        key(temperature=0.3),
        key(tools=[]),
        key(max_tokens=11),
        key(model="gpt-4o"),
        key(provider="openrouter"),
        key(base_url="http://127.0.0.1:9/v1"),
        key(conversation=Conversation().system("Be brief.").user("Hi!")),
        key(extra={"top_p": 0.9, "metadata": {"a": 1, "b": 2}, "response_format": {"type": "json_object"}}),
    ]
    assert base not in changed
    assert len(set(changed)) == len(changed)


def test_key_never_depends_on_secrets_in_the_base_url() -> None:
    plain = key(base_url="https://proxy.example/v1")
    assert key(base_url="https://user:s3cret@proxy.example/v1") == plain
    assert key(base_url="https://proxy.example/v1?key=s3cret") == plain


def test_attachment_bytes_are_keyed_by_content() -> None:
    @attrs.frozen
    class Blob:  # stands for any attrs content part holding bytes
        data: bytes

    one = key(extra={"part": Blob(b"\x89PNG one")})
    assert key(extra={"part": Blob(b"\x89PNG one")}) == one
    assert key(extra={"part": Blob(b"\x89PNG two")}) != one


def test_server_state_requests_are_not_cacheable() -> None:
    assert cacheable({"temperature": 1})
    assert not cacheable({"previous_response_id": "resp_1"})
    assert not cacheable({"background": True})
    assert not cacheable({"store": True})
    assert cacheable({"store": False})


def full_completion() -> Completion:
    return Completion(
        text="Paris is sunny.",
        reasoning="think",
        refusal="",
        tool_calls=[ToolCall("call_1", "get_weather", '{"city": "Paris"}', signature="sig-t")],
        usage=Usage(12, 7, cached_input_tokens=2, reasoning_tokens=3),
        finish_reason=FinishReason.TOOL_CALLS,
        raw_finish_reason="tool_use",
        model="m-1",
        id="resp-1",
        provider="anthropic",
        reasoning_blocks=[ReasoningBlock("think", signature="sig-r"), ReasoningBlock(redacted_data="enc")],
        server_tools=[ServerToolEvent("ws_1", "web_search", ServerToolStatus.COMPLETED, {"query": "p"}, [{"u": 1}])],
        citations=[Citation(url="https://a.example", title="A", start=0, end=5)],
    )


def comparable(completion: Completion) -> Completion:
    return attrs.evolve(completion, stats=attrs.evolve(completion.stats, duration_ms=0.0), cached=False, provider=None)


@pytest.mark.parametrize("by_word", [False, True])
def test_replayed_chunks_rebuild_the_same_completion(by_word: bool) -> None:
    original = full_completion()
    entry = entry_from_completion(original)
    assert entry is not None
    chunks = replay_chunks(entry, by_word=by_word)
    assert chunks[0].type is ChunkType.START and chunks[-1].type is ChunkType.STOP
    if by_word:
        assert [c.text for c in chunks if c.type is ChunkType.TEXT] == ["Paris ", "is ", "sunny."]
    rebuilt = StreamingAccumulator().add_all(chunks).completion()
    for field in ("text", "reasoning", "tool_calls", "usage", "finish_reason", "raw_finish_reason", "model", "id",
                  "reasoning_blocks", "server_tools", "citations"):
        assert getattr(rebuilt, field) == getattr(original, field), field
    assert completion_from_entry(entry).cached is True


@pytest.mark.parametrize(
    "completion",
    [
        Completion(text="partial", finish_reason=FinishReason.CANCELLED),
        Completion(text="partial", finish_reason=FinishReason.ERROR),
        Completion(text="blocked", finish_reason=FinishReason.CONTENT_FILTER),
        Completion(text="no finish"),
    ],
)
def test_only_complete_successes_are_stored(completion: Completion) -> None:
    cache = MemoryCache()
    assert store(cache, "k", completion) is False
    assert len(cache) == 0


def test_memory_cache_is_an_lru_with_a_ttl_on_an_injected_clock() -> None:
    now = [100.0]
    cache = MemoryCache(max_entries=2, ttl=10, clock=lambda: now[0])
    entry = entry_from_completion(full_completion())
    assert entry is not None
    for name in ("a", "b"):
        cache.set(name, entry)
    assert cache.get("a") == entry  # a is now the most recent
    cache.set("c", entry)
    assert cache.get("b") is None and cache.get("a") == entry
    now[0] += 11
    assert cache.get("a") is None and cache.get("c") is None


def test_sqlite_cache_round_trips_expires_and_clears(tmp_path: Path) -> None:
    now = [0.0]
    cache = SQLiteCache(tmp_path / "c.db", ttl=5, clock=lambda: now[0])
    entry = entry_from_completion(full_completion())
    assert entry is not None
    cache.set("k", entry)
    assert SQLiteCache(tmp_path / "c.db").get("k") == entry  # another connection sees it
    assert cache.stats()["entries"] == 1
    now[0] = 6
    assert cache.get("k") is None
    cache.set("k", entry)
    assert cache.clear() == 1 and cache.get("k") is None


def test_a_corrupt_cache_file_is_a_warning_and_a_miss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    cache = SQLiteCache(path)
    with caplog.at_level(logging.WARNING, logger="llmstream.cache"):
        assert lookup(cache, "k") is None
        assert store(cache, "k", full_completion()) is False
    assert sum("llmstream cache" in r.getMessage() for r in caplog.records) == 2


WRITER = """
import sys
from llmstream.cache import SQLiteCache, entry_from_completion
from llmstream import Completion, FinishReason
cache = SQLiteCache(sys.argv[1])
for i in range(20):
    cache.set(f"{sys.argv[2]}-{i}", entry_from_completion(Completion(text=str(i), finish_reason=FinishReason.STOP)))
"""


def test_two_processes_writing_one_sqlite_cache_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    SQLiteCache(path).stats()  # create the schema once, as a first call would
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name]) for name in ("p", "q")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    cache = SQLiteCache(path)
    assert cache.stats()["entries"] == 40
    assert all(cache.get(f"{n}-{i}") is not None for n in ("p", "q") for i in range(20))


# -- RedisCache against a real redis-server on loopback ------------------------------------------


@pytest.fixture
def redis_url(tmp_path: Path) -> object:
    import shutil
    import socket

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    for _ in range(200):  # bounded wait for the server to accept connections
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if server.poll() is not None:
                pytest.fail("redis-server exited at start")
            import time

            time.sleep(0.05)
    yield {"url": f"redis://127.0.0.1:{port}/0", "server": server}
    server.kill()
    server.wait()


def test_redis_cache_shares_entries_between_instances_and_honours_ttl(redis_url: dict[str, object]) -> None:
    from llmstream.cache import RedisCache

    url = str(redis_url["url"])
    entry = entry_from_completion(full_completion())
    assert entry is not None
    writer, reader = RedisCache(url, ttl=60), RedisCache(url)
    writer.set("k", entry)
    assert reader.get("k") == entry
    assert reader.get("missing") is None
    import redis

    assert 0 < redis.Redis.from_url(url).ttl("llmstream:k") <= 60


def test_a_redis_server_that_goes_away_is_a_warning_and_a_miss(
    redis_url: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    from llmstream.cache import RedisCache

    cache = RedisCache(str(redis_url["url"]))
    assert store(cache, "k", full_completion()) is True
    server = redis_url["server"]
    assert isinstance(server, subprocess.Popen)
    server.kill()
    server.wait()
    with caplog.at_level(logging.WARNING, logger="llmstream.cache"):
        assert lookup(cache, "k") is None
        assert store(cache, "k", full_completion()) is False
    assert sum("llmstream cache" in r.getMessage() for r in caplog.records) == 2
