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
    "KEY", "TIMEOUT", "Terminal", "against", "cli_home", "command", "inproc", "make_env", "messages", "read_until",
    "responses", "run", "sent", "text_stream",
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


def _controlling_terminal() -> None:  # pragma: no cover - runs in the child, between fork and exec
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A child process on a pseudo-terminal of its own, driven as a person types: keystrokes in,
    the screen's bytes out. Ctrl-C is the byte 0x03, turned into SIGINT by the terminal itself."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import pty

        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, env={**env, "TERM": "xterm-256color"}, stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True, preexec_fn=_controlling_terminal, close_fds=True,
        )
        os.close(slave)
        self.fd = master
        self.screen = b""
        self._read_to = 0

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def ctrl_c(self) -> None:
        os.write(self.fd, b"\x03")

    def ctrl_d(self) -> None:
        os.write(self.fd, b"\x04")

    def expect(self, needle: str, timeout: float = 30) -> str:
        """Wait until ``needle`` shows after what was already expected; return the screen up to it."""
        wanted = needle.encode()
        deadline = time.monotonic() + timeout
        while wanted not in self.screen[self._read_to:]:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {needle!r} on the terminal in time; after it: {self.screen[self._read_to:]!r}"
            readable, _, _ = select.select([self.fd], [], [], remaining)
            if readable:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    data = b""
                assert data, f"the terminal closed before {needle!r}; after it: {self.screen[self._read_to:]!r}"
                self.screen += data
        end = self.screen.index(wanted, self._read_to) + len(wanted)
        shown = self.screen[self._read_to:end].decode("utf-8", "replace")
        self._read_to = end
        return shown

    def wait(self, timeout: float = TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:  # keep reading: a child blocked on a full terminal never exits
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the program did not exit"
            readable, _, _ = select.select([self.fd], [], [], min(remaining, 0.2))
            if readable:
                try:
                    self.screen += os.read(self.fd, 4096)
                except OSError:
                    break
        return self.proc.wait(timeout=TIMEOUT)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)
