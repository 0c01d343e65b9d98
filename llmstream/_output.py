"""Structured output, sans-IO: an output type's JSON schema, lenient partial objects, final validation.

``output_spec(output_type)`` takes a pydantic model, a dataclass, a ``TypedDict`` or a JSON-schema
dict. pydantic is imported only for pydantic models, dataclasses and TypedDicts (it validates
them); a JSON-schema dict is checked by the small validator here, so it needs nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import BadRequestError, ConfigurationError, LLMStreamError, OutputValidationError

if TYPE_CHECKING:
    from ._adapter import Adapter, Translator
    from ._settings import Request

__all__ = [
    "OutputAdapter", "OutputSpec", "anthropic_format", "anthropic_native", "multi_schema", "note_output_rejection",
    "output_mechanism", "output_spec", "parse_schema_dsl", "response_format", "responses_format",
    "strict_schema",
]

_TRAILING_NUMBER = re.compile(r"[-+0-9.eE]+$")


@attrs.frozen(eq=False)
class OutputSpec:
    """What a provider needs to ask for structured output, and how to read the answer back."""

    output_type: Any
    schema: dict[str, Any]
    name: str
    strict: bool
    _adapter: Any = None

    def validate(self, text: str) -> Any:
        """The validated object; invalid or truncated JSON raises ``OutputValidationError``."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise OutputValidationError(
                f"structured output is not valid JSON: {exc}", raw=text, errors=[str(exc)]
            ) from None
        if self._adapter is not None:
            import pydantic

            try:
                return self._adapter.validate_python(data)
            except pydantic.ValidationError as exc:
                errors = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
                raise OutputValidationError(
                    f"structured output does not match {self.name}: {'; '.join(errors)}", raw=text, errors=errors
                ) from None
        errors = check(data, self.schema)
        if errors:
            raise OutputValidationError(
                f"structured output does not match the schema: {'; '.join(errors)}", raw=text, errors=errors
            )
        return data

    def partial(self, text: str) -> Any:
        """The object so far, leniently: fields complete so far; never raises (None before any)."""
        if not text.strip():
            return None
        import jiter

        # A number at the very end may still grow ("1" → "18.5"): it is not complete yet.
        text = text.rstrip()
        if not _in_string(text):
            text = _TRAILING_NUMBER.sub("", text)
        try:
            data = jiter.from_json(text.encode(), partial_mode="trailing-strings")
        except ValueError:
            return None
        model = self.output_type
        if isinstance(data, dict) and isinstance(model, type) and hasattr(model, "model_construct"):
            fields = getattr(model, "model_fields", {})
            return model.model_construct(**{k: v for k, v in data.items() if k in fields})
        return data


def response_format(spec: OutputSpec) -> dict[str, Any]:
    """OpenAI chat (and OpenRouter / compatible servers): ``response_format`` of type ``json_schema``."""
    json_schema: dict[str, Any] = {"name": spec.name, "schema": spec.schema}
    if spec.strict:
        json_schema.update(schema=strict_schema(spec.schema), strict=True)
    return {"type": "json_schema", "json_schema": json_schema}


def responses_format(spec: OutputSpec) -> dict[str, Any]:
    """OpenAI Responses: ``text={"format": ...}`` of type ``json_schema``."""
    fmt: dict[str, Any] = {"type": "json_schema", **response_format(spec)["json_schema"]}
    return {"format": fmt}


_CLAUDE = re.compile(r"claude-(opus|sonnet|haiku)-(\d+)(?:[-.](\d{1,2})(?!\d))?")


def anthropic_native(model: str) -> bool:
    """Whether an Anthropic model takes native structured outputs (``output_config.format``): Claude
    Sonnet, Opus and Haiku 4.5 and newer. Older models (Opus 4.1 included, whose support was a beta
    only) get a forced tool instead."""
    found = _CLAUDE.search(model)
    return found is not None and (int(found[2]), int(found[3] or 0)) >= (4, 5)


def anthropic_format(spec: OutputSpec) -> dict[str, Any]:
    """Anthropic ``output_config.format``: the schema as the API takes it (every object closed;
    constraints it does not enforce, like ``minimum``, moved into descriptions by the SDK's own helper)."""
    schema: dict[str, Any] = strict_schema(spec.schema)
    try:
        from anthropic.lib._parse._transform import transform_schema

        schema = transform_schema(spec.schema)
    except (ImportError, ValueError, TypeError):  # an SDK without the helper, or a schema it cannot take
        pass
    return {"type": "json_schema", "schema": schema}


