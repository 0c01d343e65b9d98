"""``llmstream serve`` (llmstream/serve/_command.py): its checks, and a real server process."""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmstream.serve import _command

pytest.importorskip("uvicorn", reason="llmstream[serve] (uvicorn) is not installed")
ROOT = Path(__file__).resolve().parents[1]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    _command.add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_bind_loopback_only() -> None:
    args = parse()
    assert (args.host, args.port, args.workers, args.auth_token) == ("127.0.0.1", 8000, 1, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.4", "example.com", "::"])
def test_refuses_beyond_loopback_without_a_token(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_command.TOKEN_ENV, raising=False)
    err = io.StringIO()
    assert _command.run(parse("--host", host), err=err) == 2
    assert "--auth-token" in err.getvalue() and host in err.getvalue()
    assert _command.check_args(parse("--host", host, "--auth-token", "t")) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_token(host: str) -> None:
    assert _command.check_args(parse("--host", host)) is None


def test_unknown_default_model_and_bad_workers_are_refused() -> None:
    assert "nope:x" in (_command.check_args(parse("-m", "nope:x")) or "")
    assert "--workers" in (_command.check_args(parse("--workers", "0")) or "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read().decode()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_python_m_llmstream_serve_runs_a_server(workers: str) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "llmstream.serve", "--port", str(port), "-m", "mock:echo", "--workers", workers,
         "--auth-token", "s3cret"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, _ = get(port, "/")
                break
            except OSError:
                time.sleep(0.1)  # a bounded wait for the server to listen
        assert status == 200, process.stderr.read() if process.poll() is not None else "server did not answer"
        assert get(port, "/v1/models")[0] == 401
        code, body = get(port, "/v1/models", {"authorization": "Bearer s3cret"})
        assert code == 200 and [m["id"] for m in json.loads(body)["data"]] == ["mock:echo"]
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "s3cret" not in err
