"""``llmstream council -m A -m B -m C --synthesizer D "prompt"``: the command's logic, self-contained.

The members answer at once, shown as interleaved lanes (each line tagged with its member), then the
synthesizer's answer in its own lane, then a summary on stderr. ``--json`` writes one object per
line instead: ``{"stage", "source", "type", ...chunk fields}`` per chunk, and last the terminal
``{"stage": "done", "type": "result", ...}`` object with every member, the synthesis and the usage.

The CLI calls :func:`add_arguments` on its ``council`` sub-parser and :func:`run` with the parsed
arguments. Exit codes: 0 when the round has a final answer (member failures are warnings), 1 when it
has none (the synthesis failed, or no member answered), 2 usage error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from ._errors import ConfigurationError
from ._events_json import chunk_json, completion_json, error_json, usage_json
from ._types import ChunkType, StreamedChunk, Usage

if TYPE_CHECKING:
    from ._client import BaseClient
    from ._council import CouncilResult

__all__ = ["add_arguments", "result_json", "run"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SYNTHESIS_LANE = "synthesis"
_COLORS = ("36", "35", "33", "32", "34", "31")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``council`` command's arguments, on the parser (or sub-parser) the CLI gives."""
    parser.description = "Ask several models at once, then one model to synthesize their answers."
    parser.add_argument("prompt", nargs="?", help="the question; read from stdin when omitted or '-'")
    parser.add_argument("-m", "--model", dest="members", action="append", required=True, metavar="MODEL",
                        help="a member, provider:model (repeat: -m A -m B -m C)")
    parser.add_argument("--synthesizer", metavar="MODEL", help="the model that writes the final answer "
                        "(default: the first member)")
    parser.add_argument("--no-synthesis", action="store_true", help="only the members' answers")
    parser.add_argument("-s", "--system", help="system prompt for the members")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="for every call")
    parser.add_argument("--temperature", type=float, metavar="T", help="for every call")
    parser.add_argument("--width", type=int, metavar="N", help="line width of the lanes (default: the terminal's)")
    parser.add_argument("--json", action="store_true",
                        help="NDJSON: one object per chunk ({stage, source, type, ...}), last the result")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run one council round with the parsed arguments; return the exit code."""
    from ._conversation import Conversation
    from ._council import council

    try:
        prompt = _read_prompt(args.prompt, err)
        members = _members(args.members)
        synthesizer = None if args.no_synthesis else _client(args.synthesizer or args.members[0])
    except ConfigurationError as exc:
        err.write(f"llmstream council: error: {exc}\n")
        return EXIT_USAGE
    conversation = Conversation()
    if args.system:
        conversation.system(args.system)
    conversation.user(prompt)
    options = {name: value for name, value in (("max_tokens", args.max_tokens), ("temperature", args.temperature))
               if value is not None}
    view: _Json | _Lanes = _Json(out) if args.json else _Lanes(out, [*members, SYNTHESIS_LANE], args.width)
    result: CouncilResult[str] | None = None
    try:
        with council(members, synthesizer, conversation, synthesize=not args.no_synthesis, **options) as events:
            for event in events:
                if event.result is not None:
                    result = event.result
                    view.done(result)
                elif event.chunk is not None:
                    view.chunk(SYNTHESIS_LANE if event.stage == "synthesis" else str(event.source), event.stage,
                               event.chunk)
    except KeyboardInterrupt:
        err.write("\nllmstream council: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader left (`| head`): stop quietly
        return EXIT_ERROR
    assert result is not None  # the council always ends with its done event
    return _report(result, err, synthesize=not args.no_synthesis)


def _read_prompt(given: str | None, err: TextIO) -> str:
    if given not in (None, "-"):
        return str(given)
    if sys.stdin is None:
        raise ConfigurationError("no prompt given and no stdin to read one from")
    if sys.stdin.isatty():
        err.write("Reading the prompt from stdin; end it with Ctrl-D.\n")
    text = sys.stdin.read().rstrip()
    if not text:
        raise ConfigurationError("the prompt is empty")
    return text


def _client(spec: str) -> BaseClient:
    from ._client import client

    llm = client(spec)
    with contextlib.suppress(NotImplementedError):  # providers with no vendor SDK (mock)
        _ = llm.sdk  # build the vendor client now: a missing key is reported before any member starts
    return llm


def _members(specs: list[str]) -> dict[str, BaseClient]:
    """One lane per ``-m``; the same model twice gets ``#2``."""
    members: dict[str, BaseClient] = {}
    for spec in specs:
        name, count = spec, 1
        while name in members or name == SYNTHESIS_LANE:
            count += 1
            name = f"{spec}#{count}"
        members[name] = _client(spec)
    return members


