"""The agent desktop's actions: presence, offers, work, transfer, callback results.

Each action becomes one input of the event schema, stored in the log with an ``id``
(given, or new) and ``ts`` = now; the answer is the stored input's sequence and whether
it was a duplicate. The engine's answer (an offer, an assignment, a state) arrives on the
agent's stream (``GET /v1/agents/{agent}/stream``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter
from msgspec import Struct

from ccroute.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallbackResult,
    ContactCompleted,
    ContactTransferred,
    Id,
    Input,
    OfferAccepted,
    OfferRejected,
    WrapUpFinished,
)
from ccroute.web.auth import claims_of, context_of, may_act_as_agent
from ccroute.web.board import now_ms
from ccroute.web.models import (
    AcceptBody,
    AgentStatus,
    CallbackResultBody,
    CompleteBody,
    LoginBody,
    LogoutBody,
    RejectBody,
    StateBody,
    Stored,
    TransferBody,
    WrapUpDoneBody,
    _ContactBody,
)
from ccroute.web.problems import ProblemError
from ccroute.web.routes_inputs import store

__all__ = ["AGENT_HANDLERS"]

AgentId = Parameter(description="The agent's id (as in the configuration)")
_TAGS = ["agent desktop"]
BodyT = TypeVar("BodyT", bound=Struct)


def _new_id() -> str:
    return f"web-{uuid.uuid4().hex[:22]}"


def _stamp(body: Any) -> dict[str, Any]:
    return {"id": body.id or _new_id(), "ts": int(time.time() * 1000)}


def _agent(request: Request[Any, Any, Any], agent: str) -> None:
    claims = claims_of(request)
    may_act_as_agent(claims, agent)
    context_of(request).checker.agent(agent, "path.agent")


def _contact(request: Request[Any, Any, Any], agent: str, body: _ContactBody) -> None:
    """The agent's own, a known tenant, and one the agent serves."""
    _agent(request, agent)
    ctx = context_of(request)
    ctx.checker.tenant(body.tenant)
    cfg = ctx.boards.agent_cfg.get(agent)
    if cfg is not None and "*" not in cfg.tenants and body.tenant not in cfg.tenants:
        raise ProblemError(
            403, "forbidden", f"agent {agent!r} does not serve tenant {body.tenant!r}", "$.tenant"
        )


@get("/v1/agents/{agent:str}", summary="The agent's presence and load", tags=_TAGS)
async def agent_status(request: Request[Any, Any, Any], agent: Id = AgentId) -> AgentStatus:
    _agent(request, agent)
    return context_of(request).boards.agent_status(agent, now_ms())


class QueueRef(Struct):
    tenant: str
    queue: str
    channels: list[str]


class AgentRef(Struct):
    agent: str
    name: str
    tenants: list[str]


class Directory(Struct):
    """Where the agent can transfer to: the queues of its tenants and their agents."""

    tenants: dict[str, str]
    queues: list[QueueRef]
    agents: list[AgentRef]


@get(
    "/v1/agents/{agent:str}/directory",
    summary="Tenants, queues and colleagues the agent can transfer to",
    tags=_TAGS,
)
async def directory(request: Request[Any, Any, Any], agent: Id = AgentId) -> Directory:
    _agent(request, agent)
    cfg = context_of(request).config
    me = next((a for a in cfg.agents if a.id == agent), None)
    served = set(me.tenants) if me else {"*"}

    def serves(tenants: list[str] | set[str], tenant: str) -> bool:
        return "*" in tenants or tenant in tenants

    mine = [t for t in cfg.tenants if serves(served, t.id)]
    ids = {t.id for t in mine}
    return Directory(
        tenants={t.id: t.name or t.id for t in mine},
        queues=[QueueRef(q.tenant, q.id, list(q.channels)) for q in cfg.queues if q.tenant in ids],
        agents=[
            AgentRef(a.id, a.name or a.id, list(a.tenants))
            for a in cfg.agents
            if a.id != agent and any(serves(a.tenants, t) for t in ids)
        ],
    )


