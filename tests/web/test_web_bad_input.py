"""Bad input at the gateway: a 4xx problem document naming the field, nothing stored,
never a 500 or a stack trace, and the gateway keeps answering."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import nats
import pytest

from ccroute.service.subjects import Names

from .stack import Stack

PROBLEM = "application/problem+json"


def _arrival(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "contact_arrived",
        "id": f"bad-{time.time_ns()}",
        "ts": int(time.time() * 1000),
        "tenant": "lumo",
        "contact": f"c-{time.time_ns()}",
        "queue": "lumo-voice",
        "channel": "chat",
    }
    doc.update(over)
    return doc


async def _log_length(stack: Stack) -> int:
    """Inputs of either tenant in the log (the clock's ticks go on arriving meanwhile)."""
    nc = await nats.connect(stack.nats_url)
    try:
        info = await nc.jetstream().stream_info(
            Names("web").input_stream, subjects_filter="ccroute.web.in.*.>"
        )
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()


CASES: list[tuple[str, bytes | dict[str, Any], int, str, str | None]] = [
    ("not json", b'{"type": "contact_arrived", "id":', 400, "malformed", "$"),
    ("junk bytes", b"\xff\xfe\x00garbage", 400, "malformed", "$"),
    ("a list", b"[1, 2, 3]", 400, "malformed", "$"),
    ("unknown field", _arrival(colour="blue"), 400, "malformed", "$.colour"),
    ("wrong type", _arrival(ts="yesterday"), 400, "malformed", "$.ts"),
    (
        "wrong nested type",
        _arrival(skills=[{"skill": "x", "min": "high"}]),
        400,
        "malformed",
        "$.skills[0].min",
    ),
    (
        "missing field",
        {k: v for k, v in _arrival().items() if k != "queue"},
        400,
        "malformed",
        "$.queue",
    ),
    ("unknown type", _arrival(type="contact_teleported"), 400, "malformed", "$.type"),
    ("id too long", _arrival(id="x" * 201), 400, "malformed", "$.id"),
    ("unknown queue", _arrival(queue="lumo-fax"), 422, "unknown_queue", "$.queue"),
    ("unknown channel", _arrival(channel="email"), 422, "unknown_channel", "$.channel"),
    (
        "other tenant in body",
        _arrival(tenant="kide", queue="kide-chat"),
        422,
        "tenant_mismatch",
        "$.tenant",
    ),
    ("clock tick", {"type": "clock_tick", "id": "t", "ts": 1}, 422, "malformed", "$.type"),
]


@pytest.mark.parametrize(
    ("name", "body", "status", "code", "field"), CASES, ids=[c[0] for c in CASES]
)
async def test_a_bad_input_is_a_problem_naming_the_field_and_nothing_is_stored(
    stack: Stack,
    name: str,
    body: bytes | dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    before = await _log_length(stack)
    token = stack.token("provider_supervisor")
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient(base_url=stack.url) as client:
        r = await client.post(
            "/v1/tenants/lumo/inputs",
            content=raw,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    doc = r.json()
    assert doc["code"] == code and doc["status"] == status
    assert doc["type"] == f"urn:ccroute:problem:{code}"
    assert doc["field"] == field, doc
    assert doc["instance"] == "/v1/tenants/lumo/inputs"
    assert "Traceback" not in r.text
    assert await _log_length(stack) == before


async def test_unknown_ids_in_paths_and_bodies_are_named(stack: Stack) -> None:
    sup = stack.token("provider_supervisor")
    h = {"Authorization": f"Bearer {sup}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=h) as c:
        r = await c.get("/v1/tenants/umbrella/queues")
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (
            404,
            "unknown_tenant",
            "path.tenant",
        )
        r = await c.post("/v1/agents/ghost/login", json={})
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (
            422,
            "unknown_agent",
            "path.agent",
        )
        r = await c.post("/v1/agents/aino/accept", json={"tenant": "umbrella", "contact": "c"})
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (
            422,
            "unknown_tenant",
            "$.tenant",
        )
        r = await c.post(
            "/v1/agents/aino/transfer",
            json={"tenant": "lumo", "contact": "c", "to_queue": "nowhere"},
        )
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (
            422,
            "unknown_queue",
            "$.to_queue",
        )
        r = await c.post("/v1/agents/aino/state", json={"state": "asleep"})
        assert (r.status_code, r.json()["field"]) == (400, "$.state")
        r = await c.get("/v1/tenants/lumo/days?month=2026-13")
        assert r.status_code == 400 and r.json()["field"] == "query.month"
        r = await c.get("/v1/nothing-here")
        assert (r.status_code, r.json()["code"]) == (404, "not_found")
        r = await c.delete("/v1/board")
        assert (r.status_code, r.json()["code"]) == (405, "method_not_allowed")


async def test_an_oversized_body_is_413_and_the_gateway_goes_on(stack: Stack) -> None:
    token = stack.token("integration", tenant="lumo")
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=stack.url, headers=h) as c:
        big = _arrival(tags=["t" * 90] * 1000)  # ~100 KB, over the 64 KiB limit
        r = await c.post("/v1/tenants/lumo/inputs", content=json.dumps(big))
        assert (r.status_code, r.json()["code"]) == (413, "too_large")
        deep = b"[" * 32_000 + b"]" * 32_000  # just under the limit: decoded, refused
        r = await c.post("/v1/tenants/lumo/inputs", content=deep)
        assert (r.status_code, r.json()["code"]) == (400, "malformed")
        assert "max_depth" in r.json()["detail"]
        deep_object = b'{"type":"contact_arrived","attributes":' + b'{"a":' * 10_000 + b"1"
        r = await c.post("/v1/tenants/lumo/inputs", content=deep_object + b"}" * 10_001)
        assert (r.status_code, r.json()["code"]) == (400, "malformed")
        r = await c.post("/v1/tenants/lumo/inputs", content=json.dumps(_arrival()))
        assert r.status_code == 200 and r.json()["duplicate"] is False
        assert (await c.get("/healthz")).status_code == 200
