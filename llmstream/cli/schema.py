"""``--schema`` / ``--schema-multi``: structured output on the command line.

The schema is simonw/llm's concise syntax (``'name str, age int, bio: a short bio'``), a JSON-schema
file, or inline JSON. While the object streams nothing reaches stdout (a spinner on a terminal says
how far it got); at the end stdout gets the validated object once, as JSON, so that
``llmstream --schema 'name, age int' 'invent a dog' | jq .age`` works. Reasoning (``--reasoning``)
and tool calls go to stderr as usual.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from .._errors import ConfigurationError, LLMStreamError
from .._output import multi_schema, output_spec, parse_schema_dsl
from .._types import ChunkType, Completion, StreamedChunk
from .args import UsageError
from .render import Renderer, Spinner, Style, format_tool_call

__all__ = ["SchemaRenderer", "load_schema", "output_json"]


def load_schema(value: str, *, multi: bool = False) -> dict[str, Any]:
    """The JSON schema a ``--schema`` value names: inline JSON, a file, else the concise syntax."""
    flag = "--schema-multi" if multi else "--schema"
    text = value.strip()
    if not text:
        raise UsageError(f"{flag} needs a schema, e.g. 'name str, age int'")
    schema: Any
    if text.startswith("{"):
        try:
            schema = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{flag}: not valid JSON: {exc}") from None
    elif _looks_like_a_path(text):
        path = Path(text).expanduser()
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{flag} {text}: no such file (a concise schema looks like 'name str, age int')") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{flag} {text}: {exc}") from None
        except ValueError as exc:
            raise UsageError(f"{flag} {text}: the file is not valid JSON: {exc}") from None
    else:
        try:
            schema = parse_schema_dsl(value)
        except ConfigurationError as exc:
            raise UsageError(f"{flag}: {exc.message}") from None
    if not isinstance(schema, dict):
        raise UsageError(f"{flag}: a JSON schema is an object, not {type(schema).__name__}")
    result: dict[str, Any] = multi_schema(schema) if multi else schema
    try:
        output_spec(result)
    except ConfigurationError as exc:
        raise UsageError(f"{flag}: {exc.message}") from None
    return result


def _looks_like_a_path(text: str) -> bool:
    """An existing file, or one word that ends in ``.json`` or has a directory in it."""
    if Path(text).expanduser().is_file():
        return True
    one_word = not any(sep in text for sep in (" ", ",", "\n", ":"))
    return one_word and (text.endswith(".json") or "/" in text or text.startswith("~"))


def output_json(value: Any) -> Any:
    """The validated object as JSON data (a pydantic model is dumped; dicts and lists are as they are)."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


class SchemaRenderer(Renderer):
    """Nothing on stdout while the object streams; the validated object as JSON at the end."""

    def __init__(self, out: TextIO, err: TextIO, *, reasoning: bool = False, spinner: Spinner | None = None) -> None:
        self.out, self.err = out, err
        self.show_reasoning = reasoning
        self.spinner = spinner
        self.style = Style(err)
        self._received = 0  # characters of JSON so far (the spinner's label)
        self._reasoning_open = False

    def _quiet_spinner(self) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None

    def chunk(self, chunk: StreamedChunk) -> None:
        kind = chunk.type
        if kind is ChunkType.TEXT:
            self._received += len(chunk.text or "")
            if self.spinner is not None:
                self.spinner.label = f"receiving JSON ({self._received} characters)"
        elif kind is ChunkType.REASONING and self.show_reasoning and chunk.text:
            self._quiet_spinner()
            self._reasoning_open = not chunk.text.endswith("\n")
            self.err.write(self.style.dim(chunk.text))
            self.err.flush()
        elif kind is ChunkType.TOOL_CALL_END and chunk.tool_call is not None:
            self._quiet_spinner()
            self._end_reasoning()
            self.err.write(format_tool_call(chunk.tool_call, self.style) + "\n")
            self.err.flush()

    def _end_reasoning(self) -> None:
        if self._reasoning_open:
            self._reasoning_open = False
            self.err.write("\n")

    def finish(self, completion: Completion, error: LLMStreamError | None = None, **extra: Any) -> None:
        self._quiet_spinner()
        self._end_reasoning()
        if error is None and completion.output is not None:
            self.out.write(json.dumps(output_json(completion.output), ensure_ascii=False, indent=2) + "\n")
        self.out.flush()
        self.err.flush()