def output_mechanism(provider: str, model: str) -> str:
    """How a provider was asked for structured output: what a request it rejected had in it."""
    if provider == "anthropic":
        return "output_config.format json_schema" if anthropic_native(model) else "a forced tool (tool_choice)"
    if provider == "openai-responses":
        return "text.format json_schema"
    if provider in ("gemini", "vertex"):
        return "response_mime_type application/json with response_json_schema"
    return "response_format json_schema"


def note_output_rejection(error: LLMStreamError, mechanism: str) -> LLMStreamError:
    """A 400/422 to a request that asked for structured output says so: the server may not take it
    (many OpenAI-compatible servers do not), and the caller must know; nothing falls back to prose."""
    rejected = isinstance(error, BadRequestError) and error.status_code in (None, 400, 422)
    if rejected and "structured output" not in error.message:
        error.message = f"{error.message} (the request asked for structured output: {mechanism})"
        error.args = (error.message,)
    return error


class OutputAdapter:
    """A provider adapter for a request with structured output: the same, but a rejected request's
    error names the structured output it asked for."""

    __slots__ = ("_inner", "_mechanism", "provider")

    def __init__(self, inner: Adapter, mechanism: str) -> None:
        self._inner = inner
        self._mechanism = mechanism
        self.provider = inner.provider

    def warm(self, asynchronous: bool) -> None:
        self._inner.warm(asynchronous)

    def open(self, request: Request) -> Any:
        return self._inner.open(request)

    async def aopen(self, request: Request) -> Any:
        return await self._inner.aopen(request)

    def translator(self, request: Request) -> Translator:
        return self._inner.translator(request)

    def map_error(self, exc: BaseException) -> LLMStreamError:
        return note_output_rejection(self._inner.map_error(exc), self._mechanism)

    def close(self, native: Any) -> None:
        self._inner.close(native)

    async def aclose(self, native: Any) -> None:
        await self._inner.aclose(native)

    def hard_cancel(self, native: Any) -> None:
        self._inner.hard_cancel(native)


def _in_string(text: str) -> bool:
    """Whether ``text`` ends inside a JSON string (an odd number of unescaped quotes)."""
    inside = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = inside
        elif char == '"':
            inside = not inside
    return inside


def output_spec(output_type: Any) -> OutputSpec:
    """The spec of a pydantic model, dataclass, TypedDict or JSON-schema dict."""
    if isinstance(output_type, OutputSpec):
        return output_type
    if isinstance(output_type, Mapping):
        schema = copy.deepcopy(dict(output_type))
        if schema.get("type") not in (None, "object", "array"):
            raise ConfigurationError("output_type as a JSON schema must describe an object or an array")
        name = _safe_name(str(schema.get("title") or "output"))
        return OutputSpec(output_type, schema, name, _strict_able(schema))
    if not isinstance(output_type, type):
        raise ConfigurationError(
            f"output_type must be a pydantic model, a dataclass, a TypedDict or a JSON-schema dict, "
            f"not {type(output_type).__name__}"
        )
    is_model = hasattr(output_type, "model_json_schema")
    is_typed_dict = isinstance(getattr(output_type, "__annotations__", None), dict) and issubclass(output_type, dict)
    if not (is_model or dataclasses.is_dataclass(output_type) or is_typed_dict):
        raise ConfigurationError(
            f"output_type {output_type.__name__} is not a pydantic model, dataclass or TypedDict"
        )
    try:
        import pydantic
    except ImportError as exc:  # pragma: no cover - pydantic ships with every vendor SDK
        raise ConfigurationError("pydantic is needed for typed output; or pass a JSON-schema dict") from exc
    try:
        adapter = pydantic.TypeAdapter(output_type)
        schema = adapter.json_schema()
    except pydantic.PydanticUserError as exc:
        raise ConfigurationError(f"output_type {output_type.__name__}: {exc}") from None
    return OutputSpec(output_type, schema, _safe_name(output_type.__name__), _strict_able(schema), adapter)


