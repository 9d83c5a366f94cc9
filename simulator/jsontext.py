"""Compact JSON text as the simulator writes it: a Decimal becomes a number literal with its exact digits."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

# The C-accelerated encoder writes most events; it refuses a Decimal, which only the slow path spells exactly.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def to_json(value: Any) -> str:
    """Compact JSON of dicts, lists, strings, ints, bools, None and Decimals (json.dumps cannot write a Decimal)."""
    try:
        return _COMPACT.encode(value)
    except TypeError:
        return _with_decimals(value)


def _with_decimals(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{_with_decimals(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_with_decimals(item) for item in value) + "]"
    return json.dumps(value)
