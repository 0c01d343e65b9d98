"""A council: three models answer at once, shown as interleaved lanes, then one synthesizes.

Three MockClients stand in for OpenAI, Anthropic and Gemini, each at its own pace, and a fourth
for the synthesizer; swap them for ``llmstream.client("openai:gpt-4o-mini")`` and friends to run it
for real. Runs with no key and no network:

    python examples/council.py
"""

from __future__ import annotations

import textwrap

import llmstream
from llmstream import ChunkType

QUESTION = "Why is the sky blue?"
WIDTH = 44
MEMBERS = {
    "openai": ("Sunlight scatters off the molecules of the air, and short blue wavelengths scatter "
               "far more than red ones, so blue light reaches us from every part of the sky.", 0.010),
    "anthropic": ("Rayleigh scattering: air molecules scatter light with a strength that grows as the "
                  "wavelength shrinks, which makes the scattered skylight mostly blue.", 0.015),
    "gemini": ("Blue light is scattered about five times more than red by nitrogen and oxygen; "
               "violet scatters even more, but our eyes are less sensitive to it.", 0.020),
}
SYNTHESIS = ("The sky is blue because of Rayleigh scattering: air molecules scatter short wavelengths "
             "far more than long ones, so blue light comes at us from all directions. Violet "
             "scatters even more, but the sun sends less of it and our eyes are less sensitive to it.")


class Lanes:
    """Each source's text word-wrapped into its own lines, each line printed once it is complete."""

    def __init__(self, names: list[str]) -> None:
        self.label = max(map(len, names))
        self.pending = {name: "" for name in names}

    def add(self, name: str, text: str) -> None:
        self.pending[name] += text
        lines = textwrap.wrap(self.pending[name], WIDTH)
        while len(lines) > 1:  # the last line may still grow
            self.show(name, lines.pop(0))
        self.pending[name] = lines[0] + (" " if text.endswith(" ") else "") if lines else ""

    def end(self, name: str) -> None:
        if self.pending[name].strip():
            self.show(name, self.pending[name].strip())
        self.pending[name] = ""

    def show(self, name: str, line: str) -> None:
        print(f"{name:>{self.label}} │ {line}", flush=True)


def main() -> None:
    members = {name: llmstream.MockClient(name, text=text, delay=delay) for name, (text, delay) in MEMBERS.items()}
    synthesizer = llmstream.MockClient("synthesizer", text=SYNTHESIS, delay=0.005)
    lanes = Lanes([*members, "synthesis"])
    result: llmstream.CouncilResult[str] | None = None
    with llmstream.council(members, synthesizer, QUESTION) as events:
        for event in events:
            lane = str(event.source) if event.stage == "member" else "synthesis"
            chunk = event.chunk
            if chunk is not None and chunk.type is ChunkType.TEXT:
                lanes.add(lane, chunk.text)
            elif chunk is not None and chunk.type is ChunkType.ERROR:
                lanes.end(lane)
                lanes.show(lane, f"✗ {type(chunk.error).__name__}")
            elif chunk is not None and chunk.type is ChunkType.STOP:
                lanes.end(lane)
            elif event.stage == "done":
                result = event.result
    assert result is not None
    print()
    for name, completion in result.members.completions.items():
        print(f"{name:>9}: {completion.finish_reason}, {len(completion.text)} characters")
    usage = result.usage
    print(f"    total: {usage.input_tokens if usage else 0} in, {usage.output_tokens if usage else 0} out tokens, "
          f"members in {result.members.wall_time_ms / 1000:.2f} s")


if __name__ == "__main__":
    main()
