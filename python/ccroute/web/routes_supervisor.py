"""Supervisor reads: tenants, queues, agents, today's figures, the month's service levels."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from litestar import Request, get
from litestar.params import Parameter
from msgspec import Meta, Struct

from ccroute.events import Id
from ccroute.web.auth import claims_of, context_of, may_read_tenant, visible_tenants
from ccroute.web.board import now_ms
from ccroute.web.models import AgentStatus, Board, DaySL, QueueBoard
from ccroute.web.problems import ProblemError

__all__ = ["SUPERVISOR_HANDLERS"]

_TAGS = ["supervisor"]
TenantId = Parameter(description="The tenant's id (as in the configuration)")
Month = Annotated[str, Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_MONTH_QUERY = Parameter(
    default=None, pattern=_MONTH_RE.pattern, description="YYYY-MM; default this month"
)
TENANTS_QUERY = Parameter(default=None, description="tenant ids (repeat); default: all visible")


class TenantInfo(Struct):
    id: str
    name: str
    timezone: str


def _tenant(request: Request[Any, Any, Any], tenant: str) -> None:
    claims = claims_of(request)
    may_read_tenant(claims, tenant)
    if tenant not in context_of(request).checker.tenants:
        raise ProblemError(404, "unknown_tenant", f"no tenant {tenant!r}", "path.tenant")


@get("/v1/tenants", summary="The tenants this token may see", tags=_TAGS)
async def tenants(request: Request[Any, Any, Any]) -> list[TenantInfo]:
    claims = claims_of(request)
    ctx = context_of(request)
    return [
        TenantInfo(t.id, t.name or t.id, t.timezone)
        for t in ctx.config.tenants
        if claims.sees_tenant(t.id)
    ]


@get(
    "/v1/tenants/{tenant:str}/queues",
    summary="Each queue: waiting, oldest wait, SL today vs target, agents available",
    tags=_TAGS,
)
async def queues(request: Request[Any, Any, Any], tenant: Id = TenantId) -> list[QueueBoard]:
    _tenant(request, tenant)
    return context_of(request).boards.queues_of(tenant)


@get(
    "/v1/tenants/{tenant:str}/agents",
    summary="The agents serving the tenant: state, reason, time in state, load per channel",
    tags=_TAGS,
)
async def agents(request: Request[Any, Any, Any], tenant: Id = TenantId) -> list[AgentStatus]:
    _tenant(request, tenant)
    return context_of(request).boards.agents_of(tenant, now_ms())


@get(
    "/v1/tenants/{tenant:str}/today",
    summary="The tenant's figures today (offered, answered, SL, abandoned, callbacks)",
    tags=_TAGS,
)
async def today(request: Request[Any, Any, Any], tenant: Id = TenantId) -> dict[str, Any]:
    _tenant(request, tenant)
    return context_of(request).boards.today(tenant) or {"tenant": tenant, "offered": 0}


@get(
    "/v1/tenants/{tenant:str}/days",
    summary="The service level of each day of a month (the wallboard's strip)",
    tags=_TAGS,
)
async def days(
    request: Request[Any, Any, Any],
    tenant: Id = TenantId,
    month: Month | None = _MONTH_QUERY,
) -> list[DaySL]:
    _tenant(request, tenant)
    if month is not None and not _MONTH_RE.match(month):
        raise ProblemError(400, "malformed", f"month {month!r}: use YYYY-MM", "query.month")
    month = month or dt.date.today().isoformat()[:7]
    return context_of(request).boards.month(tenant, month)


@get(
    "/v1/board",
    summary="The wallboard: queues, agents and today's figures of the tenants asked for",
    description="`tenant` may repeat; without it, every tenant the token may see.",
    tags=_TAGS,
)
async def board(
    request: Request[Any, Any, Any],
    tenant: list[Id] | None = TENANTS_QUERY,
) -> Board:
    claims = claims_of(request)
    ctx = context_of(request)
    return ctx.boards.board(visible_tenants(claims, ctx, tenant))


SUPERVISOR_HANDLERS = [tenants, queues, agents, today, days, board]
