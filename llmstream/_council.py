"""council / acouncil: several members answer at once, a synthesizer answers from their answers.

The events are :class:`CouncilEvent` items: ``"member"`` for every member's chunks (interleaved, each
member's own chunks in order), then ``"synthesis"`` for the synthesizer's answer, then exactly one
``"done"`` event whose ``result`` is the :class:`CouncilResult`, so a UI knows the round is over
without counting sources. A failing member (or synthesizer) never raises: its error arrives as an
ERROR chunk, and its partial and error are in the result. A member served from a cache replays its
chunks at once, like any fast member. ``break`` inside ``with`` (or ``close()``/``aclose()``)
closes every stream still open; there is no ``"done"`` event then, but ``result`` is set.
"""

from __future__ import annotations

import string
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Hashable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

import attrs

from ._conversation import Conversation, as_conversation
from ._errors import ConfigurationError
from ._merge import AsyncMerged, FanoutResult, Merged, sum_usage
from ._types import Completion, StreamedChunk, Usage

if TYPE_CHECKING:
    from ._client import BaseClient, ConversationLike

__all__ = [
    "COUNCIL_TEMPLATE",
    "AsyncCouncil",
    "Council",
    "CouncilEvent",
    "CouncilResult",
    "Stage",
    "Template",
    "acouncil",
    "council",
    "synthesis_prompt",
]

K = TypeVar("K", bound=Hashable)
Stage = Literal["member", "synthesis", "done"]
#: A replacement for the default template: ``(question, members) -> the synthesizer's prompt``, or
#: ``None`` to skip the synthesis (say, when too few members answered).
Template = Callable[[str, FanoutResult[Any]], "ConversationLike | None"]

COUNCIL_TEMPLATE = """\
Several assistants answered the question below independently. Write the single best answer to the \
question: keep what they agree on, settle where they disagree, and correct any mistakes. Answer the \
question directly, without mentioning the assistants.

Question:
{prompt}

{answers}"""
_FIELDS = frozenset({"prompt", "answers", "count"})
_SYNTHESIS = "synthesis"  # the synthesizer's key in its one-stream merge


@attrs.frozen
class CouncilResult(Generic[K]):
    """The whole round: every member (``members.completions``, failures with their partial and error),
    the synthesis (``None`` when none was asked for, or no member answered), and all usage summed."""

    members: FanoutResult[K]
    synthesis: Completion | None
    usage: Usage | None


@attrs.frozen
class CouncilEvent(Generic[K]):
    """One step of a council: ``stage`` "member" (``source`` is the member), "synthesis" (``source``
    None), or the last, "done" (``chunk`` None, ``result`` the :class:`CouncilResult`)."""

    stage: Stage
    source: K | None
    chunk: StreamedChunk | None
    result: CouncilResult[K] | None = None


def _question(conversation: Conversation) -> str:
    users = [m.content for m in conversation.messages if m.role == "user"]
    last = users[-1] if users else ""
    return last if isinstance(last, str) else str(last)


def synthesis_prompt(question: str, members: FanoutResult[Any], template: str = COUNCIL_TEMPLATE) -> str | None:
    """The synthesizer's prompt from the members that answered (no error, not cancelled); ``None``
    when none did. ``template`` may use ``{prompt}``, ``{answers}`` and ``{count}``."""
    answered = members.succeeded
    if not answered:
        return None
    answers = "\n\n".join(f"Answer from {source}:\n{c.text.strip()}" for source, c in answered.items())
    return template.format(prompt=question, answers=answers, count=len(answered))


def _check_template(template: str | Template) -> None:
    if callable(template):
        return
    if not isinstance(template, str):
        raise ConfigurationError(f"template must be a str or a callable, got {type(template).__name__}")
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise ConfigurationError(f"template is not a valid format string: {exc}") from exc
    unknown = fields - _FIELDS
    if unknown:
        raise ConfigurationError(f"template uses unknown fields {sorted(unknown)}; it may use {sorted(_FIELDS)}")
    if "answers" not in fields:
        raise ConfigurationError("template must contain {answers}: the synthesizer would not see the members' answers")


