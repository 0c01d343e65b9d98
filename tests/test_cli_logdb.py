"""``llmstream logs`` and ``-c`` on a log database that is corrupt, read-only or locked: one clear line
and a nonzero exit, never a Python traceback; reading writes nothing, so a read-only log still reads."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmstream import cli
from llmstream.cli import logdb
from tests.cli_helpers import cli_home, command, make_env, run  # noqa: F401  (cli_home: an autouse fixture)


def seed(path: Path) -> None:
    """A log with one exchange (the mock provider: no network)."""
    assert cli.main(["-m", "mock:echo", "first words"]) == 0
    assert path.exists()


@pytest.fixture
def logs_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "logs.db"
    seed(path)
    capsys.readouterr()
    return path


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("llmstream: error: ")
    return line


# -- corrupt ------------------------------------------------------------------------------------------


def test_a_corrupt_log_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "logs.db").write_bytes(b"this is not an SQLite file, it was overwritten\n" * 100)
    env = make_env(tmp_path)
    for args in (["logs"], ["logs", "--json"], ["-m", "mock:echo", "-c", "more"], ["chat", "-m", "mock:echo", "-c"]):
        result = run(command(*args), env)
        assert result.returncode == 1, (args, result.stderr)
        line = one_error_line(result.stderr)
        assert f"cannot read the log database {tmp_path / 'logs.db'}: it is corrupt" in line
        assert "move it away" in line
        assert result.stdout == ""


def test_a_new_prompt_on_a_corrupt_log_still_answers_and_warns(tmp_path: Path) -> None:
    (tmp_path / "logs.db").write_bytes(b"garbage" * 1000)
    result = run(command("-m", "mock:echo", "hello there"), make_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello there\n"
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("llmstream: warning: this exchange was not saved: cannot open the log database")
    assert "corrupt" in line


# -- locked -------------------------------------------------------------------------------------------


@pytest.fixture
def holder(logs_db: Path) -> Iterator[sqlite3.Connection]:
    """Another connection to the log, closed at the end (its transaction rolled back)."""
    connection = sqlite3.connect(logs_db, timeout=0, isolation_level=None)
    yield connection
    connection.close()


def test_an_exclusive_lock_is_one_line_and_exit_1(
    logs_db: Path, holder: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(logdb, "BUSY_TIMEOUT", 0.05)  # the real wait is 10 s
    holder.execute("BEGIN EXCLUSIVE")
    for args in (["logs"], ["-m", "mock:echo", "-c", "more"]):
        assert cli.main(args) == 1
        captured = capsys.readouterr()
        line = one_error_line(captured.err)
        assert f"cannot read the log database {logs_db}: another process holds a lock on it" in line
        assert captured.out == ""
    holder.execute("ROLLBACK")
    assert cli.main(["logs", "--json"]) == 0  # the lock gone, the log reads again
    assert [row["prompt"] for row in json.loads(capsys.readouterr().out)] == ["first words"]


def test_saving_while_locked_warns_and_keeps_the_answer(
    logs_db: Path, holder: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(logdb, "BUSY_TIMEOUT", 0.05)
    holder.execute("BEGIN EXCLUSIVE")
    assert cli.main(["-m", "mock:echo", "a new one"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "a new one\n"
    assert "warning: this exchange was not saved" in captured.err and "holds a lock" in captured.err


def test_reading_writes_nothing_so_a_writer_mid_transaction_does_not_block_it(
    logs_db: Path, holder: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A writer holding the RESERVED lock blocks every other writer, not readers: before, opening the log
    # for `logs` and `-c` wrote the schema version and failed here with "database is locked".
    monkeypatch.setattr(logdb, "BUSY_TIMEOUT", 0.05)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE conversations SET name = 'uncommitted'")
    assert cli.main(["logs", "--json"]) == 0
    assert [row["prompt"] for row in json.loads(capsys.readouterr().out)] == ["first words"]
    assert cli.main(["-m", "mock:echo", "-c", "--no-log", "again"]) == 0
    assert capsys.readouterr().out == "again\n"


# -- read-only ----------------------------------------------------------------------------------------


def _without_root_overrides() -> list[str]:
    """Root writes through file modes: drop the capabilities that let it (``setpriv``), or skip."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    if shutil.which("setpriv") is None or subprocess.run([*prefix, "true"], check=False).returncode != 0:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE: file modes cannot make a read-only log")
    return prefix


@pytest.fixture
def readonly_home() -> Iterator[Path]:
    """A directory whose modes the test changes (and puts back, so that it can be removed)."""
    home = Path(tempfile.mkdtemp(prefix="llmstream-ro-"))
    yield home
    for path in (home, *home.rglob("*")):
        path.chmod(stat.S_IRWXU)
    shutil.rmtree(home)


def test_a_read_only_log_in_a_read_only_directory_still_lists_and_continues(readonly_home: Path) -> None:
    env = make_env(readonly_home, LLMSTREAM_LOGS_DB=str(readonly_home / "logs" / "logs.db"))
    (readonly_home / "logs").mkdir()
    assert run(command("-m", "mock:echo", "first words"), env).returncode == 0
    (readonly_home / "logs" / "logs.db").chmod(0o444)
    (readonly_home / "logs").chmod(0o555)
    prefix = _without_root_overrides()

    def as_reader(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, *command(*args)], env=env, input="", capture_output=True, text=True,
                              timeout=120, check=False)

    listed = as_reader("logs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["prompt"] for row in json.loads(listed.stdout)] == ["first words"]
    continued = as_reader("-m", "mock:echo", "-c", "more words")
    assert continued.returncode == 0, continued.stderr
    assert continued.stdout == "more words\n"
    assert "Traceback" not in continued.stderr
    (line,) = continued.stderr.splitlines()
    assert line.startswith("llmstream: warning: this exchange was not saved: cannot open the log database")
    assert "read-only" in line or "unable to open" in line


def test_an_older_log_is_read_without_being_upgraded_and_upgraded_by_the_next_save(
    logs_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(logs_db) as db:  # back to version 1: no conversations.options
        db.execute("ALTER TABLE conversations DROP COLUMN options")
        db.execute("PRAGMA user_version = 1")
    db.close()
    before = logs_db.read_bytes()
    assert cli.main(["logs", "--json"]) == 0
    assert [row["prompt"] for row in json.loads(capsys.readouterr().out)] == ["first words"]
    assert cli.main(["-m", "mock:echo", "-c", "--no-log", "again"]) == 0
    assert capsys.readouterr().out == "again\n"
    assert logs_db.read_bytes() == before  # reading wrote nothing, not even the upgrade
    assert cli.main(["-m", "mock:echo", "-c", "saved now"]) == 0
    with sqlite3.connect(logs_db) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == logdb.SCHEMA_VERSION
        assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 2
    db.close()
