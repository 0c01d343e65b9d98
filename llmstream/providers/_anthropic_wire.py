"""Anthropic request conversion, sans-IO: a Conversation and tools in the Messages API shape.

Kept apart from ``anthropic`` (the stream adapter) so each module stays small; nothing here imports
the SDK.
"""

from __future__ import annotations

from typing import Any

from .._conversation import Conversation, Message
from .._types import Tool
from ._content_shapes import Budget, anthropic_blocks
from ._server_tools import sent_back

__all__ = ["messages_payload", "tools_payload"]


def tools_payload(tools: tuple[Tool, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools:
        entry: dict[str, Any] = {"name": tool.name, "input_schema": dict(tool.parameters)}
        if tool.description:
            entry["description"] = tool.description
        out.append(entry)
    return out


def _content(message: Message, budget: Budget | None) -> list[dict[str, Any]]:
    """One message as Anthropic content blocks (``budget`` set when the message holds parts)."""
    content = message.content
    if message.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
        # Tool results take text, image and document blocks.
        result["content"] = content if budget is None else anthropic_blocks(message.parts, "tool", budget)
        if message.is_error:
            result["is_error"] = True
        return [result]
    if message.role == "user":
        if budget is not None:
            return anthropic_blocks(message.parts, "user", budget)
        return [{"type": "text", "text": content}]
    blocks: list[dict[str, Any]] = []
    # Thinking first: the API checks that an assistant turn with tool use starts with its thinking.
    for reasoning in message.reasoning_blocks:
        if reasoning.redacted_data is not None:
            blocks.append({"type": "redacted_thinking", "data": reasoning.redacted_data})
        elif reasoning.signature:  # unsigned thinking (another provider's) would be rejected
            blocks.append({"type": "thinking", "thinking": reasoning.text, "signature": reasoning.signature})
    if budget is not None:
        blocks.extend(anthropic_blocks(message.parts, "assistant", budget))
    elif message.server_tools:  # server_tool_use and *_tool_result blocks go back where they were
        for piece in sent_back(message.text, message.server_tools):
            if isinstance(piece, str):
                blocks.append({"type": "text", "text": piece})
            else:
                blocks.extend(block for block in piece if isinstance(block, dict) and "type" in block)
    elif content:
        blocks.append({"type": "text", "text": content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.args})
    return blocks


def messages_payload(conversation: Conversation) -> list[dict[str, Any]]:
    """Messages API turns. System messages go to ``system``; tool results are user turns; and
    consecutive turns of one role are merged, since the API requires user/assistant alternation.
    Content parts become ``image`` / ``document`` blocks (``_content_shapes``)."""
    out: list[dict[str, Any]] = []
    budget: Budget | None = None
    for message in conversation.messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        has_parts = type(message.content) is not str
        if has_parts:
            budget = budget or Budget("anthropic")
        blocks = _content(message, budget if has_parts else None)
        if not blocks:  # an empty assistant turn: the API rejects empty content
            continue
        if out and out[-1]["role"] == role:
            previous = out[-1]
            if isinstance(previous["content"], str):
                previous["content"] = [{"type": "text", "text": previous["content"]}]
            previous["content"].extend(blocks)
        elif message.role == "user" and not has_parts:
            out.append({"role": role, "content": message.content})  # plain text stays a string
        else:
            out.append({"role": role, "content": blocks})
    return out
