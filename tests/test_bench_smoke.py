"""`make bench` cannot rot: its worker code paths run end to end on a tiny stream. Nothing here times anything.

One subprocess runs ``bench/run.py`` (its own loopback server and worker processes) on 200-chunk streams,
one round, for the OpenAI and OpenRouter wires, and writes its report; the test checks that every
contender produced a figure, that the warm first-chunk and fresh-process sections are filled, and that
the targets are judged. Speed is never asserted: the figures of one tiny round mean nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _run(tmp_path: Path, *extra: str) -> tuple[str, str]:
    report = tmp_path / "report.md"
    command = [
        sys.executable, str(BENCH / "run.py"), "--count", "200", "--rounds", "1", "--firsts", "1", "--cold-runs", "1",
        "--no-litellm", "--only", "openai,openrouter", "--skip", "memory,imports,concurrency,equivalence,layer,gateway",
        "--markdown", str(report), *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=BENCH)
    assert done.returncode == 0, done.stderr[-2000:]
    return report.read_text(encoding="utf-8"), done.stdout


def test_bench_runs_every_worker_path(tmp_path: Path) -> None:
    report, stdout = _run(tmp_path)
    assert "targets:" in stdout and "| openai | llmstream OpenAIClient |" in stdout
    assert re.search(r"versions: openai [\d.]+, anthropic [\d.]+, google-genai [\d.]+, httpx2 [\d.]+", report)

    rows = [line.split(" | ") for line in report.splitlines() if line.startswith("| openai |")
            or line.startswith("| openrouter |")]
    labels = {row[1] for row in rows}
    assert {"openai SDK iterator, bare (baseline)", "llmstream OpenAIClient",
            "llmstream OpenAIClient(sdk_models=False)", "floor: httpx2 iter_lines + json.loads"} <= labels
    assert any(label.startswith("llmstream OpenRouterClient") for label in labels)
    for row in rows:
        assert re.fullmatch(r"[\d,]+\.\d", row[2]), row  # a CPU figure, not "failed"
        assert row[3] == "1", row
        assert re.fullmatch(r"\d+\.\d\d", row[6]), row  # a warm time to first chunk

    cold = [line for line in report.splitlines() if re.match(r"\| (openai|openrouter)-\w+ \| \d+ \|", line)]
    assert {line.split(" | ")[0][2:] for line in cold} == {
        "openai-sdk", "openai-llmstream", "openrouter-httpx2", "openrouter-llmstream",
    }
    judged = re.search(r"targets: (\d+)/(\d+) hold", report)
    assert judged is not None and int(judged.group(2)) >= 4
    for target in ("llmstream OpenAIClient ≤ 1.10x SDK", "llmstream OpenAIClient(sdk_models=False) ≤ 1.3x floor",
                   "llmstream OpenAIClient(sdk_models=False) ≥ 3x less CPU than SDK"):
        assert re.search(r"(yes|NO)  openai: " + re.escape(target), report), target
