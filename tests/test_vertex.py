"""Gemini on Vertex AI: configuration as google-genai reads it, the Vertex URL shape and bearer token
against the loopback server, the shared Vertex recordings against google-genai's own Vertex client,
partialArgs assembly, and ``llmstream.testing`` recording/replaying Vertex without the token.

No test reaches Google: credentials are ``google.oauth2.credentials.Credentials(token=…)`` with no
expiry and no refresh token (never refreshed), and the GCE metadata server is never probed.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.genai")

from google.auth import exceptions as auth_exceptions
from google.genai import types as genai_types
from google.oauth2.credentials import Credentials

import llmstream
from llmstream import (
    AuthenticationError,
    ChunkType,
    ConfigurationError,
    FinishReason,
    MalformedStreamError,
    StreamingAccumulator,
    ToolCall,
)
from llmstream.providers._gemini_dicts import GeminiDictTranslator
from llmstream.providers._parts import Parts
from llmstream.providers._vertex import ArgumentsWriter, PartialCalls, parse_json_path, resolve_vertex, use_vertex
from llmstream.providers.gemini import GeminiClient, GeminiTranslator
from llmstream.providers.vertex import VertexClient
from llmstream.testing import assert_no_secrets, find_secrets, replay, vcr_config
from tests.conftest import SHARED_CASSETTES
from tests.helpers import collect, complete
from tests.loopback import LoopbackServer, Scripted, gemini_stream, gemini_text_responses

TOKEN = "ya29." + "fixed-test-token-" * 3  # OAuth access-token shaped, so the scrubbing test means it
MODEL = "gemini-2.5-flash"
PROJECT, LOCATION = "demo-project", "us-central1"
VERTEX_PATH = f"/v1beta1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{MODEL}:streamGenerateContent"
STRAY_KEY = "AI" "zaSySTRAY-not-a-real-key-0123456789ab"
ENV = (
    "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_GENAI_API_VERSION",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _no_google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient Google settings, no gcloud config, and never a probe of the GCE metadata server."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))  # no application-default login here
    from google.auth.compute_engine import _metadata

    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)  # read at import: the variable alone may be late


def fixed_credentials(**kwargs: Any) -> Credentials:
    return Credentials(token=TOKEN, **kwargs)  # type: ignore[no-untyped-call]


def vertex_client(server: LoopbackServer, model: str = MODEL, **kwargs: Any) -> GeminiClient:
    kwargs.setdefault("project", PROJECT)
    kwargs.setdefault("location", LOCATION)
    kwargs.setdefault("credentials", fixed_credentials())
    kwargs.setdefault("max_retries", 0)
    return GeminiClient(model, vertexai=True, base_url=server.url, **kwargs)


# -- configuration, before any request ----------------------------------------------------------------


def test_a_credentials_client_streams_on_the_vertex_url_with_the_bearer_token(
    loopback: LoopbackServer, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", STRAY_KEY)  # a stray key never turns this into express mode
    monkeypatch.setenv("GOOGLE_API_KEY", STRAY_KEY)
    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(["Hello ", "Vertex"]))))
    client = vertex_client(loopback)
    assert client.provider == "vertex" and GeminiClient.provider == "gemini"
    completion = complete(client, "hi", mode)
    assert (completion.text, completion.provider, completion.finish_reason) == ("Hello Vertex", "vertex", "stop")
    (request,) = loopback.requests
    assert (request.path, request.query) == (VERTEX_PATH, {"alt": "sse"})
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-goog-api-key" not in request.headers
    assert STRAY_KEY not in repr(client) and TOKEN not in repr(client)


def test_the_prefix_and_the_environment_as_google_genai_reads_it(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(["ok"]))))
    client = llmstream.client(f"vertex:{MODEL}", credentials=fixed_credentials(), base_url=loopback.url, max_retries=0)
    assert isinstance(client, VertexClient) and client.provider == "vertex"
    assert client.stream_complete("hi").text == "ok"
    assert loopback.requests[-1].path == VERTEX_PATH.replace(PROJECT, "env-project").replace(LOCATION, "europe-west4")
    # GOOGLE_GENAI_USE_VERTEXAI makes a plain GeminiClient a Vertex one, as in google-genai.
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "True")
    assert GeminiClient(MODEL, credentials=fixed_credentials()).provider == "vertex"
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "0")
    assert GeminiClient(MODEL, api_key="k").provider == "gemini"


def test_location_defaults_to_global_and_credentials_may_name_the_project(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(["ok"]))))

    class ServiceAccountLike(Credentials):  # type: ignore[misc]
        project_id = "creds-project"  # what service-account credentials carry

    credentials = ServiceAccountLike(token=TOKEN)
    client = GeminiClient(MODEL, vertexai=True, credentials=credentials, base_url=loopback.url)
    assert client.stream_complete("hi").text == "ok"
    assert loopback.requests[-1].path.startswith("/v1beta1/projects/creds-project/locations/global/")


def test_application_default_credentials_are_used_when_nothing_else_is_given(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.auth

    asked: list[Any] = []

    def default(scopes: Any = None, **_: Any) -> tuple[Credentials, str]:
        asked.append(scopes)
        return fixed_credentials(), "adc-project"

    monkeypatch.setattr(google.auth, "default", default)
    monkeypatch.setenv("GEMINI_API_KEY", STRAY_KEY)
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", LOCATION)  # a location from the environment: not express mode
    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(["ok"]))))
    client = llmstream.client(f"vertex:{MODEL}", base_url=loopback.url, max_retries=0)
    assert client.stream_complete("hi").text == "ok"
    assert asked == [["https://www.googleapis.com/auth/cloud-platform"]]
    request = loopback.requests[-1]
    assert request.path == VERTEX_PATH.replace(PROJECT, "adc-project")
    assert request.headers["authorization"] == f"Bearer {TOKEN}" and "x-goog-api-key" not in request.headers


def test_express_mode_sends_the_key_on_the_publisher_path(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(["fast"]))))
    client = GeminiClient(MODEL, vertexai=True, api_key="express-key", base_url=loopback.url, max_retries=0)
    completion = complete(client, "hi", mode)
    assert (completion.text, completion.provider) == ("fast", "vertex")
    request = loopback.requests[-1]
    assert request.path == f"/v1beta1/publishers/google/models/{MODEL}:streamGenerateContent"
    assert request.headers["x-goog-api-key"] == "express-key" and "authorization" not in request.headers


def test_an_environment_key_alone_is_google_genais_implicit_express_mode(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "env-express-key")
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(["ok"]))))
    assert GeminiClient(MODEL, base_url=loopback.url).stream_complete("hi").text == "ok"
    assert loopback.requests[-1].headers["x-goog-api-key"] == "env-express-key"


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"credentials": "creds", "api_key": "k"}, ["credentials=", "api_key="]),
        ({"api_key": "k", "project": "p"}, ["express mode", "project"]),
        ({"credentials": "creds"}, ["project=", "GOOGLE_CLOUD_PROJECT"]),
        ({"project": "p"}, ["gcloud auth application-default login", "GOOGLE_APPLICATION_CREDENTIALS"]),
        ({}, ["gcloud auth application-default login", "credentials="]),
    ],
)
def test_what_is_missing_is_a_configuration_error_naming_what_to_set(
    loopback: LoopbackServer, kwargs: dict[str, Any], names: list[str]
) -> None:
    if kwargs.get("credentials") == "creds":
        kwargs["credentials"] = fixed_credentials()  # no project_id on these
    with pytest.raises(ConfigurationError) as info:
        GeminiClient(MODEL, vertexai=True, base_url=loopback.url, **kwargs)
    assert all(name in str(info.value) for name in names), str(info.value)
    assert info.value.provider == "vertex"
    assert TOKEN not in str(info.value) and "'k'" not in str(info.value)
    assert loopback.requests == []


def test_vertex_settings_on_the_gemini_api_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="vertexai=True"):
        GeminiClient(MODEL, api_key="k", project="p")
    with pytest.raises(ConfigurationError, match="vertexai=True"):
        GeminiClient(MODEL, api_key="k", credentials=fixed_credentials())


def test_resolution_rules_without_any_sdk_call() -> None:
    def no_adc() -> tuple[Any, str | None]:
        raise AssertionError("ADC must not be consulted")

    env = {"GOOGLE_CLOUD_PROJECT": "p", "GEMINI_API_KEY": "stray", "GOOGLE_API_KEY": "google"}
    creds = object()
    auth = resolve_vertex(project=None, location=None, credentials=creds, api_key=None, environ=env,
                          default_credentials=no_adc)  # fmt: skip
    assert (auth.project, auth.location, auth.credentials, auth.express) == ("p", "global", creds, False)
    assert "api_key" not in auth.client_kwargs() and "stray" not in repr(auth)
    keys = {"GEMINI_API_KEY": "g", "GOOGLE_API_KEY": "first"}
    express = resolve_vertex(project=None, location=None, credentials=None, api_key=None, environ=keys,
                             default_credentials=no_adc)  # fmt: skip
    assert express.client_kwargs() == {"vertexai": True, "api_key": "first"}  # GOOGLE_API_KEY first, as google-genai
    assert use_vertex(None, {"GOOGLE_GENAI_USE_ENTERPRISE": "1", "GOOGLE_GENAI_USE_VERTEXAI": "false"}) is True
    assert use_vertex(False, {"GOOGLE_GENAI_USE_VERTEXAI": "true"}) is False


def test_a_failed_token_refresh_is_an_authentication_error(loopback: LoopbackServer, mode: str) -> None:
    expired = Credentials(token=None)  # type: ignore[no-untyped-call]  # no token, no refresh token: refresh fails
    client = vertex_client(loopback, credentials=expired)
    with pytest.raises(AuthenticationError) as info:
        complete(client, "hi", mode)
    assert info.value.provider == "vertex" and "RefreshError" in str(info.value)
    assert isinstance(info.value.__cause__, auth_exceptions.RefreshError)
    assert loopback.requests == []


# -- partialArgs ------------------------------------------------------------------------------------------


def test_json_paths() -> None:
    assert parse_json_path("$.a.b[0]['c d'][\"e\"]") == ("a", "b", 0, "c d", "e")
    assert parse_json_path("$") == ()
    for bad in ("a.b", "$.a..b", "$[x]"):
        with pytest.raises(ValueError):
            parse_json_path(bad)


def piece(path: str, **value: Any) -> genai_types.PartialArg:
    return genai_types.PartialArg(json_path=path, **value)


def function_call(**fields: Any) -> genai_types.FunctionCall:
    return genai_types.FunctionCall(**fields)


def test_pieces_assemble_into_the_arguments_with_deltas_that_join_to_them() -> None:
    parts, partial, out = Parts(), PartialCalls(), []
    feeds = [
        function_call(name="write", id="c1", will_continue=True),
        function_call(partial_args=[piece("$.path", string_value="src/", will_continue=True)], will_continue=True),
        function_call(partial_args=[piece("$.path", string_value='ma"in.py')], will_continue=True),
        function_call(partial_args=[piece("$.mode"), piece("$.lines[0]", number_value=3.0),
                                    piece("$.lines[1]", number_value=2.5)], will_continue=True),
        function_call(partial_args=[piece("$.meta.ok", bool_value=True),
                                    piece("$.meta.none", null_value="NULL_VALUE")], will_continue=True),
        function_call(partial_args=[piece("$.text", string_value="héllo "), piece("$.text", string_value="wörld")]),
    ]  # fmt: skip
    for call in feeds:
        assert partial.feed(call, None, None, out, parts)
    assert not partial.open
    expected = {"path": 'src/ma"in.py', "lines": [3, 2.5], "meta": {"ok": True, "none": None}, "text": "héllo wörld"}
    kinds = [chunk.type for chunk in out]
    assert kinds[0] is ChunkType.TOOL_CALL_START and kinds[-1] is ChunkType.TOOL_CALL_END
    assert kinds.count(ChunkType.TOOL_CALL_DELTA) == 6  # one per piece that wrote, and the closers
    deltas = "".join(c.tool_call.arguments for c in out if c.type is ChunkType.TOOL_CALL_DELTA)  # type: ignore[union-attr]
    end = out[-1].tool_call
    assert end is not None and json.loads(end.arguments) == expected and deltas == end.arguments
    assert (end.id, end.name, end.index) == ("c1", "write", 0) and parts.calls == 1


def test_a_null_value_as_vertex_sends_it_and_a_path_without_a_value() -> None:
    writer = ArgumentsWriter("f")
    pieces = [genai_types.PartialArg.model_validate(p) for p in
              ({"jsonPath": "$.a", "nullValue": None}, {"jsonPath": "$.b", "willContinue": True})]  # fmt: skip
    assert writer.add(pieces) == '{"a":null'
    assert (writer.finish(), writer.arguments()) == ("}", '{"a":null}')


def test_a_piece_going_back_stops_the_deltas_but_not_the_arguments() -> None:
    parts, partial, out = Parts(), PartialCalls(), []
    partial.feed(function_call(name="f", partial_args=[piece("$.a", string_value="x"), piece("$.b", string_value="y")],
                               will_continue=True), None, None, out, parts)  # fmt: skip
    before = len(out)
    partial.feed(function_call(partial_args=[piece("$.a", string_value="z")]), None, None, out, parts)
    assert [c.type for c in out[before:]] == [ChunkType.TOOL_CALL_END]  # no DELTA that would not join up
    assert json.loads(out[-1].tool_call.arguments) == {"a": "xz", "b": "y"}  # type: ignore[union-attr]
    accumulator = StreamingAccumulator()
    for chunk in out:
        accumulator.add(chunk)
    assert accumulator.completion().tool_calls[0].args == {"a": "xz", "b": "y"}


def test_pieces_that_do_not_fit_together_are_a_malformed_stream() -> None:
    writer = ArgumentsWriter("f")
    writer.add([piece("$.a", string_value="x")])
    with pytest.raises(MalformedStreamError, match="'f'"):
        writer.add([piece("$.a[0]", string_value="y")])


def vertex_call_responses() -> list[dict[str, Any]]:
    """How Vertex streams one call's arguments: a named call, nameless pieces, then an empty call."""
    sig = base64.b64encode(b"sig").decode()

    def part(function_call: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": function_call, **extra}]}}]}

    return [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Checking."}]}}], "responseId": "r1",
         "modelVersion": MODEL},
        part({"name": "weather", "willContinue": True}, thoughtSignature=sig),
        part({"partialArgs": [{"jsonPath": "$.city", "stringValue": "Par", "willContinue": True}],
              "willContinue": True}),
        part({"partialArgs": [{"jsonPath": "$.city", "stringValue": "is"}, {"jsonPath": "$.days", "numberValue": 3}],
              "willContinue": True}),
        part({}),
        part({"name": "time", "args": {"tz": "CET"}}),  # a whole call after it
        {"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 9, "totalTokenCount": 13}},
    ]  # fmt: skip


@pytest.mark.parametrize("sdk_models", [True, False], ids=["sdk-models", "dicts"])
def test_the_translator_streams_a_pieced_call_then_a_whole_one(sdk_models: bool) -> None:
    translator: Any = GeminiTranslator() if sdk_models else GeminiDictTranslator("vertex")
    responses: list[Any] = vertex_call_responses()  # the dict translator reads the wire's JSON as it is
    if sdk_models:
        responses = [genai_types.GenerateContentResponse.model_validate(r) for r in responses]
    chunks = [chunk for response in responses for chunk in translator.translate(response)]
    assert translator.end() == []  # everything closed, the finish came
    accumulator = StreamingAccumulator(provider="vertex")
    for chunk in chunks:
        accumulator.add(chunk)
    completion = accumulator.completion()
    sig = base64.b64encode(b"sig").decode()
    assert completion.tool_calls == [
        ToolCall("call_0_weather", "weather", '{"city":"Paris","days":3}', signature=sig),
        ToolCall("call_1_time", "time", '{"tz":"CET"}'),
    ]
    assert (completion.text, completion.finish_reason) == ("Checking.", FinishReason.TOOL_CALLS)
    deltas = [c.tool_call.arguments for c in chunks if c.type is ChunkType.TOOL_CALL_DELTA and c.tool_call.index == 0]  # type: ignore[union-attr]
    assert len(deltas) >= 3 and "".join(deltas) == '{"city":"Paris","days":3}'


@pytest.mark.parametrize("sdk_models", [True, False], ids=["sdk-models", "dicts"])
def test_a_call_still_open_is_ended_by_the_finish_reason_or_the_stream_end(sdk_models: bool) -> None:
    translator: Any = GeminiTranslator() if sdk_models else GeminiDictTranslator("vertex")
    open_call = vertex_call_responses()[1:3]
    for response in open_call:
        translator.translate(genai_types.GenerateContentResponse.model_validate(response) if sdk_models else response)
    closers, end, stop = translator.end()
    assert closers.type is ChunkType.TOOL_CALL_DELTA and closers.tool_call is not None
    assert closers.tool_call.arguments == '"}'  # the string and the object closed
    assert end.type is ChunkType.TOOL_CALL_END and end.tool_call is not None
    assert json.loads(end.tool_call.arguments) == {"city": "Par"}
    assert stop.finish_reason is FinishReason.TOOL_CALLS  # no finish reason came: inferred
    out: list[Any] = []
    PartialCalls().close(Parts(), None, out)
    assert out == []


@pytest.mark.parametrize("sdk_models", [True, False], ids=["sdk-models", "own-decoding"])
def test_pieced_calls_end_to_end_on_vertex(loopback: LoopbackServer, mode: str, sdk_models: bool) -> None:
    loopback.enqueue(Scripted(chunks=gemini_stream(vertex_call_responses())))
    streamed_arguments = {"function_calling_config": {"stream_function_call_arguments": True}}
    client = vertex_client(loopback, sdk_models=sdk_models)
    chunks, completion = collect(client, "weather?", mode, tool_config=streamed_arguments)
    config = loopback.requests[-1].json["toolConfig"]["functionCallingConfig"]  # what asks Vertex for pieces
    assert True in (config.get("streamFunctionCallArguments"), config.get("stream_function_call_arguments"))
    assert [(c.name, c.args) for c in completion.tool_calls] == [("weather", {"city": "Paris", "days": 3}),
                                                                 ("time", {"tz": "CET"})]  # fmt: skip
    assert completion.provider == "vertex" and completion.finish_reason is FinishReason.TOOL_CALLS
    assert [c.type for c in chunks].count(ChunkType.TOOL_CALL_END) == 2


# -- the shared Vertex recordings, against google-genai's own Vertex client --------------------------------

VERTEX_RECORDINGS = sorted((SHARED_CASSETTES / "gemini_vertex").glob("*.yaml"))


def genai_vertex_result(rec: Any) -> tuple[str, str, Any, str | None, str | None]:
    """google-genai's own Vertex client on the recorded bytes: text, thoughts, last usage, finish, id."""
    import httpx2
    from google import genai

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=rec.body)

    sdk = genai.Client(
        vertexai=True, project="oracle", location="us-central1", credentials=fixed_credentials(),
        http_options=genai_types.HttpOptions(client_args={"transport": httpx2.MockTransport(handler)}),
    )  # fmt: skip
    text, thoughts, usage, finish, response_id = [], [], None, None, None
    for response in sdk.models.generate_content_stream(model=rec.model, contents="x"):
        response_id = response_id or response.response_id
        usage = response.usage_metadata or usage
        candidate = response.candidates[0]
        for part in candidate.content.parts or ():
            (thoughts if part.thought else text).append(part.text or "")
        if candidate.finish_reason is not None:
            finish = candidate.finish_reason.name
    return "".join(text), "".join(thoughts), usage, finish, response_id


