"""Request readers: ``useChat``'s POST body and an OpenAI chat-completions body, into llmstream terms.

Pure functions over parsed JSON. Anything they cannot represent is a :class:`RequestError` naming
the field (an HTTP 400), never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._content import Audio, Document, Image, Part, Text
from .._content_dicts import part_from_dict
from .._conversation import Content, Conversation, Message
from .._errors import LLMStreamError
from .._types import ReasoningBlock, Tool, ToolCall

__all__ = ["ChatRequest", "RequestError", "UIRequest", "read_chat_request", "read_ui_request"]


class RequestError(ValueError):
    """A request the server cannot serve: ``status`` (400, 404, 413…) and the offending ``param``."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code


@attrs.frozen
class ChatRequest:
    """An OpenAI chat-completions request, read. ``extra`` holds the fields llmstream has no name
    for, to pass to the provider (``extra_body``) or refuse, as the provider allows."""

    model: str | None
    conversation: Conversation
    tools: tuple[Tool, ...] = ()
    tool_choice: Any = None
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    include_usage: bool = False
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class UIRequest:
    """A ``useChat`` POST body, read: the conversation and the body's other fields (``model``…)."""

    conversation: Conversation
    model: str | None = None
    chat_id: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RequestError(f"{where} must be a JSON object", param=where)
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise RequestError(f"{where} must be an array", param=where)
    return value


def _number(value: Any, where: str, kind: type) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise RequestError(f"{where} must be a{'n integer' if kind is int else ' number'}", param=where)
    return value


# -- OpenAI chat completions -----------------------------------------------------------------------

_KNOWN = {"model", "messages", "stream", "stream_options", "tools", "tool_choice", "max_tokens",
          "max_completion_tokens", "temperature", "n"}


def _content(value: Any, where: str, *, text_only: bool = False) -> Content:
    """A message's content: a string, or OpenAI content parts (text, image_url, input_audio, file)."""
    if value is None or isinstance(value, str):
        return value or ""
    parts: list[Part] = []
    for n, part in enumerate(_list(value, where)):
        part = _object(part, f"{where}[{n}]")
        kind = part.get("type")
        if kind in ("text", "input_text"):
            parts.append(Text(str(part.get("text") or "")))
        elif text_only:
            raise RequestError(f"{where}[{n}].type {kind!r} is not supported here (text parts only)",
                               param=f"{where}[{n}].type")
        else:
            try:
                parts.append(part_from_dict(part))
            except LLMStreamError as exc:
                raise RequestError(f"{where}[{n}]: {exc}", param=f"{where}[{n}].type") from exc
    if all(isinstance(p, Text) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, Text))
    return tuple(parts)


def _ui_file(part: Mapping[str, Any], where: str) -> Part:
    """An AI SDK ``file`` part (``mediaType``, ``url``: a data or http URL, ``filename``)."""
    url, media = part.get("url"), part.get("mediaType")
    if not isinstance(url, str) or not isinstance(media, str):
        raise RequestError(f"{where} needs url and mediaType strings", param=where)
    try:
        if media.startswith("image/"):
            return Image.from_url(url, media_type=media)
        if media.startswith("audio/"):
            return Audio.from_url(url, media_type=media)
        filename = part.get("filename")
        return Document.from_url(url, media_type=media, title=filename if isinstance(filename, str) else None)
    except LLMStreamError as exc:
        raise RequestError(f"{where}: {exc}", param=where) from exc


def _messages(value: Any) -> Conversation:
    conversation = Conversation()
    for n, raw in enumerate(_list(value, "messages")):
        where = f"messages[{n}]"
        raw = _object(raw, where)
        role = raw.get("role")
        if role == "developer":
            role = "system"
        if role not in ("system", "user", "assistant", "tool"):
            raise RequestError(f"{where}.role {role!r} is not one of system, developer, user, assistant, tool",
                               param=f"{where}.role")
        content = _content(raw.get("content"), f"{where}.content", text_only=role != "user")
        if role == "tool":
            call_id = raw.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise RequestError(f"{where}.tool_call_id is required for a tool message",
                                   param=f"{where}.tool_call_id")
            conversation.tool_result(call_id, content)  # text only: always a string here
            continue
        calls = []
        for k, call in enumerate(raw.get("tool_calls") or ()):
            call = _object(call, f"{where}.tool_calls[{k}]")
            function = _object(call.get("function") or {}, f"{where}.tool_calls[{k}].function")
            calls.append(ToolCall(id=str(call.get("id") or ""), name=str(function.get("name") or ""),
                                  arguments=str(function.get("arguments") or "")))
        conversation.append(Message(role, content, tool_calls=tuple(calls)))
    if not conversation.messages:
        raise RequestError("messages must not be empty", param="messages")
    return conversation


def _tools(value: Any) -> tuple[Tool, ...]:
    tools = []
    for n, raw in enumerate(_list(value or [], "tools")):
        raw = _object(raw, f"tools[{n}]")
        if raw.get("type", "function") != "function":
            raise RequestError(f"tools[{n}].type {raw.get('type')!r} is not supported (function tools only)",
                               param=f"tools[{n}].type")
        function = _object(raw.get("function"), f"tools[{n}].function")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError(f"tools[{n}].function.name is required", param=f"tools[{n}].function.name")
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        tools.append(Tool(name, str(function.get("description") or ""), _object(parameters, f"tools[{n}].parameters")))
    return tuple(tools)


