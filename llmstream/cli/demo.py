"""``llmstream demo``: a realistic session with no key and no network.

Recorded streams (``cassettes/demo/*.yaml``) are replayed through the real vendor SDKs by
``llmstream.testing.replay``; every chunk is shown as the CLI shows a live answer and fed to a
:class:`StreamingAccumulator`, whose rebuilt completion is printed after each stream. When the
replay helper or the recordings are missing (a partial checkout), the same session is scripted
through :class:`MockClient` instead, so that ``make demo`` always runs.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import attrs

from .._accumulator import StreamingAccumulator
from .._types import ChunkType, Completion, FinishReason, StreamedChunk, ToolCallDelta, Usage
from .render import Style, TextRenderer

__all__ = ["SESSIONS", "default_cassette_dir", "run_demo"]

#: Seconds between chunks: about the pace of a fast model, slow enough to watch.
NATURAL_PACE = 0.03

Replay = Callable[..., Iterable[StreamedChunk]]


def default_cassette_dir() -> Path:
    """``cassettes/demo`` of the checkout; an installed wheel's copy (``llmstream/_demo``) otherwise."""
    import llmstream

    package = Path(llmstream.__file__).resolve().parent
    checkout = package.parent / "cassettes" / "demo"
    installed = package / "_demo"
    return installed if not checkout.is_dir() and installed.is_dir() else checkout


# -- the scripted stand-ins (used only when the recordings are unavailable) -------------------------


def _words(text: str) -> list[StreamedChunk]:
    pieces = text.split(" ")
    return [StreamedChunk(ChunkType.TEXT, p if i == len(pieces) - 1 else p + " ") for i, p in enumerate(pieces)]


def _end(reason: FinishReason, usage: Usage) -> list[StreamedChunk]:
    return [
        StreamedChunk(ChunkType.STOP, finish_reason=reason, raw_finish_reason=reason.value),
        StreamedChunk(ChunkType.USAGE, usage=usage),
    ]


def _text_script() -> list[StreamedChunk]:
    answer = (
        "Streaming puts the first words on screen within a few hundred milliseconds instead of after the whole "
        "answer is generated, so the interface feels alive. It also lets you stop early, show progress, and "
        "act on tool calls as soon as they are complete."
    )
    return [
        StreamedChunk(ChunkType.START, id="chatcmpl-demo1", model="gpt-4o-mini-2024-07-18"),
        *_words(answer),
        *_end(FinishReason.STOP, Usage(input_tokens=19, output_tokens=48)),
    ]


def _thinking_script() -> list[StreamedChunk]:
    thinking = (
        "1001 is odd and its digit sum is 2, so not divisible by 2 or 3. Try 7: 7 * 143 = 1001. "
        "And 143 = 11 * 13. So 1001 = 7 * 11 * 13: composite."
    )
    answer = "No. 1001 = 7 * 11 * 13, so besides 1 and itself it has the divisors 7, 11, 13, 77, 91 and 143."
    return [
        StreamedChunk(ChunkType.START, id="msg_demo2", model="claude-sonnet-4-6"),
        *(StreamedChunk(ChunkType.REASONING, c.text) for c in _words(thinking)),
        StreamedChunk(ChunkType.REASONING, signature="EqQBCkgIBxABGAIiQ...demo-signature"),
        *_words(answer),
        *_end(FinishReason.STOP, Usage(input_tokens=46, output_tokens=121, reasoning_tokens=74)),
    ]


def _tools_script() -> list[StreamedChunk]:
    chunks = [StreamedChunk(ChunkType.START, id="chatcmpl-demo3", model="gpt-4o-mini-2024-07-18")]
    calls = [("call_Qx1", ['{"ci', 'ty": "Pa', 'ris"}']), ("call_Qx2", ['{"city', '": "Tok', 'yo"}'])]
    for index, (call_id, fragments) in enumerate(calls):
        chunks.append(StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=ToolCallDelta(index, call_id, "get_weather")))
        chunks += [StreamedChunk(ChunkType.TOOL_CALL_DELTA, tool_call=ToolCallDelta(index, arguments=f))
                   for f in fragments]
    for index, (call_id, fragments) in enumerate(calls):
        full = ToolCallDelta(index, call_id, "get_weather", "".join(fragments))
        chunks.append(StreamedChunk(ChunkType.TOOL_CALL_END, tool_call=full))
    return chunks + _end(FinishReason.TOOL_CALLS, Usage(input_tokens=81, output_tokens=46))


@attrs.frozen
class Session:
    cassette: str
    title: str
    prompt: str
    script: Callable[[], list[StreamedChunk]]

    @property
    def provider(self) -> str:
        return self.cassette.partition("_")[0]


SESSIONS = (
    Session("openai_text.yaml", "OpenAI · a text answer", "In two sentences: why stream LLM answers?", _text_script),
    Session("anthropic_thinking.yaml", "Anthropic · extended thinking, then the answer", "Is 1001 prime?",
            _thinking_script),
    Session("openai_parallel_tools.yaml", "OpenAI · two tool calls in parallel",
            "What's the weather in Paris and in Tokyo?", _tools_script),
)


# -- running ---------------------------------------------------------------------------------------


def _load_replay() -> Replay | None:
    import importlib

    try:  # imported by name: the module is written alongside this one and may be absent in a checkout
        testing = importlib.import_module("llmstream.testing")
    except ImportError:
        return None
    replay: Replay | None = getattr(testing, "replay", None)
    return replay


