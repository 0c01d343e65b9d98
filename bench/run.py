"""``make bench``: llmstream's CPU per chunk against the vendor SDKs, httpx2 and LiteLLM, plus memory,
import time and concurrency. Not part of ``make test``; nothing here asserts on time.

A loopback server (bench/server.py, its own process, so its CPU is not counted) streams 20,000 text
chunks + 2 tool calls in each wire format as fast as the socket takes them. Every contender runs in its
own worker process (bench/contenders.py; LiteLLM in bench/.venv-litellm, created on first use) and
reports the CPU time of each stream; runs are interleaved round-robin and the median is kept.
Per-chunk figures divide by the wire events of the stream (the same denominator for every contender of
a wire). The vendor SDKs' own iterators are consumed bare; llmstream also accumulates the completion.

    .venv/bin/python bench/run.py [--rounds 5] [--count 20000] [--only openai,anthropic] [--no-litellm]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import json
import os
import platform
import re
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
LITELLM_VENV = HERE / ".venv-litellm"
sys.path.insert(0, str(HERE))

from contenders import CLIENTS, FIRST_COUNT  # noqa: E402
from wire import body  # noqa: E402

WORKER_TIMEOUT = 600.0


@dataclass
class Contender:
    name: str
    wire: str
    label: str
    command: list[str]
    rounds: int
    cpu: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    error: str | None = None
    check: Any = None
    process: subprocess.Popen[str] | None = None
    stderr: IO[str] | None = None

    def per_chunk(self, events: int) -> float | None:
        return statistics.median(self.cpu) / events if self.cpu else None


# -- processes ----------------------------------------------------------------------------------------


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    """One line of a worker's stdout, or '' when it died or said nothing for ``timeout`` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


def _stderr_tail(handle: IO[str] | None) -> str:
    if handle is None:
        return ""
    handle.seek(0)
    lines = [line.rstrip() for line in handle.read().splitlines() if line.strip()]
    return " | ".join(lines[-3:])[-400:]


def start_server() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        # It also ends when this process does (its stdin closes); the time bound is a backstop, long
        # enough for a run with --instructions (an hour or more under callgrind).
        [sys.executable, str(HERE / "server.py"), "--max-seconds", "14400"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )
    line = _readline(server, 30.0)
    if not line.startswith("PORT "):
        server.kill()
        raise SystemExit("bench server did not start")
    return server, f"http://127.0.0.1:{int(line.split()[1])}"


def start(contender: Contender, stderr: IO[str]) -> None:
    contender.stderr = stderr
    contender.process = subprocess.Popen(
        contender.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=contender.stderr, text=True,
        cwd=HERE,
    )
    line = _readline(contender.process, WORKER_TIMEOUT)
    if not line.startswith("READY"):
        fail(contender, "did not start: " + (_stderr_tail(contender.stderr) or line.strip() or "no output"))
        return
    contender.check = json.loads(line[6:])


def run_once(contender: Contender) -> None:
    process = contender.process
    if process is None or contender.error:
        return
    assert process.stdin is not None
    process.stdin.write("run\n")
    process.stdin.flush()
    line = _readline(process, WORKER_TIMEOUT)
    if not line.startswith("{"):
        fail(contender, "run failed: " + (_stderr_tail(contender.stderr) or "no output"))
        return
    result = json.loads(line)
    contender.cpu.append(result["cpu"])
    contender.check = result["check"]


def first_once(contender: Contender) -> None:
    """One short stream on the worker's warm client: wall time from the call to its first item."""
    process = contender.process
    if process is None or contender.error:
        return
    assert process.stdin is not None
    process.stdin.write("first\n")
    process.stdin.flush()
    line = _readline(process, WORKER_TIMEOUT)
    if line.startswith("{") and json.loads(line).get("first") is not None:
        contender.first.append(json.loads(line)["first"])


def fail(contender: Contender, message: str) -> None:
    contender.error = message
    stop(contender)