def read_chat_request(body: Any) -> ChatRequest:
    """Read a ``POST /v1/chat/completions`` body (parsed JSON)."""
    body = _object(body, "body")
    if body.get("n") not in (None, 1):
        raise RequestError("n must be 1: one choice per request", param="n")
    options = body.get("stream_options")
    include_usage = bool(_object(options, "stream_options").get("include_usage")) if options is not None else False
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise RequestError("model must be a string", param="model")
    return ChatRequest(
        model=model or None,
        conversation=_messages(body.get("messages")),
        tools=_tools(body.get("tools")),
        tool_choice=body.get("tool_choice"),
        max_tokens=_number(max_tokens, "max_tokens", int),
        temperature=_number(body.get("temperature"), "temperature", float),
        stream=bool(body.get("stream")),
        include_usage=include_usage,
        extra={k: v for k, v in body.items() if k not in _KNOWN},
    )


# -- AI SDK UI messages ----------------------------------------------------------------------------


def _tool_part(part: Mapping[str, Any], where: str) -> tuple[ToolCall, Message | None] | None:
    """A tool UI part as (the call, its result message or None); provider-executed ones are the
    vendor's own and go back as nothing (the vendor keeps them)."""
    if part.get("providerExecuted"):
        return None
    kind = str(part.get("type"))
    name = str(part.get("toolName") or "") if kind == "dynamic-tool" else kind[len("tool-"):]
    call_id = part.get("toolCallId")
    if not isinstance(call_id, str) or not call_id:
        raise RequestError(f"{where}.toolCallId is required", param=f"{where}.toolCallId")
    state = part.get("state")
    if state in ("input-streaming", None):
        return None  # never finished: there is no call to answer
    call = ToolCall(call_id, name, json.dumps(part.get("input") if part.get("input") is not None else {}))
    if state == "output-available":
        output = part.get("output")
        text = output if isinstance(output, str) else json.dumps(output)
        return call, Message("tool", text, tool_call_id=call_id, name=name)
    if state == "output-error":
        return call, Message("tool", str(part.get("errorText") or "error"), tool_call_id=call_id, name=name,
                             is_error=True)
    if state == "output-denied":
        return call, Message("tool", "the user denied this tool call", tool_call_id=call_id, name=name, is_error=True)
    return call, None


def _assistant(conversation: Conversation, parts: Sequence[Any], where: str) -> None:
    text: list[str] = []
    reasoning: list[ReasoningBlock] = []
    calls: list[ToolCall] = []
    results: list[Message] = []

    def flush() -> None:
        if text or calls or reasoning:
            conversation.append(Message("assistant", "".join(text), tool_calls=tuple(calls),
                                        reasoning_blocks=tuple(reasoning)))
        conversation.messages.extend(results)
        text.clear()
        reasoning.clear()
        calls.clear()
        results.clear()

    for n, part in enumerate(parts):
        part = _object(part, f"{where}[{n}]")
        kind = str(part.get("type"))
        if kind == "step-start":
            if calls:
                flush()
        elif kind == "text":
            text.append(str(part.get("text") or ""))
        elif kind == "reasoning":
            meta = (part.get("providerMetadata") or {}).get("llmstream") or {}
            reasoning.append(ReasoningBlock(str(part.get("text") or ""), signature=meta.get("signature")))
        elif kind.startswith("tool-") or kind == "dynamic-tool":
            read = _tool_part(part, f"{where}[{n}]")
            if read is not None:
                calls.append(read[0])
                if read[1] is not None:
                    results.append(read[1])
        elif kind.startswith(("source-", "data-")):
            continue  # shown to the user, not said to the model
        else:
            raise RequestError(f"{where}[{n}].type {kind!r} is not supported", param=f"{where}[{n}].type")
    flush()


def read_ui_request(body: Any) -> UIRequest:
    """Read ``useChat``'s POST body: ``{"id", "messages": [UIMessage…], "trigger", …}``."""
    body = _object(body, "body")
    conversation = Conversation()
    for n, raw in enumerate(_list(body.get("messages"), "messages")):
        where = f"messages[{n}]"
        raw = _object(raw, where)
        role = raw.get("role")
        parts = _list(raw.get("parts", []), f"{where}.parts")
        if role == "assistant":
            _assistant(conversation, parts, f"{where}.parts")
            continue
        if role not in ("user", "system"):
            raise RequestError(f"{where}.role {role!r} is not one of system, user, assistant", param=f"{where}.role")
        content: list[Part] = []
        for k, part in enumerate(parts):
            part = _object(part, f"{where}.parts[{k}]")
            kind = part.get("type")
            if kind == "text":
                content.append(Text(str(part.get("text") or "")))
            elif kind == "file" and role == "user":
                content.append(_ui_file(part, f"{where}.parts[{k}]"))
            elif kind != "step-start" and not str(kind).startswith("data-"):
                raise RequestError(f"{where}.parts[{k}].type {kind!r} is not supported",
                                   param=f"{where}.parts[{k}].type")
        if all(isinstance(p, Text) for p in content):
            conversation.append(Message(role, "".join(p.text for p in content if isinstance(p, Text))))
        else:
            conversation.append(Message(role, tuple(content)))
    if not conversation.messages:
        raise RequestError("messages must not be empty", param="messages")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise RequestError("model must be a string", param="model")
    rest = {k: v for k, v in body.items() if k not in ("id", "messages", "trigger", "messageId", "model")}
    chat_id = body.get("id")
    return UIRequest(conversation, model=model or None, chat_id=chat_id if isinstance(chat_id, str) else None,
                     extra=rest)
