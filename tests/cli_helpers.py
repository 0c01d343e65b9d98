"""Helpers for the command-line tests: run ``python -m llmstream`` as a subprocess, in a temp home."""

from __future__ import annotations

import os
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.loopback import LoopbackServer, openai_stream, openai_text_chunks

__all__ = [
    "KEY", "TIMEOUT", "against", "cli_home", "command", "inproc", "make_env", "messages", "read_until", "responses",
    "run", "sent", "text_stream",
]

KEY = "sk" "-test-cli-0123456789abcdefghij"
TIMEOUT = 120  # generous: a loaded CI machine can take seconds just to import the vendor SDK
KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENROUTER_API_KEY")


@pytest.fixture(autouse=True)
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs never touch the developer's own log, keys or aliases."""
    monkeypatch.setenv("LLMSTREAM_LOGS_DB", str(tmp_path / "logs.db"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("LLMSTREAM_MODEL", raising=False)
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def make_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)  # the CLI must flush by itself
    env.pop("LLMSTREAM_MODEL", None)
    for name in KEY_VARIABLES:
        env.pop(name, None)
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        OPENAI_API_KEY=KEY,
        LLMSTREAM_LOGS_DB=str(tmp_path / "logs.db"),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "llmstream", *args]


def against(server: LoopbackServer, *args: str) -> list[str]:
    return command("-m", "openai:gpt-4o-mini", "--base-url", server.url + "/v1", "--retries", "0", *args)


def run(argv: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    # stdin is always given (empty by default) so that a missing prompt can never wait on a terminal.
    return subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=TIMEOUT)


def inproc(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, *args: str) -> list[str]:
    """Arguments for ``cli.main`` in this process (output checks that need no process boundary)."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return ["-m", "openai:gpt-4o-mini", "--base-url", server.url + "/v1", "--retries", "0", *args]


def text_stream(*pieces: str, **kwargs: Any) -> list[bytes]:
    return openai_stream(openai_text_chunks(list(pieces), **kwargs))


def read_until(proc: subprocess.Popen[bytes], needle: bytes, timeout: float = TIMEOUT) -> bytes:
    """Read the subprocess's stdout pipe as bytes arrive, until ``needle`` shows up."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {needle!r} on stdout in time; got {seen!r}"
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            data = os.read(fd, 4096)
            assert data, f"stdout closed before {needle!r}; got {seen!r}"
            seen += data
    return seen


def responses(tmp_path: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(tmp_path / "logs.db") as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM responses ORDER BY id").fetchall()


def sent(server: LoopbackServer, index: int = -1) -> dict[str, Any]:
    """The JSON body of a request the server received."""
    body = server.requests[index].json
    assert isinstance(body, dict)
    return body


def messages(server: LoopbackServer, index: int = -1) -> list[dict[str, Any]]:
    return list(sent(server, index)["messages"])
