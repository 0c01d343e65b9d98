"""The ``llmstream`` command (also ``python -m llmstream``): the only part of llmstream that prints.

::

    llmstream "Write a haiku about rivers" -m anthropic:claude-sonnet-4-6
    git diff | llmstream -s "Write a commit message for this diff"
    llmstream -c "Now one about the sea"          # continue the last conversation
    llmstream logs -n 5                            # what was said
    llmstream demo                                 # no key, no network

Exit codes: 0 ok, 1 provider or stream error (partial output kept), 2 usage error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from .. import __version__
from .._client import BaseClient
from .._client import client as make_client
from .._conversation import Conversation, Message
from .._errors import ConfigurationError, LLMStreamError
from .._types import ChunkType, Completion, Tool
from .render import JsonRenderer, Renderer, Spinner, Style, TextRenderer, format_stats, isatty

__all__ = ["DEFAULT_MODEL", "main"]

DEFAULT_MODEL = "openai:gpt-4o-mini"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
COMMANDS = ("prompt", "logs", "demo")
_CONTENT = frozenset({ChunkType.TEXT, ChunkType.REASONING, ChunkType.REFUSAL, ChunkType.TOOL_CALL_START})


class UsageError(Exception):
    """A mistake on the command line that argparse cannot see (exit code 2)."""


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return number


def _option_value(value: str) -> Any:
    """``-o KEY VALUE``: JSON when it parses (numbers, objects, true), else the plain string."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _prompt_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmstream",
        description="Stream an answer from OpenAI, Anthropic, Gemini, OpenRouter or any OpenAI-compatible server.",
        epilog=(
            "commands:\n"
            "  llmstream logs [-n N] [--json]      list saved conversations\n"
            "  llmstream demo [--fast]             replay a recorded session (no key, no network)\n\n"
            "exit codes: 0 ok, 1 provider/stream error, 2 usage error, 130 interrupted"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prompt", nargs="?", help="the prompt; read from stdin when omitted or '-'")
    parser.add_argument("-m", "--model", help=f"provider:model (default: $LLMSTREAM_MODEL, else {DEFAULT_MODEL})")
    parser.add_argument("-s", "--system", help="system prompt")
    conversation = parser.add_argument_group("conversation")
    conversation.add_argument("-c", "--continue", dest="continue_", action="store_true",
                              help="continue the last conversation")
    conversation.add_argument("--cid", help="continue the conversation with this id (or a unique prefix of it)")
    conversation.add_argument("--no-log", action="store_true", help="do not save this exchange")
    conversation.add_argument("--tools", metavar="FILE",
                              help="JSON list of tools the model may call ({name, description, parameters})")
    conversation.add_argument("--tool-result", nargs=2, action="append", default=[], metavar=("CALL_ID", "CONTENT"),
                              help="answer a tool call of the previous turn (repeatable)")
    request = parser.add_argument_group("request")
    request.add_argument("--max-tokens", type=_positive_int, metavar="N")
    request.add_argument("--temperature", type=float, metavar="T")
    request.add_argument("-o", "--option", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                         help="provider-specific request field, e.g. -o reasoning_effort low (VALUE may be JSON)")
    request.add_argument("--base-url", help="another endpoint: vLLM, Ollama, a proxy (OpenAI style: http://host/v1)")
    request.add_argument("--key", help="API key (default: the provider's usual environment variable)")
    request.add_argument("--retries", type=_non_negative_int, metavar="N",
                         help="retries before the first token (default 2)")
    request.add_argument("--idle-timeout", type=float, metavar="SECONDS", help="longest gap between chunks")
    output = parser.add_argument_group("output")
    output.add_argument("--reasoning", action="store_true", help="show the model's reasoning on stderr")
    output.add_argument("--json", action="store_true", help="NDJSON: one object per chunk, then the completion")
    output.add_argument("--no-stream", action="store_true", help="print the whole answer at the end")
    output.add_argument("--usage", action="store_true",
                        help="print timing and token usage on stderr (always on a terminal)")
    parser.add_argument("--version", action="version", version=f"llmstream {__version__}")
    return parser


def _logs_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmstream logs", description="List saved exchanges, oldest first.")
    parser.add_argument("-n", "--count", type=_positive_int, default=10, metavar="N", help="how many (default 10)")
    parser.add_argument("--cid", help="only this conversation (id or unique prefix)")
    parser.add_argument("-c", "--current", action="store_true", help="only the last conversation")
    parser.add_argument("--json", action="store_true", help="a JSON array")
    parser.add_argument("--path", action="store_true", help="print the database path and exit")
    return parser


def _demo_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmstream demo",
        description="Replay recorded streams (text, reasoning, parallel tool calls) through the real SDK code paths.",
    )
    parser.add_argument("--fast", action="store_true", help="no pacing")
    parser.add_argument("--cassettes", type=Path, metavar="DIR", help="where the demo cassettes are")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (the console script exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    out, err = sys.stdout, sys.stderr
    # The first word picks a command; anything else is a prompt (`llmstream prompt logs` asks about "logs").
    command = args.pop(0) if args and args[0] in COMMANDS else "prompt"
    try:
        if command == "logs":
            return _logs(_logs_parser().parse_args(args), out, err)
        if command == "demo":
            from .demo import run_demo

            demo = _demo_parser().parse_args(args)
            return run_demo(out, cassettes=demo.cassettes, fast=demo.fast)
        return _prompt(_prompt_parser().parse_args(args), out, err)
    except UsageError as exc:
        err.write(f"llmstream: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # outside a stream: while reading stdin, say
        err.write("\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `llmstream logs | head`: the reader left, stop quietly like any Unix tool
        _silence_stdout(out)
        return EXIT_ERROR


# -- the prompt command ---------------------------------------------------------------------------


def _read_prompt(args: argparse.Namespace, err: TextIO) -> str | None:
    if args.prompt not in (None, "-"):
        return str(args.prompt)
    if args.prompt is None and args.tool_result:
        return None  # a turn of tool results needs no new prompt
    if sys.stdin is None:
        raise UsageError("no prompt given and no stdin to read one from")
    if sys.stdin.isatty():
        err.write("Reading the prompt from stdin; end it with Ctrl-D.\n")
    text = sys.stdin.read().rstrip()  # the newline `echo` adds is not part of the question
    if not text:
        raise UsageError("the prompt is empty")
    return text


def _load_tools(path: str) -> list[Tool]:
    from .history import tool_from_json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else [data]
        return [tool_from_json(item) for item in items]
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"--tools {path}: {exc}") from exc


@attrs.define
class _Turn:
    """One exchange: the history it continues, what it adds, and where it is saved."""

    conversation: Conversation
    new_messages: list[Message]
    model_spec: str
    tools: list[Tool]
    conversation_id: str | None = None


@attrs.define
class _Outcome:
    completion: Completion
    code: int = EXIT_OK
    error: LLMStreamError | None = None
    failure: str | None = None  # saved as the error of a partial answer
    first_token_s: float | None = None
    broken_pipe: bool = False


def _prepare(args: argparse.Namespace, err: TextIO) -> _Turn:
    """The history to continue (``-c``/``--cid``), then this turn's system, tool results and prompt."""
    from .history import LogStore, default_logs_path

    conversation, cid, saved_model, tools = Conversation(), None, None, []
    if args.continue_ or args.cid:
        path = default_logs_path()
        if not path.exists():
            raise UsageError(f"no saved conversations yet ({path})")
        with LogStore.open(path) as store:
            cid = store.resolve(args.cid) if args.cid else store.last_conversation_id()
            if cid is None:
                raise UsageError(f"no conversation {args.cid!r}" if args.cid else "no saved conversations yet")
            saved_model = store.conversation_model(cid)
            tools = store.conversation_tools(cid)
            conversation = store.rebuild(cid)
    if args.tools:
        tools = _load_tools(args.tools)
    before = len(conversation)
    if args.system:
        conversation.system(args.system)
    for call_id, content in args.tool_result:
        conversation.tool_result(call_id, content)
    prompt = _read_prompt(args, err)
    if prompt is not None:
        conversation.user(prompt)
    # A continued conversation keeps its model unless -m says otherwise.
    model_spec = args.model or saved_model or os.environ.get("LLMSTREAM_MODEL") or DEFAULT_MODEL
    return _Turn(conversation, conversation.messages[before:], model_spec, tools, cid)


def _client_for(args: argparse.Namespace, model_spec: str) -> BaseClient:
    options = {"api_key": args.key, "base_url": args.base_url, "max_retries": args.retries,
               "idle_timeout": args.idle_timeout}
    try:
        llm = make_client(model_spec, **{name: value for name, value in options.items() if value is not None})
        # Build the vendor client now: a missing key is reported before anything else happens, and
        # importing the SDK (a second or more) does not count as time to first token.
        _ = llm.sdk
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from exc
    except NotImplementedError:  # providers with no vendor SDK (mock)
        pass
    return llm


def _run_stream(llm: BaseClient, turn: _Turn, args: argparse.Namespace, renderer: Renderer) -> _Outcome:
    extra = {key: _option_value(value) for key, value in args.option}
    first_token: float | None = None
    started = time.perf_counter()
    stream = llm.stream(turn.conversation, tools=turn.tools or None, max_tokens=args.max_tokens,
                        temperature=args.temperature, **extra)
    try:
        with stream:  # closes the connection on every way out, Ctrl-C included
            for chunk in stream:
                if first_token is None and chunk.type in _CONTENT:
                    first_token = time.perf_counter() - started
                renderer.chunk(chunk)
    except ConfigurationError as exc:  # raised on first use by some providers: nothing was sent
        raise UsageError(str(exc)) from exc
    except LLMStreamError as exc:
        completion = exc.partial or stream.completion
        return _Outcome(completion, EXIT_ERROR, exc, f"{type(exc).__name__}: {exc}", first_token)
    except KeyboardInterrupt:
        return _Outcome(stream.completion, EXIT_INTERRUPTED, None, "interrupted (Ctrl-C)", first_token)
    except BrokenPipeError:  # the reader went away (`| head`)
        return _Outcome(stream.completion, EXIT_ERROR, None, "stdout closed", first_token, broken_pipe=True)
    return _Outcome(stream.completion, first_token_s=first_token)


def _prompt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    turn = _prepare(args, err)
    llm = _client_for(args, turn.model_spec)
    secrets = [args.key or "", *(os.environ.get(name) or "" for name in llm.env_keys)]
    spinner = Spinner(err, llm.model).start() if isatty(err) else None
    renderer: Renderer
    if args.json:
        renderer = JsonRenderer(out, buffered=args.no_stream, spinner=spinner)
    else:
        renderer = TextRenderer(out, err, reasoning=args.reasoning, buffered=args.no_stream, spinner=spinner)
    try:
        outcome = _run_stream(llm, turn, args, renderer)
    finally:
        if spinner is not None:
            spinner.stop()

    completion = outcome.completion
    cid = turn.conversation_id if args.no_log else _save(turn, outcome, secrets, err)
    if outcome.broken_pipe:  # stop quietly, like any Unix tool whose reader left
        _silence_stdout(out)
        return outcome.code
    renderer.finish(completion, outcome.error, **({"conversation_id": cid} if cid else {}))
    if outcome.error is not None:
        kept = f" (partial answer kept: {len(completion.text)} characters)" if completion.text else ""
        err.write(f"llmstream: error: {type(outcome.error).__name__}: {outcome.error}{kept}\n")
    elif outcome.code == EXIT_INTERRUPTED:
        err.write("llmstream: interrupted\n")
    if args.usage or isatty(err):
        err.write(Style(err).dim(format_stats(completion, outcome.first_token_s)) + "\n")
    err.flush()
    return outcome.code


def _save(turn: _Turn, outcome: _Outcome, secrets: list[str], err: TextIO) -> str | None:
    """Save the exchange; a log that cannot be written warns but never costs the user the answer."""
    import sqlite3

    from .history import LogStore

    try:
        with LogStore.open() as store:
            return store.save(
                conversation_id=turn.conversation_id, model_spec=turn.model_spec, input_messages=turn.new_messages,
                completion=outcome.completion, tools=turn.tools, error=outcome.failure, secrets_to_scrub=secrets,
            )
    except (sqlite3.Error, OSError) as exc:
        err.write(f"llmstream: warning: could not save to the log: {exc}\n")
        return turn.conversation_id


def _silence_stdout(out: TextIO) -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# -- the logs command -----------------------------------------------------------------------------


def _logs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .history import LogStore, default_logs_path
    from .render import format_tool_call

    path = default_logs_path()
    if args.path:
        out.write(f"{path}\n")
        return EXIT_OK
    if not path.exists():
        if args.json:
            out.write("[]\n")
        else:
            err.write(f"No logs yet ({path}).\n")
        return EXIT_OK
    with LogStore.open(path) as store:
        cid: str | None = None
        if args.cid:
            cid = store.resolve(args.cid)
            if cid is None:
                raise UsageError(f"no conversation {args.cid!r}")
        elif args.current:
            cid = store.last_conversation_id()
        rows = store.recent(args.count, cid) if (cid or not (args.cid or args.current)) else []
    if args.json:
        out.write(json.dumps([row.to_json() for row in rows], ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    style = Style(out)
    for row in rows:
        tokens = f" · {row.input_tokens} in, {row.output_tokens} out" if row.input_tokens is not None else ""
        seconds = f" · {row.duration_ms / 1000:.2f} s" if row.duration_ms is not None else ""
        out.write(style.bold(f"# {row.created_at}  {row.provider or '?'}:{row.model or '?'}") +
                  style.dim(f"  conversation {row.conversation_id}{tokens}{seconds}") + "\n")
        if row.partial:
            out.write(style.red(f"partial: {row.error}") + "\n")
        out.write("\n> " + row.prompt.replace("\n", "\n> ") + "\n\n")
        if row.reasoning:
            out.write(style.dim(row.reasoning.strip()) + "\n\n")
        if row.text:
            out.write(row.text.rstrip("\n") + "\n")
        for call in row.tool_calls:
            out.write(format_tool_call(call, style) + "\n")
        out.write("\n")
    if not rows:
        err.write("No exchanges found.\n")
    return EXIT_OK

