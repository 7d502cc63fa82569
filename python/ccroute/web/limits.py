"""Limits on request bodies, checked before anything decodes them.

The size limit (64 KiB, :data:`ccroute.limits.MAX_INPUT_BYTES`) is also the ASGI
framework's (``request_max_body_size``: read no more than that). Nesting, string length
and entries per list or map are checked here by the core's flat scan of the bytes, with
the numbers every input is held to (:mod:`ccroute.limits`, ``docs/events.md``), before the
JSON decoder's recursive descent could see a deep document. No body of this API nests
deeper than 3 (an input's ``skills`` list of objects), so a body the gateway accepts is
never one the engine would refuse for its shape.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from ccroute import limits
from ccroute.web.problems import ProblemError

__all__ = ["MAX_BODY_BYTES", "MAX_NESTING", "body_problem", "check_body"]

MAX_BODY_BYTES = limits.MAX_INPUT_BYTES
MAX_NESTING = limits.MAX_DEPTH


def body_problem(body: bytes) -> tuple[str | None, str] | None:
    """``None`` when ``body`` is within the input limits, else (limit name, message)."""
    try:
        limits.check_input(body, "json")
    except limits.InputLimitExceeded as exc:
        return exc.limit, str(exc)
    return None


async def check_body(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: refuse a body over an input limit, naming the limit."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    found = body_problem(await request.body())
    if found is not None:
        raise ProblemError(400, "malformed", found[1], "$")
