"""Every endpoint x every role x own/other tenant, against a real service and gateway.

Tenant A is ``lumo`` (agent ``aino``), tenant B is ``kide`` (agent ``bjorn``). Each role's
token belongs to side A; every endpoint is asked once about A and once about B. What each
role may do is written down once (``allowed``); the test counts the refusals, prints them
per role, and checks every permitted answer for its content.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ccroute.web.tokens import revoke

from .stack import Stack

SIDES = {"own": ("lumo", "aino"), "other": ("kide", "bjorn")}
ROLES = ["agent", "tenant_supervisor", "provider_supervisor", "integration"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    kind: str
    """agent (acts as/follows an agent), read (a tenant's figures), submit (inputs)."""
    body: Callable[[str, str, str], dict[str, Any]] | None = None
    stream: bool = False


def _contact(tenant: str, agent: str, n: str) -> dict[str, Any]:
    return {"tenant": tenant, "contact": f"m-{n}"}


ENDPOINTS = [
    Endpoint("agent status", "GET", "/v1/agents/{agent}", "agent"),
    Endpoint("agent directory", "GET", "/v1/agents/{agent}/directory", "agent"),
    Endpoint("login", "POST", "/v1/agents/{agent}/login", "agent", lambda t, a, n: {}),
    Endpoint(
        "state",
        "POST",
        "/v1/agents/{agent}/state",
        "agent",
        lambda t, a, n: {"state": "paused", "reason": "training"},
    ),
    Endpoint("accept", "POST", "/v1/agents/{agent}/accept", "agent", _contact),
    Endpoint(
        "reject",
        "POST",
        "/v1/agents/{agent}/reject",
        "agent",
        lambda t, a, n: {**_contact(t, a, n), "reason": "busy"},
    ),
    Endpoint(
        "complete",
        "POST",
        "/v1/agents/{agent}/complete",
        "agent",
        lambda t, a, n: {**_contact(t, a, n), "wrap_up_code": "solved", "tags": ["x"]},
    ),
    Endpoint("wrap-up done", "POST", "/v1/agents/{agent}/wrap-up-done", "agent", _contact),
    Endpoint(
        "transfer",
        "POST",
        "/v1/agents/{agent}/transfer",
        "agent",
        lambda t, a, n: {**_contact(t, a, n), "handoff": "sales-team"},
    ),
    Endpoint(
        "callback result",
        "POST",
        "/v1/agents/{agent}/callback-result",
        "agent",
        lambda t, a, n: {**_contact(t, a, n), "outcome": "no_answer"},
    ),
    Endpoint("logout", "POST", "/v1/agents/{agent}/logout", "agent", lambda t, a, n: {}),
    Endpoint("agent stream", "GET", "/v1/agents/{agent}/stream", "agent", stream=True),
    Endpoint("queues", "GET", "/v1/tenants/{tenant}/queues", "read"),
    Endpoint("agents", "GET", "/v1/tenants/{tenant}/agents", "read"),
    Endpoint("today", "GET", "/v1/tenants/{tenant}/today", "read"),
    Endpoint("days", "GET", "/v1/tenants/{tenant}/days", "read"),
    Endpoint("board", "GET", "/v1/board?tenant={tenant}", "read"),
    Endpoint("board stream", "GET", "/v1/board/stream?tenant={tenant}", "read", stream=True),
    Endpoint(
        "submit input",
        "POST",
        "/v1/tenants/{tenant}/inputs",
        "submit",
        lambda t, a, n: {
            "type": "contact_abandoned",
            "id": f"mx-{n}",
            "ts": int(time.time() * 1000),
            "tenant": t,
            "contact": f"gone-{n}",
        },
    ),
]


def allowed(role: str, kind: str, side: str) -> bool:
    """The rules of docs/http.md, one line per role."""
    if role == "agent":
        return kind == "agent" and side == "own"
    if role == "tenant_supervisor":
        return kind == "read" and side == "own"
    if role == "provider_supervisor":
        return True
    if role == "integration":
        return kind == "submit" and side == "own"
    raise AssertionError(role)


def _call(client: httpx.Client, ep: Endpoint, side: str, n: str) -> tuple[int, Any]:
    tenant, agent = SIDES[side]
    path = ep.path.format(tenant=tenant, agent=agent)
    if ep.stream:
        with client.stream("GET", path) as r:
            if r.status_code != 200:
                r.read()
                return r.status_code, r.json()
            first = next(r.iter_lines())
            return 200, first
    if ep.method == "GET":
        r = client.get(path)
    else:
        assert ep.body is not None
        r = client.post(path, json=ep.body(tenant, agent, n))
    return r.status_code, r.json()


def _check_positive(ep: Endpoint, side: str, body: Any) -> None:
    tenant, agent = SIDES[side]
    if ep.stream:
        assert body in ("event: status", "event: board"), body
    elif ep.method == "POST":
        assert body["seq"] > 0 and body["duplicate"] is False
        assert body["subject"].startswith("ccroute.web.in.")
    elif ep.name == "agent status":
        assert body["agent"] == agent
    elif ep.name == "agent directory":
        assert set(body["tenants"]) == {tenant}
        assert all(q["tenant"] == tenant for q in body["queues"])
    elif ep.name == "queues":
        assert body and all(q["tenant"] == tenant for q in body)
    elif ep.name == "agents":
        assert [a["agent"] for a in body] == [
            a
            for a in ("aino", "bjorn", "eino")
            if (a != "bjorn" if tenant == "lumo" else a == "bjorn")
        ]
    elif ep.name == "today":
        assert body["tenant"] == tenant
    elif ep.name == "days":
        assert 28 <= len(body) <= 31
    elif ep.name == "board":
        assert [t["tenant"] for t in body["tenants"]] == [tenant]
    else:
        raise AssertionError(ep.name)


def test_every_endpoint_every_role_own_and_other_tenant(stack: Stack) -> None:
    refusals: Counter[str] = Counter()
    expected_refusals: Counter[str] = Counter()
    positives = 0
    n = 0
    for role in ROLES:
        own_tenant, own_agent = SIDES["own"]
        token = stack.token(
            role,  # type: ignore[arg-type]
            tenant=own_tenant if role in ("tenant_supervisor", "integration") else None,
            agent=own_agent if role == "agent" else None,
        )
        with stack.client(token) as client:
            for ep in ENDPOINTS:
                for side in SIDES:
                    n += 1
                    status, body = _call(client, ep, side, f"{role}-{n}")
                    if allowed(role, ep.kind, side):
                        assert status == 200, (role, ep.name, side, body)
                        _check_positive(ep, side, body)
                        positives += 1
                    else:
                        expected_refusals[role] += 1
                        assert status == 403, (role, ep.name, side, status, body)
                        assert body["code"] == "forbidden" and body["status"] == 403
                        assert body["type"] == "urn:ccroute:problem:forbidden"
                        refusals[role] += 1
    print("\nrefusals per role (of", len(ENDPOINTS) * 2, "requests each):")
    for role in ROLES:
        print(f"  {role:20s} {refusals[role]:3d} refused")
    print(f"  positive answers checked: {positives}")
    assert refusals == expected_refusals
    # agent: 19 endpoints x 2 sides minus its 12 own agent endpoints; provider: none.
    assert refusals["agent"] == 2 * len(ENDPOINTS) - 12
    assert refusals["provider_supervisor"] == 0
    assert refusals["tenant_supervisor"] == 2 * len(ENDPOINTS) - 6
    assert refusals["integration"] == 2 * len(ENDPOINTS) - 1
    metrics = httpx.get(f"{stack.url}/metrics").text
    line = next(x for x in metrics.splitlines() if 'code="forbidden"' in x)
    assert float(line.rsplit(" ", 1)[1]) >= sum(refusals.values())


@pytest.fixture(scope="module")
def bad_tokens(stack: Stack) -> list[str | None]:
    """No token, junk, a forged signature, a revoked token."""
    good = stack.token("provider_supervisor")
    head, claims, _sig = good.split(".")
    revoked = stack.token("provider_supervisor")
    revoke(stack.data_dir, revoked)
    time.sleep(1.05)  # the gateway re-reads the revocation list at most once a second
    return [None, "not-a-token", f"{head}.{claims}.{'A' * 43}", revoked]


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: e.name)
def test_no_token_forged_or_revoked_token_is_401_everywhere(
    stack: Stack, ep: Endpoint, bad_tokens: list[str | None]
) -> None:
    for token in bad_tokens:
        with stack.client(token) as client:
            status, body = _call(client, ep, "own", "unauth")
        assert status == 401, (ep.name, token, body)
        assert body["code"] == "unauthorized"
