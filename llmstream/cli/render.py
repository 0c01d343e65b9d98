"""How the CLI shows a stream: text renderer, NDJSON renderer, spinner and the stats line.

Text goes to stdout as it arrives (write + flush per chunk, so pipes see it at once); everything
for the human only (reasoning, tool calls, spinner, stats) goes to stderr, styled only on a TTY.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, TextIO

import attrs

from .._errors import LLMStreamError
from .._events_json import chunk_json, completion_json, error_json
from .._types import ChunkType, Citation, Completion, ServerToolEvent, StreamedChunk, ToolCall, ToolCallDelta, Usage

__all__ = [
    "JsonRenderer",
    "Renderer",
    "Spinner",
    "Style",
    "TextRenderer",
    "chunk_json",
    "completion_json",
    "error_json",
    "format_server_tool",
    "format_sources",
    "format_stats",
    "format_tool_call",
    "isatty",
]

_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING
_REFUSAL = ChunkType.REFUSAL
_TOOL_END = ChunkType.TOOL_CALL_END


def isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


class Style:
    """ANSI styling for one stream: on for a terminal, off for pipes, ``NO_COLOR`` and dumb terminals."""

    def __init__(self, stream: TextIO, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = isatty(stream) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and text else text

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def cyan(self, text: str) -> str:
        return self._wrap("36", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)


class Spinner:
    """A spinner on a terminal's stderr until the first token; a small daemon thread.

    ``stop()`` joins the thread and clears the line before anything else is written, so the
    spinner never interleaves with output.
    """

    def __init__(self, stream: TextIO, label: str, interval: float = 0.08) -> None:
        self._stream = stream
        self.label = label
        self._interval = interval
        frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
        try:
            frames.encode(stream.encoding or "ascii")
        except (LookupError, UnicodeEncodeError):
            frames = "|/-\\"
        self._frames = frames
        self._style = Style(stream, enabled=None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Spinner:
        self._thread = threading.Thread(target=self._spin, name="llmstream-spinner", daemon=True)
        self._thread.start()
        return self

    def _spin(self) -> None:
        index = 0
        while not self._stop.wait(self._interval):
            frame = self._style.dim(f"{self._frames[index % len(self._frames)]} {self.label}")
            self._stream.write(f"\r{frame}\x1b[K")
            self._stream.flush()
            index += 1

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._stream.write("\r\x1b[K")
        self._stream.flush()


def format_tool_call(call: ToolCall | ToolCallDelta, style: Style, limit: int = 500) -> str:
    """``→ get_weather({"city": "Paris"})  call_abc`` (the id is what ``--tool-result`` answers)."""
    arguments = call.arguments or ""
    if len(arguments) > limit:
        arguments = arguments[:limit] + "…"
    ident = f"  {style.dim(call.id)}" if call.id else ""
    return f"{style.cyan('→')} {style.bold(call.name or '?')}({arguments}){ident}"


def format_server_tool(event: ServerToolEvent, style: Style, limit: int = 500) -> str:
    """``⌕ web_search("weather in Paris")``: a vendor-side tool, its one argument shown bare."""
    arguments = event.arguments
    if isinstance(arguments, dict) and len(arguments) == 1:
        arguments = next(iter(arguments.values()))
    shown = json.dumps(arguments, ensure_ascii=False, default=str)
    shown = shown if len(shown) <= limit else shown[:limit] + "…"
    failed = f"  {style.red('failed')}" if event.status == "failed" else ""
    return f"{style.cyan('⌕')} {style.bold(event.name)}({shown}){failed}"


def format_sources(citations: list[Citation], style: Style) -> str:
    """The numbered list of sources after an answer (``[1] Title  https://…``)."""
    rows = (f"  [{n}] {c.title or c.cited_text or ''}  {style.dim(c.url or '')}".rstrip()
            for n, c in enumerate(citations, 1))
    return "\n".join([style.dim("Sources:"), *rows])


def _usage_text(usage: Usage | None) -> str:
    if usage is None:
        return "usage not reported"
    cached = f" ({usage.cached_input_tokens} cached)" if usage.cached_input_tokens else ""
    reasoning = f" ({usage.reasoning_tokens} reasoning)" if usage.reasoning_tokens else ""
    cost = f" · ${usage.cost:.6f}" if usage.cost is not None else ""
    return f"{usage.input_tokens} in{cached}, {usage.output_tokens} out{reasoning} tokens{cost}"


def format_stats(completion: Completion, first_token_s: float | None) -> str:
    """``gpt-4o-mini · first token 0.42 s · 12 in, 87 out tokens · 54.1 tokens/s · 1.93 s``."""
    parts = [completion.model or completion.provider or "?"]
    ttft_ms = completion.stats.time_to_first_token_ms  # the library's figure: first content chunk
    if ttft_ms is not None:
        first_token_s = ttft_ms / 1000
    if first_token_s is not None:
        parts.append(f"first token {first_token_s:.2f} s")
    parts.append(_usage_text(completion.usage))
    rate = completion.stats.output_tokens_per_s
    if rate is not None:
        parts.append(f"{rate:.1f} tokens/s")
    parts.append(f"{completion.stats.duration_ms / 1000:.2f} s")
    if completion.cached:
        parts.append("(cached)")
    return " · ".join(parts)


# -- renderers -----------------------------------------------------------------------------------


class Renderer:
    """What the prompt command and the demo feed: every chunk, then the completion once."""

    def chunk(self, chunk: StreamedChunk) -> None:
        raise NotImplementedError

    def finish(self, completion: Completion, error: LLMStreamError | None = None, **extra: Any) -> None:
        raise NotImplementedError


class TextRenderer(Renderer):
    """Answer text to ``out`` as it arrives; reasoning (when asked) and tool calls to ``err``.

    With ``buffered`` (``--no-stream``) nothing is written until :meth:`finish`.
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        *,
        reasoning: bool = False,
        buffered: bool = False,
        spinner: Spinner | None = None,
        reasoning_prefix: str = "",
    ) -> None:
        self.out, self.err = out, err
        self.reasoning_prefix = reasoning_prefix
        self.show_reasoning = reasoning
        self.buffered = buffered
        self.spinner = spinner
        self.style = Style(err)
        self._out_tty = isatty(out)
        self._text_open = False  # stdout holds text not yet ended by a newline
        self._reasoning_open = False  # stderr holds reasoning not yet ended by a newline
        self._in_reasoning = False  # between the first reasoning chunk and the next text or tool call
        self._server_shown: set[str] = set()  # server tools already shown (once, when the input is known)

    def _quiet_spinner(self) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None

    def chunk(self, chunk: StreamedChunk) -> None:
        kind = chunk.type
        if self.buffered:
            return
        if kind is _TEXT or kind is _REFUSAL:
            if not chunk.text:
                return
            self._quiet_spinner()
            self._end_reasoning()
            # State first, then I/O: a Ctrl-C landing right after the write still ends the line.
            self._text_open = not chunk.text.endswith("\n")
            self.out.write(chunk.text)
            self.out.flush()
        elif kind is _REASONING:
            if not self.show_reasoning:
                if self.spinner is not None:
                    self.spinner.label = "thinking"
                return
            if chunk.text:
                self._quiet_spinner()
                prefix = "" if self._in_reasoning else self.reasoning_prefix
                self._in_reasoning = True
                self._reasoning_open = not chunk.text.endswith("\n")
                if prefix:
                    self.err.write(self.style.bold(prefix))
                self.err.write(self.style.dim(chunk.text))
                self.err.flush()
        elif kind is _TOOL_END and chunk.tool_call is not None:
            self._quiet_spinner()
            self._tool_line(format_tool_call(chunk.tool_call, self.style))
        elif kind is ChunkType.SERVER_TOOL:
            self._server_tool(chunk.server_tool)

    def _server_tool(self, event: ServerToolEvent | None) -> None:
        if event is not None and event.arguments is not None and event.id not in self._server_shown:
            self._server_shown.add(event.id)
            self._quiet_spinner()
            self._tool_line(format_server_tool(event, self.style))

    def _end_reasoning(self) -> None:
        if self._in_reasoning and self.err is self.out:  # one stream (the demo): a blank line sets them apart
            self._reasoning_open = False
            self.err.write("\n\n")
            self.err.flush()
        elif self._reasoning_open:
            self._reasoning_open = False
            self.err.write("\n")
            self.err.flush()
        self._in_reasoning = False

    def _tool_line(self, line: str) -> None:
        self._end_reasoning()
        if self._text_open and self._out_tty:  # same terminal: start the tool line on a line of its own
            self._text_open = False
            self.out.write("\n")
            self.out.flush()
        self.err.write(line + "\n")
        self.err.flush()

    def finish(self, completion: Completion, error: LLMStreamError | None = None, **extra: Any) -> None:
        self._quiet_spinner()
        if self.buffered:
            if self.show_reasoning and completion.reasoning:
                self.err.write(self.style.dim(completion.reasoning) + "\n")
            answer = completion.text + completion.refusal
            if answer:
                self.out.write(answer)
                self._text_open = not answer.endswith("\n")
            for event in completion.server_tools:
                self._server_tool(event)
            for call in completion.tool_calls:
                self._tool_line(format_tool_call(call, self.style))
        self._end_reasoning()
        if self._text_open:  # like echo: the answer ends with a newline
            self._text_open = False
            self.out.write("\n")
        if completion.citations:
            self.out.flush()
            self.err.write(format_sources(completion.citations, self.style) + "\n")
        self.out.flush()
        self.err.flush()


class JsonRenderer(Renderer):
    """NDJSON on ``out``: one object per chunk (unless ``buffered``), then the completion object."""

    def __init__(self, out: TextIO, *, buffered: bool = False, spinner: Spinner | None = None) -> None:
        self.out = out
        self.buffered = buffered
        self.spinner = spinner

    def _line(self, data: dict[str, Any]) -> None:
        self.out.write(json.dumps(data, ensure_ascii=False) + "\n")
        self.out.flush()

    def chunk(self, chunk: StreamedChunk) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None
        if not self.buffered:
            self._line(chunk_json(chunk))

    def finish(self, completion: Completion, error: LLMStreamError | None = None, **extra: Any) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None
        if error is not None and completion.error is None:
            completion = attrs.evolve(completion, error=error)
        self._line(completion_json(completion, **extra))


def stdio() -> tuple[TextIO, TextIO]:
    """The process's stdout and stderr, looked up at call time (tests swap them)."""
    return sys.stdout, sys.stderr
