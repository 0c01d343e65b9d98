"""The examples run with no key and no network, and print what their docstrings promise."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
OURS = ["basic_streaming", "progress_bar", "error_handling", "accumulator_direct", "async_fanout", "tool_loop",
        "council"]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(name: str, capsys: pytest.CaptureFixture[str], **kwargs: Any) -> tuple[str, str]:
    load(name).main(**kwargs)
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_basic_streaming(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run_main("basic_streaming", capsys)
    lines = out.splitlines()
    assert lines[0] == "Each word is printed the moment it arrives."
    assert lines[1].startswith("[stop · ") and " in, 8 out · " in lines[1]


def test_progress_bar_counts_tokens_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    module = load("progress_bar")
    module.main(delay=0.0)
    out, err = capsys.readouterr()
    words = len(module.ANSWER.split())
    assert out == module.ANSWER + "\n"  # the answer alone on stdout
    frames = err.strip("\n").split("\r")[1:]
    assert len(frames) == words + 1
    assert frames[0].endswith("] 1/60 tokens") and frames[-2].endswith(f"] {words}/60 tokens")
    assert frames[-1] == f"[{'#' * module.WIDTH}] {words}/{words} tokens (100 %, stop)"  # the bar ends full


def test_error_handling(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run_main("error_handling", capsys)
    lines = out.splitlines()
    assert lines[0] == "1. retried: 2 requests, answer 'Rivers carve their way through stone, patient and unhurried.'"
    assert lines[1].startswith("2. dropped: StreamInterruptedError: ")
    assert lines[2] == "   partial answer kept: 'Rivers carve their way ' (finish_reason=error)"
    assert lines[3] == "3. returned, not raised: error=StreamInterruptedError, text='Rivers carve their '"


def test_accumulator_direct_reads_partial_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run_main("accumulator_direct", capsys)
    lines = out.splitlines()
    partial = [line for line in lines if line.startswith("while streaming: ")]
    assert len(partial) > 2 and partial[1] == "while streaming: book_table {'restaurant': 'Chez Pan'}"
    assert "tool call: book_table({'restaurant': 'Chez Panisse', 'people': 4, 'time': '19:30'}) id=call_1" in lines
    assert lines[-1] == "finish_reason: tool_calls, usage: 42 in, 4 out"


def test_async_fanout_interleaves_three_providers(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run_main("async_fanout", capsys)
    streamed, summary = out.split("\n\n")
    sources = [line.split("]")[0].strip("[ ") for line in streamed.splitlines()]
    assert set(sources) == {"openai", "anthropic", "gemini"}
    # Interleaved, not one after the other: some provider's stream is interrupted by another's.
    first_run = sources.index(next(s for s in sources if s != sources[0]))
    assert sources[0] in sources[first_run:]
    assert "   gemini: The Nile is the longest, by most counts." in summary


def test_council_shows_members_as_interleaved_lanes_then_the_synthesis(capsys: pytest.CaptureFixture[str]) -> None:
    module = load("council")
    module.main()
    streamed, summary = capsys.readouterr().out.split("\n\n")
    rows = [line.split(" │ ", 1) for line in streamed.splitlines()]
    sources = [label.strip() for label, _ in rows]
    assert set(sources) == {"openai", "anthropic", "gemini", "synthesis"}
    for name in (*module.MEMBERS, "synthesis"):  # each lane's lines, in order, are that source's whole answer
        text = " ".join(line for label, line in rows if label.strip() == name)
        assert text == (module.SYNTHESIS if name == "synthesis" else module.MEMBERS[name][0])
    members = [s for s in sources if s != "synthesis"]
    assert sources[len(members):] == ["synthesis"] * (len(sources) - len(members))  # the synthesis comes after
    first_run = members.index(next(s for s in members if s != members[0]))
    assert members[0] in members[first_run:]  # interleaved, not one member after the other
    assert summary.splitlines()[:3] == [
        "   openai: stop, 159 characters", "anthropic: stop, 150 characters", "   gemini: stop, 144 characters",
    ]
    assert summary.splitlines()[3].startswith("    total: 143 in, 123 out tokens, members in ")


def test_tool_loop_sends_the_result_back(capsys: pytest.CaptureFixture[str]) -> None:
    module = load("tool_loop")
    client = module.scripted_model()
    conversation = module.run(client, "What's the weather in Paris?")
    out = capsys.readouterr().out
    assert out.splitlines() == [
        '→ get_weather({"city": "Paris"}) = {"city": "Paris", "temperature_c": 18, "sky": "sunny"}',
        "It is 18 °C and sunny in Paris.",
    ]
    assert [m.role for m in conversation] == ["user", "assistant", "tool", "assistant"]
    second = client.requests[1].conversation.messages  # what the model saw on its second turn
    assert second[1].tool_calls[0].id == "call_1"
    assert (second[2].tool_call_id, second[2].name) == ("call_1", "get_weather")
    assert '"temperature_c": 18' in second[2].content
    run_main("tool_loop", capsys)


@pytest.mark.parametrize("name", OURS)
def test_runs_as_a_script(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
