"""``llmstream chat``: an interactive conversation, each answer streamed as it arrives.

Ctrl-C stops the current answer (what arrived is kept, in the conversation and in the log) and
the chat goes on; at the prompt it only clears the line. ``!multi`` … ``!end`` sends several
lines as one message; ``!exit``, ``!quit`` or Ctrl-D leave. Every turn is saved in the log, so
``llmstream chat -c`` (or ``--cid ID``, or a plain ``llmstream -c``) picks the conversation up again.
"""

from __future__ import annotations

import argparse
import contextlib
import select
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from .._client import BaseClient
from .._conversation import Conversation, Message
from .args import EXIT_INTERRUPTED, EXIT_OK, chat_parser
from .render import Spinner, Style, TextRenderer, format_stats, isatty
from .turn import Outcome, Turn, client_for, client_options, load_history, model_spec, run_stream, save, secrets_of

__all__ = ["read_message", "run_chat"]

EXIT_WORDS = ("!exit", "!quit")
PROMPT, MORE = "> ", "... "


def terminal_input(prompt: str) -> str:
    """``input()`` for a terminal that a Ctrl-C always interrupts: the wait for a line is a short
    ``select`` loop, so a pending SIGINT raises KeyboardInterrupt at once (a blocking read can miss
    a signal that lands just before it starts). Raises EOFError on Ctrl-D."""
    stdout, stdin = sys.stdout, sys.stdin
    stdout.write(prompt)
    stdout.flush()
    fd = stdin.fileno()
    while not select.select([fd], [], [], 0.1)[0]:
        pass
    line = stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def read_message(read: Callable[[str], str] = input) -> str | None:
    """The next message (several lines between ``!multi`` and ``!end``); None to leave.

    Raises EOFError on Ctrl-D and KeyboardInterrupt on Ctrl-C, as ``input()`` does.
    """
    line = read(PROMPT)
    word = line.strip()
    if word in EXIT_WORDS:
        return None
    if word != "!multi":
        return line
    lines: list[str] = []
    while True:
        more = read(MORE)
        if more.strip() == "!end":
            return "\n".join(lines)
        lines.append(more)


def _keep(conversation: Conversation, outcome: Outcome) -> None:
    """The answer joins the conversation: whole when it finished, its text when it was cut short
    (a tool call cut mid-arguments would make the provider refuse the whole history)."""
    if outcome.failure is None:
        conversation.append(outcome.completion)
    elif outcome.completion.text:
        conversation.append(Message("assistant", outcome.completion.text))


def run_chat(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    args = chat_parser().parse_args(list(argv))
    args.tool_result = []
    history = load_history(args)
    conversation = history.conversation
    spec = model_spec(args, history)
    options = client_options(args, history)
    llm = client_for(spec, options, args.key, sdk_models=getattr(args, "sdk_models", False))
    secrets = secrets_of(llm, args.key)
    if args.tools:
        from .turn import load_tools

        tools = load_tools(args.tools)
    else:
        tools = history.tools
    cid = history.conversation_id
    style = Style(err)
    resumed = f", continuing conversation {cid}" if cid else ""
    err.write(style.dim(f"Chatting with {llm.provider}:{llm.model}{resumed}. Ctrl-C stops an answer; "
                        "!multi … !end for several lines; !exit or Ctrl-D to leave.") + "\n")
    err.flush()
    system = args.system
    read = terminal_input if isatty(sys.stdin) and hasattr(select, "select") and sys.platform != "win32" else input
    while True:
        try:
            text = read_message(read)
        except EOFError:
            err.write("\n")
            return EXIT_OK
        except KeyboardInterrupt:  # at the prompt: a fresh line, still in the chat
            err.write("\n")
            continue
        if text is None:
            return EXIT_OK
        if not text.strip():
            continue
        before = len(conversation)
        if system:
            conversation.system(system)
            system = None
        conversation.user(text)
        turn = Turn(conversation, conversation.messages[before:], spec, tools, cid, options)
        cid = _exchange(llm, turn, args, out, err, secrets)


def _exchange(
    llm: BaseClient, turn: Turn, args: argparse.Namespace, out: TextIO, err: TextIO, secrets: list[str]
) -> str | None:
    """One answer, streamed; Ctrl-C anywhere in it ends only the answer. Returns the conversation id."""
    spinner = Spinner(err, llm.model).start() if isatty(err) else None
    renderer = TextRenderer(out, err, reasoning=args.reasoning, spinner=spinner)
    try:
        outcome = run_stream(llm, turn, args, renderer, err, spinner)
    finally:
        if spinner is not None:
            spinner.stop()
    cid = turn.conversation_id
    try:
        renderer.finish(outcome.completion, outcome.error)
        if not args.no_log:
            cid = save(turn, outcome, secrets, err)
        _keep(turn.conversation, outcome)
        style = Style(err)
        if outcome.error is not None:
            err.write(style.red(f"error: {type(outcome.error).__name__}: {outcome.error}") + "\n")
        elif outcome.code == EXIT_INTERRUPTED:
            err.write(style.dim("(stopped: the answer so far is kept)") + "\n")
        if args.usage:
            err.write(style.dim(format_stats(outcome.completion, outcome.first_token_s)) + "\n")
        err.flush()
    except KeyboardInterrupt:  # a second Ctrl-C while wrapping up: the chat still goes on
        with contextlib.suppress(OSError):
            err.write("\n")
    return cid