def stop(contender: Contender) -> None:
    process = contender.process
    contender.process = None
    if process is None:
        return
    try:
        if process.stdin is not None:
            process.stdin.write("quit\n")
            process.stdin.close()
        process.wait(10)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        process.wait()


def run_json(command: Sequence[str], timeout: float = WORKER_TIMEOUT) -> dict[str, Any]:
    """A one-shot bench script that prints one JSON line; its failure becomes ``{"error": ...}``."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=HERE)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])[-400:]
        return {"error": f"exit {done.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# -- LiteLLM's own virtualenv ---------------------------------------------------------------------------


def litellm_python() -> tuple[Path | None, str]:
    """bench/.venv-litellm's python, created (``python3 -m venv`` + ``pip install litellm``) if missing."""
    python = LITELLM_VENV / "bin" / "python"
    if python.exists():
        check = subprocess.run([str(python), "-c", "import litellm"], capture_output=True, text=True)
        if check.returncode == 0:
            return python, ""
    base = shutil.which("python3") or sys.executable
    print(f"creating {LITELLM_VENV} (python3 -m venv + pip install litellm, once) ...", flush=True)
    try:
        subprocess.run([base, "-m", "venv", str(LITELLM_VENV)], check=True, capture_output=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "litellm"],
            check=True, capture_output=True, text=True, timeout=900,
        )
    except subprocess.CalledProcessError as exc:
        tail = " | ".join(str(exc.stderr or "").strip().splitlines()[-2:])[-300:]
        return None, f"LiteLLM could not be installed ({tail or exc}); row skipped"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"LiteLLM could not be installed ({exc}); row skipped"
    return python, ""


# -- the sections -----------------------------------------------------------------------------------------

WIRES = ("openai", "responses", "anthropic", "gemini", "openrouter")
SDK_LABELS = {
    "openai": "openai SDK iterator, bare (baseline)",
    "responses": "openai SDK responses iterator, bare (baseline)",
    "anthropic": "anthropic SDK iterator, bare (baseline)",
    "gemini": "google-genai iterator, bare (baseline)",
}
FAST_LESS_CPU = ("openai", "gemini", "responses")  # the fast path ≥ 3x less CPU than the SDK iterator
_PROBE = """
import importlib, importlib.util, inspect, json, sys
sys.path.insert(0, '.')
from contenders import CLIENTS
out = {}
for wire, (module, name) in CLIENTS.items():
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    cls = getattr(importlib.import_module(module), name, None) if found else None
    out[wire] = {"client": cls is not None,
                 "sdk_models": cls is not None and "sdk_models" in inspect.signature(cls).parameters}
print(json.dumps(out))
"""


def probe() -> dict[str, dict[str, bool]]:
    """Which llmstream clients exist, and which take ``sdk_models`` (in a subprocess: no SDK imported here)."""
    result = run_json([sys.executable, "-c", _PROBE], 120)
    if "error" in result:
        raise SystemExit(f"llmstream client probe failed: {result['error']}")
    return result


def wire_rows(wire: str, found: dict[str, bool]) -> list[tuple[str, str]]:
    """A wire's contenders: the SDK iterator (baseline), llmstream default, ``sdk_models=False``, the floor."""
    client = CLIENTS[wire][1]
    if wire == "openrouter":
        return [("openrouter-httpx2", "floor: httpx2 iter_lines + json.loads (baseline)"),
                ("openrouter-llmstream", f"llmstream {client} (own decoding: its fast path)")]
    rows = [(f"{wire}-sdk", SDK_LABELS[wire]), (f"{wire}-llmstream", f"llmstream {client}")]
    if found["sdk_models"]:
        rows.append((f"{wire}-raw", f"llmstream {client}(sdk_models=False)"))
    rows.append((f"{wire}-floor", "floor: httpx2 iter_lines + json.loads"))
    if wire == "openai":
        rows.append(("openai-litellm", "LiteLLM completion(stream) + stream_chunk_builder"))
    return rows


