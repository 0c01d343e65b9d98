"""User aliases for models (``llmstream aliases set fast gemini-2.5-flash``): a JSON file in the
config directory, next to the key store."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._keystore import config_dir

__all__ = ["aliases_path", "load_aliases", "remove_alias", "resolve_alias", "set_alias"]


def aliases_path() -> Path:
    return config_dir() / "aliases.json"


def load_aliases() -> dict[str, str]:
    path = aliases_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} should hold a JSON object")
    return {str(name): str(model) for name, model in data.items()}


def _write(aliases: dict[str, str]) -> None:
    path = aliases_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(aliases, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def set_alias(name: str, model: str) -> None:
    aliases = load_aliases()
    aliases[name] = model
    _write(aliases)


def remove_alias(name: str) -> bool:
    aliases = load_aliases()
    if aliases.pop(name, None) is None:
        return False
    _write(aliases)
    return True


def resolve_alias(spec: str) -> str:
    """The model an alias stands for; anything else unchanged (an alias never names another alias)."""
    return load_aliases().get(spec, spec)