class _CouncilBase(Generic[K]):
    def __init__(
        self,
        members: Mapping[K, BaseClient],
        synthesizer: BaseClient | None,
        prompt: ConversationLike,
        synthesize: bool,
        template: str | Template,
        call_options: Mapping[str, Any],
    ) -> None:
        if not members:
            raise ConfigurationError("a council needs at least one member")
        if synthesize and synthesizer is None:
            raise ConfigurationError("synthesize=True needs a synthesizer client")
        _check_template(template)
        self._members = dict(members)
        self._synthesizer = synthesizer
        self._conversation = as_conversation(prompt)  # read once: a generator of dicts is not read twice
        self._synthesize = synthesize
        self._template = template
        self._call_options = dict(call_options)
        self._result_value: CouncilResult[K] | None = None

    @property
    def result(self) -> CouncilResult[K]:
        """The :class:`CouncilResult` (also on the "done" event), once the council ended or was closed."""
        if self._result_value is None:
            raise RuntimeError("the council has not ended yet: read it to the end or close it first")
        return self._result_value

    def _synthesis_input(self, members: FanoutResult[K]) -> ConversationLike | None:
        if not self._synthesize:
            return None
        question = _question(self._conversation)
        if callable(self._template):
            return self._template(question, members)
        return synthesis_prompt(question, members, self._template)

    def _finish(self, members: FanoutResult[K], synthesis: Completion | None) -> CouncilResult[K]:
        usages = [members.usage, synthesis.usage if synthesis is not None else None]
        self._result_value = CouncilResult(members, synthesis, sum_usage(usages))
        return self._result_value


class Council(_CouncilBase[K]):
    """Iterate :class:`CouncilEvent` items (use it in ``with``, so that ``break`` closes the streams)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._merged: Merged[K] | None = None
        self._iterator = self._run()

    def __iter__(self) -> Iterator[CouncilEvent[K]]:
        return self._iterator

    def __next__(self) -> CouncilEvent[K]:
        return next(self._iterator)

    def __enter__(self) -> Council[K]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every stream still open; the result holds what came so far (cancelled)."""
        self._iterator.close()
        if self._result_value is None:  # never iterated: nothing was opened
            merged = Merged({name: c.stream(self._conversation, **self._call_options)
                             for name, c in self._members.items()})
            merged.close()
            self._finish(merged.result, None)

    def _run(self) -> Generator[CouncilEvent[K], None, None]:
        streams = {name: client.stream(self._conversation, **self._call_options)
                   for name, client in self._members.items()}
        members: Merged[K] = Merged(streams)
        synthesis: Merged[str] | None = None
        try:
            with members:
                for source, chunk in members:
                    yield CouncilEvent("member", source, chunk)
            prompt = self._synthesis_input(members.result)
            if prompt is not None and self._synthesizer is not None:
                synthesis = Merged({_SYNTHESIS: self._synthesizer.stream(prompt, **self._call_options)})
                with synthesis:
                    for _, chunk in synthesis:
                        yield CouncilEvent("synthesis", None, chunk)
        finally:
            members.close()
            if synthesis is not None:
                synthesis.close()
            answer = synthesis.result.completions[_SYNTHESIS] if synthesis is not None else None
            result = self._finish(members.result, answer)
        yield CouncilEvent("done", None, None, result)