def contenders_for(
    args: argparse.Namespace, url: str, probed: dict[str, dict[str, bool]]
) -> tuple[list[Contender], list[str]]:
    notes: list[str] = []
    out: list[Contender] = []
    warm = str(min(args.count, 1000))
    for wire in args.only:
        if not probed[wire]["client"]:
            notes.append(f"{wire}: no llmstream client ({'.'.join(CLIENTS[wire])}); skipped")
            continue
        if not probed[wire]["sdk_models"] and wire != "openrouter":
            notes.append(f"{wire}: the client has no sdk_models argument yet; no fast-path row")
        for name, label in wire_rows(wire, probed[wire]):
            if name == "openai-litellm":
                if args.no_litellm:
                    notes.append("LiteLLM row skipped (--no-litellm)")
                    continue
                python, note = litellm_python()
                if python is None:
                    notes.append(note)
                    continue
                command = [str(python), str(HERE / "litellm_runner.py"), url, str(args.count), warm]
                out.append(Contender(name, wire, label, command, args.litellm_rounds))
                continue
            command = [sys.executable, str(HERE / "contenders.py"), name, url, str(args.count), warm]
            out.append(Contender(name, wire, label, command, args.rounds))
    return out, notes


def throughput(contenders: list[Contender], firsts: int = 0) -> None:
    """Round-robin, the order reversed every other round so that drift in the machine's load cancels."""
    with contextlib.ExitStack() as stack:
        for contender in contenders:
            print(f"  starting {contender.name} ...", flush=True)
            start(contender, stack.enter_context(tempfile.TemporaryFile("w+")))
        for round_ in range(max((c.rounds for c in contenders), default=0)):
            print(f"  round {round_ + 1}", flush=True)
            order = contenders if round_ % 2 == 0 else contenders[::-1]
            for contender in order:
                if round_ < contender.rounds:
                    run_once(contender)
        for turn in range(firsts):
            for contender in contenders if turn % 2 == 0 else contenders[::-1]:
                if contender.name != "openai-litellm":
                    first_once(contender)
        for contender in contenders:
            stop(contender)


def import_time() -> dict[str, Any]:
    code = (
        "import json, sys, time\n"
        "before = set(sys.modules)\n"
        "t = time.perf_counter()\n"
        "import llmstream\n"
        "elapsed = time.perf_counter() - t\n"
        "new = sorted({m.split('.')[0] for m in set(sys.modules) - before})\n"
        "print(json.dumps({'seconds': elapsed, 'top_level': new}))\n"
    )
    runs = [run_json([sys.executable, "-c", code], 60) for _ in range(5)]
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    vendors = ("openai", "anthropic", "google", "httpx2", "httpcore2", "pydantic", "litellm", "jiter")
    loaded = good[0]["top_level"]
    profile = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import llmstream"], capture_output=True, text=True, cwd=HERE
    )
    slowest = []
    for line in profile.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            slowest.append((int(parts[1]), parts[2].rstrip()))
    slowest.sort(reverse=True)
    return {
        "seconds": statistics.median(r["seconds"] for r in good),
        "vendor_modules": [m for m in loaded if m in vendors],
        "third_party": [m for m in loaded if not m.startswith("_") and m not in sys.stdlib_module_names],
        "slowest": [f"{name.strip()} {us / 1000:.1f} ms" for us, name in slowest[1:6]],
    }


# -- time to first chunk in a fresh process, instruction counts ------------------------------------------