def _safe_name(name: str) -> str:
    """Vendors accept ``[a-zA-Z0-9_-]{1,64}`` as a schema or tool name."""
    return (re.sub(r"[^a-zA-Z0-9_-]", "_", name) or "output")[:64]


def _strict_able(schema: Any) -> bool:
    """OpenAI's strict mode needs every object closed and every property required."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            properties = schema.get("properties") or {}
            if set(schema.get("required") or ()) != set(properties):
                return False
            if schema.get("additionalProperties", False) not in (False,):
                return False
        return all(_strict_able(v) for k, v in schema.items() if k != "default")
    if isinstance(schema, list):
        return all(_strict_able(v) for v in schema)
    return True


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy with ``additionalProperties: false`` on every object (what strict mode also requires)."""

    def close(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: close(v) for k, v in node.items()}
            if node.get("type") == "object" or "properties" in node:
                node.setdefault("additionalProperties", False)
            return node
        if isinstance(node, list):
            return [close(v) for v in node]
        return node

    result: dict[str, Any] = close(schema)
    return result


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def check(value: Any, schema: Any, path: str = "") -> list[str]:
    """A small JSON-schema check (type, required, properties, items, enum, anyOf, $ref to $defs)."""
    return _check(value, schema, path or "<root>", schema if isinstance(schema, dict) else {})


def _check(value: Any, schema: Any, path: str, root: dict[str, Any]) -> list[str]:
    if not isinstance(schema, dict):
        return []
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _check(value, target, path, root)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        failures = [_check(value, option, path, root) for option in options]
        return [] if any(not f for f in failures) else failures[0]
    errors: list[str] = []
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(_is(value, k) for k in kinds):
        return [f"{path}: expected {'/'.join(kinds)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        for name in schema.get("required") or ():
            if name not in value:
                errors.append(f"{path}.{name}: required")
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                errors.extend(_check(value[name], sub, f"{path}.{name}", root))
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            errors.extend(_check(item, schema["items"], f"{path}[{index}]", root))
    return errors


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


_DSL_TYPES = {
    "str": "string", "int": "integer", "float": "number", "bool": "boolean",
    # the JSON-schema names too (simonw/llm reads any unknown word as str; we say so instead)
    "string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
}


def multi_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``--schema-multi``: a list of ``schema`` objects, as ``{"items": [...]}`` (what simonw/llm sends)."""
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": schema}},
        "required": ["items"],
        "additionalProperties": False,
    }


def parse_schema_dsl(text: str, *, multi: bool = False) -> dict[str, Any]:
    """simonw/llm's concise schema syntax: ``'name str, age int, bio: a short bio'``.

    Fields are separated by newlines when the text has more than one line, else by commas (so a
    description may hold commas in the newline form). Each field is ``name [type][: description]``
    with type ``str`` (the default), ``int``, ``float`` or ``bool`` (or their JSON-schema names
    ``string``, ``integer``, ``number``, ``boolean``). Every field is required and the object is
    closed (``additionalProperties: false``), so OpenAI's strict mode takes it. ``multi`` wraps it
    as ``{"items": [...]}``. Unlike simonw/llm, an unknown type, a field with more than a name and
    a type before its ``:``, a repeated name, or no field at all is a ``ConfigurationError``.
    """
    properties: dict[str, Any] = {}
    separator = "\n" if "\n" in text.strip() else ","
    for raw in text.split(separator):
        field = raw.strip()
        if not field:
            continue
        head, _, description = field.partition(":")
        words = head.split()
        if not words:
            raise ConfigurationError(f"schema field {field!r} is missing a name before ':'")
        if len(words) > 2:
            raise ConfigurationError(f"cannot read schema field {field!r}: expected 'name [type][: description]'")
        name, kind = words[0], words[1] if len(words) == 2 else "str"
        if kind not in _DSL_TYPES:
            raise ConfigurationError(f"unknown type {kind!r} in schema field {field!r}; use str, int, float or bool")
        if name in properties:
            raise ConfigurationError(f"schema field {name!r} is given twice")
        prop: dict[str, Any] = {"type": _DSL_TYPES[kind]}
        if description.strip():
            prop["description"] = description.strip()
        properties[name] = prop
    if not properties:
        raise ConfigurationError("the schema has no fields (e.g. 'name str, age int, bio: a short bio')")
    schema = {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
    return multi_schema(schema) if multi else schema
