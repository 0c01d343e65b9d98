"""The toolkit examples run with no API key and print what their docstrings promise."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def output_of(name: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    load(name).main()
    return capsys.readouterr().out.splitlines()


def test_processors_example(capsys: pytest.CaptureFixture[str]) -> None:
    lines = output_of("toolkit_processors", capsys)
    assert lines == [
        "masked: The password is ***, keep it safe.",
        "deltas: ['The ', 'password ', 'is ', '***, ', 'keep ', 'it ', 'safe.']",
        "blocked: 'my card is ' content_filter",
    ]


def test_structured_example(capsys: pytest.CaptureFixture[str]) -> None:
    lines = output_of("toolkit_structured", capsys)
    assert lines[:3] == ["item: Ada 1815", "item: Grace 1906", "item: Alan 1912"]
    assert lines[3:6] == [
        "partial: {'city': 'Par'}", "partial: {'city': 'Paris'}", "partial: {'city': 'Paris', 'days': 3}",
    ]
    assert lines[6].startswith("on_partial: {'ok': True, 'n': 2}")
    assert lines[7] == "async: {'async': 'yes'}"


def test_fanout_example(capsys: pytest.CaptureFixture[str]) -> None:
    lines = output_of("toolkit_fanout", capsys)
    assert lines[0] == "flaky: failed (StreamInterruptedError)"
    assert lines[1:4] == [
        "echo: 'compare these answers' [stop]",
        "poet: 'rivers run to the sea' [stop]",
        "flaky: 'this one ' [error]",
    ]
    assert lines[4] == "async: {'echo': 'async too', 'poet': 'rivers run to the sea', 'flaky': 'this one '}"


def test_fallback_example(capsys: pytest.CaptureFixture[str]) -> None:
    lines = output_of("toolkit_fallback", capsys)
    assert lines == [
        "hello from the backup",
        "answered by mock:echo after ['RateLimitError']",
        "raised: StreamInterruptedError partial: 'half '",
    ]


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("toolkit_*.py")))
def test_each_example_runs_as_a_script_without_keys(name: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(EXAMPLES.parent)}  # no API keys at all
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "Traceback" not in result.stderr