def cold_start(args: argparse.Namespace, url: str, probed: dict[str, dict[str, bool]]) -> dict[str, Any]:
    """The first stream of a fresh process, per wire: SDK vs llmstream, ``args.cold_runs`` runs interleaved."""
    names = []
    for wire in args.only:
        if probed[wire]["client"]:
            names += ["openrouter-httpx2" if wire == "openrouter" else f"{wire}-sdk", f"{wire}-llmstream"]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in ["python -c pass", *names]}
    for round_ in range(args.cold_runs):
        for name in runs if round_ % 2 == 0 else list(runs)[::-1]:
            began = time.perf_counter()
            if name == "python -c pass":
                subprocess.run([sys.executable, "-c", "pass"], check=False)
                result: dict[str, Any] = {}
            else:
                result = run_json([sys.executable, str(HERE / "coldstart.py"), name, url], 120)
            result["process"] = time.perf_counter() - began
            if "error" not in result:
                runs[name].append(result)
    out: dict[str, Any] = {}
    for name, results in runs.items():
        if results:
            out[name] = {key: statistics.median(r[key] for r in results) for key in results[0]}
            out[name]["runs"] = len(results)
    return out


def cold_lines(cold: dict[str, Any]) -> list[str]:
    if not cold:
        return []
    base = cold.get("python -c pass", {}).get("process", 0.0)
    most = max(c["runs"] for c in cold.values())
    lines = [
        "",
        f"first stream of a fresh process ({FIRST_COUNT}-chunk stream; median of {most} runs; "
        f"the interpreter alone, `python -c pass`, takes {base * 1000:.0f} ms start to exit):",
        "",
        "| contender | imports + client build ms | call → first chunk ms | script start → first chunk ms "
        "| whole process ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, c in cold.items():
        if name != "python -c pass":
            lines.append(
                f"| {name} | {c['build'] * 1000:.0f} | {c['first'] * 1000:.1f} | {c['to_first'] * 1000:.0f} "
                f"| {c['process'] * 1000:.0f} |"
            )
    return lines


_INSTRUCTIONS = re.compile(r"(?:Collected|I\s+refs)\s*:\s*([\d,]+)")


def instructions(args: argparse.Namespace, url: str, contenders: list[Contender]) -> dict[str, Any]:
    """Instructions per wire event under callgrind: (3 streams - 1 stream) / 2, after a warm-up (slow).

    Counts do not depend on the machine's load, so the rows run side by side, one per CPU."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"error": "valgrind not found"}

    def count(contender: Contender) -> dict[str, Any]:
        counts = []
        for streams in (1, 3):
            command = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                       str(HERE / "contenders.py"), contender.name, url, str(args.instruction_count), "200",
                       "--streams", str(streams)]
            done = subprocess.run(command, capture_output=True, text=True, cwd=HERE, timeout=WORKER_TIMEOUT * 2)
            found = _INSTRUCTIONS.findall(done.stderr)
            if done.returncode or not found:
                return {"error": f"exit {done.returncode}: {done.stderr.strip()[-200:]}"}
            counts.append(int(found[-1].replace(",", "")))
        print(f"  callgrind {contender.name}: done", flush=True)
        return {"per_event": (counts[1] - counts[0]) / 2 / body(contender.wire, args.instruction_count).events}

    counted = [contender for contender in contenders if contender.name != "openai-litellm"]
    print(f"  callgrind: {len(counted)} contenders, {os.cpu_count() or 1} at a time ...", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(count, counted))
    return {contender.name: result for contender, result in zip(counted, results, strict=True)}


def instruction_lines(
    counted: dict[str, Any], args: argparse.Namespace, by_instructions: dict[tuple[str, str, str], bool]
) -> list[str]:
    if not counted:
        return []
    if "error" in counted:
        return ["", f"instruction counts: failed: {counted['error']}"]
    lines = ["", f"instructions per wire event (valgrind callgrind, {args.instruction_count}-chunk streams, "
                 "deterministic to ~0.2 %; they decide a target where CPU time is within its noise):", "",
             "| wire | contender | instructions/event | vs SDK | vs floor | targets |", "|---|---|---:|---:|---:|---|"]
    for wire in args.only:
        sdk = counted.get(f"{wire}-sdk", {}).get("per_event")
        floor = counted.get("openrouter-httpx2" if wire == "openrouter" else f"{wire}-floor", {}).get("per_event")
        for name, info in counted.items():
            if not name.startswith(wire + "-") and not (wire == "openrouter" and name == "openrouter-httpx2"):
                continue
            if "error" in info:
                lines.append(f"| {wire} | {name} | — | | | failed: {info['error']} |")
                continue
            per = info["per_event"]
            checks = []
            fast = name == f"{wire}-raw" or name == "openrouter-llmstream"
            rules = []
            if name == f"{wire}-llmstream" and wire != "openrouter" and sdk:
                rules.append(("sdk", per / sdk <= 1.10))
            if fast and floor:
                rules.append(("floor", per / floor <= 1.3))
            if fast and sdk and wire in FAST_LESS_CPU:
                rules.append(("less", sdk / per >= 3.0))
            for rule, ok in rules:
                by_instructions[(wire, name, rule)] = ok
                checks.append(f"{_RULES[rule]}: {verdict(ok)}")
            vs_sdk = f"{per / sdk:.3f}x" if sdk and name != f"{wire}-sdk" else ""
            vs_floor = f"{per / floor:.3f}x" if floor and per != floor else ""
            lines.append(f"| {wire} | {name} | {per / 1000:,.1f}k | {vs_sdk} | {vs_floor} | {'; '.join(checks)} |")
    return lines


# -- the report -------------------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"


def versions() -> str:
    """The SDK and library versions in the project's venv, and the llmstream commit measured."""
    from importlib import metadata

    out = []
    for dist in ("openai", "anthropic", "google-genai", "httpx2", "pydantic", "llmstream"):
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(f"{dist} not installed")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "../llmstream"], capture_output=True, text=True,
                           cwd=HERE)
    state = (commit.stdout.strip() or "unknown") + (" (llmstream/ modified)" if dirty.stdout.strip() else "")
    return ", ".join(out) + f"; llmstream at commit {state}"


