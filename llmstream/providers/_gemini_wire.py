"""Gemini request conversion, sans-IO: a Conversation and tools in google-genai's request types.

Kept apart from ``gemini`` (the stream adapter) so each stays small; ``types`` is the
``google.genai.types`` module, passed in so that importing this module imports no SDK.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from .._content import Text
from .._conversation import Conversation, Message
from .._errors import ConfigurationError
from .._types import Tool
from ._content_shapes import Budget, gemini_parts, gemini_response_parts
from ._server_tools import sent_back

__all__ = ["SYNTHETIC_ID", "contents_payload", "tools_payload"]

# Ids llmstream makes up for calls Gemini sent without one; never sent back to Gemini as ids.
SYNTHETIC_ID = re.compile(r"call_\d+_(.*)", re.DOTALL)


def _signature_bytes(signature: str | None) -> bytes | None:
    try:
        return base64.b64decode(signature, validate=True) if signature else None
    except (binascii.Error, ValueError):
        return None  # not a Gemini signature: sending it would only be rejected


def _real_id(call_id: str | None, name: str | None) -> str | None:
    """The call id to send back: Gemini's own, never one the translator synthesized."""
    match = SYNTHETIC_ID.fullmatch(call_id or "")
    return None if not call_id or (match and match.group(1) == (name or "")) else call_id


def _model_parts(message: Message, types: Any, budget: Budget | None) -> list[Any]:
    parts: list[Any] = []
    signatures = [block.signature for block in message.reasoning_blocks if block.signature]
    text = message.content if budget is None else message.text
    # Gemini signs a text turn on a text part (an empty one when there is no text): it goes back
    # there. Thought summaries themselves are not sent back.
    if message.server_tools and budget is None:
        return _with_server_parts(message, types, signatures) + _call_parts(message, types)
    if text or signatures:
        signature = _signature_bytes(signatures[-1]) if signatures else None
        parts.append(types.Part(text=text, thought_signature=signature))
    if budget is not None:  # media a model turn carried (e.g. generated images)
        media = tuple(part for part in message.parts if not isinstance(part, Text))
        parts.extend(gemini_parts(media, types, budget))
    return parts + _call_parts(message, types)


def _call_parts(message: Message, types: Any) -> list[Any]:
    parts = []
    for call in message.tool_calls:
        function_call = types.FunctionCall(name=call.name, args=call.args, id=_real_id(call.id, call.name))
        signature = _signature_bytes(call.signature)
        parts.append(types.Part(function_call=function_call, thought_signature=signature))
    return parts


def _with_server_parts(message: Message, types: Any, signatures: list[str]) -> list[Any]:
    """Text and the code parts as they came (``executableCode`` / ``codeExecutionResult``, their
    thought signatures on them); the turn's other signature goes on the last text part. The parts are
    the SDK's ``Part`` models, or the wire's dicts where the fast path (``sdk_models=False``) read them."""
    pieces = sent_back(message.text, message.server_tools)
    vendor = [_as_part(part, types) for piece in pieces if isinstance(piece, tuple) for part in piece]
    own = {base64.b64encode(part.thought_signature).decode() for part in vendor
           if part is not None and isinstance(part.thought_signature, bytes)}
    rest = [signature for signature in signatures if signature not in own]
    signature = _signature_bytes(rest[-1]) if rest else None
    last_text = max((i for i, piece in enumerate(pieces) if isinstance(piece, str)), default=None)
    parts: list[Any] = []
    for i, piece in enumerate(pieces):
        if isinstance(piece, str):
            parts.append(types.Part(text=piece, thought_signature=signature if i == last_text else None))
        else:
            parts.extend(part for part in map(_as_part, piece, [types] * len(piece)) if part is not None)
    if last_text is None and signature is not None:
        parts.append(types.Part(text="", thought_signature=signature))
    return parts


def _as_part(part: Any, types: Any) -> Any:
    """A vendor part to send back as a ``types.Part`` (parsed as the SDK parses the wire's JSON); None
    for anything else."""
    if isinstance(part, types.Part):
        return part
    if isinstance(part, dict):
        return types.Part.model_validate(part)  # camelCase aliases, base64 signatures: as the SDK reads them
    return None


def _tool_result_part(message: Message, types: Any, budget: Budget | None) -> Any:
    match = SYNTHETIC_ID.fullmatch(message.tool_call_id or "")
    name = message.name or (match.group(1) if match else None)
    if not name:
        raise ConfigurationError(
            f"Gemini needs the tool name for the result of call {message.tool_call_id!r}: answer a call "
            "made in this conversation, or set Message.name",
            provider="gemini",
        )
    text = message.text
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = text
    # Gemini reads an "error" key as the function's failure, anything else as its output.
    response = {"error": value} if message.is_error else {"result": value}
    call_id = _real_id(message.tool_call_id, name)
    if budget is not None:  # images and documents ride in the response's own parts
        media = gemini_response_parts(message.parts, types, budget)
        function_response = types.FunctionResponse(name=name, response=response, id=call_id, parts=media or None)
        return types.Part(function_response=function_response)
    return types.Part(function_response=types.FunctionResponse(name=name, response=response, id=call_id))


def contents_payload(conversation: Conversation, types: Any) -> list[Any]:
    """The conversation as ``types.Content`` turns (system messages go to ``system_instruction``)."""
    contents: list[Any] = []
    in_results = False  # consecutive tool results answer one model turn: one user turn
    budget: Budget | None = None
    for message in conversation.messages:
        parts_budget = None
        if type(message.content) is not str:  # parts: text-only requests never pay for this
            budget = parts_budget = budget or Budget("gemini")
        if message.role == "tool":
            part = _tool_result_part(message, types, parts_budget)
            if in_results:
                contents[-1].parts.append(part)
            else:
                contents.append(types.Content(role="user", parts=[part]))
            in_results = True
            continue
        in_results = False
        if message.role == "user":
            if parts_budget is not None:
                user_parts = gemini_parts(message.parts, types, parts_budget)
            else:
                user_parts = [types.Part(text=message.content)]
            contents.append(types.Content(role="user", parts=user_parts))
        elif message.role == "assistant":
            parts = _model_parts(message, types, parts_budget)
            if parts:  # Gemini rejects an empty turn, and it says nothing
                contents.append(types.Content(role="model", parts=parts))
    return contents


def tools_payload(tools: tuple[Tool, ...], types: Any) -> list[Any]:
    # parameters_json_schema takes a JSON schema as it is (``parameters`` wants Gemini's Schema subset).
    declare = types.FunctionDeclaration
    declarations = [
        declare(name=t.name, description=t.description or None, parameters_json_schema=dict(t.parameters))
        for t in tools
    ]
    return [types.Tool(function_declarations=declarations)]
