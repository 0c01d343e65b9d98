"""``llmstream council``'s logic (llmstream._council_cli), run in-process with mock: models."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import pytest

import llmstream
from llmstream import _council_cli
from llmstream._council_cli import add_arguments, run

PROMPT = "Why is the sky blue today"


def council_cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="llmstream council")
    add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run(parser.parse_args(list(argv)), out, err)
    return code, out.getvalue(), err.getvalue()


def lanes(out: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        label, _, text = line.partition(" │ ")
        found.setdefault(label.strip(), []).append(text)
    return found


def test_lanes_show_every_member_then_the_synthesis() -> None:
    code, out, err = council_cli("-m", "mock:a", "-m", "mock:b", "-m", "mock:a", "--synthesizer", "mock:judge",
                                 "--width", "40", PROMPT)
    assert code == 0, err
    shown = lanes(out)
    assert list(shown) == ["mock:a", "mock:b", "mock:a#2", "synthesis"]  # the same model twice gets #2
    for member in ("mock:a", "mock:b", "mock:a#2"):
        assert " ".join(shown[member]) == PROMPT  # mock: echoes the question
    synthesis = "\n".join(shown["synthesis"])
    assert "Answer from mock:a#2:" in synthesis and "Question:" in synthesis
    assert all(len(line) <= 40 for line in out.splitlines())
    assert "in all" in err and "\x1b[" not in out  # not a terminal: no colors


def test_json_is_one_object_per_line_and_ends_with_the_result() -> None:
    code, out, _ = council_cli("-m", "mock:a", "-m", "mock:b", "--synthesizer", "mock:judge", "--json", PROMPT)
    assert code == 0
    objects = [json.loads(line) for line in out.splitlines()]
    assert [o["stage"] for o in objects].count("done") == 1
    last = objects[-1]
    assert (last["stage"], last["type"]) == ("done", "result")
    assert {name: m["text"] for name, m in last["members"].items()} == {"mock:a": PROMPT, "mock:b": PROMPT}
    assert last["errors"] == {} and "Answer from mock:b:" in last["synthesis"]["text"]
    streamed = "".join(o["text"] for o in objects if o["stage"] == "synthesis" and o["type"] == "text")
    assert streamed == last["synthesis"]["text"]
    a_texts = [o["text"] for o in objects if o["source"] == "mock:a" and o["type"] == "text"]
    assert "".join(a_texts) == PROMPT  # one member's chunks in order
    calls = [*last["members"].values(), last["synthesis"]]
    assert last["usage"]["input_tokens"] == sum(c["usage"]["input_tokens"] for c in calls)
    assert last["usage"]["output_tokens"] == sum(c["usage"]["output_tokens"] for c in calls)


def test_no_synthesis() -> None:
    code, out, _ = council_cli("-m", "mock:a", "-m", "mock:b", "--no-synthesis", "--json", PROMPT)
    objects = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {o["stage"] for o in objects} == {"member", "done"}
    assert objects[-1]["synthesis"] is None


def flaky(monkeypatch: pytest.MonkeyPatch, **scripts: dict[str, Any]) -> None:
    """Spec -> MockClient keyword arguments, for models the command line cannot script."""
    real = _council_cli._client

    def client(spec: str) -> llmstream.BaseClient:
        return llmstream.MockClient(spec, max_retries=0, **scripts[spec]) if spec in scripts else real(spec)

    monkeypatch.setattr(_council_cli, "_client", client)


def test_a_failing_member_is_a_warning_and_its_partial_is_in_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky(monkeypatch, drop={"text": "one two three four", "fail_at": 3})
    code, out, err = council_cli("-m", "mock:a", "-m", "drop", "--synthesizer", "mock:judge", "--json", PROMPT)
    assert code == 0
    last = json.loads(out.splitlines()[-1])
    assert last["errors"]["drop"]["type"] == "StreamInterruptedError"
    assert last["members"]["drop"]["text"] == "one two " and last["members"]["drop"]["finish_reason"] == "error"
    assert "Answer from mock:a:" in last["synthesis"]["text"] and "Answer from drop" not in last["synthesis"]["text"]
    assert "warning: drop failed: StreamInterruptedError" in err


def test_lanes_show_a_failure_in_its_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky(monkeypatch, drop={"text": "one two three four", "fail_at": 3})
    code, out, _ = council_cli("-m", "mock:a", "-m", "drop", "--no-synthesis", PROMPT)
    assert code == 0
    assert lanes(out)["drop"] == ["one two", "✗ StreamInterruptedError: [mock] mock: connection dropped"]


def test_a_failing_synthesis_exits_1_with_the_members_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky(monkeypatch, judge={"text": "half an answer", "fail_at": 2})
    code, out, err = council_cli("-m", "mock:a", "--synthesizer", "judge", "--json", PROMPT)
    assert code == 1 and "the synthesis failed: StreamInterruptedError" in err
    last = json.loads(out.splitlines()[-1])
    assert last["type"] == "result" and last["synthesis"]["text"] == "half "
    assert last["members"]["mock:a"]["text"] == PROMPT


def test_no_member_answering_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky(monkeypatch, drop={"text": "gone", "fail_at": 0})
    code, out, err = council_cli("-m", "drop", "--synthesizer", "mock:judge", "--json", PROMPT)
    assert code == 1 and "no member answered" in err
    assert json.loads(out.splitlines()[-1])["synthesis"] is None


def test_an_unknown_provider_is_a_usage_error() -> None:
    code, out, err = council_cli("-m", "mock:a", "-m", "nosuch:model", PROMPT)
    assert code == 2 and out == "" and err.startswith("llmstream council: error: ")


def test_the_prompt_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("from the pipe\n"))
    code, out, _ = council_cli("-m", "mock:a", "--no-synthesis")
    assert code == 0 and lanes(out)["mock:a"] == ["from the pipe"]
    monkeypatch.setattr("sys.stdin", io.StringIO("  \n"))
    code, _, err = council_cli("-m", "mock:a", "-")
    assert code == 2 and "the prompt is empty" in err
