"""The Responses-API oracle: the openai SDK's own ``client.responses.stream(...)`` on the recorded bytes.

Its ``ResponseStreamState`` accumulates the events into the final ``Response``; the expected completion
is read from that object's output items with rules written here from DESIGN (independent of
llmstream's translator): text = the message items' ``output_text`` parts, reasoning = every summary
and reasoning-text part joined by a blank line, tool calls = ``function_call`` items by ``call_id``,
server tools = the built-in tool items in their final state, citations = ``url_citation`` annotations
(each URL once), usage and finish from the response itself.
"""

from __future__ import annotations

import json
from typing import Any

from llmstream import Citation, FinishReason, InBandError, LLMStreamError, ServerToolEvent, ServerToolStatus, Usage
from tests.oracles.corpus import Expected, ExpectedCall, Recording, http_error, mock_transport, parse_args

__all__ = ["responses_oracle", "responses_sources"]

_NAMES = {
    "web_search_call": "web_search", "file_search_call": "file_search", "code_interpreter_call": "code_interpreter",
    "image_generation_call": "image_generation", "mcp_list_tools": "mcp_list_tools",
}
_INCOMPLETE = {"max_output_tokens": FinishReason.LENGTH, "content_filter": FinishReason.CONTENT_FILTER}


def _final_response(rec: Recording) -> tuple[Any, type[LLMStreamError] | None]:
    """The SDK's final response (``None`` for an HTTP error), and InBandError when the stream failed."""
    import httpx2
    import openai

    sdk = openai.OpenAI(api_key="oracle", base_url="http://oracle.invalid/v1", max_retries=0,
                        http_client=httpx2.Client(transport=mock_transport(rec)))
    try:
        with sdk.responses.stream(model=rec.model, input="x") as stream:
            events = list(stream)
            response = stream._state._completed_response
    except openai.APIStatusError:
        return None, None
    failed = next((e for e in events if e.type in ("response.failed", "error")), None)
    if failed is not None:
        return None, InBandError
    if response is None:
        incomplete = next((e for e in events if e.type == "response.incomplete"), None)
        response = incomplete.response if incomplete is not None else None
    return response, None


def responses_oracle(rec: Recording) -> Expected:
    name = "openai responses.stream() ResponseStreamState final response"
    if rec.status >= 400:
        return http_error(rec, name)
    response, error = _final_response(rec)
    if response is None:
        return Expected(oracle=name, error=error, finish_reason=FinishReason.ERROR)
    items = [item.to_dict() for item in response.output or ()]
    text, refusal, reasoning, calls = [], [], [], []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    text.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    refusal.append(part.get("refusal") or "")
        elif kind == "reasoning":
            parts = [*(s.get("text") or "" for s in item.get("summary") or ()),
                     *(c.get("text") or "" for c in item.get("content") or ())]
            reasoning.extend(part for part in parts if part)
        elif kind == "function_call":
            calls.append(ExpectedCall(item.get("call_id"), item.get("name") or "", parse_args(item.get("arguments"))))
    if response.status == "incomplete":
        details = response.incomplete_details
        raw = (details.reason if details is not None else None) or "incomplete"
        finish = _INCOMPLETE.get(raw, FinishReason.OTHER)
    else:
        raw = response.status or "completed"
        finish = FinishReason.TOOL_CALLS if calls else FinishReason.STOP
    usage = None
    if response.usage is not None:
        data = response.usage.to_dict()
        cost = data.get("cost")
        usage = Usage(
            input_tokens=data.get("input_tokens") or 0,
            output_tokens=data.get("output_tokens") or 0,
            cached_input_tokens=(data.get("input_tokens_details") or {}).get("cached_tokens") or 0,
            reasoning_tokens=(data.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
            cost=float(cost) if isinstance(cost, (int, float)) else None,
        )
    return Expected(
        oracle=name, id=response.id or None, model=response.model or None, text="".join(text),
        reasoning="\n\n".join(reasoning), refusal="".join(refusal), tool_calls=tuple(calls), usage=usage,
        finish_reason=finish, raw_finish_reason=raw,
    )


def responses_sources(rec: Recording) -> tuple[list[ServerToolEvent], list[Citation], list[Any]]:
    """The final response's server tools, citations and output items (what the next turn sends back)."""
    response, _ = _final_response(rec)
    if response is None:
        return [], [], []
    items = [_as_sent(item.to_dict()) for item in response.output or ()]
    tools, citations, urls = [], [], set()
    for item in items:
        kind = item.get("type")
        if kind in _NAMES or kind == "mcp_call":
            tools.append(_server_tool(item))
        for part in (item.get("content") or ()) if kind == "message" else ():
            for annotation in part.get("annotations") or ():
                if annotation.get("type") == "url_citation" and annotation.get("url") not in urls:
                    urls.add(annotation.get("url"))
                    citations.append(Citation(url=annotation.get("url"), title=annotation.get("title"),
                                              start=annotation.get("start_index"), end=annotation.get("end_index")))
    return tools, citations, items


_PARSED = ("parsed", "parsed_arguments")  # added by the SDK's parse_response, never on the wire


def _as_sent(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as the server sent it: without the parsing helper's additions."""
    out = {key: value for key, value in item.items() if key not in _PARSED}
    if isinstance(out.get("content"), list):
        out["content"] = [{k: v for k, v in part.items() if k not in _PARSED} if isinstance(part, dict) else part
                          for part in out["content"]]
    return out


def _server_tool(item: dict[str, Any]) -> ServerToolEvent:
    kind = item["type"]
    failed = item.get("error") or item.get("status") == "failed"
    status = ServerToolStatus.FAILED if failed else ServerToolStatus.COMPLETED
    if kind == "mcp_call":
        arguments = json.loads(item["arguments"]) if item.get("arguments") else None
        return ServerToolEvent(item["id"], f"mcp:{item['server_label']}.{item['name']}", status, arguments,
                               item.get("error") or item.get("output"))
    if kind == "mcp_list_tools":
        return ServerToolEvent(item["id"], "mcp_list_tools", status, {"server_label": item.get("server_label")},
                               item.get("tools") or None)
    if kind == "web_search_call":
        action = item.get("action")
        return ServerToolEvent(item["id"], "web_search", status, action, (action or {}).get("sources"))
    raise AssertionError(f"no oracle rule for server tool item {kind!r}")  # not in the corpus yet
