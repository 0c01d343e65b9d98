"""Value types: equality, str/repr, tool-call argument parsing, conversations."""

from __future__ import annotations

import attrs
import pytest

from llmstream import (
    ChunkType,
    Completion,
    ConfigurationError,
    Conversation,
    FinishReason,
    Message,
    StreamedChunk,
    ToolCall,
    Usage,
)


def test_str_of_a_chunk_is_its_text() -> None:
    assert str(StreamedChunk(ChunkType.TEXT, "hi")) == "hi"
    assert str(StreamedChunk(ChunkType.USAGE, usage=Usage())) == ""


def test_raw_is_excluded_from_equality_and_repr() -> None:
    a = StreamedChunk(ChunkType.TEXT, "hi", raw={"secret": "payload"})
    b = StreamedChunk(ChunkType.TEXT, "hi", raw=None)
    assert a == b
    assert "payload" not in repr(a)


def test_values_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        StreamedChunk(ChunkType.TEXT, "x").text = "y"  # type: ignore[misc]


def test_finish_reason_is_a_str_enum() -> None:
    assert FinishReason.TOOL_CALLS == "tool_calls"
    assert str(FinishReason.LENGTH) == "length"


@pytest.mark.parametrize("raw", ["", None])
def test_tool_call_empty_arguments(raw: str | None) -> None:
    assert ToolCall("id", "f", raw).args == {}  # type: ignore[arg-type]


def test_usage_total() -> None:
    assert Usage(input_tokens=3, output_tokens=4).total_tokens == 7


def test_conversation_chains_and_appends_completions() -> None:
    conversation = Conversation().system("Be brief.").user("Weather in Paris?")
    completion = Completion(
        text="", tool_calls=[ToolCall("call_1", "weather", '{"city": "Paris"}')], finish_reason=FinishReason.TOOL_CALLS
    )
    conversation.append(completion).tool_result("call_1", {"temp": 21})
    roles = [m.role for m in conversation.messages]
    assert roles == ["system", "user", "assistant", "tool"]
    tool_message = conversation.messages[-1]
    assert (tool_message.tool_call_id, tool_message.name, tool_message.content) == ("call_1", "weather", '{"temp": 21}')
    assert conversation.system_prompt == "Be brief."


def test_from_openai_style_messages() -> None:
    conversation = Conversation.from_messages(
        [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ]
    )
    messages = conversation.messages
    assert messages[1] == Message("user", "hi")
    assert messages[2].tool_calls == (ToolCall("c1", "f", "{}"),)
    assert (messages[3].role, messages[3].name, messages[3].content) == ("tool", "f", "42")


def test_unknown_role_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Message("robot", "beep")  # type: ignore[arg-type]


def test_usage_counts_is_the_usage_the_constructor_makes() -> None:
    """Gemini's per-event usage leaves two slots empty: they read as their defaults everywhere."""
    import copy
    import pickle

    from llmstream._hot_values import usage_counts

    fast, slow = usage_counts(21, 7, 3, 2), Usage(21, 7, 3, 0, 2)
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert (fast.cache_write_tokens, fast.cost, fast.total_tokens) == (0, None, 28)
    assert attrs.asdict(fast) == attrs.asdict(slow)
    assert pickle.loads(pickle.dumps(fast)) == copy.copy(fast) == slow
    assert attrs.evolve(fast, cost=0.5).cost == 0.5
    with pytest.raises(AttributeError, match="no attribute 'tokens'"):
        fast.tokens  # type: ignore[attr-defined]  # noqa: B018
