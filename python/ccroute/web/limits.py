"""Limits on request bodies, checked before anything decodes them.

The size limit (64 KiB) is the ASGI framework's (``request_max_body_size``: read no more
than that). Nesting is checked here, by one linear scan of the bytes, before the JSON
decoder's recursive descent could see a deep document: no body of this API nests deeper
than 3 (an input's ``skills`` list of objects), so 16 leaves room and refuses abuse.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from ccroute.web.problems import ProblemError

__all__ = ["MAX_NESTING", "check_body", "nesting_depth"]

MAX_NESTING = 16
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


def nesting_depth(body: bytes, stop_at: int = MAX_NESTING) -> int:
    """The deepest nesting of arrays and objects (strings skipped), up to ``stop_at + 1``."""
    # Most bodies cannot be deep at all: as many brackets as the limit is a quick no.
    if body.count(b"[") + body.count(b"{") <= stop_at:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_at:
                    return deepest
        elif byte in _CLOSE:
            depth -= 1
    return deepest


async def check_body(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: refuse a body nested deeper than :data:`MAX_NESTING`."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    body = await request.body()
    if nesting_depth(body) > MAX_NESTING:
        raise ProblemError(
            400, "malformed", f"the body nests deeper than {MAX_NESTING} levels", "$"
        )
