"""Issue 20, points 6-9: -c reuses the client options, unknown request fields pass through the
vendor's own extra_body, on_retry and the retry notice, input checks up front."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import llmstream
from llmstream import ConfigurationError, GeminiClient, OpenAIClient, RateLimitError, ServerError, StreamingOptions
from llmstream.cli.turn import retry_notice
from tests.cli_helpers import (  # noqa: F401  (cli_home: an autouse fixture)
    KEY,
    Terminal,
    against,
    cli_home,
    command,
    make_env,
    messages,
    responses,
    run,
    sent,
    text_stream,
)
from tests.loopback import (
    LoopbackServer,
    Scripted,
    anthropic_stream,
    anthropic_text_events,
    error_response,
    gemini_stream,
    gemini_text_responses,
)

# -- 6: -c reuses the conversation's client options; the missing-key message -----------------------


def test_continue_reuses_base_url_and_retries(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(
        Scripted(chunks=text_stream("One")),
        error_response("openai", 503, "busy", headers={"retry-after": "0"}),
        Scripted(chunks=text_stream("Two")),
    )
    env = make_env(tmp_path)
    first = run(command("-m", "gpt-4o-mini", "--base-url", loopback.url + "/v1", "--retries", "1", "Hi"), env)
    assert first.returncode == 0, first.stderr
    again = run(command("-c", "More"), env)  # no --base-url: the default endpoint would be the real API
    assert again.returncode == 0, again.stderr
    assert again.stdout == "Two\n"
    assert len(loopback.requests) == 3  # the saved --retries 1 allowed the retry after the 503
    assert [m["content"] for m in messages(loopback)] == ["Hi", "One", "More"]


def test_the_missing_key_message_names_the_flag_and_the_variable(tmp_path: Path) -> None:
    result = run(command("-m", "anthropic:claude-sonnet-4-6", "Hi"), make_env(tmp_path))
    assert result.returncode == 2
    assert "--key" in result.stderr and "ANTHROPIC_API_KEY" in result.stderr
    assert "api_key=" not in result.stderr


# -- 7: unknown request fields go through the vendor's pass-through -------------------------------


def test_an_unknown_option_reaches_an_openai_compatible_server(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("ok")), Scripted(chunks=text_stream("ok")))
    result = run(against(loopback, "-o", "top_k", "40", "-o", "min_p", "0.1", "Hi"), make_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (sent(loopback)["top_k"], sent(loopback)["min_p"]) == (40, 0.1)
    client = OpenAIClient("gpt-4o-mini", api_key=KEY, base_url=loopback.url + "/v1", max_retries=0)
    assert client.stream_complete("Hi", top_k=7, extra_body={"repetition_penalty": 1.1}).text == "ok"
    assert (sent(loopback)["top_k"], sent(loopback)["repetition_penalty"]) == (7, 1.1)


def test_an_unknown_option_reaches_anthropic(loopback: LoopbackServer) -> None:
    pytest.importorskip("anthropic")
    loopback.enqueue(Scripted(chunks=anthropic_stream(anthropic_text_events(["ok"]))))
    client = llmstream.client("claude-x-test", api_key="k", base_url=loopback.url, max_retries=0)
    assert client.stream_complete("Hi", top_k=40, some_new_field={"on": True}).text == "ok"
    assert (sent(loopback)["top_k"], sent(loopback)["some_new_field"]) == (40, {"on": True})


def test_an_unknown_option_reaches_gemini_through_http_options_extra_body(loopback: LoopbackServer) -> None:
    pytest.importorskip("google.genai")
    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(["ok"]))))
    client = GeminiClient("gemini-2.5-flash", api_key="k", base_url=loopback.url, max_retries=0)
    completion = client.stream_complete("Hi", temperature=0.2, some_new_field={"on": True}, top_k=40)
    assert completion.text == "ok"
    body = sent(loopback)
    assert body["some_new_field"] == {"on": True}  # merged into the request body by google-genai
    assert body["generationConfig"]["topK"] == 40 and body["generationConfig"]["temperature"] == 0.2


# -- 8: on_retry and the CLI's notice --------------------------------------------------------------


def test_on_retry_is_called_before_each_retry_sync_and_async(loopback: LoopbackServer) -> None:
    def script() -> None:
        loopback.enqueue(
            error_response("openai", 429, "slow down", headers={"retry-after": "0"}),
            error_response("openai", 500, "boom", headers={"retry-after": "0"}),
            Scripted(chunks=text_stream("ok")),
        )

    calls: list[tuple[Any, ...]] = []
    client = OpenAIClient("gpt-4o-mini", api_key=KEY, base_url=loopback.url + "/v1", max_retries=2)
    options = StreamingOptions(on_retry=lambda error, delay, attempt: calls.append((type(error), delay, attempt)))
    script()
    assert client.stream_complete("Hi", options=options).text == "ok"
    assert calls == [(RateLimitError, 0.0, 1), (ServerError, 0.0, 2)]

    async def on_retry(error: Any, delay: float, attempt: int) -> None:
        calls.append(("async", error.status_code, attempt))

    calls.clear()
    script()
    assert asyncio.run(client.astream_complete("Hi", options=StreamingOptions(on_retry=on_retry))).text == "ok"
    assert calls == [("async", 429, 1), ("async", 500, 2)]


def test_the_retry_notice_wording() -> None:
    error = RateLimitError("slow down", status_code=429, provider="openai")
    assert retry_notice(error, 12.0, 1, 2) == "429 rate limited, retrying in 12 s (1/2)"


def test_the_cli_says_it_is_retrying(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(error_response("openai", 429, "slow down", headers={"retry-after": "0"}),
                     Scripted(chunks=text_stream("ok")))
    argv = command("-m", "gpt-4o-mini", "--base-url", loopback.url + "/v1", "--retries", "2", "Hi")
    result = run(argv, make_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    assert "429 rate limited, retrying in 0.0 s (1/2)" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_on_a_terminal_the_spinner_shows_the_retry(loopback: LoopbackServer, tmp_path: Path) -> None:
    # The retried stream is held after its first (role-only) chunk: the spinner still runs, with the notice.
    loopback.enqueue(error_response("openai", 429, "slow down", headers={"retry-after": "0"}),
                     Scripted(chunks=text_stream("ok"), gate_after=1))
    argv = command("-m", "gpt-4o-mini", "--base-url", loopback.url + "/v1", "--retries", "2", "Hi")
    terminal = Terminal(argv, make_env(tmp_path))
    try:
        terminal.expect("429 rate limited, retrying in 0.0 s (1/2)")
        loopback.release()
        terminal.expect("ok")
        assert terminal.wait() == 0
    finally:
        loopback.release()
        terminal.close()


# -- 9: input checks up front ----------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"idle_timeout": 0}, {"idle_timeout": -1}, {"total_timeout": 0}])
def test_a_zero_or_negative_timeout_is_a_configuration_error(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="must be more than 0 seconds"):
        llmstream.client("mock:echo", **settings)
    with pytest.raises(ConfigurationError, match="must be more than 0 seconds"):
        llmstream.client("mock:echo").stream_complete("Hi", **settings)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([""], "the prompt is empty"),
        (["   "], "the prompt is empty"),
        (["--cid", "", "Hi"], "--cid needs a conversation id"),
        (["-c", "--cid", "abc", "Hi"], "not both"),
        (["--idle-timeout", "0", "Hi"], "must be more than 0 seconds"),
        (["--retries", "x", "Hi"], "must be 0 or a positive integer"),
        (["--tool-result", "call_x", "18", "Hi"], "pending: none"),
    ],
)
def test_usage_errors_exit_2_before_any_request(
    loopback: LoopbackServer, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(command("--base-url", loopback.url + "/v1", *args), make_env(tmp_path))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert loopback.requests == []


def test_a_tool_result_for_an_unknown_call_names_the_pending_ones(loopback: LoopbackServer, tmp_path: Path) -> None:
    calls = [{"id": "call_a", "name": "f", "arguments_pieces": ["{}"]},
             {"id": "call_b", "name": "f", "arguments_pieces": ["{}"]}]
    loopback.enqueue(Scripted(chunks=text_stream(tool_calls=calls)))
    env = make_env(tmp_path)
    assert run(against(loopback, "Call f twice"), env).returncode == 0
    result = run(against(loopback, "-c", "--tool-result", "call_zzz", "18"), env)
    assert result.returncode == 2
    assert "call_zzz" in result.stderr and "pending: call_a, call_b" in result.stderr
    assert len(loopback.requests) == 1
    assert len(responses(tmp_path)) == 1


def test_logs_n_must_be_a_positive_integer(tmp_path: Path) -> None:
    result = run(command("logs", "-n", "abc"), make_env(tmp_path))
    assert result.returncode == 2 and "must be a positive integer" in result.stderr


def test_server_error_text_includes_the_status_code(loopback: LoopbackServer, tmp_path: Path) -> None:
    assert "503" in str(ServerError("overloaded", status_code=503, provider="openai"))
    loopback.enqueue(error_response("openai", 502, "bad gateway upstream"))
    result = run(against(loopback, "Hi"), make_env(tmp_path))
    assert result.returncode == 1
    assert "ServerError" in result.stderr and "502" in result.stderr
    assert json.loads(run(command("logs", "--json"), make_env(tmp_path)).stdout)[0]["partial"] is True


# -- the CLI decodes with llmstream's own fast path unless --sdk-models ------------------------------


def _clients_made(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every client the CLI builds (the client is built for real)."""
    import llmstream.cli.turn as turn

    made: list[dict[str, Any]] = []
    real = turn.make_client

    def spy(spec: str, **kwargs: Any) -> Any:
        made.append(kwargs)
        return real(spec, **kwargs)

    monkeypatch.setattr(turn, "make_client", spy)
    return made


