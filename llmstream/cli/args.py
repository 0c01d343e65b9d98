"""The command line's words: commands, exit codes, argument parsers and their value checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import __version__

__all__ = [
    "COMMANDS", "DEFAULT_MODEL", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "LogError", "UsageError",
    "aliases_parser", "chat_parser", "demo_parser", "keys_parser", "logs_parser", "models_parser", "option_value",
    "prompt_parser",
]

DEFAULT_MODEL = "openai:gpt-4o-mini"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: The first word picks one of these; the same words are never sent to a model as a prompt.
COMMANDS = ("prompt", "chat", "models", "aliases", "keys", "logs", "cache", "demo", "council", "serve")

_STDIN_HELP = (
    "the prompt. Piped stdin is joined with it, stdin first, then the prompt "
    "(git diff | llmstream 'write a commit message'); with no prompt or '-', stdin is the prompt"
)


class UsageError(Exception):
    """A mistake on the command line that argparse cannot see (exit code 2)."""


class LogError(Exception):
    """The conversation log cannot be read or written: corrupt, read-only or locked (exit code 1)."""


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return number


def non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {value!r}")
    return number


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {value!r}")
    return number


def option_value(value: str) -> Any:
    """``-o KEY VALUE``: JSON when it parses (numbers, objects, true), else the plain string."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _model_and_client(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m", "--model",
        help=f"a model: provider:model, a bare name (gpt-4o, claude-…, gemini-…, vendor/model) or an alias "
             f"(default: $LLMSTREAM_MODEL, else {DEFAULT_MODEL})",
    )
    parser.add_argument("-s", "--system", help="system prompt")
    conversation = parser.add_argument_group("conversation")
    conversation.add_argument("-c", "--continue", dest="continue_", action="store_true",
                              help="continue the last conversation (its model and client options too)")
    conversation.add_argument("--cid", help="continue the conversation with this id (or a unique prefix of it)")
    conversation.add_argument("--no-log", action="store_true", help="do not save this exchange")
    conversation.add_argument("-a", "--attach", action="append", default=[], metavar="PATH_OR_URL",
                              help="attach an image, PDF, text file or audio (repeatable; - reads it from stdin, "
                                   "which is then not joined to the prompt)")
    conversation.add_argument("--tools", metavar="FILE",
                              help="JSON list of tools the model may call ({name, description, parameters})")
    request = parser.add_argument_group("request")
    request.add_argument("--max-tokens", type=positive_int, metavar="N")
    request.add_argument("--temperature", type=float, metavar="T")
    request.add_argument("-o", "--option", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                         help="any request field, e.g. -o reasoning_effort low or -o top_k 40 (VALUE may be JSON); "
                              "fields the vendor SDK has no keyword for go through its extra_body")
    request.add_argument("--base-url", help="another endpoint: vLLM, Ollama, a proxy (OpenAI style: http://host/v1)")
    request.add_argument("--key", help="API key (default: the provider's environment variable, then `llmstream keys`)")
    request.add_argument("--retries", type=non_negative_int, metavar="N",
                         help="retries before the first token (default 2)")
    request.add_argument("--idle-timeout", type=positive_float, metavar="SECONDS",
                         help="longest gap between content chunks (keep-alives do not count)")
    request.add_argument("--first-chunk-timeout", type=positive_float, metavar="SECONDS",
                         help="longest wait from the request to the first content chunk (default 600)")
    request.add_argument("--project", help="Vertex AI project (-m vertex:…; default $GOOGLE_CLOUD_PROJECT)")
    request.add_argument("--location", help="Vertex AI location (-m vertex:…; default $GOOGLE_CLOUD_LOCATION)")
    request.add_argument("--sdk-models", action="store_true",
                         help="decode the stream with the vendor SDK's own models (default: llmstream decodes it "
                              "itself where the provider has that fast path, sdk_models=False)")
    request.add_argument("--cache", action="store_true",
                         help="answer a repeated request from the response cache (beside the log; $LLMSTREAM_CACHE_DB)")
    output = parser.add_argument_group("output")
    output.add_argument("--reasoning", action="store_true", help="show the model's reasoning on stderr")
    output.add_argument("--usage", action="store_true",
                        help="print timing and token usage on stderr (always on a terminal)")


