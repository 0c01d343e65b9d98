"""Messages and the conversation builder every provider converts from."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from ._errors import ConfigurationError
from ._types import Completion, ReasoningBlock, ToolCall

__all__ = ["Conversation", "Message", "Role"]

Role = Literal["system", "user", "assistant", "tool"]
_ROLES = ("system", "user", "assistant", "tool")


@attrs.frozen(slots=True)
class Message:
    """One turn. Assistant turns may carry tool calls and reasoning blocks; tool turns answer a call.

    ``name`` on a tool message is the tool's name (Gemini needs it in ``function_response``);
    ``is_error`` marks a tool result that reports a failure (Anthropic ``is_error``).
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    reasoning_blocks: tuple[ReasoningBlock, ...] = ()
    is_error: bool = False

    def __attrs_post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ConfigurationError(f"unknown message role {self.role!r}; expected one of {_ROLES}")


@attrs.define
class Conversation:
    """A mutable, chainable list of messages: ``Conversation().system("…").user("…")``."""

    messages: list[Message] = attrs.field(factory=list)

    def system(self, content: str) -> Conversation:
        self.messages.append(Message("system", content))
        return self

    def user(self, content: str) -> Conversation:
        self.messages.append(Message("user", content))
        return self

    def assistant(self, content: str = "", *, tool_calls: Iterable[ToolCall] = ()) -> Conversation:
        self.messages.append(Message("assistant", content, tool_calls=tuple(tool_calls)))
        return self

    def append(self, item: Completion | Message) -> Conversation:
        """Add a message, or the assistant turn of a completion (text, tool calls, reasoning)."""
        if isinstance(item, Message):
            self.messages.append(item)
        else:
            self.messages.append(
                Message(
                    "assistant",
                    item.text,
                    tool_calls=tuple(item.tool_calls),
                    reasoning_blocks=tuple(item.reasoning_blocks),
                )
            )
        return self

    def tool_result(self, call_id: str, content: Any, *, is_error: bool = False) -> Conversation:
        """Answer tool call ``call_id``; non-string content is sent as JSON."""
        text = content if isinstance(content, str) else json.dumps(content)
        self.messages.append(
            Message("tool", text, tool_call_id=call_id, name=self._tool_name(call_id), is_error=is_error)
        )
        return self

    def _tool_name(self, call_id: str) -> str | None:
        for message in reversed(self.messages):
            for call in message.tool_calls:
                if call.id == call_id:
                    return call.name
        return None

    @property
    def system_prompt(self) -> str | None:
        """All system messages joined; providers with a separate system parameter use this."""
        parts = [m.content for m in self.messages if m.role == "system"]
        return "\n\n".join(parts) if parts else None

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Any:
        return iter(self.messages)

    def copy(self) -> Conversation:
        return Conversation(list(self.messages))

    @classmethod
    def from_messages(cls, messages: Iterable[Mapping[str, Any]]) -> Conversation:
        """Build from OpenAI-style dicts (``role``, ``content``, ``tool_calls``, ``tool_call_id``)."""
        conversation = cls()
        for raw in messages:
            role = raw.get("role") or ""
            if role == "developer":
                role = "system"
            if role not in _ROLES:
                raise ConfigurationError(f"unknown message role {role!r}; expected one of {_ROLES}")
            content = raw.get("content") or ""
            if not isinstance(content, str):
                # OpenAI content parts: keep the text parts.
                content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
            calls = tuple(
                ToolCall(
                    id=c.get("id") or "",
                    name=(c.get("function") or {}).get("name") or "",
                    arguments=(c.get("function") or {}).get("arguments") or "",
                )
                for c in raw.get("tool_calls") or ()
            )
            if role == "tool":
                call_id = raw.get("tool_call_id") or ""
                name = raw.get("name") or conversation._tool_name(call_id)
                conversation.messages.append(Message("tool", content, tool_call_id=call_id, name=name))
            else:
                conversation.messages.append(Message(role, content, tool_calls=calls))  # type: ignore[arg-type]
        return conversation


def as_conversation(value: Conversation | str | Iterable[Mapping[str, Any]]) -> Conversation:
    """Accept a Conversation, a plain prompt, or a list of OpenAI-style message dicts."""
    if isinstance(value, Conversation):
        return value
    if isinstance(value, str):
        return Conversation().user(value)
    return Conversation.from_messages(value)
