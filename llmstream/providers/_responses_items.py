"""The output items of the OpenAI Responses wire, sans-IO: what a server tool's item means (name,
arguments, output), url_citation annotations, usage, and the way back: a conversation as input items.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._content import Text
from .._conversation import Conversation, Message
from .._types import Citation, ServerToolStatus, Tool, Usage
from ._content_shapes import Budget, _openai_part, refuse

__all__ = [
    "SERVER_ITEMS", "STATUSES", "WIRE", "citation", "input_items", "json_value", "tool_name", "tool_values",
    "tools_payload", "usage_of",
]

#: ``ProviderOutput.wire`` of a Responses turn.
WIRE = "openai-responses"
#: Output item types the vendor runs itself → the tool's name (MCP calls: ``mcp:<server>.<tool>``).
SERVER_ITEMS = {
    "web_search_call": "web_search",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_interpreter",
    "image_generation_call": "image_generation",
    "mcp_call": "mcp",
    "mcp_list_tools": "mcp_list_tools",
    "shell_call": "shell",
    "tool_search_call": "tool_search",
}
STATUSES = {
    "in_progress": ServerToolStatus.IN_PROGRESS,
    "searching": ServerToolStatus.IN_PROGRESS,
    "interpreting": ServerToolStatus.IN_PROGRESS,
    "generating": ServerToolStatus.IN_PROGRESS,
    "partial_image": ServerToolStatus.IN_PROGRESS,
    "completed": ServerToolStatus.COMPLETED,
    "failed": ServerToolStatus.FAILED,
    "incomplete": ServerToolStatus.FAILED,
}


def usage_of(usage: Mapping[str, Any]) -> Usage:
    """Responses usage (``input_tokens`` incl. cached, ``output_tokens`` incl. reasoning) → the snapshot."""
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    cost = usage.get("cost")
    return Usage(
        input_tokens=usage.get("input_tokens") or 0,
        output_tokens=usage.get("output_tokens") or 0,
        cached_input_tokens=input_details.get("cached_tokens") or 0,
        reasoning_tokens=output_details.get("reasoning_tokens") or 0,
        cost=float(cost) if isinstance(cost, (int, float)) else None,
    )


def citation(annotation: Any) -> Citation | None:
    if not isinstance(annotation, Mapping):
        return None
    kind = annotation.get("type")
    if kind == "url_citation":
        return Citation(url=annotation.get("url"), title=annotation.get("title"),
                        start=annotation.get("start_index"), end=annotation.get("end_index"))
    if kind in ("file_citation", "container_file_citation"):
        return Citation(title=annotation.get("filename"), source_id=annotation.get("file_id"),
                        start=annotation.get("start_index", annotation.get("index")),
                        end=annotation.get("end_index"))
    return None


def tool_name(item: Mapping[str, Any]) -> str:
    name = SERVER_ITEMS[str(item.get("type"))]
    if name == "mcp":
        return f"mcp:{item.get('server_label') or ''}.{item.get('name') or ''}"
    return name


def json_value(value: Any) -> Any:
    """A JSON string as the value it holds (MCP arguments); anything else as it is."""
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value or None


def tool_values(item: Mapping[str, Any]) -> tuple[Any, Any]:
    """A server tool item's arguments and output, as plain values (``None`` where it has none yet)."""
    kind = item.get("type")
    if kind == "web_search_call":
        action = item.get("action")
        sources = action.get("sources") if isinstance(action, Mapping) else None
        return (dict(action) if isinstance(action, Mapping) else None), sources
    if kind == "file_search_call":
        return ({"queries": item.get("queries")} if item.get("queries") else None), item.get("results")
    if kind == "code_interpreter_call":
        code = item.get("code")
        return ({"code": code} if code else None), item.get("outputs")
    if kind == "image_generation_call":
        prompt = item.get("revised_prompt")
        return ({"revised_prompt": prompt} if prompt else None), item.get("result")
    if kind == "mcp_call":
        return json_value(item.get("arguments")), item.get("error") or item.get("output")
    if kind == "mcp_list_tools":
        return {"server_label": item.get("server_label")}, item.get("tools") or None
    return item.get("action"), item.get("output")