def prompt_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmstream",
        description="Stream an answer from OpenAI, Anthropic, Gemini, OpenRouter or any OpenAI-compatible server.",
        epilog=(
            "stdin:\n"
            "  Piped input is joined with the prompt: stdin first, a blank line, then the prompt.\n"
            "  git diff | llmstream 'write a commit message'   sends the diff, then the request\n\n"
            "commands:\n"
            "  llmstream chat [-m MODEL] [-c|--cid ID]     an interactive conversation\n"
            "  llmstream models [--json]                    providers, aliases, default model, keys present\n"
            "  llmstream aliases set NAME MODEL | list | remove NAME\n"
            "  llmstream keys set PROVIDER | list | remove PROVIDER\n"
            "  llmstream logs [-n N] [--json]               list saved conversations\n"
            "  llmstream council -m A -m B [--synthesizer C] PROMPT   several models, then a synthesis\n"
            "  llmstream serve [--port N] [-m MODEL]        an OpenAI-compatible gateway and a chat page\n"
            "  llmstream demo [--fast]                      replay a recorded session (no key, no network)\n\n"
            "exit codes: 0 ok, 1 provider/stream error, 2 usage error, 130 interrupted"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prompt", nargs="?", help=_STDIN_HELP)
    _model_and_client(parser)
    parser.add_argument("--tool-result", nargs=2, action="append", default=[], metavar=("CALL_ID", "CONTENT"),
                        help="answer a tool call of the previous turn (repeatable)")
    parser.add_argument("--json", action="store_true", help="NDJSON: one object per chunk, then the completion")
    _schema_arguments(parser)
    parser.add_argument("--no-stream", action="store_true", help="print the whole answer at the end")
    parser.add_argument("--version", action="version", version=f"llmstream {__version__}")
    return parser


def _schema_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("structured output").add_mutually_exclusive_group()
    group.add_argument(
        "--schema", metavar="SCHEMA",
        help="answer with one JSON object of this schema, printed on stdout once complete and valid: "
             "'name str, age int, bio: a short bio' (types str, int, float, bool; default str; comma- or "
             "newline-separated), a JSON-schema file, or inline JSON",
    )
    group.add_argument("--schema-multi", metavar="SCHEMA",
                       help='the same for a list of such objects, printed as {"items": [...]}')


def chat_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmstream chat",
        description="An interactive conversation: each answer streams as it arrives.",
        epilog=(
            "in the chat:\n"
            "  Ctrl-C      stop the current answer (what arrived is kept) and stay in the chat\n"
            "  !multi      start a multi-line message; end it with !end on a line of its own\n"
            "  !exit       leave (so does Ctrl-D)\n"
            "Every turn is saved in the log; -c or --cid resumes a conversation."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _model_and_client(parser)
    return parser


def logs_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmstream logs", description="List saved exchanges, oldest first.")
    parser.add_argument("-n", "--count", type=positive_int, default=10, metavar="N", help="how many (default 10)")
    parser.add_argument("--cid", help="only this conversation (id or unique prefix)")
    parser.add_argument("-c", "--current", action="store_true", help="only the last conversation")
    parser.add_argument("--json", action="store_true", help="a JSON array")
    parser.add_argument("--path", action="store_true", help="print the database path and exit")
    return parser


def cache_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmstream cache", description="The response cache used by --cache.")
    sub = parser.add_subparsers(dest="action")
    sub.add_parser("stats", help="where the cache is, how many answers it holds (the default)")
    sub.add_parser("clear", help="forget every cached answer")
    return parser


def demo_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmstream demo",
        description="Replay recorded streams (text, reasoning, parallel tool calls) through the real SDK code paths.",
    )
    parser.add_argument("--fast", action="store_true", help="no pacing")
    parser.add_argument("--cassettes", type=Path, metavar="DIR", help="where the demo cassettes are")
    return parser


def models_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmstream models",
        description="The providers, how bare model names resolve, your aliases, the default model and which "
                    "API keys are present (never the keys themselves).",
    )
    parser.add_argument("words", nargs="*", help=argparse.SUPPRESS)  # `llmstream models list` works too
    parser.add_argument("--json", action="store_true", help="one JSON object")
    return parser


def aliases_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmstream aliases", description="Short names for models.")
    sub = parser.add_subparsers(dest="action")
    setter = sub.add_parser("set", help="llmstream aliases set fast gemini-2.5-flash")
    setter.add_argument("name")
    setter.add_argument("model")
    sub.add_parser("list", help="every alias (the default)")
    remover = sub.add_parser("remove", help="forget an alias")
    remover.add_argument("name")
    return parser


def keys_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmstream keys",
        description="API keys kept in your config directory (file mode 0600). The environment variable, "
                    "when set, wins over a stored key.",
    )
    sub = parser.add_subparsers(dest="action")
    setter = sub.add_parser("set", help="store a key, read from the terminal (hidden) or from stdin")
    setter.add_argument("provider")
    setter.add_argument("--value", help="the key itself (it then lands in your shell history: prefer stdin)")
    sub.add_parser("list", help="the providers with a stored key (names only; the default)")
    sub.add_parser("path", help="where the keys file is")
    remover = sub.add_parser("remove", help="forget a stored key")
    remover.add_argument("provider")
    return parser
