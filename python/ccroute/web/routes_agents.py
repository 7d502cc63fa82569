"""The agent desktop's actions: presence, offers, work, transfer, callback results.

Each action becomes one input of the event schema, stored in the log with an ``id``
(given, or new) and ``ts`` = now; the answer is the stored input's sequence and whether
it was a duplicate. The engine's answer (an offer, an assignment, a state) arrives on the
agent's stream (``GET /v1/agents/{agent}/stream``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from litestar import Request, get, post
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


async def _act(request: Request[Any, Any, Any], event: Input) -> Stored:
    return await store(request, event)


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


@post("/v1/agents/{agent:str}/login", status_code=200, summary="Log in", tags=_TAGS)
async def login(request: Request[Any, Any, Any], data: LoginBody, agent: Id = AgentId) -> Stored:
    _agent(request, agent)
    ev = AgentLoggedIn(**_stamp(data), agent=agent, state=data.state, reason=data.reason)
    return await _act(request, ev)


@post("/v1/agents/{agent:str}/logout", status_code=200, summary="Log out", tags=_TAGS)
async def logout(request: Request[Any, Any, Any], data: LogoutBody, agent: Id = AgentId) -> Stored:
    _agent(request, agent)
    return await _act(request, AgentLoggedOut(**_stamp(data), agent=agent))


@post(
    "/v1/agents/{agent:str}/state",
    status_code=200,
    summary="Set presence: available, a pause with its reason code, or offline",
    tags=_TAGS,
)
async def set_state(
    request: Request[Any, Any, Any], data: StateBody, agent: Id = AgentId
) -> Stored:
    _agent(request, agent)
    ev = AgentStateChanged(**_stamp(data), agent=agent, state=data.state, reason=data.reason)
    return await _act(request, ev)


@post("/v1/agents/{agent:str}/accept", status_code=200, summary="Accept an offer", tags=_TAGS)
async def accept(request: Request[Any, Any, Any], data: AcceptBody, agent: Id = AgentId) -> Stored:
    _contact(request, agent, data)
    ev = OfferAccepted(**_stamp(data), tenant=data.tenant, contact=data.contact, agent=agent)
    return await _act(request, ev)


@post("/v1/agents/{agent:str}/reject", status_code=200, summary="Reject an offer", tags=_TAGS)
async def reject(request: Request[Any, Any, Any], data: RejectBody, agent: Id = AgentId) -> Stored:
    _contact(request, agent, data)
    ev = OfferRejected(
        **_stamp(data), tenant=data.tenant, contact=data.contact, agent=agent, reason=data.reason
    )
    return await _act(request, ev)


@post(
    "/v1/agents/{agent:str}/complete",
    status_code=200,
    summary="Complete a contact, with wrap-up code and tags",
    tags=_TAGS,
)
async def complete(
    request: Request[Any, Any, Any], data: CompleteBody, agent: Id = AgentId
) -> Stored:
    _contact(request, agent, data)
    ev = ContactCompleted(
        **_stamp(data),
        tenant=data.tenant,
        contact=data.contact,
        agent=agent,
        wrap_up_code=data.wrap_up_code,
        tags=list(data.tags),
        resolved=data.resolved,
    )
    return await _act(request, ev)


@post(
    "/v1/agents/{agent:str}/wrap-up-done",
    status_code=200,
    summary="End after-contact work (capacity free again)",
    tags=_TAGS,
)
async def wrap_up_done(
    request: Request[Any, Any, Any], data: WrapUpDoneBody, agent: Id = AgentId
) -> Stored:
    _contact(request, agent, data)
    ev = WrapUpFinished(**_stamp(data), tenant=data.tenant, contact=data.contact, agent=agent)
    return await _act(request, ev)


@post(
    "/v1/agents/{agent:str}/transfer",
    status_code=200,
    summary="Transfer a contact to a queue, an agent, or the client's own team",
    tags=_TAGS,
)
async def transfer(
    request: Request[Any, Any, Any], data: TransferBody, agent: Id = AgentId
) -> Stored:
    _contact(request, agent, data)
    ev = ContactTransferred(
        **_stamp(data),
        tenant=data.tenant,
        contact=data.contact,
        agent=agent,
        to_queue=data.to_queue,
        to_agent=data.to_agent,
        handoff=data.handoff,
    )
    return await _act(request, ev)


@post(
    "/v1/agents/{agent:str}/callback-result",
    status_code=200,
    summary="Report how a callback dial went",
    tags=_TAGS,
)
async def callback_result(
    request: Request[Any, Any, Any], data: CallbackResultBody, agent: Id = AgentId
) -> Stored:
    _contact(request, agent, data)
    ev = CallbackResult(
        **_stamp(data), tenant=data.tenant, contact=data.contact, agent=agent, outcome=data.outcome
    )
    return await _act(request, ev)


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
