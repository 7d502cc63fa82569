"""A working day through the HTTP API alone: a contact source, an agent desktop stream and
a supervisor's board, against a real service and gateway."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .stack import Stack


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    event = "message"
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


async def _next(events: AsyncIterator[tuple[str, Any]], want: str, timeout: float = 10) -> Any:
    async def find() -> Any:
        async for ev, data in events:
            if ev == want or (ev == "decision" and data.get("type") == want):
                return data
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), timeout)


async def test_arrival_offer_accept_complete_through_http(stack: Stack) -> None:
    agent = stack.token("agent", agent="eino")
    source = stack.token("integration", tenant="lumo")
    sup = stack.token("tenant_supervisor", tenant="lumo")
    async with (
        httpx.AsyncClient(base_url=stack.url, headers=_auth(agent), timeout=20) as a,
        httpx.AsyncClient(base_url=stack.url, headers={"Authorization": f"Bearer {source}"}) as s,
        httpx.AsyncClient(base_url=stack.url, headers=_auth(sup), timeout=20) as v,
        a.stream("GET", "/v1/agents/eino/stream") as feed,
    ):
        events = _events(feed)
        first = await _next(events, "status")
        assert first["agent"] == "eino" and first["name"] == "Eino Mäkelä"
        assert (await a.post("/v1/agents/eino/login", json={})).status_code == 200
        state = await _next(events, "agent_state_set")
        assert state["state"] == "available"

        now = int(time.time() * 1000)
        arrival = {
            "type": "contact_arrived",
            "id": "flow-1",
            "ts": now,
            "tenant": "lumo",
            "contact": "c-flow-1",
            "queue": "lumo-email",
            "channel": "email",
            "language": "fi",
            "tags": ["invoice"],
        }
        r = await s.post("/v1/tenants/lumo/inputs", json=arrival)
        assert r.status_code == 200 and r.json()["duplicate"] is False
        again = await s.post("/v1/tenants/lumo/inputs", json=arrival)
        assert again.json() == {**r.json(), "duplicate": True}

        offer = await _next(events, "offer")
        assert offer["offer"]["contact"] == "c-flow-1" and offer["offer"]["agent"] == "eino"
        assert offer["details"]["language"] == "fi" and offer["details"]["tags"] == ["invoice"]
        assert offer["details"]["arrived_at"] == now

        r = await a.post("/v1/agents/eino/accept", json={"tenant": "lumo", "contact": "c-flow-1"})
        assert r.status_code == 200
        assigned = await _next(events, "contact_assigned")
        assert assigned["contact"] == "c-flow-1"
        r = await a.post(
            "/v1/agents/eino/complete",
            json={
                "tenant": "lumo",
                "contact": "c-flow-1",
                "wrap_up_code": "info_given",
                "tags": ["invoice", "moving"],
                "resolved": True,
            },
        )
        assert r.status_code == 200
        await _next(events, "wrap_up_started")
        r = await a.post(
            "/v1/agents/eino/wrap-up-done", json={"tenant": "lumo", "contact": "c-flow-1"}
        )
        closed = await _next(events, "contact_closed")
        assert closed["outcome"] == "completed"

        # The supervisor sees the day: one offered, answered, completed; eino available.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            today = (await v.get("/v1/tenants/lumo/today")).json()
            if today.get("completed", 0) >= 1:
                break
            await asyncio.sleep(0.05)
        assert today["offered"] >= 1 and today["answered"] >= 1 and today["completed"] >= 1
        agents = {x["agent"]: x for x in (await v.get("/v1/tenants/lumo/agents")).json()}
        assert agents["eino"]["state"] == "available" and agents["eino"]["load"] == {}
        queues = {q["queue"]: q for q in (await v.get("/v1/tenants/lumo/queues")).json()}
        assert queues["lumo-email"]["waiting"] == 0
        assert queues["lumo-email"]["sl_target_percent"] == 90.0
        await a.post("/v1/agents/eino/logout", json={})


async def test_the_board_stream_follows_waiting_contacts_live(stack: Stack) -> None:
    sup = stack.token("tenant_supervisor", tenant="kide")
    source = stack.token("integration", tenant="kide")
    async with (
        httpx.AsyncClient(base_url=stack.url, headers=_auth(sup), timeout=20) as v,
        httpx.AsyncClient(base_url=stack.url, headers={"Authorization": f"Bearer {source}"}) as s,
        v.stream("GET", "/v1/board/stream") as feed,
    ):
        events = _events(feed)
        board = await _next(events, "board")
        assert [t["tenant"] for t in board["tenants"]] == ["kide"]
        before = board["tenants"][0]["queues"][0]["waiting"]
        t0 = time.monotonic()
        r = await s.post(
            "/v1/tenants/kide/inputs",
            json={
                "type": "contact_arrived",
                "id": "board-1",
                "ts": int(time.time() * 1000),
                "tenant": "kide",
                "contact": "c-board-1",
                "queue": "kide-chat",
                "channel": "chat",
            },
        )
        assert r.status_code == 200
        while True:
            board = await _next(events, "board")
            if board["tenants"][0]["queues"][0]["waiting"] == before + 1:
                break
        # Pushed on the change, not by the 5 s refresh.
        assert time.monotonic() - t0 < 4.0


async def test_documents_health_and_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as c:
        openapi = (await c.get("/openapi.json")).json()
        assert openapi["openapi"].startswith("3.")
        paths = openapi["paths"]
        for p in (
            "/v1/tenants/{tenant}/inputs",
            "/v1/agents/{agent}/accept",
            "/v1/agents/{agent}/stream",
            "/v1/board",
            "/v1/board/stream",
        ):
            assert p in paths, p
        schemas = openapi["components"]["schemas"]
        assert "ContactArrived" in schemas and "Stored" in schemas
        asyncapi = (await c.get("/asyncapi.json")).json()
        assert asyncapi["asyncapi"] == "3.0.0"
        addresses = {ch["address"] for ch in asyncapi["channels"].values()}
        assert "ccroute.web.in.{tenant}.contact_arrived" in addresses
        assert "ccroute.web.out.{tenant}.offer_made.{agent}" in addresses
        health = (await c.get("/healthz")).json()
        assert health == {"ok": True, "nats": True, "projections": True, "domain": "web"}
        metrics = (await c.get("/metrics")).text
        for name in (
            "ccroute_web_requests_total",
            "ccroute_web_request_seconds_bucket",
            "ccroute_web_desktop_connections",
            "ccroute_web_board_connections",
        ):
            assert name in metrics
        for page in ("/desktop/", "/wallboard/"):
            r = await c.get(page)
            assert r.status_code == 200 and '<script src="/common/common.js">' in r.text