@pytest.mark.skipif(not VERTEX_RECORDINGS, reason=f"no Vertex recordings under {SHARED_CASSETTES}")
@pytest.mark.parametrize("path", VERTEX_RECORDINGS, ids=[p.stem[:40] for p in VERTEX_RECORDINGS])
def test_shared_vertex_recordings_equal_google_genai(path: Path, loopback: LoopbackServer, mode: str) -> None:
    from tests.oracles import corpus, served

    (rec,) = [r for r in corpus(SHARED_CASSETTES) if r.path == path]
    text, thoughts, usage, finish, response_id = genai_vertex_result(rec)
    loopback.default = served(rec)
    completion = complete(vertex_client(loopback, rec.model), "replay", mode)
    assert (completion.text, completion.reasoning, completion.raw_finish_reason) == (text, thoughts, finish)
    assert (completion.id, completion.provider, completion.error) == (response_id, "vertex", None)
    assert completion.usage is not None
    assert completion.usage.input_tokens == (usage.prompt_token_count or 0)
    assert completion.usage.output_tokens == (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
    request = loopback.requests[-1]
    assert request.path == VERTEX_PATH.replace(MODEL, rec.model)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    # llmstream.testing replays the same recording as Vertex, with no token of its own to send.
    replayed = StreamingAccumulator(provider="vertex")
    chunks = list(replay(path)) if mode == "sync" else asyncio.run(_areplayed(path))
    for chunk in chunks:
        replayed.add(chunk)
    assert (replayed.completion().text, replayed.completion().usage) == (completion.text, completion.usage)


@pytest.mark.skipif(not VERTEX_RECORDINGS, reason=f"no Vertex recordings under {SHARED_CASSETTES}")
@pytest.mark.parametrize("path", VERTEX_RECORDINGS, ids=[p.stem[:40] for p in VERTEX_RECORDINGS])
def test_the_fast_path_on_vertex_equals_the_sdk_path(path: Path, loopback: LoopbackServer, mode: str) -> None:
    """``sdk_models=False`` on the Vertex client: the SDK's URL and bearer token, the same chunks and completion."""
    from tests.oracles import corpus, served

    (rec,) = [r for r in corpus(SHARED_CASSETTES) if r.path == path]
    results = []
    for sdk_models in (True, False):
        loopback.default = served(rec)
        chunks, completion = collect(vertex_client(loopback, rec.model, sdk_models=sdk_models), "replay", mode)
        request = loopback.requests[-1]
        assert request.path == VERTEX_PATH.replace(MODEL, rec.model)
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        results.append((chunks, completion.text, completion.reasoning, completion.usage, completion.finish_reason,
                        completion.raw_finish_reason, completion.id, completion.model, completion.provider))
        raws = [chunk.raw for chunk in chunks if chunk.raw is not None]
        assert raws and all(isinstance(raw, dict) != sdk_models for raw in raws)
    assert results[0] == results[1]


async def _areplayed(path: Path) -> list[Any]:
    from llmstream.testing import areplay

    return [chunk async for chunk in areplay(path)]


# -- llmstream.testing: recording Vertex scrubs the bearer token -----------------------------------------


def test_recording_a_vertex_stream_keeps_no_token(loopback: LoopbackServer, tmp_path: Path) -> None:
    import vcr

    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(["Recorded ", "once"]))))
    cassette = tmp_path / "vertex.yaml"
    with vcr.use_cassette(str(cassette), **vcr_config(record_mode="all")):
        assert vertex_client(loopback).stream_complete("hi").text == "Recorded once"
    recorded = cassette.read_text()
    assert loopback.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"  # it was sent
    assert TOKEN not in recorded and "authorization" not in recorded.lower()
    assert_no_secrets(cassette)
    assert find_secrets(f"Authorization: Bearer {TOKEN}") and find_secrets(f'"token": "{TOKEN}"')
    # Replayed offline through the Vertex path: the URI says project and location.
    text = recorded.replace(loopback.url, "https://us-central1-aiplatform.googleapis.com")
    cassette.write_text(text)
    completion = StreamingAccumulator(provider="vertex")
    for chunk in replay(cassette):
        completion.add(chunk)
    assert completion.completion().text == "Recorded once"
