"""The commands that stream nothing: ``logs``, ``models``, ``aliases`` and ``keys``."""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from .._errors import ConfigurationError
from .._models import BARE_NAME_RULES
from .._registry import PROVIDERS
from .args import (
    DEFAULT_MODEL,
    EXIT_ERROR,
    EXIT_OK,
    UsageError,
    aliases_parser,
    cache_parser,
    keys_parser,
    logs_parser,
    models_parser,
)
from .render import Style, format_tool_call, isatty

__all__ = ["run"]

#: What `keys set` accepts: the providers that take a key (``google`` is ``gemini``'s other name).
KEYED = ("anthropic", "gemini", "openai", "openrouter")


def run(command: str, argv: list[str], out: TextIO, err: TextIO) -> int:
    table: dict[str, tuple[Callable[[], argparse.ArgumentParser], Callable[..., int]]] = {
        "logs": (logs_parser, _logs), "models": (models_parser, _models),
        "aliases": (aliases_parser, _aliases), "keys": (keys_parser, _keys), "cache": (cache_parser, _cache),
    }
    make_parser, handler = table[command]
    return handler(make_parser().parse_args(argv), out, err)


# -- cache ----------------------------------------------------------------------------------------


def _cache(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import sqlite3

    from ..cache import SQLiteCache
    from .history import default_cache_path

    cache = SQLiteCache(default_cache_path())
    try:
        if args.action == "clear":
            out.write(f"cleared {cache.clear()} cached answers ({cache.path})\n")
        else:
            stats = cache.stats()
            out.write(f"{stats['path']}: {stats['entries']} cached answers, {stats['bytes']} bytes\n")
    except sqlite3.Error as exc:
        err.write(f"llmstream: error: the cache {cache.path} cannot be read: {exc}\n")
        return EXIT_ERROR
    finally:
        cache.close()
    return EXIT_OK


# -- models ---------------------------------------------------------------------------------------


def _provider_rows() -> list[dict[str, Any]]:
    """Each provider's key variables and whether a key is present (never the key)."""
    from .._keystore import load_keys

    try:
        stored = load_keys()
        store_problem = None
    except ConfigurationError as exc:
        stored, store_problem = {}, str(exc)
    rows = []
    for name, target in sorted(PROVIDERS.items()):
        if name == "google":  # another name of gemini
            continue
        module, _, cls_name = target.partition(":")
        cls = getattr(importlib.import_module(module), cls_name)  # provider modules import no vendor SDK
        env_keys: tuple[str, ...] = tuple(cls.env_keys)
        from_env = next((var for var in env_keys if os.environ.get(var)), None)
        source = f"${from_env}" if from_env else ("key store" if name in stored else None)
        rows.append({"provider": name, "key_variables": list(env_keys), "key_present": source is not None,
                     "key_source": source, "needs_key": bool(env_keys)})
    if store_problem:
        rows.append({"problem": store_problem})
    return rows


def _models(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .aliases import load_aliases

    if args.words and args.words != ["list"]:
        raise UsageError(f"llmstream models takes no words (got {' '.join(args.words)!r})")
    try:
        aliases = load_aliases()
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    env_default = os.environ.get("LLMSTREAM_MODEL")
    default = {"model": env_default or DEFAULT_MODEL, "from": "$LLMSTREAM_MODEL" if env_default else "built in"}
    rows = _provider_rows()
    bare = [{"prefixes": list(prefixes), "provider": provider} for prefixes, provider in BARE_NAME_RULES]
    bare.append({"prefixes": ["vendor/model"], "provider": "openrouter"})
    if args.json:
        out.write(json.dumps({"default_model": default, "providers": rows, "bare_names": bare,
                              "aliases": aliases}, indent=2) + "\n")
        return EXIT_OK
    style = Style(out)
    out.write(f"{style.bold('default model')}  {default['model']}  ({default['from']})\n\n")
    out.write(style.bold("providers") + "\n")
    for row in rows:
        if "problem" in row:
            out.write(f"  {style.red(row['problem'])}\n")
            continue
        if not row["needs_key"]:
            state = "no key needed"
        elif row["key_present"]:
            state = f"key present ({row['key_source']})"
        else:
            state = "no key: set " + " or ".join(row["key_variables"]) + f", or `llmstream keys set {row['provider']}`"
        out.write(f"  {row['provider']:<11} {state}\n")
    out.write("\n" + style.bold("bare model names") + "\n")
    for rule in bare:
        names = ", ".join(p if "/" in p else f"{p}*" for p in rule["prefixes"])
        out.write(f"  {names:<38} → {rule['provider']}\n")
    out.write("\n" + style.bold("aliases") + ("\n" if aliases else "  none (llmstream aliases set NAME MODEL)\n"))
    for name, model in sorted(aliases.items()):
        out.write(f"  {name:<11} → {model}\n")
    return EXIT_OK


# -- aliases --------------------------------------------------------------------------------------


def _aliases(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .aliases import load_aliases, remove_alias, set_alias
    from .args import COMMANDS

    try:
        if args.action == "set":
            if ":" in args.name or "/" in args.name or args.name in COMMANDS or not args.name.strip():
                raise UsageError(f"an alias is a plain word, not a model or a command: {args.name!r}")
            set_alias(args.name, args.model)
            err.write(f"{args.name} → {args.model}\n")
        elif args.action == "remove":
            if not remove_alias(args.name):
                raise UsageError(f"no alias {args.name!r}")
        else:
            for name, model in sorted(load_aliases().items()):
                out.write(f"{name}\t{model}\n")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return EXIT_OK


# -- keys -----------------------------------------------------------------------------------------


def _provider_name(name: str) -> str:
    name = name.lower()
    name = "gemini" if name == "google" else name
    if name not in KEYED:
        raise UsageError(f"unknown provider {name!r}; keys are for: {', '.join(KEYED)}")
    return name


def _read_key(provider: str, err: TextIO) -> str:
    stdin = sys.stdin
    if stdin is not None and isatty(stdin):
        return getpass.getpass(f"{provider} API key (hidden): ", stream=err)
    return stdin.readline() if stdin is not None else ""


def _keys(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .._keystore import delete_key, keys_path, load_keys, save_key

    try:
        if args.action == "set":
            provider = _provider_name(args.provider)
            key = (args.value if args.value is not None else _read_key(provider, err)).strip()
            if not key:
                raise UsageError("no key given (type it, pipe it on stdin, or pass --value)")
            path = save_key(provider, key)
            err.write(f"stored the {provider} key in {path}\n")
        elif args.action == "remove":
            provider = _provider_name(args.provider)
            if not delete_key(provider):
                raise UsageError(f"no stored key for {provider}")
        elif args.action == "path":
            out.write(f"{keys_path()}\n")
        else:
            for name in sorted(load_keys()):  # names only: never a key, not even a prefix
                out.write(f"{name}\n")
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from exc
    return EXIT_OK


# -- logs -----------------------------------------------------------------------------------------


def _logs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .history import default_logs_path, reading

    if args.cid is not None and not args.cid.strip():
        raise UsageError("--cid needs a conversation id")
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
    with reading(path) as store:  # writes nothing: a read-only log can be listed
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