def paired_ratios(contender: Contender, base: Contender) -> list[float]:
    """This contender's CPU over the base's CPU in the same round, for each round."""
    return [a / b for a, b in zip(contender.cpu, base.cpu, strict=False) if b > 0]


def paired_ratio(contender: Contender, base: Contender) -> float | None:
    """Median over rounds of this contender's CPU over the base's CPU in the same round."""
    pairs = paired_ratios(contender, base)
    return statistics.median(pairs) if pairs else None


@dataclass
class Target:
    """One target's verdict. ``key`` (wire, contender, rule) pairs a CPU verdict with the instruction
    count's; ``noisy``: the per-round CPU ratios fall on both sides of the bound, so CPU cannot decide."""

    text: str
    ok: bool | None
    key: tuple[str, str, str] | None = None
    noisy: bool = False


def within_noise(pairs: list[float], bound: float, inverse: bool = False) -> bool:
    values = [1 / value for value in pairs] if inverse else pairs
    return len(values) > 1 and min(values) <= bound <= max(values)


def decided(targets: list[Target], by_instructions: dict[tuple[str, str, str], bool]) -> list[Target]:
    """The final verdicts: a CPU verdict within its noise is decided by the instruction count where
    there is one; instruction verdicts with no CPU row (``--skip throughput``) stand on their own."""
    out = []
    for target in targets:
        if target.noisy and target.key in by_instructions:
            ok = by_instructions[target.key]
            out.append(Target(f"{target.text} (CPU within its noise: decided by instructions)", ok, target.key))
        elif target.noisy:
            out.append(Target(f"{target.text} (within the CPU noise of this run)", target.ok, target.key, True))
        else:
            out.append(target)
    cpu_keys = {target.key for target in targets}
    for key, ok in by_instructions.items():
        if key not in cpu_keys:
            out.append(Target(f"{key[0]}: {key[1]} {_RULES[key[2]]} (instructions)", ok, key))
    return out


