"""council / acouncil: members interleaved, then the synthesis, then exactly one "done" event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llmstream import (
    ChunkType,
    ConfigurationError,
    CouncilEvent,
    CouncilResult,
    FinishReason,
    MockClient,
    StreamInterruptedError,
    Usage,
    acouncil,
    council,
)
from llmstream._policy import Request
from llmstream.fanout import COUNCIL_TEMPLATE, FanoutResult
from llmstream.providers.mock import _Scripted

LONG = " ".join(f"w{i}" for i in range(200))
ANSWERS = {"a": "alpha beta gamma", "b": "one two three four", "c": "x y"}


class Recording(MockClient):
    """A MockClient that keeps each native stream it opened, to check that it was closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.natives: list[_Scripted] = []

    def _native(self, request: Request) -> _Scripted:
        native = super()._native(request)
        self.natives.append(native)
        return native


def members(fail: str | None = "b") -> dict[str, Recording]:
    return {
        name: Recording(text=text, **({"fail_at": 3, "max_retries": 0} if name == fail else {}))
        for name, text in ANSWERS.items()
    }


def run(mode: str, *args: Any, **kwargs: Any) -> tuple[list[CouncilEvent[Any]], Any]:
    if mode == "sync":
        with council(*args, **kwargs) as events:
            seen = list(events)
        return seen, events

    async def go() -> tuple[list[CouncilEvent[Any]], Any]:
        async with acouncil(*args, **kwargs) as events:
            seen = [event async for event in events]
        return seen, events

    return asyncio.run(go())


def text_of(events: list[CouncilEvent[Any]], stage: str, source: Any = None) -> str:
    return "".join(e.chunk.text for e in events
                   if e.stage == stage and e.source == source and e.chunk and e.chunk.type is ChunkType.TEXT)


def test_members_then_synthesis_then_one_done_event(mode: str) -> None:
    judge = Recording(text="the synthesis")
    events, handle = run(mode, members(fail=None), judge, "Q?")
    stages = [e.stage for e in events]
    # Stages in order: every member chunk, then every synthesis chunk, then one done, last.
    assert stages == sorted(stages, key=["member", "synthesis", "done"].index)
    assert stages.count("done") == 1 and stages[-1] == "done"
    done = events[-1]
    assert done.chunk is None and done.source is None and isinstance(done.result, CouncilResult)
    assert handle.result is done.result
    assert all(e.result is None for e in events[:-1])
    # Each member's chunks arrive in its own order, START first and STOP last.
    for name, answer in ANSWERS.items():
        kinds = [e.chunk.type for e in events if e.stage == "member" and e.source == name and e.chunk]
        assert kinds[0] is ChunkType.START and kinds[-1] is ChunkType.STOP
        assert text_of(events, "member", name) == answer
    assert {e.source for e in events if e.stage == "synthesis"} == {None}
    assert text_of(events, "synthesis") == "the synthesis"
    assert done.result.synthesis.text == "the synthesis"
    assert {n: c.text for n, c in done.result.members.completions.items()} == ANSWERS


def test_usage_is_summed_across_members_and_the_synthesis(mode: str) -> None:
    judge = Recording(text="the synthesis")
    events, _ = run(mode, members(fail=None), judge, "Q?")
    result = events[-1].result
    assert result is not None and result.synthesis is not None
    # Each member saw one prompt word and answered its words (3 + 4 + 2).
    assert result.members.usage == Usage(input_tokens=3, output_tokens=9)
    prompt_words = len(judge.requests[0].conversation.messages[-1].content.split())
    assert result.synthesis.usage == Usage(input_tokens=prompt_words, output_tokens=2)
    assert result.usage == Usage(input_tokens=3 + prompt_words, output_tokens=11)


def test_a_member_dropping_midway_leaves_the_others_and_the_synthesis_intact(mode: str) -> None:
    judge = Recording(text="the synthesis")
    events, _ = run(mode, members(fail="b"), judge, "Q?")
    errors = [e for e in events if e.chunk is not None and e.chunk.type is ChunkType.ERROR]
    assert [(e.stage, e.source) for e in errors] == [("member", "b")]
    result = events[-1].result
    assert result is not None and result.synthesis is not None
    assert list(result.members.errors) == ["b"] and isinstance(result.members.errors["b"], StreamInterruptedError)
    partial = result.members.completions["b"]
    assert partial.text == "one two " and partial.finish_reason == FinishReason.ERROR
    assert partial.error is result.members.errors["b"] and partial.error.partial is not None
    assert result.members.completions["a"].text == "alpha beta gamma"
    assert result.synthesis.text == "the synthesis" and result.synthesis.error is None
    # The synthesizer was asked with the answers that completed, not the cut-off one.
    asked = judge.requests[0].conversation.messages[-1].content
    assert "Answer from a:\nalpha beta gamma" in asked and "Answer from c:\nx y" in asked
    assert "Answer from b" not in asked and "one two" not in asked and "Q?" in asked


def test_break_among_the_members_closes_every_stream(mode: str) -> None:
    chosen = {name: Recording(text=LONG, delay=0.02) for name in ("a", "b", "c")}
    judge = Recording(text="never asked")
    if mode == "sync":
        with council(chosen, judge, "Q?") as events:
            for event in events:
                first = event
                break
    else:

        async def go() -> Any:
            async with acouncil(chosen, judge, "Q?") as events:
                async for event in events:
                    return event, events
            raise AssertionError("no event")

        first, events = asyncio.run(go())
    assert first.stage == "member"
    natives = [n for client in chosen.values() for n in client.natives]
    assert len(natives) == 3 and all(n.closed for n in natives)
    result = events.result
    assert {c.finish_reason for c in result.members.completions.values()} == {FinishReason.CANCELLED}
    assert all(len(c.text) < len(LONG) for c in result.members.completions.values())
    assert result.synthesis is None and judge.requests == []


