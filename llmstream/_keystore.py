"""The key store: API keys saved by ``llmstream keys set PROVIDER``, one JSON file in the user's
config directory, mode 0600.

A client reads it only after the provider's environment variable (the variable always wins). A
file that its group or other users can read is refused, as ssh refuses such a private key: the
key may already have leaked, and silently using it would hide that. Keys never appear in errors.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from ._errors import ConfigurationError

__all__ = ["config_dir", "delete_key", "keys_path", "load_keys", "save_key", "stored_key"]


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/llmstream`` (default ``~/.config/llmstream``; the platform's own elsewhere)."""
    home = Path.home()
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "llmstream"


def keys_path() -> Path:
    return config_dir() / "keys.json"


def _check_private(path: Path) -> None:
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"refusing to read the key store {path}: it is readable by other users "
            f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
        )


def load_keys(path: Path | None = None) -> dict[str, str]:
    """Every stored key by provider name; ``{}`` when there is no store yet."""
    path = path or keys_path()
    if not path.exists():
        return {}
    _check_private(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError:
        raise ConfigurationError(f"the key store {path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"the key store {path} should hold a JSON object")
    return {str(name): str(value) for name, value in data.items() if value}


def stored_key(provider: str) -> str | None:
    """The stored key of one provider (``gemini`` and ``google`` share one), or None."""
    keys = load_keys()
    return keys.get(provider) or (keys.get("gemini") if provider == "google" else None)


def _write(path: Path, keys: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    # Created 0600 from the first byte: never a moment where another user could read it.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=2, sort_keys=True)
        handle.write("\n")
    if os.name == "posix":
        os.chmod(temporary, 0o600)  # O_CREAT's mode is masked by the umask, and an old .tmp keeps its own
    os.replace(temporary, path)


def save_key(provider: str, key: str, path: Path | None = None) -> Path:
    path = path or keys_path()
    keys = load_keys(path)
    keys[provider] = key
    _write(path, keys)
    return path


def delete_key(provider: str, path: Path | None = None) -> bool:
    path = path or keys_path()
    keys = load_keys(path)
    if keys.pop(provider, None) is None:
        return False
    _write(path, keys)
    return True
