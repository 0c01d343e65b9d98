"""The ``llmstream`` command (also ``python -m llmstream``): the only package of llmstream that prints.

Modules: ``main`` (argument parsing and the prompt/logs commands), ``render`` (text and NDJSON
output, spinner, stats line), ``demo`` (the no-key demo session) and ``history`` (the SQLite
conversation history behind ``-c``/``--cid`` and ``llmstream logs``).
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
