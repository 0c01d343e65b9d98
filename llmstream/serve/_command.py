"""``llmstream serve``: the app under uvicorn. Wire it as a subcommand with::

    from llmstream.serve import _command as serve_command
    serve_command.add_arguments(subparsers.add_parser("serve", help=serve_command.HELP))
    ...  # then for that subcommand: return serve_command.run(args)

(``python -m llmstream.serve`` runs it on its own.)
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import Any, TextIO

from .._meta import install_hint

__all__ = ["HELP", "add_arguments", "build_app", "check_args", "main", "run"]

HELP = "serve an OpenAI-compatible gateway, the AI SDK UI endpoint and a chat page"
TOKEN_ENV = "LLMSTREAM_SERVE_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("-m", "--model", dest="default_model", default=None,
                        help="default provider:model for requests that name none (e.g. mock:echo)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (the server is stateless)")
    parser.add_argument("--auth-token", default=None,
                        help=f"bearer token every API call must send (or set {TOKEN_ENV}); "
                             "required to bind beyond loopback")
    parser.add_argument("--body-limit", type=int, default=4 * 1024 * 1024, help="largest request body in bytes")
    parser.add_argument("--heartbeat", type=float, default=15.0, help="seconds of upstream silence between keep-alives")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_args(args: argparse.Namespace) -> str | None:
    """Why these arguments must not run, or None."""
    token = args.auth_token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(args.host) and not token:
        return (f"refusing to serve on {args.host}, beyond this machine, without --auth-token "
                f"(or {TOKEN_ENV}): anyone who can reach it would spend your provider keys")
    if args.workers < 1:
        return "--workers must be at least 1"
    if args.default_model is not None:
        from ._models import resolve_spec
        from ._readers import RequestError

        try:
            resolve_spec(args.default_model, None)
        except RequestError as exc:
            return f"-m {args.default_model}: {exc}"
    return None


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "default_model": args.default_model,
        "auth_token": args.auth_token or os.environ.get(TOKEN_ENV) or None,
        "body_limit": args.body_limit,
        "heartbeat": args.heartbeat,
    }


def build_app(args: argparse.Namespace) -> Any:
    from ._app import create_app

    settings = _settings(args)
    default = settings.pop("default_model")
    return create_app(default, **settings)


def factory() -> Any:
    """uvicorn's ``--factory`` entry for worker processes: settings come from the environment."""
    from ._app import create_app

    return create_app(
        os.environ.get("LLMSTREAM_SERVE_MODEL") or None,
        auth_token=os.environ.get(TOKEN_ENV) or None,
        body_limit=int(os.environ.get("LLMSTREAM_SERVE_BODY_LIMIT", 4 * 1024 * 1024)),
        heartbeat=float(os.environ.get("LLMSTREAM_SERVE_HEARTBEAT", 15.0)),
    )


def run(args: argparse.Namespace, *, err: TextIO | None = None) -> int:
    """Run the server until interrupted; 2 for arguments that must not run, 1 when the extra is missing."""
    err = err or sys.stderr
    problem = check_args(args)
    if problem is not None:
        print(f"llmstream serve: {problem}", file=err)
        return 2
    try:
        import uvicorn
    except ImportError:
        print(f"llmstream serve: needs the serve extra: {install_hint('serve')}", file=err)
        return 1
    shown = f"http://{args.host}:{args.port}/"
    print(f"llmstream serve: chat page at {shown}, OpenAI-compatible API at {shown}v1 "
          f"(default model {args.default_model or 'none'})", file=err)
    if args.workers > 1:  # workers are new processes: they read the settings from the environment
        settings = _settings(args)
        os.environ["LLMSTREAM_SERVE_MODEL"] = settings["default_model"] or ""
        if settings["auth_token"]:
            os.environ[TOKEN_ENV] = settings["auth_token"]
        os.environ["LLMSTREAM_SERVE_BODY_LIMIT"] = str(settings["body_limit"])
        os.environ["LLMSTREAM_SERVE_HEARTBEAT"] = str(settings["heartbeat"])
        uvicorn.run("llmstream.serve._command:factory", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="info", access_log=False)
    else:
        uvicorn.run(build_app(args), host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llmstream serve", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))
