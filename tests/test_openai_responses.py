"""OpenAIResponsesClient against the loopback server: the real openai SDK on the Responses wire.

Failures inside the 200 stream, arguments only in ``.done``, unknown events, background resume and
cancel, and the round trip (what the next request's ``input`` holds). Each runs sync and async, on
the SDK's models and on llmstream's own decoding (``sdk_models=False``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import llmstream
from llmstream import (
    BadRequestError,
    ChunkType,
    Conversation,
    FinishReason,
    InBandError,
    ServerToolStatus,
    StreamInterruptedError,
    Tool,
)
from llmstream.providers._responses_wire import ResponsesEventTranslator
from tests.helpers import collect, complete, failure
from tests.loopback import LoopbackServer, Scripted, error_response, responses_stream, responses_text_events

PIECES = ["Alpha ", "beta ", "gamma."]
WEATHER = Tool("get_weather", "Weather of a city", {"type": "object", "properties": {"city": {"type": "string"}}})


@pytest.fixture(params=[True, False], ids=["sdk", "own-decoding"])
def sdk_models(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def make(server: LoopbackServer, sdk_models: bool, **kw: Any) -> llmstream.OpenAIResponsesClient:
    kw.setdefault("max_retries", 0)
    kw.setdefault("retry_backoff", 0.0)
    return llmstream.OpenAIResponsesClient("gpt-5-mini", api_key="sk" "-test", base_url=server.url + "/v1",
                                           sdk_models=sdk_models, **kw)


def cut(events: list[dict[str, Any]], before: str) -> list[dict[str, Any]]:
    """The events up to (without) the first one of type ``before``."""
    return events[: next(n for n, e in enumerate(events) if e["type"] == before)]


def test_the_factory_knows_the_prefix() -> None:
    client = llmstream.client("openai-responses:gpt-5", api_key="sk" "-test")
    assert isinstance(client, llmstream.OpenAIResponsesClient) and client.model == "gpt-5"
    assert client.provider == "openai-responses"


def test_text_reasoning_usage_and_the_request(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    events = responses_text_events(PIECES, reasoning_pieces=[["Think ", "a."], ["Then b."]])
    loopback.enqueue(Scripted(chunks=responses_stream(events)))
    conversation = Conversation().system("Be brief.").user("hi")
    chunks, completion = collect(make(loopback, sdk_models), conversation, mode, tools=[WEATHER], max_tokens=50)
    assert completion.text == "".join(PIECES)
    assert completion.reasoning == "Think a.\n\nThen b."  # summary parts joined by a blank line
    assert (completion.finish_reason, completion.raw_finish_reason) == (FinishReason.STOP, "completed")
    assert completion.usage is not None and (completion.usage.input_tokens, completion.usage.output_tokens) == (10, 5)
    assert (completion.id, completion.model) == ("resp_loop", "gpt-5-mini")
    assert chunks[0].type is ChunkType.START and chunks[0].id == "resp_loop"
    request = loopback.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/responses")
    body = request.json
    assert body["instructions"] == "Be brief." and body["input"] == [{"role": "user", "content": "hi"}]
    assert (body["stream"], body["max_output_tokens"], body["model"]) == (True, 50, "gpt-5-mini")
    assert body["tools"] == [{"type": "function", "name": "get_weather", "description": "Weather of a city",
                              "parameters": dict(WEATHER.parameters), "strict": False}]
    assert "include" not in body


def test_response_failed_mid_stream_is_an_in_band_error(loopback: LoopbackServer, mode: str,
                                                         sdk_models: bool) -> None:
    events = cut(responses_text_events(PIECES), "response.output_text.done")
    response = {**events[0]["response"], "status": "failed",
                "error": {"code": "server_error", "message": "The model crashed"}}
    events.append({"type": "response.failed", "response": response})
    loopback.enqueue(Scripted(chunks=responses_stream(events)))
    error, seen = failure(make(loopback, sdk_models, max_retries=2), "hi", mode)
    assert isinstance(error, InBandError) and error.code == "server_error" and "The model crashed" in str(error)
    assert error.partial is not None and error.partial.text == "".join(seen) == "".join(PIECES)
    assert error.partial.finish_reason == FinishReason.ERROR
    assert len(loopback.requests) == 1  # never retried after content


def test_an_error_event_is_an_in_band_error(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    events = cut(responses_text_events(PIECES), "response.output_text.done")[:-1]
    events.append({"type": "error", "code": "rate_limit_exceeded", "message": "Slow down", "param": None})
    loopback.enqueue(Scripted(chunks=responses_stream(events)))
    error, seen = failure(make(loopback, sdk_models), "hi", mode)
    assert isinstance(error, InBandError) and error.code == "rate_limit_exceeded" and "Slow down" in str(error)
    assert error.partial is not None and error.partial.text == "".join(seen) == "Alpha beta "


def test_arguments_only_in_done(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    calls = [{"call_id": "call_a", "name": "get_weather", "arguments": {"city": "Paris"}, "done_only": True},
             {"call_id": "call_b", "name": "get_weather", "arguments_pieces": ['{"city"', ': "Oslo"}']}]
    loopback.enqueue(Scripted(chunks=responses_stream(responses_text_events([], function_calls=calls))))
    chunks, completion = collect(make(loopback, sdk_models), "hi", mode)
    assert [(c.id, c.name, c.args) for c in completion.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}), ("call_b", "get_weather", {"city": "Oslo"})]
    ends = [c.tool_call for c in chunks if c.type is ChunkType.TOOL_CALL_END and c.tool_call]
    assert [json.loads(end.arguments) for end in ends] == [{"city": "Paris"}, {"city": "Oslo"}]  # full at END
    assert completion.finish_reason == FinishReason.TOOL_CALLS


def test_an_unknown_event_type_is_ignored(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    events = responses_text_events(PIECES)
    events.insert(5, {"type": "response.brand_new_thing", "item_id": "x", "payload": {"a": 1}})
    loopback.enqueue(Scripted(chunks=responses_stream(events)))
    completion = complete(make(loopback, sdk_models), "hi", mode)
    assert completion.text == "".join(PIECES) and completion.error is None


def test_incomplete_is_length(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    loopback.enqueue(Scripted(chunks=responses_stream(responses_text_events(PIECES, status="incomplete"))))
    completion = complete(make(loopback, sdk_models), "hi", mode)
    assert (completion.finish_reason, completion.raw_finish_reason) == (FinishReason.LENGTH, "max_output_tokens")
    assert completion.text == "".join(PIECES)


def test_a_body_that_ends_before_completed_is_an_error(loopback: LoopbackServer, mode: str,
                                                        sdk_models: bool) -> None:
    events = responses_text_events(PIECES)[:-1]  # everything but response.completed, then a clean end
    loopback.enqueue(Scripted(chunks=responses_stream(events)))
    error, seen = failure(make(loopback, sdk_models), "hi", mode)
    assert isinstance(error, StreamInterruptedError) and "response.completed" in str(error)
    assert error.partial is not None and error.partial.text == "".join(seen) == "".join(PIECES)


def test_the_http_400_is_a_bad_request(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    loopback.enqueue(error_response("openai", 400, "The requested model 'x' does not exist."))
    error, _ = failure(make(loopback, sdk_models), "hi", mode)
    assert isinstance(error, BadRequestError) and error.status_code == 400 and "does not exist" in str(error)


# -- background: resume instead of retry, cancel on close ----------------------------------------------


def test_background_resumes_after_a_dropped_connection(loopback: LoopbackServer, mode: str,
                                                       sdk_models: bool) -> None:
    frames = responses_stream(responses_text_events(PIECES, background=True))
    k = 6  # created, in_progress, item added, part added, "Alpha ", "beta " — then the connection drops
    loopback.enqueue(Scripted(chunks=frames, drop_after=k), Scripted(chunks=frames[k:]))
    chunks, completion = collect(make(loopback, sdk_models, max_retries=1), "hi", mode, background=True)
    texts = [chunk.text for chunk in chunks if chunk.type is ChunkType.TEXT]
    assert texts == PIECES  # each text once: nothing repeated, nothing lost
    assert completion.text == "".join(PIECES) and completion.error is None
    assert completion.finish_reason == FinishReason.STOP
    first, second = loopback.requests
    assert (first.method, first.path, first.json["background"]) == ("POST", "/v1/responses", True)
    assert (second.method, second.path) == ("GET", "/v1/responses/resp_loop")
    assert second.query == {"stream": "true", "starting_after": str(k - 1)}


def test_resumes_count_against_max_retries(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    frames = responses_stream(responses_text_events(PIECES, background=True))
    loopback.enqueue(Scripted(chunks=frames, drop_after=6), Scripted.json({"id": "resp_loop", "status": "cancelled"}))
    error, seen = failure(make(loopback, sdk_models, max_retries=0), "hi", mode, background=True)
    assert isinstance(error, StreamInterruptedError)
    assert error.partial is not None and error.partial.text == "".join(seen) == "Alpha beta "
    methods = [(r.method, r.path) for r in loopback.requests]
    # No resume allowed: the stream fails, and the response it leaves behind is cancelled on the server.
    assert methods == [("POST", "/v1/responses"), ("POST", "/v1/responses/resp_loop/cancel")]


def test_closing_a_background_stream_cancels_the_response(loopback: LoopbackServer, mode: str,
                                                          sdk_models: bool) -> None:
    frames = responses_stream(responses_text_events(PIECES, background=True))
    loopback.enqueue(Scripted(chunks=frames, stall_after=6), Scripted.json({"id": "resp_loop", "status": "cancelled"}))
    client = make(loopback, sdk_models)
    if mode == "sync":
        with client.stream("hi", background=True) as stream:
            for chunk in stream:
                if chunk.text == "beta ":
                    break
    else:
        async def run() -> Any:
            async with client.astream("hi", background=True) as stream:
                async for chunk in stream:
                    if chunk.text == "beta ":
                        break
            return stream

        stream = asyncio.run(run())  # type: ignore[assignment]
    assert stream.completion.finish_reason == FinishReason.CANCELLED and stream.completion.text == "Alpha beta "
    assert [(r.method, r.path) for r in loopback.requests][-1] == ("POST", "/v1/responses/resp_loop/cancel")


def test_a_finished_background_stream_is_not_cancelled(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    loopback.enqueue(Scripted(chunks=responses_stream(responses_text_events(PIECES, background=True))))
    assert complete(make(loopback, sdk_models), "hi", mode, background=True).text == "".join(PIECES)
    assert [(r.method, r.path) for r in loopback.requests] == [("POST", "/v1/responses")]


# -- round trips -------------------------------------------------------------------------------------


def test_round_trip_sends_the_items_back_in_order(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    calls = [{"call_id": "call_w", "name": "get_weather", "arguments": {"city": "Paris"}}]
    first = responses_text_events(["Let me check."], reasoning_pieces=[["Weather?"]], encrypted_content="ENC",
                                  function_calls=calls)
    loopback.enqueue(Scripted(chunks=responses_stream(first)),
                     Scripted(chunks=responses_stream(responses_text_events(["Sunny."], id="resp_two"))))
    client = make(loopback, sdk_models)
    conversation = Conversation().system("Be brief.").user("Weather in Paris?")
    completion = complete(client, conversation, mode, tools=[WEATHER])
    conversation.append(completion).tool_result("call_w", {"temp": 21})
    assert complete(client, conversation, mode, tools=[WEATHER]).text == "Sunny."
    sent = loopback.requests[1].json
    assert sent["instructions"] == "Be brief."
    kinds = [item.get("type") or item.get("role") for item in sent["input"]]
    assert kinds == ["user", "reasoning", "message", "function_call", "function_call_output"]
    reasoning, message, call, output = sent["input"][1:]
    assert reasoning["encrypted_content"] == "ENC" and reasoning["summary"] == [{"type": "summary_text",
                                                                               "text": "Weather?"}]
    assert message["content"][0]["text"] == "Let me check." and message["id"] == "msg_resp_loop"
    assert (call["call_id"], call["name"], json.loads(call["arguments"])) == ("call_w", "get_weather",
                                                                               {"city": "Paris"})
    assert output == {"type": "function_call_output", "call_id": "call_w", "output": '{"temp": 21}'}


def test_stateless_round_trip_asks_for_and_sends_encrypted_reasoning(loopback: LoopbackServer,
                                                                     sdk_models: bool) -> None:
    first = responses_text_events(["Four."], reasoning_pieces=[["Add."]], encrypted_content="ENC")
    loopback.enqueue(Scripted(chunks=responses_stream(first)), Scripted(chunks=responses_stream(first)))
    client = make(loopback, sdk_models)
    conversation = Conversation().user("2+2?")
    conversation.append(client.stream_complete(conversation, store=False)).user("And 3+3?")
    client.stream_complete(conversation, store=False, include=["message.output_text.logprobs"])
    one, two = (request.json for request in loopback.requests)
    assert one["include"] == ["reasoning.encrypted_content"] and one["store"] is False
    assert two["include"] == ["message.output_text.logprobs", "reasoning.encrypted_content"]
    items = two["input"]
    assert [item.get("type") or item.get("role") for item in items] == ["user", "reasoning", "message", "user"]
    assert items[1]["encrypted_content"] == "ENC"
    assert all("id" not in item for item in items)  # the server stored nothing: no ids to resolve


def test_previous_response_id_sends_only_the_newer_items(loopback: LoopbackServer, sdk_models: bool) -> None:
    loopback.enqueue(Scripted(chunks=responses_stream(responses_text_events(["Hi."]))),
                     Scripted(chunks=responses_stream(responses_text_events(["Fine."], id="resp_two"))))
    client = make(loopback, sdk_models)
    conversation = Conversation().system("Be brief.").user("Hello")
    completion = client.stream_complete(conversation)
    conversation.append(completion).user("How are you?")
    client.stream_complete(conversation, previous_response_id=completion.id)
    sent = loopback.requests[1].json
    assert sent["previous_response_id"] == "resp_loop" and sent["instructions"] == "Be brief."
    assert sent["input"] == [{"role": "user", "content": "How are you?"}]


def test_a_conversation_from_elsewhere_becomes_plain_items() -> None:
    from llmstream import ToolCall
    from llmstream.providers._responses_items import input_items

    conversation = Conversation().user("hi").assistant("Calling.", tool_calls=[ToolCall("c1", "f", '{"x":1}')])
    conversation.tool_result("c1", "done")
    assert input_items(conversation) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Calling."},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"x":1}'},
        {"type": "function_call_output", "call_id": "c1", "output": "done"},
    ]


# -- the translator alone: custom tools and server tools -------------------------------------------------


def translate(events: list[dict[str, Any]]) -> llmstream.Completion:
    translator = ResponsesEventTranslator()
    accumulator = llmstream.StreamingAccumulator()
    for number, event in enumerate(events):
        accumulator.add_all(translator.translate({**event, "sequence_number": number}))
    accumulator.add_all(translator.end())
    return accumulator.completion()


def _lifecycle(output: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    response = {"id": "r", "model": "m", "status": "in_progress", "output": []}
    return ({"type": "response.created", "response": response},
            {"type": "response.completed", "response": {**response, "status": "completed", "output": output}})


def test_custom_tool_calls_keep_free_text_and_answer_as_custom_output() -> None:
    from llmstream.providers._responses_items import input_items

    item = {"id": "ct_1", "type": "custom_tool_call", "call_id": "call_c", "name": "run_sql", "input": ""}
    done = {**item, "input": "SELECT 1"}
    created, completed = _lifecycle([done])
    completion = translate([
        created, {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.custom_tool_call_input.delta", "output_index": 0, "item_id": "ct_1", "delta": "SELECT "},
        {"type": "response.custom_tool_call_input.delta", "output_index": 0, "item_id": "ct_1", "delta": "1"},
        {"type": "response.custom_tool_call_input.done", "output_index": 0, "item_id": "ct_1", "input": "SELECT 1"},
        {"type": "response.output_item.done", "output_index": 0, "item": done}, completed,
    ])
    assert [(c.id, c.name, c.arguments) for c in completion.tool_calls] == [("call_c", "run_sql", "SELECT 1")]
    conversation = Conversation().user("q").append(completion).tool_result("call_c", "1 row")
    assert input_items(conversation)[-1] == {"type": "custom_tool_call_output", "call_id": "call_c",
                                             "output": "1 row"}


def test_server_tools_become_server_tool_events_never_tool_calls() -> None:
    code = {"id": "ci_1", "type": "code_interpreter_call", "status": "in_progress", "code": "", "outputs": None,
            "container_id": "cnt"}
    code_done = {**code, "status": "completed", "code": "print(1)", "outputs": [{"type": "logs", "logs": "1\n"}]}
    image = {"id": "ig_1", "type": "image_generation_call", "status": "in_progress", "result": None}
    image_done = {**image, "status": "completed", "result": "aGk=", "revised_prompt": "a cat"}
    mcp = {"id": "mcp_1", "type": "mcp_call", "server_label": "wiki", "name": "ask", "arguments": "",
           "status": "in_progress"}
    mcp_done = {**mcp, "arguments": '{"q": 1}', "status": "failed", "error": "boom"}
    created, completed = _lifecycle([code_done, image_done, mcp_done])
    events = [created]
    for index, (added, done) in enumerate([(code, code_done), (image, image_done), (mcp, mcp_done)]):
        events.append({"type": "response.output_item.added", "output_index": index, "item": added})
        events.append({"type": f"response.{added['type']}.in_progress", "output_index": index, "item_id": added["id"]})
        events.append({"type": "response.output_item.done", "output_index": index, "item": done})
    completion = translate([*events, completed])
    assert completion.tool_calls == [] and completion.finish_reason == FinishReason.STOP
    got = [(t.id, t.name, t.status, t.arguments, t.output) for t in completion.server_tools]
    assert got == [
        ("ci_1", "code_interpreter", ServerToolStatus.COMPLETED, {"code": "print(1)"}, [{"type": "logs",
                                                                                        "logs": "1\n"}]),
        ("ig_1", "image_generation", ServerToolStatus.COMPLETED, {"revised_prompt": "a cat"}, "aGk="),
        ("mcp_1", "mcp:wiki.ask", ServerToolStatus.FAILED, {"q": 1}, "boom"),
    ]


def test_user_parts_go_in_the_responses_shapes_and_nothing_is_dropped() -> None:
    from llmstream import ConfigurationError, Image
    from llmstream.providers._responses_items import input_items

    image = Image.from_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 16, "image/png")
    items = input_items(Conversation().user("What is this?", image))
    content = items[0]["content"]
    assert content[0] == {"type": "input_text", "text": "What is this?"}
    assert content[1]["type"] == "input_image" and content[1]["image_url"].startswith("data:image/png;base64,")
    conversation = Conversation().user("hi")
    conversation.messages.append(llmstream.Message("assistant", ("Look:", image)))
    with pytest.raises(ConfigurationError, match="openai-responses"):
        input_items(conversation)


def test_cancel_from_another_thread_never_resumes(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    import threading

    frames = responses_stream(responses_text_events(PIECES, background=True))
    loopback.enqueue(Scripted(chunks=frames, stall_after=6), Scripted.json({"id": "resp_loop", "status": "cancelled"}))
    client = make(loopback, sdk_models, max_retries=3)

    def on_chunk(stream: Any, chunk: Any) -> None:
        if chunk.text == "beta ":
            threading.Thread(target=stream.cancel).start()

    if mode == "sync":
        with client.stream("hi", background=True) as stream:
            for chunk in stream:
                on_chunk(stream, chunk)
    else:
        async def run() -> Any:
            async with client.astream("hi", background=True) as stream:
                async for chunk in stream:
                    on_chunk(stream, chunk)
            return stream

        stream = asyncio.run(run())  # type: ignore[assignment]
    assert stream.completion.finish_reason == FinishReason.CANCELLED and stream.completion.text == "Alpha beta "
    # The shut-down socket is not a dropped connection to resume: no GET, only the cancel.
    assert [(r.method, r.path) for r in loopback.requests] == [("POST", "/v1/responses"),
                                                                ("POST", "/v1/responses/resp_loop/cancel")]
