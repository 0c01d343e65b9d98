"""A server that rejects the structured-output part of a request (most OpenAI-compatible servers, an old
model): the usual ``BadRequestError``, its message naming the structured output asked for, on every
provider, sync and async. Never a silent retry without it, never prose in its place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from llmstream import (
    AnthropicClient,
    BadRequestError,
    BaseClient,
    GeminiClient,
    OpenAIClient,
    OpenAIResponsesClient,
    OpenRouterClient,
)
from tests.helpers import complete
from tests.loopback import LoopbackServer, error_response
from tests.test_vertex import _no_google_environment, vertex_client  # noqa: F401  (an autouse fixture)


class Weather(pydantic.BaseModel):
    city: str


Maker = Callable[[LoopbackServer], BaseClient]

PROVIDERS: dict[str, tuple[Maker, str, str, str]] = {
    # name: (client, vendor wire of the error body, the server's words, what the message names)
    "openai-compatible": (
        lambda s: OpenAIClient("llama-3-8b", api_key="sk" "-test-0123", base_url=s.url + "/v1", max_retries=0),
        "openai", "response_format 'json_schema' is not supported by this model", "response_format json_schema",
    ),
    "openrouter": (
        lambda s: OpenRouterClient("some/model", api_key="sk" "-or-test", base_url=s.url + "/api/v1", max_retries=0),
        "openai", "No endpoints found that can handle the requested parameters.", "response_format json_schema",
    ),
    "openai-responses": (
        lambda s: OpenAIResponsesClient("gpt-3.5-turbo", api_key="sk" "-test", base_url=s.url + "/v1", max_retries=0),
        "openai", "Invalid parameter: 'text.format' of type 'json_schema' is not supported with this model.",
        "text.format json_schema",
    ),
    "anthropic-native": (
        lambda s: AnthropicClient("claude-sonnet-4-5", api_key="sk" "-ant-test", base_url=s.url, max_retries=0),
        "anthropic", "output_config.format: Extra inputs are not permitted", "output_config.format json_schema",
    ),
    "anthropic-tool": (
        lambda s: AnthropicClient("claude-3-haiku-20240307", api_key="sk" "-ant-test", base_url=s.url, max_retries=0),
        "anthropic", "tools.0.input_schema: JSON schema is invalid", "a forced tool (tool_choice)",
    ),
    "gemini": (
        lambda s: GeminiClient("gemini-1.0-pro", api_key="AI" "za-test-key", base_url=s.url, max_retries=0),
        "gemini", "Json mode is not enabled for models/gemini-1.0-pro",
        "response_mime_type application/json with response_json_schema",
    ),
    "vertex": (
        lambda s: vertex_client(s, "gemini-1.0-pro"),
        "gemini", "Json mode is not enabled for models/gemini-1.0-pro",
        "response_mime_type application/json with response_json_schema",
    ),
}


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_rejected_structured_output_request_says_so(loopback: LoopbackServer, mode: str, name: str) -> None:
    make, vendor, words, mechanism = PROVIDERS[name]
    loopback.enqueue(error_response(vendor, 400, words))  # type: ignore[arg-type]
    with pytest.raises(BadRequestError) as caught:
        complete(make(loopback), "Weather?", mode, output_type=Weather)
    error = caught.value
    assert error.status_code == 400
    assert words in str(error)  # the server's own words are kept
    assert f"(the request asked for structured output: {mechanism})" in str(error)
    assert len(loopback.requests) == 1  # no second request without the schema, no prose answer
    assert error.partial is None or error.partial.text == ""


def test_raise_on_error_false_returns_the_same_error(loopback: LoopbackServer, mode: str) -> None:
    make, vendor, words, _ = PROVIDERS["openai-compatible"]
    loopback.enqueue(error_response(vendor, 400, words))  # type: ignore[arg-type]
    completion = complete(make(loopback), "Weather?", mode, output_type=Weather, raise_on_error=False)
    assert isinstance(completion.error, BadRequestError)
    assert "structured output: response_format json_schema" in str(completion.error)
    assert completion.output is None and completion.text == ""


def test_without_output_type_the_message_is_the_servers_alone(loopback: LoopbackServer) -> None:
    make, vendor, words, _ = PROVIDERS["openai-compatible"]
    loopback.enqueue(error_response(vendor, 400, words))  # type: ignore[arg-type]
    with pytest.raises(BadRequestError) as caught:
        complete(make(loopback), "Weather?", "sync")
    assert "structured output" not in str(caught.value)


def test_other_errors_are_not_blamed_on_structured_output(loopback: LoopbackServer) -> None:
    make, vendor, _, _ = PROVIDERS["openai-compatible"]
    loopback.enqueue(error_response(vendor, 404, "The model `llama-3-8b` does not exist"))  # type: ignore[arg-type]
    with pytest.raises(BadRequestError) as caught:
        complete(make(loopback), "Weather?", "sync", output_type=Weather)
    assert caught.value.status_code == 404
    assert "structured output" not in str(caught.value)


def test_the_cli_shows_the_named_rejection_in_one_line(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from llmstream import cli
    from tests.cli_helpers import inproc

    monkeypatch.setenv("LLMSTREAM_LOGS_DB", str(tmp_path / "logs.db"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    loopback.enqueue(error_response("openai", 400, "response_format is not supported"))
    assert cli.main(inproc(loopback, monkeypatch, "--schema", "city", "Weather?")) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("llmstream: error: BadRequestError:")
    assert "response_format is not supported" in line
    assert "(the request asked for structured output: response_format json_schema)" in line
