"""The whole flow against a real nats-server: arrive -> offer -> accept -> complete, with
the client, the projections, the request/reply API, duplicates and dead letters."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS

from ccroute.client import Client, now_ms
from ccroute.events import ContactArrived, Decision
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.loadgen import make_config
from ccroute.service.subjects import Names

from .conftest import RunningService, fast_settings, run_service


async def eventually(
    probe: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], timeout: float = 5.0
) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await probe()
        if ok(value):
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met; last value {value!r}")


def kind(d: Decision) -> str:
    return str(type(d).__struct_config__.tag)


async def read_decisions(cc: Client, until: Callable[[list[Decision]], bool]) -> list[Decision]:
    sub = await cc.decisions(start_seq=1)
    out: list[Decision] = []
    try:
        while not until(out):
            _, d = await sub.next(timeout=5)
            out.append(d)
    finally:
        await sub.close()
    return out


async def test_arrive_offer_accept_complete(nc: NATS, svc: RunningService) -> None:
    cc = Client(nc, "test")
    offers = await cc.subscribe_offers("a0")
    await cc.login("a0")
    arrival = await cc.arrive("t0", "c1", queue="t0-live", channel="chat")
    offer = await offers.next(timeout=5)
    assert (offer.tenant, offer.contact, offer.agent) == ("t0", "c1", "a0")
    assert offer.cause == arrival.id
    await cc.accept(offer)
    await cc.complete("t0", "c1", "a0", wrap_up_code="solved")

    decisions = await read_decisions(
        cc,
        lambda ds: any(kind(d) == "contact_closed" for d in ds),
    )
    kinds = [kind(d) for d in decisions]
    assert kinds == ["agent_state_set", "offer_made", "contact_assigned", "contact_closed"]
    assert [d.id for d in decisions] == ["d1", "d2", "d3", "d4"]

    # Projections, read without the engine.
    agent = await eventually(
        lambda: cc.agent_view("a0"), lambda v: v is not None and v["as_of"] >= decisions[-1].ts
    )
    assert agent["state"] == "available" and agent["load"] == {} and agent["offers"] == 0
    assert agent["capacity"] == {"chat": 2, "email": 3, "voice": 1}
    day = await eventually(
        lambda: cc.tenant_view("t0"), lambda v: v is not None and v["completed"] == 1
    )
    assert day["offered"] == 1 and day["answered"] == 1 and day["abandoned"] == 0
    assert day["answered_percent"] == 100.0 and day["service_level_percent"] == 100.0
    assert await cc.tenant_view("t0", day["date"]) == day
    queue = await cc.queue_view("t0", "t0-live")
    assert queue is not None and queue["waiting"] == 0 and queue["agents_available"] == 1
    other = await cc.queue_view("t1", "t1-live")
    assert other is not None and other["agents_available"] == 1  # agents serve "*"

    # The request/reply surface reads the same.
    assert await cc.request("agent.a0") == agent
    status = await cc.status()
    assert status["role"] == "writer" and status["applied_seq"] == 4
    assert await svc.stop() == 0


async def test_queue_projection_and_abandon(nc: NATS, svc: RunningService) -> None:
    cc = Client(nc, "test")
    await cc.arrive("t1", "x1", queue="t1-live", channel="voice", ts=1_000)
    await cc.arrive("t1", "x2", queue="t1-live", channel="voice", ts=2_000)
    q = await eventually(
        lambda: cc.queue_view("t1", "t1-live"), lambda v: v is not None and v["waiting"] == 2
    )
    assert q["oldest_arrived_at"] == 1_000 and q["agents_available"] == 0
    await cc.abandon("t1", "x1", ts=3_000)
    q = await eventually(
        lambda: cc.queue_view("t1", "t1-live"), lambda v: v is not None and v["waiting"] == 1
    )
    assert q["oldest_arrived_at"] == 2_000 and q["oldest_wait_ms"] == 1_000
    day = await eventually(
        lambda: cc.tenant_view("t1"), lambda v: v is not None and v["abandoned"] == 1
    )
    # Two arrived; one wait has ended (abandoned): offered = answered + abandoned = 1.
    assert day["arrived"] == 2 and day["offered"] == 1 and day["answered"] == 0
    assert day["answered_percent"] == 0.0 and day["abandon_rate_percent"] == 100.0
    # Paused agents are not available; their state and reason are projected.
    await cc.login("a3", state="paused", reason="training", ts=4_000)
    a3 = await eventually(
        lambda: cc.agent_view("a3"), lambda v: v is not None and v["state"] == "paused"
    )
    assert a3["reason"] == "training" and a3["since"] == 4_000


async def test_duplicates_change_nothing(nc: NATS, svc: RunningService) -> None:
    cc = Client(nc, "test")
    ev = ContactArrived(
        id="dup-1", ts=5_000, tenant="t0", contact="c9", queue="t0-mail", channel="email"
    )
    seq1 = await cc.publish(ev)
    seq2 = await cc.publish(ev)  # inside the stream's duplicate window: not stored again
    assert seq1 == seq2
    # Past the stream's window (another subject path, same id): the engine drops it.
    await cc.publish_raw(
        cc.names.input_subject("contact_arrived", "t0"),
        json.dumps(
            {
                "type": "contact_arrived",
                "id": "dup-1",
                "ts": 6_000,
                "tenant": "t0",
                "contact": "c9",
                "queue": "t0-mail",
                "channel": "email",
            }
        ).encode(),
        msg_id="other-id",
    )
    decisions = await read_decisions(cc, lambda ds: len(ds) >= 2)
    assert [kind(d) for d in decisions] == [
        "contact_queued",
        "input_rejected",
    ]
    assert decisions[1].code == "duplicate_event"
    q = await eventually(
        lambda: cc.queue_view("t0", "t0-mail"), lambda v: v is not None and v["waiting"] == 1
    )
    assert q["waiting"] == 1


async def test_bad_input_goes_to_dead_letters(nc: NATS, svc: RunningService) -> None:
    cc = Client(nc, "test")
    names = cc.names
    js = nc.jetstream()
    await cc.publish_raw(names.input_subject("contact_arrived", "t0"), b"{not json", "b1")
    await cc.publish_raw(
        names.input_subject("contact_arrived", "t0"),
        b'{"type":"contact_arrived","id":"b2","ts":1,"tenant":"t0"}',  # fields missing
        "b2",
    )
    # Tenant t1's input published under tenant t0's subject: confidentiality.
    await cc.publish_raw(
        names.input_subject("contact_arrived", "t0"),
        b'{"type":"contact_arrived","id":"b3","ts":1,"tenant":"t1","contact":"z",'
        b'"queue":"t1-live","channel":"chat"}',
        "b3",
    )
    await cc.publish_raw(
        names.input_subject("clock_tick", None),
        b'{"type":"clock_tick","id":"b4","ts":1,"v":9}',
        "b4",
    )
    # ...and a good input after them is applied as usual.
    await cc.login("a1")
    # A producer whose clock is a year ahead: rejected, dead-lettered, clock untouched.
    year_ahead = now_ms() + 366 * 86_400_000
    await cc.publish_raw(
        names.input_subject("clock_tick", None),
        b'{"type":"clock_tick","id":"b5","ts":%d}' % year_ahead,
        "b5",
    )
    sub = await js.subscribe(
        names.deadletter_wildcard, stream=names.deadletter_stream, ordered_consumer=True
    )
    got = [await sub.next_msg(timeout=5) for _ in range(5)]
    reasons = [m.headers["Ccroute-Reason"] for m in got]
    assert reasons == [
        "malformed",
        "malformed",
        "subject_mismatch",
        "unsupported_version",
        "clock_jump",
    ]
    assert "max_clock_jump_days" in got[4].headers["Ccroute-Error"]
    assert got[0].data == b"{not json"
    assert got[2].headers["Ccroute-Subject"] == "ccroute.test.in.t0.contact_arrived"
    assert got[0].headers["Ccroute-Input-Seq"] == "1"
    assert "t1" in got[2].headers["Ccroute-Error"]
    decisions = await read_decisions(cc, lambda ds: len(ds) >= 1)
    assert kind(decisions[0]) == "agent_state_set"
    assert svc.service.metrics.dead_letters.get("malformed") == 2
    assert svc.service.metrics.dead_letters.get("subject_mismatch") == 1
    await sub.unsubscribe()


async def test_request_reply_surface(nc: NATS, svc: RunningService) -> None:
    names = Names("test")

    async def call(op: str, body: bytes = b"") -> dict[str, Any]:
        msg = await nc.request(names.api_subject(op), body, timeout=5)
        return json.loads(msg.data)  # type: ignore[no-any-return]

    login = b'{"type":"agent_logged_in","id":"r1","ts":10,"agent":"a2"}'
    ok = await call("submit._agents.a2", login)
    assert ok["ok"] and ok["result"]["seq"] == 1 and not ok["result"]["duplicate"]
    assert ok["result"]["subject"] == "ccroute.test.in._agents.a2.agent_logged_in"
    again = await call("submit._agents.a2", login)
    assert again["ok"] and again["result"]["duplicate"]
    # An agent's submission names the agent it acts for; another one's input is refused.
    other = await call("submit._agents.a3", login)
    assert not other["ok"] and other["error"]["code"] == "agent_mismatch"
    assert (await call("submit._agents", login))["error"]["code"] == "moved"
    arrival = (
        b'{"type":"contact_arrived","id":"r2","ts":11,"tenant":"t1","contact":"k",'
        b'"queue":"t1-live","channel":"chat"}'
    )
    wrong = await call("submit.t0", arrival)
    assert not wrong["ok"] and wrong["error"]["code"] == "tenant_mismatch"
    bad = await call("submit.t1", b'{"type":"contact_arrived"}')
    assert not bad["ok"] and bad["error"]["code"] == "malformed"
    assert (await call("submit.t1", arrival))["ok"]
    agent = await eventually(
        lambda: call("agent.a2"), lambda r: r["ok"] and r["result"]["load"] == {"chat": 1}
    )
    assert agent["result"]["offers"] == 1
    queue = await call("queue.t1.t1-live")
    assert queue["ok"] and queue["result"]["waiting"] == 0
    tenant = await eventually(lambda: call("tenant.t1"), lambda r: r["ok"])
    # Arrived and ringing an agent: offered only once answered or given up.
    assert tenant["result"]["arrived"] == 1 and tenant["result"]["offered"] == 0
    missing = await call("agent.nobody")
    assert not missing["ok"] and missing["error"]["code"] == "not_found"
    assert (await call("status"))["result"]["role"] == "writer"
    assert (await call("nonsense"))["error"]["code"] == "unknown_operation"


async def test_offer_timeout_fires_from_logged_ticks(nats_server: EmbeddedNats, nc: NATS) -> None:
    config = make_config(tenants=1, agents=1, offer_timeout=1)
    settings = fast_settings(nats_server.url, tick_ms=200)
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
        cc = Client(nc, "test")
        await cc.login("a0")
        await cc.arrive("t0", "late", queue="t0-live", channel="chat")
        decisions = await read_decisions(
            cc,
            lambda ds: any(kind(d) == "offer_expired" for d in ds),
        )
        expired = [d for d in decisions if kind(d) == "offer_expired"]
        assert expired and expired[0].cause.startswith("tick-")
        # The ticks are in the log: the input stream holds them on the clock subject.
        info = await nc.jetstream().stream_info(cc.names.input_stream, subjects_filter=">")
        assert (info.state.subjects or {}).get(cc.names.clock_subject, 0) >= 5


async def test_client_publish_many_and_tenant_decisions(nc: NATS, svc: RunningService) -> None:
    from ccroute.events import AgentLoggedIn

    cc = Client(nc, "test")
    t1 = await cc.decisions(tenant="t1")  # only tenant t1's subjects
    await cc.publish_many(
        [
            AgentLoggedIn(id="m1", ts=1, agent="a0"),
            ContactArrived(
                id="m2", ts=2, tenant="t0", contact="x", queue="t0-live", channel="chat"
            ),
            ContactArrived(
                id="m3", ts=3, tenant="t1", contact="y", queue="t1-live", channel="chat"
            ),
        ]
    )
    _, first = await t1.next(timeout=5)
    assert kind(first) == "offer_made" and first.tenant == "t1"  # type: ignore[union-attr]
    await t1.close()
    # Any instance in the API queue group may answer, and only the writer reports its
    # position: ask until the writer says it applied the three inputs.
    deadline = asyncio.get_running_loop().time() + 5
    while (await cc.status()).get("applied_seq", 0) < 3:
        assert asyncio.get_running_loop().time() < deadline, "status never reached seq 3"
        await asyncio.sleep(0.02)
