"""The ``llmstream`` command (also ``python -m llmstream``): the only part of llmstream that prints.

::

    llmstream "Write a haiku about rivers" -m claude-sonnet-4-6
    git diff | llmstream "Write a commit message for this diff"   # stdin, then the prompt
    llmstream -c "Now one about the sea"          # continue the last conversation
    llmstream chat                                 # an interactive conversation
    llmstream models                               # providers, aliases, keys present
    llmstream logs -n 5                            # what was said
    llmstream demo                                 # no key, no network

Exit codes: 0 ok, 1 provider or stream error (partial output kept), 2 usage error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .._conversation import Conversation
from .._errors import ConfigurationError
from .args import (
    COMMANDS,
    DEFAULT_MODEL,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    LogError,
    UsageError,
    demo_parser,
    prompt_parser,
)
from .render import JsonRenderer, Renderer, Spinner, Style, TextRenderer, format_stats, isatty
from .turn import (
    Turn,
    client_for,
    client_options,
    load_history,
    load_tools,
    model_spec,
    pending_tool_calls,
    run_stream,
    save,
)
from .turn import secrets_of as _secrets_of

__all__ = ["DEFAULT_MODEL", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (the console script exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    out, err = sys.stdout, sys.stderr
    command = args.pop(0) if args and args[0] in COMMANDS else "prompt"
    try:
        if command == "prompt":
            return _prompt(prompt_parser().parse_args(args), out, err)
        if command == "chat":
            from .chat import run_chat

            return run_chat(args, out, err)
        if command == "demo":
            from .demo import run_demo

            demo = demo_parser().parse_args(args)
            return run_demo(out, cassettes=demo.cassettes, fast=demo.fast)
        if command == "council":
            from .. import _council_cli

            parser = argparse.ArgumentParser(prog="llmstream council")
            _council_cli.add_arguments(parser)
            return _council_cli.run(parser.parse_args(args), out, err)
        if command == "serve":
            from ..serve import _command

            return _command.main(args)
        from . import commands

        return commands.run(command, args, out, err)
    except UsageError as exc:
        err.write(f"llmstream: error: {exc}\n")
        return EXIT_USAGE
    except LogError as exc:  # a corrupt, read-only or locked log: one line, no traceback
        err.write(f"llmstream: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:  # outside a stream: while reading stdin, say
        err.write("\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `llmstream logs | head`: the reader left, stop quietly like any Unix tool
        silence_stdout(out)
        return EXIT_ERROR


# -- the prompt command ---------------------------------------------------------------------------


def _piped_stdin() -> str | None:
    """What was piped to stdin, or None for a terminal or no stdin at all."""
    stdin = sys.stdin
    if stdin is None or isatty(stdin):
        return None
    try:
        return stdin.read()
    except (OSError, ValueError):  # closed, or not readable (pytest's capture)
        return None


def read_prompt(args: argparse.Namespace, err: TextIO) -> str | None:
    """The prompt: stdin and the argument joined (stdin first), either alone, or None for a turn of
    tool results only. Nothing given is dropped; an empty prompt is a usage error."""
    prompt = args.prompt
    if prompt is not None and prompt != "-":
        if not prompt.strip():
            raise UsageError("the prompt is empty")
        if prompt.strip() in COMMANDS:  # `llmstream -m x models`: a command in the wrong place
            raise UsageError(f"{prompt.strip()!r} is a command: run `llmstream {prompt.strip()} ...` (options after "
                             "it); to ask a model about the word, put it in a sentence")
        if "-" in (getattr(args, "attach", None) or ()):
            return str(prompt)  # stdin is an attachment, not text to join
        piped = (_piped_stdin() or "").strip("\n")
        return f"{piped}\n\n{prompt}" if piped.strip() else str(prompt)
    if prompt is None and args.tool_result:
        return None  # a turn of tool results needs no new prompt
    if sys.stdin is None:
        raise UsageError("no prompt given and no stdin to read one from")
    if isatty(sys.stdin):
        err.write("Reading the prompt from stdin; end it with Ctrl-D.\n")
    try:
        text = sys.stdin.read().rstrip()  # the newline `echo` adds is not part of the question
    except (OSError, ValueError):
        text = ""
    if not text.strip():
        raise UsageError("the prompt is empty")
    return text


def attachments_of(sources: Sequence[str]) -> list[Any]:
    """``-a PATH_OR_URL`` (``-`` reads stdin's bytes) as content parts; the kind comes from the media type."""
    from .._content import Audio, Document, Image, detect_media_type

    parts: list[Any] = []
    for source in sources:
        try:
            if source.startswith(("http://", "https://", "data:")):
                kind = detect_media_type(None, source.split("?")[0]) or ""
                parts.append(Document.from_url(source) if kind == "application/pdf" else Image.from_url(source))
                continue
            if source == "-":
                data = sys.stdin.buffer.read()
                kind = detect_media_type(data, None) or ""
                maker: Any = Audio if kind.startswith("audio/") else Image if kind.startswith("image/") else Document
                parts.append(maker.from_bytes(data, media_type=kind or None))
                continue
            kind = detect_media_type(Path(source).read_bytes()[:64], source) or ""
            maker = Audio if kind.startswith("audio/") else Image if kind.startswith("image/") else Document
            parts.append(maker.from_path(source))
        except (OSError, ConfigurationError) as exc:
            raise UsageError(f"--attach {source}: {exc}") from exc
    return parts


def _prepare(args: argparse.Namespace, err: TextIO) -> Turn:
    """The history to continue (``-c``/``--cid``), then this turn's system, tool results and prompt."""
    history = load_history(args)
    conversation: Conversation = history.conversation
    tools = load_tools(args.tools) if args.tools else history.tools
    if args.tool_result:
        pending = pending_tool_calls(conversation)
        for call_id, _ in args.tool_result:
            if call_id not in pending:
                waiting = ", ".join(pending) if pending else "none (continue a conversation with -c or --cid)"
                raise UsageError(f"--tool-result {call_id}: no such pending tool call; pending: {waiting}")
    before = len(conversation)
    if args.system:
        conversation.system(args.system)
    for call_id, content in args.tool_result:
        conversation.tool_result(call_id, content)
    prompt = read_prompt(args, err)
    attachments = attachments_of(getattr(args, "attach", None) or ())
    if prompt is not None:
        conversation.user(prompt, *attachments)
    elif attachments:
        raise UsageError("an attachment needs a prompt to go with it")
    return Turn(conversation, conversation.messages[before:], model_spec(args, history), tools,
                history.conversation_id, client_options(args, history))


def _prompt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    schema_text = args.schema_multi if args.schema_multi is not None else args.schema
    if schema_text is not None:  # checked before anything is read or sent
        from .schema import load_schema

        args.output_schema = load_schema(schema_text, multi=args.schema_multi is not None)
    turn = _prepare(args, err)
    llm = client_for(turn.model_spec, turn.client_options, args.key, sdk_models=getattr(args, "sdk_models", False))
    secrets = _secrets_of(llm, args.key)
    spinner = Spinner(err, llm.model).start() if isatty(err) else None
    renderer: Renderer
    if args.json:
        renderer = JsonRenderer(out, buffered=args.no_stream, spinner=spinner)
    elif schema_text is not None:
        from .schema import SchemaRenderer

        renderer = SchemaRenderer(out, err, reasoning=args.reasoning, spinner=spinner)
    else:
        renderer = TextRenderer(out, err, reasoning=args.reasoning, buffered=args.no_stream, spinner=spinner)
    try:
        outcome = run_stream(llm, turn, args, renderer, err, spinner)
    finally:
        if spinner is not None:
            spinner.stop()

    completion = outcome.completion
    cid = turn.conversation_id if args.no_log else save(turn, outcome, secrets, err)
    if outcome.broken_pipe:  # stop quietly, like any Unix tool whose reader left
        silence_stdout(out)
        return outcome.code
    extra: dict[str, Any] = {"conversation_id": cid} if cid else {}
    if schema_text is not None and completion.output is not None:
        from .schema import output_json

        extra["output"] = output_json(completion.output)
    renderer.finish(completion, outcome.error, **extra)
    if outcome.error is not None:
        kept = f" (partial answer kept: {len(completion.text)} characters)" if completion.text else ""
        err.write(f"llmstream: error: {type(outcome.error).__name__}: {outcome.error}{kept}\n")
    elif schema_text is not None and completion.output is None and outcome.code != EXIT_INTERRUPTED:
        said = f"the model refused: {completion.refusal}" if completion.refusal else "the model gave no object"
        err.write(f"llmstream: error: {said}\n")
        outcome.code = EXIT_ERROR
    elif outcome.code == EXIT_INTERRUPTED:
        err.write("llmstream: interrupted\n")
    if args.usage or isatty(err):
        err.write(Style(err).dim(format_stats(completion, outcome.first_token_s)) + "\n")
    err.flush()
    return outcome.code


def silence_stdout(out: TextIO) -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
    except (OSError, ValueError, AttributeError):
        pass