# -- the request ----------------------------------------------------------------------------------


def _text(message: Message, provider: str = WIRE) -> str:
    """The text of a turn that takes text only; any other part is refused, never dropped."""
    content: Any = message.content
    if isinstance(content, str):
        return content
    for part in content:
        if not isinstance(part, Text):
            where = "tool results" if message.role == "tool" else f"{message.role} messages"
            raise refuse(part, provider, f"Responses {where} take text only")
    return "".join(part.text for part in content)


def _user_content(message: Message, budget: Budget) -> Any:
    """A user turn's content: its text, or its parts in the Responses shapes (validated as for chat)."""
    content: Any = message.content
    if isinstance(content, str):
        return content
    out = []
    for part in content:
        shape = _openai_part(part, budget.provider, budget)  # the chat shape: limits and refusals once
        kind = shape["type"]
        if kind == "text":
            out.append({"type": "input_text", "text": shape["text"]})
        elif kind == "image_url":
            image = shape["image_url"]
            out.append({"type": "input_image", "image_url": image["url"], "detail": image.get("detail", "auto")})
        elif kind == "file":
            out.append({"type": "input_file", **shape["file"]})
        else:  # input_audio: the same shape on both wires
            out.append(shape)
    return out


def input_items(conversation: Conversation, *, previous_response_id: str | None = None,
                stateless: bool = False) -> list[dict[str, Any]]:
    """The conversation (system messages aside: they are ``instructions``) as Responses input items.

    An assistant turn that came from this wire goes back as its own output items in order (reasoning
    with ``encrypted_content`` right before the item that followed it); with ``stateless`` (``store=False``)
    without their ids, which the server did not keep, and without reasoning that has nothing to send.
    With ``previous_response_id`` only the messages after that response are sent: the server has the rest.
    """
    messages = conversation.messages
    if previous_response_id:
        for position in range(len(messages) - 1, -1, -1):
            output = messages[position].provider_output
            if output is not None and output.id == previous_response_id:
                messages = messages[position + 1:]
                break
    custom = {item.get("call_id") for message in conversation.messages if message.provider_output is not None
              and message.provider_output.wire == WIRE for item in message.provider_output.items
              if isinstance(item, Mapping) and item.get("type") == "custom_tool_call"}
    out: list[dict[str, Any]] = []
    budget = Budget(WIRE)
    for message in messages:
        role = message.role
        if role == "system":
            continue
        if role == "tool":
            kind = "custom_tool_call_output" if message.tool_call_id in custom else "function_call_output"
            out.append({"type": kind, "call_id": message.tool_call_id or "", "output": _text(message)})
        elif role == "assistant" and message.provider_output is not None and message.provider_output.wire == WIRE:
            out.extend(_replayed(message.provider_output.items, stateless))
        elif role == "assistant":
            if _text(message):
                out.append({"role": "assistant", "content": _text(message)})
            for call in message.tool_calls:
                out.append({"type": "function_call", "call_id": call.id, "name": call.name,
                            "arguments": call.arguments or "{}"})
        else:
            out.append({"role": role, "content": _user_content(message, budget)})
    return out


def _replayed(items: tuple[Any, ...], stateless: bool) -> list[dict[str, Any]]:
    if not stateless:
        return [dict(item) for item in items if isinstance(item, Mapping)]
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "reasoning" and not item.get("encrypted_content"):
            continue  # only its id, which a server that stored nothing cannot resolve
        out.append({key: value for key, value in item.items() if key != "id"})
    return out


def tools_payload(tools: tuple[Tool, ...]) -> list[dict[str, Any]]:
    """Function tools in the Responses shape (flat; ``strict`` off, as chat completions' default)."""
    return [
        {"type": "function", "name": t.name, "description": t.description, "parameters": dict(t.parameters),
         "strict": False}
        for t in tools
    ]

