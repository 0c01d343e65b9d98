"""`--cache`, `llmstream cache stats` and `cache clear`, through the real command line."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import against, command, make_env, run, text_stream
from tests.loopback import LoopbackServer, Scripted


def test_a_repeated_prompt_with_cache_sends_one_request_and_says_cached(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("Rivers ", "run.")))
    env = make_env(tmp_path)
    first = run(against(loopback, "--cache", "--usage", "Haiku?"), env)
    second = run(against(loopback, "--cache", "--usage", "Haiku?"), env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip() == second.stdout.strip() == "Rivers run."
    assert len(loopback.requests) == 1
    assert "(cached)" in second.stderr and "(cached)" not in first.stderr
    assert (tmp_path / "cache.db").exists()  # beside the log
    stats = run(command("cache", "stats"), env)
    assert stats.returncode == 0 and "1 cached answers" in stats.stdout
    cleared = run(command("cache", "clear"), env)
    assert "cleared 1" in cleared.stdout
    assert "0 cached answers" in run(command("cache", "stats"), env).stdout


def test_without_cache_nothing_is_cached(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("a")), Scripted(chunks=text_stream("b")))
    env = make_env(tmp_path, LLMSTREAM_CACHE_DB=str(tmp_path / "elsewhere.db"))
    assert run(against(loopback, "x"), env).stdout.strip() == "a"
    assert run(against(loopback, "x"), env).stdout.strip() == "b"
    assert not (tmp_path / "elsewhere.db").exists()
