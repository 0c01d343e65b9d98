"""Incremental parsing, proven on real traffic: every 200 stream of the shared corpus, cut at random
byte offsets *and* inside every kind of boundary a parser can trip on, gives exactly the chunks and
the completion of the whole-body replay.

The loopback server writes each piece as its own HTTP chunk, and h11 hands every HTTP chunk to the
SDK as a separate piece (it never joins two), so the SDKs' and llmstream's decoders really see the
body in these pieces, whatever TCP does with the writes.
"""

from __future__ import annotations

import itertools
import random
import re
import zlib
from collections.abc import Iterator

import attrs
import pytest

from tests.conftest import SHARED_CASSETTES

if not SHARED_CASSETTES.is_dir():
    pytest.skip(
        f"the shared cassette corpus is not at {SHARED_CASSETTES} (set LLMSTREAM_SHARED_CASSETTES to its path)",
        allow_module_level=True,
    )

from llmstream import Completion, StreamedChunk, StreamStats
from tests.helpers import collect
from tests.loopback import LoopbackServer, rechunk
from tests.oracles import Recording, corpus, llmstream_client, served, shared_ssl_context

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

STREAMS = [rec for rec in corpus(SHARED_CASSETTES) if rec.status == 200]  # the Responses API included
#: Most cuts a body gets: enough to hit every line and frame of small bodies, bounded for the 389 kB one.
MAX_CUTS = 1500
#: Most cuts placed on purpose inside UTF-8 sequences and between CR and LF, each.
MAX_SPECIAL = 400


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with shared_ssl_context(), LoopbackServer() as running:
        yield running


def adversarial_pieces(body: bytes, seed: int) -> tuple[list[bytes], int, int]:
    """The body cut at seeded random offsets, plus cuts before UTF-8 continuation bytes (inside a
    multi-byte character) and between every CR and its LF; returns the pieces and how many cuts of
    each special kind were made."""
    rng = random.Random(seed)
    cuts = {rng.randrange(1, len(body)) for _ in range(min(len(body) // 6, MAX_CUTS))}
    inside_utf8 = [i for i in range(1, len(body)) if 0x80 <= body[i] < 0xC0]
    between_cr_lf = [m.start() + 1 for m in re.finditer(rb"\r\n", body)]
    inside_utf8 = rng.sample(inside_utf8, min(len(inside_utf8), MAX_SPECIAL))
    between_cr_lf = rng.sample(between_cr_lf, min(len(between_cr_lf), MAX_SPECIAL))
    offsets = sorted(cuts | set(inside_utf8) | set(between_cr_lf))
    sizes = [end - start for start, end in itertools.pairwise([0, *offsets, len(body)])]
    return rechunk(body, sizes), len(inside_utf8), len(between_cr_lf)


def comparable(completion: Completion) -> Completion:
    return attrs.evolve(completion, stats=StreamStats())  # timings differ from run to run


_WHOLE: dict[str, tuple[list[StreamedChunk], Completion]] = {}


def stream(rec: Recording, server: LoopbackServer, mode: str, pieces: list[bytes] | None) -> tuple[
    list[StreamedChunk], Completion
]:
    server.default = served(rec, pieces)
    chunks, completion = collect(llmstream_client(rec, server), "replay", mode)
    assert completion.error is None, completion.error
    return chunks, comparable(completion)


def whole(rec: Recording, server: LoopbackServer) -> tuple[list[StreamedChunk], Completion]:
    """The reference: the decoded body served in one piece (computed once, shared by both modes)."""
    if rec.id not in _WHOLE:
        _WHOLE[rec.id] = stream(rec, server, "sync", [rec.body])
    return _WHOLE[rec.id]


@pytest.mark.parametrize("rec", STREAMS, ids=[rec.id for rec in STREAMS])
def test_split_body_gives_the_same_stream(rec: Recording, server: LoopbackServer, mode: str) -> None:
    seed = zlib.crc32(f"{rec.id}/{mode}".encode())
    pieces, inside_utf8, between_cr_lf = adversarial_pieces(rec.body, seed)
    assert b"".join(pieces) == rec.body
    # The special cuts really are there whenever the body has such boundaries at all.
    if re.search(rb"[\x80-\xff]", rec.body):
        assert inside_utf8 and any(0x80 <= piece[0] < 0xC0 for piece in pieces)
    if b"\r\n" in rec.body:
        assert between_cr_lf and any(a.endswith(b"\r") and b.startswith(b"\n") for a, b in itertools.pairwise(pieces))
    reference_chunks, reference = whole(rec, server)
    chunks, completion = stream(rec, server, mode, pieces)
    assert completion == reference, f"{len(pieces)} pieces (seed {seed}) change the completion"
    assert chunks == reference_chunks, f"{len(pieces)} pieces (seed {seed}) change the chunks"
