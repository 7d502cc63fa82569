"""Live streams as Server-Sent Events (``text/event-stream``), read with ``fetch``.

``GET /v1/agents/{agent}/stream`` (agent: own; provider supervisor):

- ``event: status``: the agent's presence and load (``AgentStatus``), first, then each
  time the presence in the agent's projection changes (state, reason, since, capacity; a
  few tens of ms after the decision behind it). Load alone changes with every offer: a
  desktop counts it from the decisions (offers, assignments, closes) it is sent;
- ``event: decision``: each decision concerning the agent as the engine published it
  (``offer_made``, ``offer_expired``, ``offer_revoked``, ``contact_assigned``,
  ``wrap_up_started``, ``wrap_up_ended``, ``contact_closed``, ``agent_state_set``, ...);
  an ``offer_made`` comes as ``event: offer`` with ``{"offer": <decision>, "details":
  {arrived_at, language, priority, customer, tags, page} | null}``.

``GET /v1/board/stream?tenant=...`` (supervisors): ``event: board`` with the whole
``Board`` at once, then again within 250 ms of any change of its projections, and at
least every 5 s. A comment line every 15 s keeps proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, get
from litestar.params import Parameter
from litestar.response import Stream

from ccroute.events import Id
from ccroute.web.auth import claims_of, context_of, may_act_as_agent, visible_tenants
from ccroute.web.board import now_ms
from ccroute.web.hub import AgentFeed
from ccroute.web.routes_supervisor import TENANTS_QUERY

__all__ = ["STREAM_HANDLERS"]

_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
BOARD_MIN_INTERVAL = 0.25
BOARD_MAX_INTERVAL = 5.0
KEEPALIVE = 15.0

_enc = msgspec.json.Encoder()
_AGENT = Parameter(description="The agent's id")


def _frame(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def _offer_frame(ctx: Any, data: bytes) -> bytes:
    try:
        d = json.loads(data)
    except ValueError:
        return _frame("decision", data)
    details = ctx.hub.details(d.get("tenant", ""), d.get("contact", ""))
    return _frame("offer", b'{"offer":' + data + b',"details":' + _enc.encode(details) + b"}")


@get(
    "/v1/agents/{agent:str}/stream",
    summary="Live: the agent's offers, decisions and presence (Server-Sent Events)",
    tags=["agent desktop", "streams"],
    media_type="text/event-stream",
)
async def agent_stream(request: Request[Any, Any, Any], agent: Id = _AGENT) -> Stream:
    claims = claims_of(request)
    may_act_as_agent(claims, agent)
    ctx = context_of(request)
    ctx.checker.agent(agent, "path.agent")
    feed = await ctx.hub.follow_agent(agent)

    async def events() -> AsyncIterator[bytes]:
        try:
            yield _frame("status", _enc.encode(ctx.boards.agent_status(agent, now_ms())))
            while not feed.overflowed:
                try:
                    kind, data, received = await asyncio.wait_for(feed.queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if kind == "close":
                    return
                if kind == "status":
                    feed.status_pending = False
                    status = ctx.boards.agent_status(agent, now_ms())
                    yield _frame("status", _enc.encode(status))
                elif b'"type":"offer_made"' in data:
                    frame = _offer_frame(ctx, data)
                    ctx.metrics.offer_delivery.observe(time.perf_counter() - received)
                    yield frame
                else:
                    yield _frame(kind, data)
        finally:
            await _unfollow(ctx, feed)

    return Stream(events(), media_type="text/event-stream", headers=_HEADERS)


async def _unfollow(ctx: Any, feed: AgentFeed) -> None:
    await ctx.hub.unfollow_agent(feed)


@get(
    "/v1/board/stream",
    summary="Live: the wallboard of the tenants asked for (Server-Sent Events)",
    tags=["supervisor", "streams"],
    media_type="text/event-stream",
)
async def board_stream(
    request: Request[Any, Any, Any],
    tenant: list[Id] | None = TENANTS_QUERY,
) -> Stream:
    claims = claims_of(request)
    ctx = context_of(request)
    tenants = visible_tenants(claims, ctx, tenant)

    async def events() -> AsyncIterator[bytes]:
        ctx.metrics.board_streams.set(ctx.metrics.board_streams.get() + 1)
        try:
            while not ctx.hub.closing:
                yield _frame("board", _enc.encode(ctx.boards.board(tenants)))
                await ctx.hub.board_changed(tenants, BOARD_MAX_INTERVAL)
                if ctx.hub.closing:
                    return
                # Changes come in bursts (one flush writes many keys): one board per burst.
                await asyncio.sleep(BOARD_MIN_INTERVAL)
        finally:
            ctx.metrics.board_streams.set(ctx.metrics.board_streams.get() - 1)

    return Stream(events(), media_type="text/event-stream", headers=_HEADERS)


STREAM_HANDLERS = [agent_stream, board_stream]
