"""The shared recordings that asked for structured output, replayed through the real SDK clients: a
model built from each recording's *request* schema parses the answer, and the partial objects seen
while it streamed only ever grew (fields kept, strings extended, never a value taken back).

- ``openai/…structured_output__json…``: JSON mode, the schema in the system prompt; replayed with
  ``output_type=`` (a pydantic model built from that schema, and the schema dict itself).
- ``gemini/…strict_mode_with_streamed_thinking…``: ``responseSchema`` (OpenAPI types) with thoughts;
  replayed with ``output_type=``: thoughts stay reasoning, the JSON text is the object.
- ``openai/…structured_output__tool…``: a forced tool (the other mechanism, not the one llmstream sends
  on OpenAI); its streamed arguments go through the same output spec, delta by delta.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from tests.conftest import SHARED_CASSETTES

if not SHARED_CASSETTES.is_dir():
    pytest.skip(
        f"the shared cassette corpus is not at {SHARED_CASSETTES} (set LLMSTREAM_SHARED_CASSETTES to its path)",
        allow_module_level=True,
    )

from llmstream import ChunkType, FinishReason, OutputValidationError, StreamedChunk, StreamingOptions
from llmstream._output import output_spec
from tests.helpers import complete
from tests.loopback import LoopbackServer
from tests.oracles import Recording, corpus, llmstream_client, served, shared_ssl_context

BY_NAME = {rec.id: rec for rec in corpus(SHARED_CASSETTES)}
JSON_MODE = "openai/mirascope__test_structured_output__json__openai_gpt_4o_completions__stream"
FORCED_TOOL = "openai/mirascope__test_structured_output__tool__openai_gpt_4o_completions__stream"
GEMINI_STRICT = "gemini/mirascope__test_strict_mode_with_streamed_thinking__google_gemini_3_pro_preview__0"


def recording(name: str) -> Recording:
    if name not in BY_NAME:
        pytest.skip(f"{name} is not in the shared corpus at {SHARED_CASSETTES}")
    return BY_NAME[name]


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with shared_ssl_context(), LoopbackServer() as running:
        yield running


# -- a pydantic model from a request's JSON schema (or Gemini's OpenAPI subset) ------------------------

_SCALARS: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}


def model_from_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> type[pydantic.BaseModel]:
    """``pydantic.create_model`` from an object schema: scalars, nested objects, ``$ref`` to ``$defs``,
    arrays; Gemini's upper-case OpenAPI type names too."""
    defs = schema.get("$defs", defs or {})
    required = set(schema.get("required") or ())
    fields: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        kind = field_type(prop, defs)
        fields[name] = (kind, ...) if name in required else (kind | None, None)
    model: type[pydantic.BaseModel] = pydantic.create_model(str(schema.get("title") or "Output"), **fields)
    return model


def field_type(prop: dict[str, Any], defs: dict[str, Any]) -> Any:
    ref = prop.get("$ref")
    if ref:
        return model_from_schema(defs[ref.rsplit("/", 1)[-1]], defs)
    kind = str(prop.get("type", "string")).lower()
    if kind == "object":
        return model_from_schema(prop, defs)
    if kind == "array":
        return list[field_type(prop.get("items") or {}, defs)]  # type: ignore[misc]
    return _SCALARS[kind]