class AsyncCouncil(_CouncilBase[K]):
    """The async twin of :class:`Council`: ``async with acouncil(...) as events: async for ...``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._iterator = self._run()

    def __aiter__(self) -> AsyncIterator[CouncilEvent[K]]:
        return self._iterator

    async def __anext__(self) -> CouncilEvent[K]:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> AsyncCouncil[K]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every stream still open; the result holds what came so far (cancelled)."""
        await self._iterator.aclose()
        if self._result_value is None:  # never iterated: nothing was opened
            merged = AsyncMerged({name: c.astream(self._conversation, **self._call_options)
                                  for name, c in self._members.items()})
            await merged.aclose()
            self._finish(merged.result, None)

    async def _run(self) -> AsyncGenerator[CouncilEvent[K], None]:
        streams = {name: client.astream(self._conversation, **self._call_options)
                   for name, client in self._members.items()}
        members: AsyncMerged[K] = AsyncMerged(streams)
        synthesis: AsyncMerged[str] | None = None
        try:
            async with members:
                async for source, chunk in members:
                    yield CouncilEvent("member", source, chunk)
            prompt = self._synthesis_input(members.result)
            if prompt is not None and self._synthesizer is not None:
                synthesis = AsyncMerged({_SYNTHESIS: self._synthesizer.astream(prompt, **self._call_options)})
                async with synthesis:
                    async for _, chunk in synthesis:
                        yield CouncilEvent("synthesis", None, chunk)
        finally:
            await members.aclose()
            if synthesis is not None:
                await synthesis.aclose()
            answer = synthesis.result.completions[_SYNTHESIS] if synthesis is not None else None
            result = self._finish(members.result, answer)
        yield CouncilEvent("done", None, None, result)


def _keyed(members: Mapping[Any, BaseClient] | Sequence[BaseClient]) -> dict[Any, BaseClient]:
    return dict(members) if isinstance(members, Mapping) else dict(enumerate(members))


@overload
def council(members: Mapping[K, BaseClient], synthesizer: BaseClient | None, prompt: ConversationLike, *,
            synthesize: bool = ..., template: str | Template = ..., **call_options: Any) -> Council[K]: ...
@overload
def council(members: Sequence[BaseClient], synthesizer: BaseClient | None, prompt: ConversationLike, *,
            synthesize: bool = ..., template: str | Template = ..., **call_options: Any) -> Council[int]: ...
def council(
    members: Mapping[Any, BaseClient] | Sequence[BaseClient],
    synthesizer: BaseClient | None,
    prompt: ConversationLike,
    *,
    synthesize: bool = True,
    template: str | Template = COUNCIL_TEMPLATE,
    **call_options: Any,
) -> Council[Any]:
    """Ask every member at once (a thread each), then the synthesizer; a list's members are its indexes::

        members = {"gpt": llmstream.client("openai:gpt-4o-mini"), "claude": llmstream.client("claude-haiku-4-5")}
        with council(members, llmstream.client("gemini-2.5-flash"), "Why is the sky blue?") as events:
            for event in events:
                if event.stage == "done":
                    event.result.synthesis.text, event.result.usage

    ``template`` (``{prompt}``, ``{answers}``, ``{count}``, or a :data:`Template` callable) builds the
    synthesizer's prompt; ``synthesize=False`` stops after the members. ``call_options`` (``max_tokens``,
    ``temperature``, ``options``…) go to every ``stream()`` call.
    """
    return Council(_keyed(members), synthesizer, prompt, synthesize, template, call_options)


@overload
def acouncil(members: Mapping[K, BaseClient], synthesizer: BaseClient | None, prompt: ConversationLike, *,
             synthesize: bool = ..., template: str | Template = ..., **call_options: Any) -> AsyncCouncil[K]: ...
@overload
def acouncil(members: Sequence[BaseClient], synthesizer: BaseClient | None, prompt: ConversationLike, *,
             synthesize: bool = ..., template: str | Template = ..., **call_options: Any) -> AsyncCouncil[int]: ...
def acouncil(
    members: Mapping[Any, BaseClient] | Sequence[BaseClient],
    synthesizer: BaseClient | None,
    prompt: ConversationLike,
    *,
    synthesize: bool = True,
    template: str | Template = COUNCIL_TEMPLATE,
    **call_options: Any,
) -> AsyncCouncil[Any]:
    """The async twin of :func:`council` (a task each): ``async with acouncil(...) as events``."""
    return AsyncCouncil(_keyed(members), synthesizer, prompt, synthesize, template, call_options)