def test_break_during_the_synthesis_closes_the_synthesizer_stream(mode: str) -> None:
    judge = Recording(text=LONG, delay=0.02)
    chosen = members(fail=None)
    if mode == "sync":
        with council(chosen, judge, "Q?") as events:
            for event in events:
                if event.stage == "synthesis" and event.chunk is not None and event.chunk.type is ChunkType.TEXT:
                    break
    else:

        async def go() -> Any:
            async with acouncil(chosen, judge, "Q?") as events:
                async for event in events:
                    if event.stage == "synthesis" and event.chunk is not None and event.chunk.type is ChunkType.TEXT:
                        break
            return events

        events = asyncio.run(go())
    assert len(judge.natives) == 1 and judge.natives[0].closed
    assert all(n.closed for client in chosen.values() for n in client.natives)
    result = events.result
    assert result.synthesis is not None and result.synthesis.finish_reason == FinishReason.CANCELLED
    assert 0 < len(result.synthesis.text) < len(LONG)
    assert {n: c.text for n, c in result.members.completions.items()} == ANSWERS


def test_without_synthesis_there_is_no_synthesis_stage(mode: str) -> None:
    events, _ = run(mode, members(fail=None), None, "Q?", synthesize=False)
    assert {e.stage for e in events} == {"member", "done"} and events[-1].stage == "done"
    result = events[-1].result
    assert result is not None and result.synthesis is None
    assert result.usage == result.members.usage == Usage(input_tokens=3, output_tokens=9)


def test_a_failing_synthesizer_is_an_error_event_not_an_exception(mode: str) -> None:
    judge = Recording(text="half of an answer", fail_at=3, max_retries=0)
    events, _ = run(mode, members(fail=None), judge, "Q?")
    errors = [e for e in events if e.chunk is not None and e.chunk.type is ChunkType.ERROR]
    assert [(e.stage, e.source) for e in errors] == [("synthesis", None)]
    assert events[-1].stage == "done"
    result = events[-1].result
    assert result is not None and result.synthesis is not None
    assert result.synthesis.text == "half of " and isinstance(result.synthesis.error, StreamInterruptedError)
    assert result.members.errors == {}


def test_no_member_answered_means_no_synthesis(mode: str) -> None:
    chosen = {"a": Recording(text="lost", fail_at=1, max_retries=0)}
    judge = Recording(text="unused")
    events, _ = run(mode, chosen, judge, "Q?")
    assert [e.stage for e in events][-1] == "done" and "synthesis" not in {e.stage for e in events}
    result = events[-1].result
    assert result is not None and result.synthesis is None and list(result.members.errors) == ["a"]
    assert judge.requests == []


def test_templates_are_replaceable(mode: str) -> None:
    judge = Recording(text="ok")
    run(mode, members(fail=None), judge, "Q?", template="{count} answers to {prompt}:\n{answers}")
    assert judge.requests[0].conversation.messages[-1].content.startswith("3 answers to Q?:\nAnswer from a:\n")

    seen: list[tuple[str, FanoutResult[Any]]] = []

    def mine(question: str, fan: FanoutResult[Any]) -> str:
        seen.append((question, fan))
        return " | ".join(f"{name}={c.text}" for name, c in fan.completions.items())

    judge = Recording(text="ok")
    run(mode, members(fail="b"), judge, "Which?", template=mine)
    assert seen[0][0] == "Which?" and list(seen[0][1].errors) == ["b"]  # the callable sees the failures too
    assert judge.requests[0].conversation.messages[-1].content == "a=alpha beta gamma | b=one two  | c=x y"


def test_a_list_of_members_is_keyed_by_index_and_options_reach_every_call(mode: str) -> None:
    chosen = [Recording(text="zero"), Recording(text="one")]
    judge = Recording(text="both")
    events, _ = run(mode, chosen, judge, "Q?", max_tokens=7)
    assert {e.source for e in events if e.stage == "member"} == {0, 1}
    result = events[-1].result
    assert result is not None and result.members.completions[1].text == "one"
    assert [c.requests[0].max_tokens for c in (*chosen, judge)] == [7, 7, 7]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"template": "no answers here: {prompt}"}, "must contain {answers}"),
        ({"template": "{answers} {oops}"}, "unknown fields"),
        ({"template": "{answers"}, "not a valid format string"),
    ],
)
def test_a_bad_template_is_a_configuration_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        council(members(), Recording(), "Q?", **kwargs)


def test_bad_councils_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="at least one member"):
        council({}, Recording(), "Q?")
    with pytest.raises(ConfigurationError, match="needs a synthesizer"):
        acouncil(members(), None, "Q?")


def test_closing_before_reading_opens_nothing_and_sets_the_result() -> None:
    chosen = members()
    handle = council(chosen, Recording(), "Q?")
    with pytest.raises(RuntimeError, match="has not ended yet"):
        _ = handle.result
    handle.close()
    assert all(c.natives == [] for c in chosen.values())
    assert {c.finish_reason for c in handle.result.members.completions.values()} == {FinishReason.CANCELLED}
    assert handle.result.synthesis is None


def test_the_default_template_shows_the_question_and_the_answers() -> None:
    assert "{prompt}" in COUNCIL_TEMPLATE and "{answers}" in COUNCIL_TEMPLATE
