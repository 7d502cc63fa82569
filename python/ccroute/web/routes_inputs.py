"""Contact sources: submit one input of the event schema (telephony, chat, CRM, tickets)."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.params import Parameter

from ccroute.events import Id, Input
from ccroute.web.auth import claims_of, context_of, may_submit
from ccroute.web.hub import PublishRefused
from ccroute.web.models import Stored
from ccroute.web.problems import ProblemError

__all__ = ["submit_input"]


_TENANT = Parameter(description="The tenant the input belongs to")


async def store(request: Request[Any, Any, Any], event: Input) -> Stored:
    """Check an input against the configuration, then store it; the ack says duplicate."""
    ctx = context_of(request)
    ctx.checker.check(event)
    try:
        ack = await ctx.hub.publish(event)
    except PublishRefused as exc:
        raise ProblemError(409, "not_stored", f"the input stream refused it: {exc}") from None
    ctx.metrics.inputs.inc()
    return Stored(id=event.id, seq=ack.seq, duplicate=ack.duplicate, subject=ack.subject)


@post(
    "/v1/tenants/{tenant:str}/inputs",
    status_code=200,
    summary="Submit an input (contact event) of the tenant",
    description=(
        "One input of the event schema (docs/events.md), with the producer's own `id`"
        " (the same id again is stored once: `duplicate` is true) and `ts`. Checked against"
        " the configuration first: an unknown tenant, queue, channel or agent is a 422 naming"
        " the field, and nothing enters the log. Roles: integration (own tenant),"
        " provider_supervisor."
    ),
    tags=["contact sources"],
)
async def submit_input(
    request: Request[Any, Any, Any],
    data: Input,
    tenant: Id = _TENANT,
) -> Stored:
    claims = claims_of(request)
    may_submit(claims, tenant)
    own = getattr(data, "tenant", None)
    if own is None:
        raise ProblemError(
            422,
            "malformed",
            "agent inputs go through /v1/agents/{agent}/...; this endpoint takes tenant inputs",
            "$.type",
        )
    if own != tenant:
        raise ProblemError(
            422, "tenant_mismatch", f"the input's tenant is {own!r}, not {tenant!r}", "$.tenant"
        )
    return await store(request, data)
