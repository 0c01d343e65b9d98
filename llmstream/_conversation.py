"""Messages and the conversation builder every provider converts from."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from ._content import Part, Text, is_part, part_name
from ._content_dicts import part_from_dict
from ._errors import ConfigurationError
from ._types import Completion, ProviderOutput, ReasoningBlock, ServerToolEvent, ToolCall

__all__ = ["Content", "Conversation", "Message", "Role"]

Role = Literal["system", "user", "assistant", "tool"]
_ROLES = ("system", "user", "assistant", "tool")
#: A message's content: text, or parts (``Text``, ``Image``, ``Document``, ``Audio``).
Content = str | tuple[Part, ...]


def _content(value: str | Iterable[Part | str]) -> Content:
    """Text stays as it is (the common case costs one type check); parts become a tuple, strings in
    it ``Text``. Anything else is an error naming it, never dropped."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    if is_part(value):
        return (value,)  # type: ignore[return-value]
    parts: list[Part] = []
    for item in value:
        if isinstance(item, str):
            parts.append(Text(item))
        elif is_part(item):
            parts.append(item)
        else:
            raise ConfigurationError(
                f"a message part must be str, Text, Image, Document or Audio; got {part_name(item)}"
            )
    return tuple(parts)


@attrs.frozen(slots=True)
class Message:
    """One turn. Assistant turns may carry tool calls and reasoning blocks; tool turns answer a call.

    ``name`` on a tool message is the tool's name (Gemini needs it in ``function_response``);
    ``is_error`` marks a tool result that reports a failure (Anthropic ``is_error``);
    ``provider_output`` keeps an assistant turn's output as the vendor sent it (see ``ProviderOutput``);
    ``server_tools`` are the vendor-side tool calls of an assistant turn, sent back to their vendor
    (their ``raw`` blocks, at their ``text_offset``).
    """

    role: Role
    content: Content = attrs.field(default="", converter=_content)
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    reasoning_blocks: tuple[ReasoningBlock, ...] = ()
    is_error: bool = False
    provider_output: ProviderOutput | None = None
    server_tools: tuple[ServerToolEvent, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ConfigurationError(f"unknown message role {self.role!r}; expected one of {_ROLES}")
        if self.role == "system" and type(self.content) is not str:
            for part in self.content:
                if not isinstance(part, Text):
                    raise ConfigurationError(f"a system message takes text only, got {part_name(part)}")

    @property
    def text(self) -> str:
        """The message's text: its content, or its ``Text`` parts joined."""
        content = self.content
        if type(content) is str:
            return content
        return "".join(part.text for part in content if isinstance(part, Text))

    @property
    def parts(self) -> tuple[Part, ...]:
        """The content as parts (text content is one ``Text``; empty text none)."""
        content = self.content
        if isinstance(content, str):
            return (Text(content),) if content else ()
        return content


@attrs.define
class Conversation:
    """A mutable, chainable list of messages: ``Conversation().system("…").user("…")``."""

    messages: list[Message] = attrs.field(factory=list)

    def system(self, content: str) -> Conversation:
        self.messages.append(Message("system", content))
        return self

    def user(self, *content: str | Part) -> Conversation:
        """A user turn: ``.user("What is this?", Image.from_path("cat.png"))``."""
        if not content:
            self.messages.append(Message("user", ""))
        elif len(content) == 1 and type(content[0]) is str:
            self.messages.append(Message("user", content[0]))
        else:
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
                    provider_output=item.provider_output,
                    server_tools=tuple(item.server_tools),
                )
            )
        return self

    def tool_result(self, call_id: str, content: Any, *, is_error: bool = False) -> Conversation:
        """Answer tool call ``call_id``. A part (``Image``…) or a list holding parts is sent as parts,
        where the provider takes them in tool results (Anthropic, Gemini); other non-string content
        is sent as JSON."""
        value: Content
        if isinstance(content, str):
            value = content
        elif is_part(content) or (
            isinstance(content, (list, tuple)) and content and all(isinstance(c, str) or is_part(c) for c in content)
            and any(is_part(c) for c in content)
        ):
            value = _content(content)
        else:
            value = json.dumps(content)
        self.messages.append(
            Message("tool", value, tool_call_id=call_id, name=self._tool_name(call_id), is_error=is_error)
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
        parts = [m.text for m in self.messages if m.role == "system"]
        return "\n\n".join(parts) if parts else None

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Any:
        return iter(self.messages)

    def copy(self) -> Conversation:
        return Conversation(list(self.messages))

    @classmethod
    def from_messages(cls, messages: Iterable[Mapping[str, Any]]) -> Conversation:
        """Build from OpenAI-style dicts (``role``, ``content``, ``tool_calls``, ``tool_call_id``) or
        Anthropic-style ones (content blocks: ``text``, ``image``, ``document``, ``tool_use``,
        ``tool_result``, ``thinking``). Content lists keep every part; an unknown part type is a
        ConfigurationError naming it."""
        conversation = cls()
        for raw in messages:
            role = raw.get("role") or ""
            if role == "developer":
                role = "system"
            if role not in _ROLES:
                raise ConfigurationError(f"unknown message role {role!r}; expected one of {_ROLES}")
            calls = [
                ToolCall(
                    id=c.get("id") or "",
                    name=(c.get("function") or {}).get("name") or "",
                    arguments=(c.get("function") or {}).get("arguments") or "",
                )
                for c in raw.get("tool_calls") or ()
            ]
            content = raw.get("content") or ""
            reasoning: list[ReasoningBlock] = []
            if not isinstance(content, str):
                content = conversation._blocks(content, calls, reasoning)
            if role == "tool":
                call_id = raw.get("tool_call_id") or ""
                name = raw.get("name") or conversation._tool_name(call_id)
                conversation.messages.append(Message("tool", content, tool_call_id=call_id, name=name))
            elif content or calls or reasoning or role != "user" or not raw.get("content"):
                message = Message(role, content, tool_calls=tuple(calls), reasoning_blocks=tuple(reasoning))  # type: ignore[arg-type]
                conversation.messages.append(message)
        return conversation

    def _blocks(self, blocks: Iterable[Any], calls: list[ToolCall], reasoning: list[ReasoningBlock]) -> Content:
        """A content list: parts, with Anthropic tool_use / thinking blocks taken into ``calls`` /
        ``reasoning`` and tool_result blocks appended as tool messages first. One text part is text."""
        parts: list[Part] = []
        for block in blocks:
            kind = block.get("type") if isinstance(block, Mapping) else None
            if kind == "tool_use":
                arguments = json.dumps(block.get("input") or {})
                calls.append(ToolCall(id=block.get("id") or "", name=block.get("name") or "", arguments=arguments))
            elif kind == "thinking":
                reasoning.append(ReasoningBlock(block.get("thinking") or "", signature=block.get("signature")))
            elif kind == "redacted_thinking":
                reasoning.append(ReasoningBlock(redacted_data=block.get("data") or ""))
            elif kind == "tool_result":
                call_id = block.get("tool_use_id") or ""
                inner = block.get("content") or ""
                result = inner if isinstance(inner, str) else _content([part_from_dict(b) for b in inner])
                if type(result) is not str and len(result) == 1 and isinstance(result[0], Text):
                    result = result[0].text
                self.messages.append(
                    Message("tool", result, tool_call_id=call_id, name=self._tool_name(call_id),
                            is_error=bool(block.get("is_error")))
                )
            else:
                parts.append(part_from_dict(block))
        if len(parts) == 1 and isinstance(parts[0], Text):
            return parts[0].text
        return tuple(parts) if parts else ""


def as_conversation(value: Conversation | str | Iterable[Mapping[str, Any]]) -> Conversation:
    """Accept a Conversation, a plain prompt, or a list of OpenAI-style message dicts."""
    if isinstance(value, Conversation):
        return value
    if isinstance(value, str):
        return Conversation().user(value)
    return Conversation.from_messages(value)
