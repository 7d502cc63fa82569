"""Every refusal as an RFC 9457 problem document; never a stack trace to the client.

``application/problem+json`` with ``type`` (``urn:ccroute:problem:<code>``), ``title``,
``status``, ``detail``, ``instance`` (the request path) and, where one field is to blame,
``field`` (a JSON path such as ``$.channel``). Codes: ``malformed`` (not JSON, wrong type,
unknown field, missing field), ``too_large``, ``unauthorized``, ``forbidden``,
``unknown_tenant`` / ``unknown_queue`` / ``unknown_channel`` / ``unknown_agent`` /
``unknown_contact``, ``not_found``, ``method_not_allowed``, ``not_stored`` (JetStream
refused), ``unavailable`` (NATS down), ``internal`` (a bug: logged, not described).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)

__all__ = ["Problem", "ProblemError", "problem_handlers"]

log = logging.getLogger("ccroute.web")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    field: str | None = None
    code: str = ""


class ProblemError(HTTPException):
    """A refusal the gateway decided on, with its code and the field to blame."""

    def __init__(self, status: int, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail=detail, status_code=status)
        self.code = code
        self.field = field


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Unprocessable input",
    500: "Internal error",
    503: "Service unavailable",
}

_AT = re.compile(r" - at `(\$[^`]*)`$")
_UNKNOWN = re.compile(r"unknown field `([^`]+)`")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def _field_of(message: str) -> tuple[str, str | None]:
    """(message without its location, JSON path of the field) from a msgspec error."""
    m = _AT.search(message)
    path = m.group(1) if m else None
    text = message[: m.start()] if m else message
    for pattern in (_UNKNOWN, _MISSING):
        u = pattern.search(text)
        if u:
            path = f"{path or '$'}.{u.group(1)}"
    return text, path


def _response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    detail: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    ctx = getattr(request.app.state, "ctx", None)
    if ctx is not None:
        ctx.metrics.refused.inc(1, code)
    body = Problem(
        type=f"urn:ccroute:problem:{code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail[:500],
        instance=request.url.path,
        field=field,
        code=code,
    )
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    messages = [str(e.get("message", "")) for e in extra if isinstance(e, dict)]
    raw = messages[0] if messages else str(exc.detail)
    if raw.startswith("JSON is malformed") or "malformed" in raw.lower():
        return _response(request, 400, "malformed", "the body is not valid JSON", "$")
    text, field = _field_of(raw)
    key = next((e.get("key") for e in extra if isinstance(e, dict) and e.get("key")), None)
    source = next((e.get("source") for e in extra if isinstance(e, dict)), None)
    if source == "body" or source is None:
        # Litestar cuts msgspec's " - at `$.x`" off and gives the path as ``key``.
        base = "$" if key in (None, "", "data") else f"$.{key}"
        if field is None:
            field = base
        elif field.startswith("$.") and base != "$":
            field = base + field[1:]
    elif key:
        # ``source`` is a ParamType enum member: its value is "query", "path", ...
        field = f"{getattr(source, 'value', source)}.{key}"
    return _response(request, 400, "malformed", text or "invalid request", field)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, ProblemError):
        return _response(request, exc.status_code, exc.code, exc.detail, exc.field)
    status = exc.status_code
    if status == 413:
        return _response(
            request, 413, "too_large", "the request body is over the gateway's limit", "$"
        )
    if status == 400:
        # A body that is not JSON at all (msgspec's DecodeError, via ClientException).
        detail = f"the body is not valid JSON: {exc.detail}"
        return _response(request, 400, "malformed", detail, "$")
    code = {
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
    }.get(status, "bad_request" if status < 500 else "unavailable")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _response(request, status, code, str(exc.detail), None, headers)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, HTTPException):
        return _http(request, exc)
    if isinstance(exc, RecursionError):
        # limits.check_body stops deep bodies first; this is the belt to those braces.
        return _response(request, 400, "malformed", "the body nests too deeply", "$")
    # NATS being away is not a bug of ours: say so, with 503, so a client retries.
    name = type(exc).__module__
    if name.startswith("nats") or isinstance(exc, TimeoutError | ConnectionError):
        log.warning("nats_unavailable path=%s error=%r", request.url.path, exc)
        return _response(request, 503, "unavailable", "the message bus did not answer; retry")
    log.exception("internal_error path=%s", request.url.path)
    return _response(request, 500, "internal", "an internal error; it has been logged")


problem_handlers: dict[type[Exception] | int, Any] = {
    ValidationException: _validation,
    NotAuthorizedException: _http,
    PermissionDeniedException: _http,
    NotFoundException: _http,
    HTTPException: _http,
    Exception: _internal,
}
