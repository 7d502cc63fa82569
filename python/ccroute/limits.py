"""The limits every input is held to before anything recursive reads it.

msgspec, like every decoder, recurses once per level of nesting: a 2 KB input nested a
thousand levels deep once stopped ``ccroute serve`` with a ``RecursionError``, on every
restart, because the input stays in the log. So each payload is measured first by a flat
byte scan (size, nesting, string length, entries per list or map) and decoded only when it
is within every limit; over a limit it is ``malformed``, with the limit's name, and is not
read further.

These are the numbers of ``router_core/src/limits.rs`` (``tests/test_limits.py`` holds the
two equal), documented in ``docs/events.md`` ("Limits"). The scan itself is the core's
(``_core.InputLimits``), run with the numbers below, so the schema side and the engine
refuse exactly the same bytes.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ccroute import _core

__all__ = [
    "DEFAULT_MAX_AGENTS",
    "MAX_DEPTH",
    "MAX_ECHO_BYTES",
    "MAX_INPUT_BYTES",
    "MAX_ITEMS",
    "MAX_MESSAGE_BYTES",
    "MAX_STRING_BYTES",
    "InputLimitExceeded",
    "bounded",
    "check_input",
]

MAX_INPUT_BYTES = 65_536
"""Most bytes in one encoded input (JSON or MessagePack)."""
MAX_DEPTH = 8
"""Deepest nesting of lists and maps; the input's own map is level 1 (a valid input needs 3)."""
MAX_STRING_BYTES = 4_096
"""Most encoded bytes of one string, key or value (in JSON between the quotes, as written)."""
MAX_ITEMS = 1_000
"""Most entries in one list or map."""
MAX_ECHO_BYTES = 128
"""Most bytes of an over-long value that a rejection or dead letter echoes."""
MAX_MESSAGE_BYTES = 512
"""Most bytes of a rejection's message (it may quote a value)."""
DEFAULT_MAX_AGENTS = 100_000
"""The default of ``routing.max_agents``."""

_limits = _core.InputLimits(MAX_INPUT_BYTES, MAX_DEPTH, MAX_STRING_BYTES, MAX_ITEMS)
_check_json = _limits.check_json
_check_msgpack = _limits.check_msgpack


class InputLimitExceeded(msgspec.DecodeError):
    """An input over a limit, or MessagePack bytes that are not one whole value.

    A ``msgspec.DecodeError``, so every caller that handles undecodable input handles it.
    ``limit`` names the limit (``max_depth``, ...), or is ``None`` for broken structure.
    """

    def __init__(self, limit: str | None, message: str) -> None:
        super().__init__(message)
        self.limit = limit


def check_input(data: bytes, format: Literal["json", "msgpack"] = "json") -> None:
    """Raise :class:`InputLimitExceeded` if ``data`` is over a limit; decode nothing.

    The scan is the core's (about 100 ns for a typical input, a loop over the bytes with a
    fixed-size stack), run with this module's numbers.
    """
    found = _check_json(data) if format == "json" else _check_msgpack(data)
    if found is not None:
        raise InputLimitExceeded(*found)


def bounded(text: str, max_bytes: int = MAX_ECHO_BYTES) -> str:
    """``text`` when at most ``max_bytes`` UTF-8 bytes, else its first ``max_bytes`` (cut at
    a character) and how long it was: ``abc…(10485760 bytes)``."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= max_bytes:
        return text
    cut = raw[:max_bytes].decode("utf-8", "ignore")
    return f"{cut}…({len(raw)} bytes)"