def _report(result: CouncilResult[str], err: TextIO, *, synthesize: bool) -> int:
    for name, error in result.members.errors.items():
        err.write(f"llmstream council: warning: {name} failed: {type(error).__name__}: {error}\n")
    synthesis = result.synthesis
    if synthesis is not None and synthesis.error is not None:
        err.write(f"llmstream council: error: the synthesis failed: {type(synthesis.error).__name__}: "
                  f"{synthesis.error}\n")
        return EXIT_ERROR
    if not result.members.succeeded:
        err.write("llmstream council: error: no member answered\n")
        return EXIT_ERROR
    if synthesize and synthesis is None:
        err.write("llmstream council: error: no synthesis was made\n")
        return EXIT_ERROR
    err.write(f"{_usage_text(result.usage)} · {result.members.wall_time_ms / 1000:.2f} s for the members\n")
    return EXIT_OK


def _usage_text(usage: Usage | None) -> str:
    if usage is None:
        return "usage not reported"
    cost = f" · ${usage.cost:.6f}" if usage.cost is not None else ""
    return f"{usage.input_tokens} in, {usage.output_tokens} out tokens in all{cost}"


# -- lanes: one line at a time, tagged with its source ---------------------------------------------------


@attrs.define
class _Lane:
    label: str
    pending: str = ""


class _Lanes:
    """Each source's text word-wrapped into its own lines, written as soon as a line is complete."""

    def __init__(self, out: TextIO, names: list[str], width: int | None) -> None:
        self.out = out
        tty = _isatty(out)
        self.color = tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        encoding = getattr(out, "encoding", None)  # None: an in-memory text stream takes any text
        try:
            if encoding:
                "│✗→".encode(encoding)
            self.bar, self.cross, self.arrow = "│", "✗", "→"
        except (LookupError, UnicodeEncodeError):
            self.bar, self.cross, self.arrow = "|", "x", "->"
        label_width = max(len(name) for name in names)
        total = width or (shutil.get_terminal_size((100, 24)).columns if tty else 100)
        self.width = max(20, total - label_width - 3)
        colors = [_COLORS[i % len(_COLORS)] if name != SYNTHESIS_LANE else "1" for i, name in enumerate(names)]
        self.lanes = {
            name: _Lane(self._style(color, name.rjust(label_width))) for name, color in zip(names, colors, strict=True)
        }

    def _style(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def _line(self, lane: _Lane, text: str) -> None:
        self.out.write(f"{lane.label} {self.bar} {text.rstrip()}\n")
        self.out.flush()

    def chunk(self, name: str, stage: str, chunk: StreamedChunk) -> None:
        lane = self.lanes[name]
        kind = chunk.type
        if kind is ChunkType.TEXT or kind is ChunkType.REFUSAL:
            lane.pending += chunk.text  # one line at most: wrapped below as soon as it is longer
            while "\n" in lane.pending:
                line, lane.pending = lane.pending.split("\n", 1)
                self._line(lane, line)
            while len(lane.pending) > self.width:
                cut = lane.pending.rfind(" ", 0, self.width + 1)
                cut = cut if cut > 0 else self.width
                self._line(lane, lane.pending[:cut])
                lane.pending = lane.pending[cut:].lstrip(" ")
        elif kind is ChunkType.TOOL_CALL_END and chunk.tool_call is not None:
            self._end(lane)
            self._line(lane, f"{self.arrow} {chunk.tool_call.name}({chunk.tool_call.arguments})")
        elif kind is ChunkType.STOP:
            self._end(lane)
        elif kind is ChunkType.ERROR and chunk.error is not None:
            self._end(lane)
            self._line(lane, self._style("31", f"{self.cross} {type(chunk.error).__name__}: {chunk.error}"))

    def _end(self, lane: _Lane) -> None:
        if lane.pending.strip():
            self._line(lane, lane.pending)
        lane.pending = ""

    def done(self, result: CouncilResult[str]) -> None:
        for lane in self.lanes.values():
            self._end(lane)


# -- --json: one object per line, the result last --------------------------------------------------------


def result_json(result: CouncilResult[Any]) -> dict[str, Any]:
    """The terminal object: every member (failures with their partial and error), synthesis, usage."""
    return {
        "stage": "done",
        "source": None,
        "type": "result",
        "members": {str(name): completion_json(c) for name, c in result.members.completions.items()},
        "errors": {str(name): error_json(e) for name, e in result.members.errors.items()},
        "synthesis": completion_json(result.synthesis) if result.synthesis is not None else None,
        "usage": usage_json(result.usage),
        "wall_time_ms": result.members.wall_time_ms,
    }


class _Json:
    def __init__(self, out: TextIO) -> None:
        import json

        self.out = out
        self._dumps = json.dumps

    def _write(self, data: dict[str, Any]) -> None:
        self.out.write(self._dumps(data, ensure_ascii=False) + "\n")
        self.out.flush()

    def chunk(self, name: str, stage: str, chunk: StreamedChunk) -> None:
        self._write({"stage": stage, "source": None if stage == "synthesis" else name, **chunk_json(chunk)})

    def done(self, result: CouncilResult[str]) -> None:
        self._write(result_json(result))


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