def _as_agent(request: Request[Any, Any, Any], agent: str, body: object) -> None:
    """Presence actions: the agent's own, nothing about a contact to check."""
    _agent(request, agent)


def _action(
    name: str,
    path: str,
    summary: str,
    body: type[BodyT],
    check: Callable[[Request[Any, Any, Any], str, BodyT], None],
    event: Callable[[BodyT, str, dict[str, Any]], Input],
) -> HTTPRouteHandler:
    """``POST /v1/agents/{agent}/<path>``: check who may act, store the input, answer Stored.

    Every action has the same shape and differs only in its body, its check and the input
    it makes; ``name`` is the handler's name, which the OpenAPI operation id is made of.
    """

    async def handler(request: Request[Any, Any, Any], data: Any, agent: Id = AgentId) -> Stored:
        check(request, agent, data)
        return await store(request, event(data, agent, _stamp(data)))

    handler.__name__ = handler.__qualname__ = name
    # The body type is what the request is decoded into and what the schema documents.
    handler.__annotations__ = {**handler.__annotations__, "data": body}
    route: HTTPRouteHandler = post(
        f"/v1/agents/{{agent:str}}/{path}", status_code=200, summary=summary, tags=_TAGS
    )(handler)
    return route


login = _action(
    "login",
    "login",
    "Log in",
    LoginBody,
    _as_agent,
    lambda d, agent, stamp: AgentLoggedIn(**stamp, agent=agent, state=d.state, reason=d.reason),
)
logout = _action(
    "logout",
    "logout",
    "Log out",
    LogoutBody,
    _as_agent,
    lambda d, agent, stamp: AgentLoggedOut(**stamp, agent=agent),
)
set_state = _action(
    "set_state",
    "state",
    "Set presence: available, a pause with its reason code, or offline",
    StateBody,
    _as_agent,
    lambda d, agent, stamp: AgentStateChanged(**stamp, agent=agent, state=d.state, reason=d.reason),
)
accept = _action(
    "accept",
    "accept",
    "Accept an offer",
    AcceptBody,
    _contact,
    lambda d, agent, stamp: OfferAccepted(**stamp, tenant=d.tenant, contact=d.contact, agent=agent),
)
reject = _action(
    "reject",
    "reject",
    "Reject an offer",
    RejectBody,
    _contact,
    lambda d, agent, stamp: OfferRejected(
        **stamp, tenant=d.tenant, contact=d.contact, agent=agent, reason=d.reason
    ),
)
complete = _action(
    "complete",
    "complete",
    "Complete a contact, with wrap-up code and tags",
    CompleteBody,
    _contact,
    lambda d, agent, stamp: ContactCompleted(
        **stamp,
        tenant=d.tenant,
        contact=d.contact,
        agent=agent,
        wrap_up_code=d.wrap_up_code,
        tags=list(d.tags),
        resolved=d.resolved,
    ),
)
wrap_up_done = _action(
    "wrap_up_done",
    "wrap-up-done",
    "End after-contact work (capacity free again)",
    WrapUpDoneBody,
    _contact,
    lambda d, agent, stamp: WrapUpFinished(
        **stamp, tenant=d.tenant, contact=d.contact, agent=agent
    ),
)
transfer = _action(
    "transfer",
    "transfer",
    "Transfer a contact to a queue, an agent, or the client's own team",
    TransferBody,
    _contact,
    lambda d, agent, stamp: ContactTransferred(
        **stamp,
        tenant=d.tenant,
        contact=d.contact,
        agent=agent,
        to_queue=d.to_queue,
        to_agent=d.to_agent,
        handoff=d.handoff,
    ),
)
callback_result = _action(
    "callback_result",
    "callback-result",
    "Report how a callback dial went",
    CallbackResultBody,
    _contact,
    lambda d, agent, stamp: CallbackResult(
        **stamp, tenant=d.tenant, contact=d.contact, agent=agent, outcome=d.outcome
    ),
)


AGENT_HANDLERS = [
    agent_status,
    directory,
    login,
    logout,
    set_state,
    accept,
    reject,
    complete,
    wrap_up_done,
    transfer,
    callback_result,
]