def _scripted(session: Session, pace: float) -> Iterator[StreamedChunk]:
    """The stand-in: the scripted chunks through MockClient, i.e. the real stream shell."""
    from ..providers.mock import MockClient

    client = MockClient(session.provider, chunks=session.script(), delay=pace)
    with client.stream(session.prompt) as stream:
        yield from stream


def _recorded_prompt(path: Path) -> str | None:
    """The last user message of the cassette's first request, to show what was asked (best effort)."""
    try:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        body: Any = data["interactions"][0]["request"]["body"]
        if isinstance(body, dict):
            body = body.get("string")
        if isinstance(body, bytes):
            body = body.decode()
        request = json.loads(body)
        turns = request.get("messages") or request.get("contents") or []
        user = [t for t in turns if t.get("role") == "user"][-1]
        content = user.get("content", user.get("parts"))
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        return str(content).strip() or None
    except Exception:  # any shape we do not know: fall back to the built-in prompt
        return None


def _summary(completion: Completion, style: Style) -> list[str]:
    raw = completion.raw_finish_reason
    finish = str(completion.finish_reason)
    if raw and raw != finish:
        finish += f" (vendor: {raw})"
    lines = [
        ("finish_reason", finish),
        ("model", f"{completion.model} · id {completion.id}"),
        ("text", f"{len(completion.text)} characters" if completion.text else "(none)"),
    ]
    if completion.reasoning_blocks:
        signed = sum(1 for b in completion.reasoning_blocks if b.signature)
        lines.append(("reasoning", f"{len(completion.reasoning)} characters in {len(completion.reasoning_blocks)} "
                                   f"block(s), {signed} signed (sent back intact by conversation.append)"))
    for index, call in enumerate(completion.tool_calls):
        parsed = json.dumps(call.args, ensure_ascii=False)
        lines.append(("tool_calls" if index == 0 else "", f"{call.id} {call.name} args={parsed}"))
    usage = completion.usage
    if usage is not None:
        reasoning = f" ({usage.reasoning_tokens} reasoning)" if usage.reasoning_tokens else ""
        lines.append(("usage", f"{usage.input_tokens} in, {usage.output_tokens} out{reasoning} tokens"))
    stats = completion.stats
    rate = f" · {stats.output_tokens_per_s:.0f} tokens/s" if stats.output_tokens_per_s else ""
    lines.append(("stream", f"{stats.chunks} chunks in {stats.duration_ms / 1000:.2f} s{rate}"))
    return [style.bold("  rebuilt completion")] + [f"  {style.dim(f'{k:<15}')}{v}" for k, v in lines]


def _play(chunks: Iterable[StreamedChunk], provider: str, out: TextIO, pace: float) -> Completion:
    renderer = TextRenderer(out, out, reasoning=True, reasoning_prefix="thinking: ")
    iterator = iter(chunks)
    # The first chunk pays for importing the vendor SDK; start the clock after it, so the stats
    # describe the stream rather than the import.
    first = next(iterator, None)
    accumulator = StreamingAccumulator(provider=provider)
    for chunk in itertools.chain(() if first is None else (first,), iterator):
        if pace and chunk.type is ChunkType.TOOL_CALL_DELTA:  # replay paces text only; arguments stream too
            time.sleep(pace)
        accumulator.add(chunk)
        renderer.chunk(chunk)
    completion = accumulator.completion()
    renderer.finish(completion)
    return completion


def run_demo(out: TextIO, *, cassettes: Path | None = None, fast: bool = False) -> int:
    style = Style(out)
    pace = 0.0 if fast else NATURAL_PACE
    folder = cassettes or default_cassette_dir()
    replay = _load_replay()
    missing = [s.cassette for s in SESSIONS if not (folder / s.cassette).is_file()]

    out.write(style.bold("llmstream demo") + " · a text answer, reasoning and parallel tool calls, streamed with "
              "no key and no network\n")
    if replay is None or missing:
        why = "llmstream.testing.replay is not available" if replay is None else f"no {', '.join(missing)} in {folder}"
        out.write(style.dim(f"note: {why}; using MockClient scripted chunks instead") + "\n")
    else:
        out.write(style.dim(f"replaying the recordings in {folder} through the real vendor SDKs") + "\n")
    out.flush()

    chunks_total = 0
    for number, session in enumerate(SESSIONS, 1):
        path = folder / session.cassette
        recorded = replay is not None and path.is_file()
        source = str(path) if recorded else "scripted (MockClient)"
        prompt = (_recorded_prompt(path) if recorded else None) or session.prompt
        out.write(f"\n{style.cyan('━━')} {number}/{len(SESSIONS)} · {session.title} {style.dim(f'· {source}')}\n")
        out.write(style.bold(f"> {prompt}") + "\n\n")
        out.flush()
        try:
            chunks = replay(path, pace=pace) if replay is not None and recorded else _scripted(session, pace)
            completion = _play(chunks, session.provider, out, pace if recorded else 0.0)
        except Exception as exc:  # a broken recording must not break the demo
            out.write(style.dim(f"\n(replay failed: {type(exc).__name__}: {exc}; showing the scripted version)") + "\n")
            completion = _play(_scripted(session, pace), session.provider, out, 0.0)
        out.write("\n" + "\n".join(_summary(completion, style)) + "\n")
        out.flush()
        chunks_total += completion.stats.chunks

    out.write(f"\n{len(SESSIONS)} streams, {chunks_total} chunks, {len(SESSIONS)} completions rebuilt.\n")
    out.write("Next: set OPENAI_API_KEY (or ANTHROPIC_API_KEY, GEMINI_API_KEY) and run "
              + style.bold('llmstream "Write a haiku about rivers"') + "\n")
    out.flush()
    return 0
