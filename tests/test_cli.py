"""The ``llmstream`` command, run as a real subprocess against the loopback server.

Streaming without buffering is proven with a gate: the server holds the rest of the stream until
the test has read the first text from the subprocess's stdout pipe, so no sleep is involved.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import llmstream
from llmstream import cli
from tests.cli_helpers import (  # noqa: F401  (cli_home: an autouse fixture)
    KEY,
    TIMEOUT,
    against,
    cli_home,
    command,
    inproc,
    make_env,
    messages,
    read_until,
    responses,
    run,
    sent,
    text_stream,
)
from tests.loopback import LoopbackServer, Scripted, error_response, openai_stream, openai_text_chunks

# -- streaming ----------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="select() on pipes is POSIX")
def test_text_reaches_stdout_before_the_stream_ends(loopback: LoopbackServer, tmp_path: Path) -> None:
    # Body chunks: role, "Hello", " world", finish, usage, [DONE]; the server holds after "Hello".
    loopback.enqueue(Scripted(chunks=text_stream("Hello", " world"), gate_after=2))
    proc = subprocess.Popen(
        against(loopback, "Say hello"), env=make_env(tmp_path),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        first = read_until(proc, b"Hello")
        assert loopback.wait_gated(), "the server should still be holding the rest of the stream"
        assert proc.poll() is None and b"world" not in first
        loopback.release()
        rest, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert (first + rest).decode() == "Hello world\n"
    assert err == b""  # not a terminal: nothing decorative


def test_json_is_ndjson_ending_with_the_completion(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("Hel", "lo")))
    result = run(against(loopback, "--json", "Hi"), make_env(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["start", "text", "text", "stop", "usage", "completion"]
    assert [line["text"] for line in lines if line["type"] == "text"] == ["Hel", "lo"]
    final = lines[-1]
    assert final["text"] == "Hello" and final["finish_reason"] == "stop" and final["error"] is None
    assert final["usage"]["input_tokens"] == 10 and final["usage"]["output_tokens"] == 5
    assert final["provider"] == "openai" and final["conversation_id"]


def test_no_stream_prints_the_whole_answer_once(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("Hello", " world")), Scripted(chunks=text_stream("Hello")))
    assert cli.main(inproc(loopback, monkeypatch, "--no-stream", "-s", "Be brief.", "--max-tokens", "50", "Hi")) == 0
    assert capsys.readouterr().out == "Hello world\n"
    body = sent(loopback)
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["max_tokens"] == 50  # a custom base_url gets the field compatible servers know
    assert cli.main(inproc(loopback, monkeypatch, "--no-stream", "--json", "Hi")) == 0
    assert [json.loads(line)["type"] for line in capsys.readouterr().out.splitlines()] == ["completion"]


def test_prompt_from_stdin(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("ok")), Scripted(chunks=text_stream("ok")))
    assert run(against(loopback), make_env(tmp_path), stdin="What is up?\n").returncode == 0
    assert run(against(loopback, "-"), make_env(tmp_path), stdin="And now?").returncode == 0
    assert messages(loopback, 0)[-1] == {"role": "user", "content": "What is up?"}
    assert messages(loopback, 1)[-1] == {"role": "user", "content": "And now?"}


def test_reasoning_goes_to_stderr_and_never_to_stdout(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events = openai_text_chunks(["42"])
    thinking = json.loads(json.dumps(events[1]))
    thinking["choices"][0]["delta"] = {"reasoning_content": "Six times seven."}
    events.insert(1, thinking)
    loopback.enqueue(Scripted(chunks=openai_stream(events)), Scripted(chunks=openai_stream(events)))
    assert cli.main(inproc(loopback, monkeypatch, "--reasoning", "Answer?")) == 0
    shown = capsys.readouterr()
    assert (shown.out, shown.err) == ("42\n", "Six times seven.\n")  # no ANSI codes off a terminal
    assert cli.main(inproc(loopback, monkeypatch, "Answer?")) == 0
    hidden = capsys.readouterr()
    assert (hidden.out, hidden.err) == ("42\n", "")


def test_usage_line_on_stderr(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("Hi")))
    assert cli.main(inproc(loopback, monkeypatch, "--usage", "Hi")) == 0
    result = capsys.readouterr()
    assert result.out == "Hi\n"
    assert "first token" in result.err and "10 in, 5 out tokens" in result.err and "tokens/s" in result.err


# -- tools, conversations and the log ----------------------------------------------------------------


def test_tool_call_then_tool_result_turn(
    loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tools = tmp_path / "tools.json"
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    tools.write_text(json.dumps([{"name": "get_weather", "description": "Weather", "parameters": schema}]))
    call = {"id": "call_a", "name": "get_weather", "arguments_pieces": ['{"city"', ': "Paris"}']}
    loopback.enqueue(Scripted(chunks=text_stream(tool_calls=[call])), Scripted(chunks=text_stream("18 °C.")))

    assert cli.main(inproc(loopback, monkeypatch, "--tools", str(tools), "Weather in Paris?")) == 0
    first = capsys.readouterr()
    assert (first.out, first.err) == ("", '→ get_weather({"city": "Paris"})  call_a\n')
    assert sent(loopback, 0)["tools"][0]["function"]["name"] == "get_weather"

    assert cli.main(inproc(loopback, monkeypatch, "-c", "--tool-result", "call_a", '{"temp": 18}')) == 0
    assert capsys.readouterr().out == "18 °C.\n"
    history = messages(loopback)
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert history[1]["tool_calls"][0]["id"] == "call_a"
    assert history[1]["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert history[2]["tool_call_id"] == "call_a" and history[2]["content"] == '{"temp": 18}'
    assert sent(loopback, 1)["tools"][0]["function"]["name"] == "get_weather"  # the tools were saved


def test_continue_sends_the_saved_exchange(
    loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback.enqueue(*(Scripted(chunks=text_stream(text)) for text in ("Hello there", "Again", "Third")))
    assert cli.main(inproc(loopback, monkeypatch, "Hi")) == 0  # saved to the same file the subprocess reads
    assert run(against(loopback, "-c", "And again?"), make_env(tmp_path)).returncode == 0
    assert messages(loopback) == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there"},
        {"role": "user", "content": "And again?"},
    ]
    cid = responses(tmp_path)[0]["conversation_id"]
    assert cli.main(inproc(loopback, monkeypatch, "--no-log", "--cid", cid[:6], "Third?")) == 0
    assert [m["content"] for m in messages(loopback)] == ["Hi", "Hello there", "And again?", "Again", "Third?"]
    assert len(responses(tmp_path)) == 2  # --no-log saved nothing
    assert capsys.readouterr().out == "Hello there\nThird\n"


def test_a_dropped_stream_is_saved_as_partial(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("Hello", " world"), drop_after=2))
    result = run(against(loopback, "--key", KEY, "Hi"), make_env(tmp_path, OPENAI_API_KEY=None))
    assert result.returncode == 1
    assert result.stdout == "Hello\n"  # the partial answer is kept
    assert "StreamInterruptedError" in result.stderr
    (row,) = responses(tmp_path)
    assert row["partial"] == 1 and row["text"] == "Hello" and row["finish_reason"] == "error"
    assert "StreamInterruptedError" in row["error"]
    assert (row["provider"], row["prompt"]) == ("openai", "Hi")
    assert KEY.encode() not in (tmp_path / "logs.db").read_bytes()


def test_logs_lists_recent_exchanges(
    loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(tmp_path)
    empty = run(command("logs", "--json"), env)
    assert (empty.returncode, json.loads(empty.stdout)) == (0, [])
    loopback.enqueue(Scripted(chunks=text_stream("Paris.")), Scripted(chunks=text_stream("Oslo.")))
    assert cli.main(inproc(loopback, monkeypatch, "Capital of France?")) == 0
    assert cli.main(inproc(loopback, monkeypatch, "Capital of Norway?")) == 0
    listed = run(command("logs"), env)
    assert listed.returncode == 0
    assert listed.stdout.index("> Capital of France?") < listed.stdout.index("> Capital of Norway?")
    assert "Paris." in listed.stdout and "openai:gpt-4o-mini" in listed.stdout
    (last,) = json.loads(run(command("logs", "-n", "1", "--json"), env).stdout)
    assert (last["prompt"], last["text"], last["partial"]) == ("Capital of Norway?", "Oslo.", False)
    assert last["input_tokens"] == 10 and last["conversation_model"] == "openai:gpt-4o-mini"


# -- exit codes -------------------------------------------------------------------------------------------


def test_exit_1_on_a_server_error_after_the_retries(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(error_response("openai", 500, "boom"), error_response("openai", 500, "boom"))
    argv = command("--base-url", loopback.url + "/v1", "--retries", "1", "Hi")
    result = run(argv, make_env(tmp_path))
    assert result.returncode == 1
    assert "ServerError" in result.stderr and "boom" in result.stderr
    assert len(loopback.requests) == 2  # one try, one retry
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--temperature", "hot", "Hi"], {}, "invalid float value"),
        (["-m", "nope:model", "Hi"], {}, "unknown provider 'nope'"),
        (["Hi"], {"OPENAI_API_KEY": None}, "OPENAI_API_KEY"),
    ],
)
def test_exit_2_on_usage_errors(tmp_path: Path, args: list[str], env: dict[str, str | None], message: str) -> None:
    result = run(command(*args), make_env(tmp_path, **env))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert KEY not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-tokens", "0", "Hi"], "must be a positive integer"),
        (["-m", "llama3", "Hi"], "expected 'provider:model'"),
        (["-c", "Hi"], "no saved conversations"),
        (["--cid", "abc", "Hi"], "no saved conversations"),
        ([], "the prompt is empty"),
        (["--tools", "/nonexistent/tools.json", "Hi"], "--tools"),
    ],
)
def test_more_usage_errors(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    try:
        code = cli.main(args)
    except SystemExit as exit:  # argparse's own errors
        code = int(exit.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_exits_130_closes_the_connection_and_saves_the_partial(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("Hello", " world"), gate_after=2))
    proc = subprocess.Popen(
        against(loopback, "Hi"), env=make_env(tmp_path),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        first = read_until(proc, b"Hello")
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert (first + rest).decode() == "Hello\n"
    assert b"interrupted" in err and b"Traceback" not in err
    assert loopback.wait_idle(), "the HTTP connection should be closed"
    (row,) = responses(tmp_path)
    assert (row["partial"], row["text"], row["finish_reason"]) == (1, "Hello", "cancelled")


# -- demo, entry points -----------------------------------------------------------------------------------


def test_demo_fast_streams_and_prints_the_rebuilt_completions(tmp_path: Path) -> None:
    result = run(command("demo", "--fast"), make_env(tmp_path, OPENAI_API_KEY=None))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("rebuilt completion") == 3
    assert "finish_reason  stop" in out and "finish_reason  tool_calls" in out
    assert "\n→ " in out  # the parallel tool calls, one line each
    assert "thinking: " in out  # the reasoning was streamed too


def test_demo_falls_back_to_scripted_chunks_without_cassettes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo", "--fast", "--cassettes", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    assert "using MockClient scripted chunks instead" in out
    assert out.count("rebuilt completion") == 3
    assert 'args={"city": "Paris"}' in out and 'args={"city": "Tokyo"}' in out
    assert "1 signed" in out


def test_mock_provider_in_process(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["-m", "mock:echo", "one two three"]) == 0
    assert capsys.readouterr().out == "one two three\n"
    assert cli.main(["logs", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["provider"], row["text"]) == ("mock", "one two three")
    assert cli.main(["logs", "--path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "logs.db")


def test_default_model_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLMSTREAM_MODEL", "mock:echo")
    assert cli.main(["--json", "--no-stream", "hi"]) == 0
    assert json.loads(capsys.readouterr().out)["provider"] == "mock"


def test_logs_path_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from llmstream.cli.history import default_logs_path

    monkeypatch.delenv("LLMSTREAM_LOGS_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if sys.platform.startswith("linux"):
        assert default_logs_path() == tmp_path / "data" / "llmstream" / "logs.db"


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    result = run(command("--version"), make_env(tmp_path))
    assert (result.returncode, result.stdout.strip()) == (0, f"llmstream {llmstream.__version__}")
    helped = run(command("--help"), make_env(tmp_path))
    assert helped.returncode == 0 and "llmstream demo" in helped.stdout and "--base-url" in helped.stdout


def test_import_llmstream_does_not_import_the_cli() -> None:
    code = "import sys, llmstream; print(sorted({'llmstream.cli', 'llmstream.cli.render', 'llmstream.cli.demo', "
    code += "'llmstream.cli.history', 'llmstream.cli.main'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's notice about the recorded model's age
def test_demo_replays_recordings_through_the_real_sdks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import SHARED_CASSETTES

    picks = {
        "openai_text.yaml": "openai/mirascope__test_call__openai_gpt_4o_completions__stream.yaml",
        "anthropic_thinking.yaml": "anthropic/llm-anthropic__test_anthropic__test_thinking_prompt.yaml",
        "openai_parallel_tools.yaml": "openai/elastic-otel-python-instrumentations__"
        "test_chat_stream_with_parallel_tools_and_capture_message_content.yaml",
    }
    if not all((SHARED_CASSETTES / source).is_file() for source in picks.values()):
        pytest.skip(f"the shared cassette corpus is not at {SHARED_CASSETTES}")
    for name, source in picks.items():  # linked, not copied: the corpus stays outside the repository
        (tmp_path / name).symlink_to(SHARED_CASSETTES / source)
    assert cli.main(["demo", "--fast", "--cassettes", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "replaying the recordings in" in out and "MockClient" not in out
    assert "finish_reason  stop (vendor: end_turn)" in out  # Anthropic's own word, kept
    assert out.count("\n→ get_weather(") == 2
    assert "1 signed" in out


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_reasoning_is_dimmed_and_a_spinner_runs_until_the_first_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llmstream import ChunkType, StreamedChunk
    from llmstream.cli.render import Spinner, TextRenderer

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    out, err = io.StringIO(), FakeTerminal()
    spinner = Spinner(err, "gpt-4o-mini", interval=0.001).start()
    while "gpt-4o-mini" not in err.getvalue():
        time.sleep(0.001)
    renderer = TextRenderer(out, err, reasoning=True, spinner=spinner)
    renderer.chunk(StreamedChunk(ChunkType.REASONING, "hmm"))
    spun = err.getvalue()
    renderer.chunk(StreamedChunk(ChunkType.TEXT, "42"))
    assert spun.endswith("\r\x1b[K\x1b[2mhmm\x1b[0m")  # the spinner's line was cleared first
    assert err.getvalue() == spun + "\n"  # and it never wrote again
    assert out.getvalue() == "42"