# -- partial objects only grow -------------------------------------------------------------------------


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Every scalar of a partial object by its path (a partial model holds only the fields set so far)."""
    if isinstance(value, pydantic.BaseModel):
        value = {name: getattr(value, name) for name in value.model_fields_set}
    if isinstance(value, dict):
        return {k: v for name, item in value.items() for k, v in leaves(item, f"{path}.{name}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in leaves(item, f"{path}[{i}]").items()}
    return {path: value}


def assert_grew(partials: list[Any], final: dict[str, Any], at_least: int = 3) -> None:
    seen = [leaves(p) for p in partials if p is not None]
    assert len(seen) >= at_least, f"expected the object to show up piece by piece, got {len(seen)} partials"
    for before, after in itertools.pairwise(seen):
        for path, value in before.items():
            assert path in after, f"{path} disappeared"
            if isinstance(value, str) and isinstance(after[path], str):
                assert after[path].startswith(value), f"{path}: {value!r} became {after[path]!r}"
            else:
                assert after[path] == value, f"{path}: {value!r} became {after[path]!r}"
    assert seen[-1] == leaves(final)
    assert len(seen[0]) < len(seen[-1])  # it did grow


# -- OpenAI JSON mode ----------------------------------------------------------------------------------


def system_prompt_schema(rec: Recording) -> dict[str, Any]:
    """The schema mirascope put in the system prompt (JSON mode: ``response_format`` json_object)."""
    assert rec.request_body["response_format"] == {"type": "json_object"}
    system = rec.request_body["messages"][0]["content"]
    schema: dict[str, Any] = json.loads(system[system.index("{"):])
    return schema


@pytest.mark.parametrize("kind", ["pydantic", "schema-dict"])
def test_openai_json_mode_recording_parses_into_its_request_schema(
    server: LoopbackServer, mode: str, kind: str
) -> None:
    rec = recording(JSON_MODE)
    schema = system_prompt_schema(rec)
    output_type: Any = model_from_schema(schema) if kind == "pydantic" else schema
    server.default = served(rec)
    partials: list[Any] = []
    completion = complete(
        llmstream_client(rec, server), "replay", mode, output_type=output_type,
        options=StreamingOptions(on_partial=partials.append),
    )
    assert completion.error is None and completion.finish_reason is FinishReason.STOP
    data = json.loads(completion.text)
    assert set(data) == {"title", "author", "rating"} and set(data["author"]) == {"first_name", "last_name"}
    output = completion.output
    if kind == "pydantic":
        assert isinstance(output, output_type)
        assert output.model_dump() == data
    else:
        assert output == data
    assert_grew(partials, data)


# -- Gemini strict mode with thoughts -------------------------------------------------------------------


def test_gemini_strict_mode_recording_parses_into_its_response_schema(server: LoopbackServer, mode: str) -> None:
    rec = recording(GEMINI_STRICT)
    config = rec.request_body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    model = model_from_schema(config["responseSchema"])
    server.default = served(rec)
    partials: list[Any] = []
    completion = complete(
        llmstream_client(rec, server), "replay", mode, output_type=model,
        options=StreamingOptions(on_partial=partials.append),
    )
    assert completion.error is None and completion.finish_reason is FinishReason.STOP
    assert completion.reasoning and "{" not in completion.reasoning[:1]  # thoughts stay out of the object
    assert completion.output == model(integer_a=2, integer_b=2, answer=4)
    assert_grew(partials, {"integer_a": 2, "integer_b": 2, "answer": 4}, at_least=2)  # two text chunks


# -- OpenAI forced tool ---------------------------------------------------------------------------------


def test_openai_forced_tool_recording_arguments_parse_and_grow(server: LoopbackServer, mode: str) -> None:
    rec = recording(FORCED_TOOL)
    (tool,) = rec.request_body["tools"]
    schema = tool["function"]["parameters"]
    spec = output_spec(model_from_schema({**schema, "title": "Book"}))
    server.default = served(rec)
    fragments: list[str] = []

    def on_chunk(chunk: StreamedChunk) -> None:
        if chunk.type is ChunkType.TOOL_CALL_DELTA and chunk.tool_call is not None:
            fragments.append(chunk.tool_call.arguments or "")

    completion = complete(llmstream_client(rec, server), "replay", mode, on_chunk=on_chunk)
    (call,) = completion.tool_calls
    assert call.name == tool["function"]["name"]
    book = spec.validate(call.arguments)
    assert book.model_dump() == call.args
    partials = [spec.partial("".join(fragments[: n + 1])) for n in range(len(fragments))]
    assert_grew(partials, call.args)


# -- refusals and a cut-off answer ----------------------------------------------------------------------

REFUSALS = {
    "openai/mirascope__test_refusal__openai_gpt_4o_completions__stream": ("response_format", "json_schema"),
    "openai_responses/mirascope__test_refusal__openai_gpt_4o_responses__stream": ("text", "format"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_refusal_recordings_leave_output_none(server: LoopbackServer, mode: str, name: str) -> None:
    rec = recording(name)
    outer, inner = REFUSALS[name]
    model = model_from_schema(rec.request_body[outer][inner]["schema"])
    server.default = served(rec)
    partials: list[Any] = []
    completion = complete(
        llmstream_client(rec, server), "replay", mode, output_type=model,
        options=StreamingOptions(on_partial=partials.append),
    )
    assert completion.refusal and completion.text == ""
    assert completion.output is None and completion.error is None
    assert [p for p in partials if p is not None] == []


def test_a_cut_off_recording_is_an_output_validation_error_with_the_raw_text(
    server: LoopbackServer, mode: str
) -> None:
    rec = recording("openai/mirascope__test_max_tokens__openai_gpt_4o_completions__stream")
    server.default = served(rec)
    completion = complete(
        llmstream_client(rec, server), "replay", mode, raise_on_error=False,
        output_type={"type": "object", "properties": {"story": {"type": "string"}}},
    )
    error = completion.error
    assert isinstance(error, OutputValidationError)
    assert completion.raw_finish_reason == "length" and completion.finish_reason is FinishReason.ERROR
    assert error.raw == completion.text and len(error.raw) > 10
    assert "cut off" in str(error)
