"""One exchange of the command line, shared by the prompt command and ``llmstream chat``: the
history it continues, the client it runs on, the stream, and the log entry it leaves."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any, TextIO

import attrs

from .._client import BaseClient
from .._client import client as make_client
from .._conversation import Conversation, Message
from .._errors import ConfigurationError, LLMStreamError, ProviderError
from .._options import StreamingOptions
from .._types import ChunkType, Completion, Tool
from .args import DEFAULT_MODEL, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, LogError, UsageError, option_value
from .render import Renderer, Spinner

__all__ = [
    "History", "Outcome", "Turn", "client_for", "load_history", "pending_tool_calls", "retry_notice", "run_stream",
    "save", "secrets_of",
]

_CONTENT = frozenset({ChunkType.TEXT, ChunkType.REASONING, ChunkType.REFUSAL, ChunkType.TOOL_CALL_START})
#: CLI flag → client keyword; what a conversation saves and ``-c`` reuses (never the key).
CLIENT_OPTIONS = {
    "base_url": "base_url", "retries": "max_retries", "idle_timeout": "idle_timeout",
    "first_chunk_timeout": "first_chunk_timeout",
    "project": "project", "location": "location",  # Vertex AI (-m vertex:…)
}


@attrs.define
class History:
    """What ``-c``/``--cid`` continue: the saved messages, model, tools and client options."""

    conversation: Conversation = attrs.field(factory=Conversation)
    conversation_id: str | None = None
    model_spec: str | None = None
    tools: list[Tool] = attrs.field(factory=list)
    client_options: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class Turn:
    """One exchange: the history it continues, what it adds, and where it is saved."""

    conversation: Conversation
    new_messages: list[Message]
    model_spec: str
    tools: list[Tool]
    conversation_id: str | None = None
    client_options: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class Outcome:
    completion: Completion
    code: int = EXIT_OK
    error: LLMStreamError | None = None
    failure: str | None = None  # saved as the error of a partial answer
    first_token_s: float | None = None
    broken_pipe: bool = False


def load_tools(path: str) -> list[Tool]:
    from .history import tool_from_json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else [data]
        return [tool_from_json(item) for item in items]
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"--tools {path}: {exc}") from exc


def load_history(args: argparse.Namespace) -> History:
    """The saved conversation that ``-c``/``--cid`` name, checked before anything is sent."""
    from .history import default_logs_path, reading

    if args.cid is not None and not args.cid.strip():
        raise UsageError("--cid needs a conversation id (see `llmstream logs`)")
    if args.continue_ and args.cid is not None:
        raise UsageError("use -c (the last conversation) or --cid ID, not both")
    if not (args.continue_ or args.cid):
        return History()
    path = default_logs_path()
    if not path.exists():
        raise UsageError(f"no saved conversations yet ({path})")
    with reading(path) as store:  # read-only: a read-only or shared log can still be continued
        cid = store.resolve(args.cid) if args.cid else store.last_conversation_id()
        if cid is None:
            raise UsageError(f"no conversation {args.cid!r}" if args.cid else "no saved conversations yet")
        return History(store.rebuild(cid), cid, store.conversation_model(cid), store.conversation_tools(cid),
                       store.conversation_options(cid))


def model_spec(args: argparse.Namespace, history: History) -> str:
    """``-m`` (an alias resolves), else the continued conversation's model, else the default."""
    from .aliases import resolve_alias

    spec = args.model or history.model_spec or os.environ.get("LLMSTREAM_MODEL") or DEFAULT_MODEL
    try:
        return resolve_alias(spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def client_options(args: argparse.Namespace, history: History) -> dict[str, Any]:
    """The continued conversation's client options, with the ones given now on top."""
    given = {
        kw: getattr(args, flag) for flag, kw in CLIENT_OPTIONS.items() if getattr(args, flag, None) is not None
    }
    return {**history.client_options, **given}


def pending_tool_calls(conversation: Conversation) -> list[str]:
    """Ids of the last assistant turn's tool calls that no tool message has answered yet."""
    for index in range(len(conversation.messages) - 1, -1, -1):
        message = conversation.messages[index]
        if message.role == "assistant":
            answered = {m.tool_call_id for m in conversation.messages[index + 1:] if m.role == "tool"}
            return [call.id for call in message.tool_calls if call.id not in answered]
    return []


def takes_sdk_models(spec: str) -> bool:
    """Whether the client class of ``spec`` has the ``sdk_models`` switch (its own decoding, the fast
    path): read from its signature, so a provider that gains it is picked up with no change here."""
    import inspect

    from .._models import resolve_model
    from .._registry import PROVIDERS, resolve

    try:
        provider = resolve_model(spec, PROVIDERS).partition(":")[0]
        cls = resolve(provider)
        return cls is not None and "sdk_models" in inspect.signature(cls).parameters
    except (ConfigurationError, ImportError, AttributeError, ValueError, TypeError):  # reported by the call below
        return False


def client_for(spec: str, options: dict[str, Any], key: str | None, *, sdk_models: bool = False) -> BaseClient:
    """The client, with its vendor SDK built now: a missing key is reported before anything is sent,
    and importing the SDK (a second or more) does not count as time to first token.

    A command-line user never reads ``chunk.raw``, so the stream is decoded by llmstream itself
    (``sdk_models=False``) wherever the client has that switch, unless ``sdk_models`` asks for the SDK's."""
    if not sdk_models and "sdk_models" not in options and takes_sdk_models(spec):
        options = {**options, "sdk_models": False}
    try:
        llm = make_client(spec, **options, **({"api_key": key} if key else {}))
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from exc
    try:
        _ = llm.sdk
    except ConfigurationError as exc:
        if "no API key" in str(exc):
            names = " or ".join(llm.env_keys)
            raise UsageError(
                f"no API key for {llm.provider}: pass --key KEY, set {names}, "
                f"or store one with `llmstream keys set {llm.provider}`"
            ) from exc
        raise UsageError(str(exc)) from exc
    except NotImplementedError:  # providers with no vendor SDK (mock)
        pass
    return llm


def secrets_of(llm: BaseClient, key: str | None) -> list[str]:
    """Every key this run may hold, scrubbed once more from what the log saves."""
    from .._keystore import stored_key

    found = [key or "", *(os.environ.get(name) or "" for name in llm.env_keys)]
    with contextlib.suppress(ConfigurationError):
        found.append(stored_key(llm.provider) or "")
    return [secret for secret in found if secret]


def retry_notice(error: LLMStreamError, delay: float, attempt: int, retries: int) -> str:
    """``429 rate limited, retrying in 12 s (1/2)``."""
    words = {"RateLimitError": "rate limited", "ServerError": "server error", "StreamTimeoutError": "timed out",
             "StreamInterruptedError": "connection lost", "InBandError": "error in the stream"}
    what = words.get(type(error).__name__, type(error).__name__)
    status = error.status_code if isinstance(error, ProviderError) else None
    seconds = f"{delay:.0f}" if delay >= 1 else f"{delay:.1f}"
    label = f"{status} {what}" if status else what
    return f"{label}, retrying in {seconds} s ({attempt}/{retries})"


def run_stream(
    llm: BaseClient, turn: Turn, args: argparse.Namespace, renderer: Renderer, err: TextIO,
    spinner: Spinner | None,
) -> Outcome:
    extra = {key: option_value(value) for key, value in getattr(args, "option", [])}
    if getattr(args, "output_schema", None) is not None:  # --schema / --schema-multi
        extra["output_type"] = args.output_schema
    if getattr(args, "cache", False):
        from ..cache import SQLiteCache
        from .history import default_cache_path

        extra["cache"] = SQLiteCache(default_cache_path())
    first_token: float | None = None

    def on_retry(error: LLMStreamError, delay: float, attempt: int) -> None:
        notice = retry_notice(error, delay, attempt, llm.settings.max_retries)
        if spinner is not None:
            spinner.label = notice
        else:
            err.write(f"llmstream: {notice}\n")
            err.flush()

    started = time.perf_counter()
    stream = llm.stream(turn.conversation, tools=turn.tools or None, max_tokens=args.max_tokens,
                        temperature=args.temperature, options=StreamingOptions(on_retry=on_retry), **extra)
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
        return Outcome(completion, EXIT_ERROR, exc, f"{type(exc).__name__}: {exc}", first_token)
    except KeyboardInterrupt:
        return Outcome(stream.completion, EXIT_INTERRUPTED, None, "interrupted (Ctrl-C)", first_token)
    except BrokenPipeError:  # the reader went away (`| head`)
        return Outcome(stream.completion, EXIT_ERROR, None, "stdout closed", first_token, broken_pipe=True)
    return Outcome(stream.completion, first_token_s=first_token)


def save(turn: Turn, outcome: Outcome, secrets: list[str], err: TextIO) -> str | None:
    """Save the exchange; a log that cannot be written warns but never costs the user the answer."""
    import sqlite3

    from .history import LogStore, default_logs_path
    from .logdb import log_error

    path = default_logs_path()
    try:
        with LogStore.open(path) as store:
            return store.save(
                conversation_id=turn.conversation_id, model_spec=turn.model_spec, input_messages=turn.new_messages,
                completion=outcome.completion, tools=turn.tools, error=outcome.failure, secrets_to_scrub=secrets,
                client_options=turn.client_options,
            )
    except (sqlite3.Error, OSError, LogError) as exc:
        reason = exc if isinstance(exc, LogError) else log_error(exc, path, "write")
        err.write(f"llmstream: warning: this exchange was not saved: {reason}\n")
        return turn.conversation_id
