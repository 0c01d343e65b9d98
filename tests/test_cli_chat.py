"""Issue 20, point 4: ``llmstream chat`` on a real pseudo-terminal, driven as a person types."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import (  # noqa: F401  (cli_home: an autouse fixture)
    Terminal,
    cli_home,
    command,
    make_env,
    messages,
    responses,
    text_stream,
)
from tests.loopback import LoopbackServer, Scripted

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


def test_chat_streams_turns_ctrl_c_keeps_the_partial_multi_line_and_exit(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.enqueue(
        # Body chunks: role, "Bonjour", " le monde", ...: the server holds after "Bonjour".
        Scripted(chunks=text_stream("Bonjour", " le monde"), gate_after=2),
        Scripted(chunks=text_stream("Second answer")),
        Scripted(chunks=text_stream("Multi ok")),
    )
    env = make_env(tmp_path)
    chat = Terminal(command("chat", "-m", "openai:gpt-4o-mini", "--base-url", loopback.url + "/v1",
                            "--retries", "0"), env)
    try:
        chat.expect("Chatting with openai:gpt-4o-mini")
        chat.expect("> ")
        chat.type("Hello there\r")
        chat.expect("Bonjour")
        assert loopback.wait_gated(), "the server should still be holding the rest of the answer"
        chat.ctrl_c()
        shown = chat.expect("> ")  # still in the chat, at a new prompt
        assert "stopped" in shown and "le monde" not in shown
        loopback.release()

        chat.type("And now?\r")
        chat.expect("Second answer")
        chat.expect("> ")
        assert messages(loopback, 1) == [
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "Bonjour"},  # the partial answer stayed in the conversation
            {"role": "user", "content": "And now?"},
        ]

        chat.type("!multi\r")
        chat.expect("... ")
        chat.type("line one\r")
        chat.expect("... ")
        chat.type("line two\r")
        chat.expect("... ")
        chat.type("!end\r")
        chat.expect("Multi ok")
        chat.expect("> ")
        assert messages(loopback, 2)[-1] == {"role": "user", "content": "line one\nline two"}

        chat.type("!exit\r")
        assert chat.wait() == 0
    finally:
        loopback.release()
        chat.close()

    rows = responses(tmp_path)
    assert [row["prompt"] for row in rows] == ["Hello there", "And now?", "line one\nline two"]
    assert len({row["conversation_id"] for row in rows}) == 1
    assert (rows[0]["partial"], rows[0]["text"]) == (1, "Bonjour")
    assert [row["partial"] for row in rows[1:]] == [0, 0]


def test_chat_resumes_with_c_on_the_saved_endpoint_and_leaves_on_ctrl_d(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("First")), Scripted(chunks=text_stream("Resumed")))
    env = make_env(tmp_path)
    first = Terminal(command("chat", "-m", "gpt-4o-mini", "--base-url", loopback.url + "/v1"), env)
    try:
        first.expect("> ")
        first.type("One\r")
        first.expect("First")
        first.expect("> ")
        first.type("never mind")  # a person starts typing, then changes their mind
        first.expect("never mind")
        first.ctrl_c()  # at the prompt: only a fresh line, the draft dropped
        first.expect("> ")
        first.type("!quit\r")
        assert first.wait() == 0
    finally:
        first.close()

    again = Terminal(command("chat", "-c"), env)  # no -m, no --base-url: both come from the log
    try:
        shown = again.expect("> ")
        assert "continuing conversation" in shown
        again.type("Two\r")
        again.expect("Resumed")
        again.expect("> ")
        again.ctrl_d()
        assert again.wait() == 0
    finally:
        again.close()
    assert [m["content"] for m in messages(loopback)] == ["One", "First", "Two"]
    with sqlite3.connect(tmp_path / "logs.db") as db:
        assert db.execute("SELECT COUNT(DISTINCT conversation_id), COUNT(*) FROM responses").fetchone() == (1, 2)