_RULES = {"sdk": "≤ 1.10x SDK", "floor": "≤ 1.3x floor", "less": "≥ 3x less CPU than SDK"}


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def report(
    args: argparse.Namespace, contenders: list[Contender], notes: list[str], extra: dict[str, Any], elapsed: float
) -> list[str]:
    lines = [
        f"llmstream bench, {datetime.date.today().isoformat()}: {machine()}",
        f"versions: {versions()}",
        f"{args.count} text chunks + 2 tool calls per stream; CPU time of the client process per wire event; "
        f"median of {args.rounds} interleaved runs (LiteLLM {args.litellm_rounds}); ratios are medians of the "
        "per-round ratios (runs of one round are back to back, under the same machine load); first chunk = "
        f"wall time from the call to the first item on a warm client ({FIRST_COUNT}-chunk stream, median of "
        f"{args.firsts})",
        "",
        "| wire | contender | CPU µs/chunk | runs | vs SDK | vs floor | first chunk ms | targets |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    targets: list[Target] = []
    by_instructions: dict[tuple[str, str, str], bool] = {}
    for wire in args.only:
        events = body(wire, args.count).events
        rows = {c.name: c for c in contenders if c.wire == wire}
        sdk = rows.get(f"{wire}-sdk")
        floor = rows.get(f"{wire}-floor") or rows.get("openrouter-httpx2" if wire == "openrouter" else "")
        for contender in rows.values():
            per = contender.per_chunk(events)
            if per is None and contender.error is None and not contender.cpu:
                continue  # not run (--skip throughput)
            if per is None:
                lines.append(f"| {wire} | {contender.label} | — | 0 | | | | failed: {contender.error} |")
                continue
            checks: list[str] = []

            def target(
                rule: str, ok: bool | None, noisy: bool = False, contender: Contender = contender, wire: str = wire,
                checks: list[str] = checks,
            ) -> None:
                text = _RULES.get(rule, rule)
                targets.append(Target(f"{wire}: {contender.label} {text}", ok, (wire, contender.name, rule), noisy))
                checks.append(f"{text}: {verdict(ok)}{' (within noise)' if noisy else ''}")

            vs_sdk = paired_ratio(contender, sdk) if sdk and sdk.cpu and contender is not sdk else None
            vs_floor = paired_ratio(contender, floor) if floor and floor.cpu and contender is not floor else None
            shown_sdk = "" if vs_sdk is None else f"{vs_sdk:.2f}x"
            if contender.name == f"{wire}-llmstream" and wire != "openrouter" and vs_sdk is not None and sdk:
                target("sdk", vs_sdk <= 1.10, within_noise(paired_ratios(contender, sdk), 1.10))
            fast = contender.name == f"{wire}-raw" or contender.name == "openrouter-llmstream"
            if fast and vs_floor is not None and floor:
                target("floor", vs_floor <= 1.3, within_noise(paired_ratios(contender, floor), 1.3))
            if fast and vs_sdk is not None and sdk:
                shown_sdk = f"{vs_sdk:.2f}x ({1 / vs_sdk:.1f}x less)"
                if wire in FAST_LESS_CPU:
                    target("less", 1 / vs_sdk >= 3.0, within_noise(paired_ratios(contender, sdk), 3.0, inverse=True))
            ours = rows.get(f"{wire}-llmstream")
            if contender.name == "openai-litellm" and ours is not None and ours.cpu:
                versus = paired_ratio(contender, ours)
                if versus is not None:
                    shown_sdk += f" (llmstream {versus:.1f}x less)"
                    target("llmstream ≥ 5x less", versus >= 5.0)
            shown_floor = "" if vs_floor is None else f"{vs_floor:.2f}x"
            first = f"{statistics.median(contender.first) * 1000:.2f}" if contender.first else ""
            lines.append(
                f"| {wire} | {contender.label} | {per * 1e6:,.1f} | {len(contender.cpu)} | {shown_sdk} | {shown_floor} "
                f"| {first} | {'; '.join(checks)} |"
            )
    lines += cold_lines(extra.get("cold", {}))
    lines += instruction_lines(extra.get("instructions", {}), args, by_instructions)
    lines.append("")
    memory = extra.get("memory", {})
    if "error" in memory:
        lines.append(f"memory: failed: {memory['error']}")
    elif memory:
        ok = memory["ratio"] <= 3.0
        targets.append(Target("memory: peak RSS growth ≤ 3x text", ok))
        lines.append(
            f"memory: {memory['chunks']:,} TEXT chunks into StreamingAccumulator: text "
            f"{memory['text_bytes'] / 1e6:.2f} MB, peak RSS growth {memory['rss_growth_bytes'] / 1e6:.2f} MB = "
            f"{memory['ratio']:.2f}x the text (target ≤ 3x: {verdict(ok)})"
        )
    imports = extra.get("imports", {})
    if "error" in imports:
        lines.append(f"import: failed: {imports['error']}")
    elif imports:
        ok = not imports["vendor_modules"]
        targets.append(Target("import llmstream loads no vendor module", ok))
        lines.append(
            f"import llmstream: {imports['seconds'] * 1000:.0f} ms (fresh process, median of 5); vendor modules "
            f"loaded: {', '.join(imports['vendor_modules']) or 'none'} (target none: {verdict(ok)}); third-party: "
            f"{', '.join(imports['third_party']) or 'none'}; slowest: {'; '.join(imports['slowest'])}"
        )
    concurrency = extra.get("concurrency", {})
    if "error" in concurrency:
        lines.append(f"concurrency: failed: {concurrency['error']}")
    elif concurrency:
        ratio = concurrency["concurrent_cpu_per_event"] / concurrency["single_cpu_per_event"]
        ok = concurrency["errors"] == 0 and concurrency["incomplete"] == 0 and ratio <= 1.2
        targets.append(Target("concurrency: 0 errors, ≤ 1.2x a single stream", ok))
        lines.append(
            f"concurrency: {concurrency['streams']} async streams x {concurrency['chunks']} chunks at once (OpenAI "
            f"async path): {concurrency['concurrent_cpu_per_event'] * 1e6:.1f} µs/chunk vs one stream at a time "
            f"{concurrency['single_cpu_per_event'] * 1e6:.1f} µs/chunk = {ratio:.2f}x; errors "
            f"{concurrency['errors']}, incomplete {concurrency['incomplete']} (target 0 errors, ≤ 1.2x: {verdict(ok)})"
            + (f"; first errors: {concurrency['first_errors']}" if concurrency["first_errors"] else "")
        )
    equivalence = extra.get("equivalence", {})
    if "error" in equivalence:
        lines.append(f"raw path equivalence: failed: {equivalence['error']}")
    elif equivalence:
        targets.append(Target("raw OpenAI path: identical chunks and completion", equivalence["identical"]))
        lines.append(
            f"raw OpenAI path vs native, same stream ({equivalence['sync']['chunks']} chunks, sync and async, and an "
            f"HTTP 404): identical chunks, completion and error: {verdict(equivalence['identical'])}"
        )
    gateway = extra.get("gateway", {})
    if "error" in gateway:
        lines.append(f"gateway: failed: {gateway['error']}")
    for run in gateway.get("runs", ()):
        ok = run["ratio"] <= 1.5
        targets.append(Target(f"gateway server-side CPU ≤ 1.5x the direct {run['client']}", ok))
        lines.append(
            f"gateway (llmstream serve, /v1/chat/completions SSE, uvicorn) server-side CPU vs direct {run['client']}: "
            f"{run['gateway_us_per_chunk']:.1f} vs {run['direct_us_per_chunk']:.1f} µs/chunk = {run['ratio']:.2f}x "
            f"(target ≤ 1.5x: {verdict(ok)})"
        )
    layer = extra.get("layer", {})
    if layer:
        parts = [
            f"{wire} {info['us_per_event']:.1f}" if "error" not in info else f"{wire} failed ({info['error']})"
            for wire, info in layer.items()
        ]
        lines.append(
            "llmstream's own layer (translate + accumulate + shell, replayed pre-decoded events), µs/chunk: "
            + ", ".join(parts)
        )
    lines += [f"note: {note}" for note in notes]
    lines.append("")
    final = decided(targets, by_instructions)
    held = sum(1 for target in final if target.ok)
    lines.append(f"targets: {held}/{len(final)} hold"
                 + "".join(f"\n  {verdict(target.ok):>3}  {target.text}" for target in final))
    lines.append(f"bench wall time: {elapsed / 60:.1f} min")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs per contender (median)")
    parser.add_argument("--litellm-rounds", type=int, default=3, help="runs for LiteLLM (~50 s each)")
    parser.add_argument("--count", type=int, default=20000, help="text chunks per stream")
    parser.add_argument("--only", default="openai,responses,anthropic,gemini,openrouter", help="wires, comma-separated")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--streams", type=int, default=1000, help="concurrent async streams")
    parser.add_argument("--stream-chunks", type=int, default=200, help="text chunks per concurrent stream")
    parser.add_argument("--skip", default="", help="sections to skip: throughput,memory,imports,concurrency,"
                        "equivalence,layer,gateway,cold")
    parser.add_argument("--firsts", type=int, default=15, help="warm time-to-first-chunk samples per contender")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes per contender for the cold start")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per event under valgrind callgrind (slow: ~1 min per row)")
    parser.add_argument("--instruction-count", type=int, default=2000, help="text chunks per callgrind stream")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    args.only = [w for w in args.only.split(",") if w]
    skip = set(args.skip.split(","))
    began = time.monotonic()

    probed = probe()
    args.only = [w for w in args.only if w in WIRES]
    server, url = start_server()
    extra: dict[str, Any] = {}
    contenders: list[Contender] = []
    notes: list[str] = []
    try:
        if "imports" not in skip:
            print("import time ...", flush=True)
            extra["imports"] = import_time()
        if "memory" not in skip:
            print("memory ...", flush=True)
            extra["memory"] = run_json([sys.executable, str(HERE / "memory.py")])
        if "equivalence" not in skip:
            print("raw path equivalence ...", flush=True)
            extra["equivalence"] = run_json([sys.executable, str(HERE / "equivalence.py"), url, "2000"])
        if "layer" not in skip:
            print("llmstream layer ...", flush=True)
            extra["layer"] = run_json([sys.executable, str(HERE / "layer.py"), url, str(min(args.count, 5000)), "7"])
        if "throughput" not in skip or args.instructions:
            contenders, notes = contenders_for(args, url, probed)
            if "throughput" not in skip:
                print("throughput ...", flush=True)
                throughput(contenders, args.firsts)
            if args.instructions:
                print("instruction counts (callgrind) ...", flush=True)
                extra["instructions"] = instructions(args, url, contenders)
        if "cold" not in skip:
            print("first stream of a fresh process ...", flush=True)
            extra["cold"] = cold_start(args, url, probed)
        if "gateway" not in skip:
            print("gateway ...", flush=True)
            extra["gateway"] = run_json([sys.executable, str(HERE / "gateway.py"), url, str(args.count),
                                         str(max(args.rounds, 3))])
        if "concurrency" not in skip:
            print(f"concurrency: {args.streams} streams ...", flush=True)
            extra["concurrency"] = run_json([
                sys.executable, str(HERE / "concurrency.py"), url, str(args.streams), str(args.stream_chunks), "1",
                "50",
            ], timeout=1200)
    finally:
        for contender in contenders:
            stop(contender)
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
    lines = report(args, contenders, notes, extra, time.monotonic() - began)
    text = "\n".join(lines)
    print()
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