@pytest.mark.parametrize(("flags", "expected"), [((), False), (("--sdk-models",), True)])
def test_the_cli_streams_with_sdk_models_false_unless_asked(
    flags: tuple[str, ...], expected: bool, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from llmstream import cli
    from llmstream.providers import _openai_events

    made = _clients_made(monkeypatch)
    decoded: list[Any] = []
    real_feed = _openai_events.JSONEventParser.feed
    monkeypatch.setattr(_openai_events.JSONEventParser, "feed",
                        lambda self, data: decoded.append(data) or real_feed(self, data))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    loopback.enqueue(Scripted(chunks=text_stream("Hello", " world")))
    argv = ["-m", "openai:gpt-4o-mini", "--base-url", loopback.url + "/v1", "--retries", "0", *flags, "Hi"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == "Hello world\n"
    assert sent(loopback)["messages"][-1] == {"role": "user", "content": "Hi"}  # the request hit the server
    assert [kwargs.get("sdk_models", True) for kwargs in made] == [expected]
    assert bool(decoded) is not expected  # llmstream's own decoder read the body, or the SDK's did


def test_the_fast_path_default_follows_the_client_class(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmstream.cli.turn import takes_sdk_models
    from llmstream.providers.openrouter import OpenRouterClient

    assert takes_sdk_models("openai:gpt-4o-mini") and takes_sdk_models("openai-responses:gpt-5-mini")
    assert takes_sdk_models("gpt-4o") and not takes_sdk_models("openrouter:openai/gpt-4o-mini")
    assert not takes_sdk_models("mock:echo") and not takes_sdk_models("nonsense:model")

    class FastRouter(OpenRouterClient):  # a provider that gains the switch is picked up, nothing else changes
        def __init__(self, model: str, *, sdk_models: bool = True, **kwargs: Any) -> None:
            super().__init__(model, **kwargs)

    monkeypatch.setitem(llmstream._registry.PROVIDERS, "fastrouter", f"{__name__}:FastRouter")
    monkeypatch.setitem(globals(), "FastRouter", FastRouter)
    assert takes_sdk_models("fastrouter:x")
