"""The HTTP gateway under a contact centre's worth of desktops (issue 16).

One ``ccroute web`` process holds 1,000 agent desktop streams (Server-Sent Events, one
connection per agent, each with its own agent token); ``ccroute serve`` routes; a
nats-server stores. Arrivals are published at 500/s straight on the input subjects; each
arrival is offered to one available agent, and the time from publishing it to its
``event: offer`` frame arriving on *that agent's* connection is taken (the harness checks
the connection's agent is the offer's). The harness then accepts and completes the contact
over NATS, so the agent is free again.

Target: p99 publish -> offer at the right connection under 50 ms. Also reported: the
gateway's CPU (share of one core) during the run, and its memory per connection (resident
set with the connections open minus before, divided by the connections).

All processes run on this machine (2 cores shared with the harness). Sizes can be changed
with ``CCROUTE_WEB_CONNECTIONS``, ``CCROUTE_WEB_RATE`` and ``CCROUTE_WEB_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

from ccroute.events import ContactCompleted, OfferAccepted, encode_json
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.subjects import Names
from ccroute.web.tokens import issue_token, load_or_create_secret
from conftest import record

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = int(os.environ.get("CCROUTE_WEB_CONNECTIONS", "1000"))
RATE = float(os.environ.get("CCROUTE_WEB_RATE", "500"))
SECONDS = float(os.environ.get("CCROUTE_WEB_SECONDS", "10"))
DOMAIN = "webbench"


def _config(agents: int) -> str:
    parts = [
        "[routing]\noffer_timeout_seconds = 60\n",
        '[[tenants]]\nid = "acme"\nname = "Acme"\n',
        '[[queues]]\nid = "chat"\ntenant = "acme"\nchannels = ["chat"]\n',
    ]
    for i in range(agents):
        parts.append(f'[[agents]]\nid = "a{i}"\ncapacity = {{ chat = 1 }}\n')
    return "\n".join(parts)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _gateway_histogram(port: int, name: str) -> list[tuple[float, int]]:
    """(upper bound, cumulative count) of a histogram on the gateway's /metrics."""
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    out = []
    for line in raw.decode().splitlines():
        if line.startswith(name + "_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.append((float("inf") if le == "+Inf" else float(le), int(line.rsplit(" ", 1)[1])))
    return out


def _quantile(buckets: list[tuple[float, int]], p: float) -> float:
    """The bucket bound (ms) under which a share ``p`` of the observations fell."""
    total = buckets[-1][1] if buckets else 0
    for bound, cum in buckets:
        if total and cum >= p * total:
            return bound * 1000
    return float("nan")


@dataclass
class Stack:
    nats: EmbeddedNats
    serve: subprocess.Popen[bytes]
    web: subprocess.Popen[bytes]
    port: int
    data: Path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python") + os.pathsep + env.get("PYTHONPATH", "")
    env["CCROUTE_TICK_MS"] = "1000"
    env["CCROUTE_PROJECTION_FLUSH_SECONDS"] = "0.25"
    env["CCROUTE_LOG_LEVEL"] = "WARNING"
    return env


def _wait_http(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if b" 200 " in s.recv(200):
                return
        time.sleep(0.1)
    raise TimeoutError(log.read_text()[-3000:])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("webbench")
    server = EmbeddedNats(tmp / "nats").start()
    cfg = tmp / "ccroute.toml"
    cfg.write_text(_config(CONNECTIONS))
    data = tmp / "data"
    common = ["--config", str(cfg), "--nats", server.url, "--domain", DOMAIN]
    serve = subprocess.Popen(
        [sys.executable, "-m", "ccroute", "serve", *common, "--data-dir", str(data)],
        stdout=(tmp / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    port = _free_port()
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ccroute",
            "web",
            *common,
            "--port",
            str(port),
            "--data-dir",
            str(data),
        ],
        stdout=(tmp / "web.log").open("wb"),
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    try:
        _wait_http(port, web, tmp / "web.log")
        yield Stack(server, serve, web, port, data)
    finally:
        for p in (web, serve):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        server.stop()


class Desktop:
    """One agent's stream, read raw: the harness must not be the bottleneck."""

    def __init__(
        self,
        agent: str,
        token: str,
        offers: dict[str, tuple[str, float]],
        todo: asyncio.Queue[tuple[str, str]],
    ) -> None:
        self.agent = agent
        self.token = token
        self.offers = offers
        self.todo = todo
        self.ready = asyncio.Event()
        self.wrong = 0

    async def run(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        writer.write(
            f"GET /v1/agents/{self.agent}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        try:
            status = await reader.readline()
            assert b" 200 " in status, status
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"event: status"):
                    self.ready.set()
                elif line.startswith(b"event: offer"):
                    data = await reader.readline()
                    now = time.perf_counter()
                    # the chunked transfer framing may sit between: find the data line
                    while not data.startswith(b"data: "):
                        data = await reader.readline()
                    offer = msgspec.json.decode(data[6:])["offer"]
                    if offer["agent"] != self.agent:
                        self.wrong += 1
                    self.offers[offer["contact"]] = (offer["agent"], now)
                    self.todo.put_nowait((offer["contact"], offer["agent"]))
        finally:
            writer.close()


async def _run(stack: Stack) -> dict[str, Any]:
    names = Names(DOMAIN)
    secret = load_or_create_secret(stack.data)
    offers: dict[str, tuple[str, float]] = {}
    todo: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    nc = await nats.connect(stack.nats.url, pending_size=64 * 1024 * 1024)
    now = int(time.time() * 1000)
    for i in range(CONNECTIONS):
        await nc.publish(
            names.input_subject("agent_logged_in", None),
            f'{{"type":"agent_logged_in","id":"in-a{i}-{now}","ts":{now},"agent":"a{i}"}}'.encode(),
            headers={"Nats-Msg-Id": f"in-a{i}-{now}"},
        )
    await nc.flush()
    rss0 = _rss_kib(stack.web.pid)
    desktops = [
        Desktop(f"a{i}", issue_token(secret, "agent", agent=f"a{i}")[0], offers, todo)
        for i in range(CONNECTIONS)
    ]
    t_open = time.perf_counter()
    tasks = [asyncio.create_task(d.run(stack.port)) for d in desktops]
    await asyncio.wait_for(asyncio.gather(*(d.ready.wait() for d in desktops)), 120)
    open_s = time.perf_counter() - t_open
    await asyncio.sleep(1.0)
    rss1 = _rss_kib(stack.web.pid)

    sent: dict[str, float] = {}
    on_bus: dict[str, float] = {}

    async def seen_on_bus(msg: Any) -> None:
        # the same offer as the service published it: separates the service's share
        on_bus[msg.subject and msgspec.json.decode(msg.data)["contact"]] = time.perf_counter()

    bus_sub = await nc.subscribe(f"{names.out_prefix}acme.offer_made.*", cb=seen_on_bus)
    n = int(RATE * SECONDS)
    cpu0, wall0 = _cpu_s(stack.web.pid), time.perf_counter()
    own0 = time.process_time()
    svc0 = _cpu_s(stack.serve.pid)

    async def free_agents() -> None:
        # accept + complete each offered contact, so its agent is free for the next one
        while True:
            contact, agent = await todo.get()
            ts = int(time.time() * 1000)
            for ev in (
                OfferAccepted(
                    id=f"acc-{contact}", ts=ts, tenant="acme", contact=contact, agent=agent
                ),
                ContactCompleted(
                    id=f"cmp-{contact}", ts=ts, tenant="acme", contact=contact, agent=agent
                ),
            ):
                tag = str(type(ev).__struct_config__.tag)
                await nc.publish(
                    names.input_subject(tag, "acme"),
                    encode_json(ev),
                    headers={"Nats-Msg-Id": ev.id},
                )

    freer = asyncio.create_task(free_agents())
    start = time.perf_counter()
    subject = names.input_subject("contact_arrived", "acme")
    for k in range(n):
        due = start + k / RATE
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        contact = f"c{k}"
        ts = int(time.time() * 1000)
        payload = (
            f'{{"type":"contact_arrived","id":"arr-{k}-{ts}","ts":{ts},"tenant":"acme",'
            f'"contact":"{contact}","queue":"chat","channel":"chat"}}'
        ).encode()
        sent[contact] = time.perf_counter()
        await nc.publish(subject, payload, headers={"Nats-Msg-Id": f"arr-{k}-{ts}"})
    deadline = time.perf_counter() + 15
    while len(offers) < n and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu1, wall1 = _cpu_s(stack.web.pid), time.perf_counter()
    own1 = time.process_time()
    svc1 = _cpu_s(stack.serve.pid)
    await bus_sub.unsubscribe()
    freer.cancel()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, freer, return_exceptions=True)
    await nc.drain()
    inside = _gateway_histogram(stack.port, "ccroute_web_offer_delivery_seconds")

    lat = sorted((offers[c][1] - t0) * 1000 for c, t0 in sent.items() if c in offers)
    if not lat:
        raise AssertionError("no offer reached a desktop")

    bus = sorted((on_bus[c] - t0) * 1000 for c, t0 in sent.items() if c in on_bus)
    hop = sorted((offers[c][1] - on_bus[c]) * 1000 for c in sent if c in offers and c in on_bus)

    def q(p: float, xs: list[float] = lat) -> float:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 2)

    return {
        "connections": CONNECTIONS,
        "rate_per_s": RATE,
        "arrivals": n,
        "offers_received": len(lat),
        "offers_at_wrong_connection": sum(d.wrong for d in desktops),
        "p50_ms": q(0.50),
        "p99_ms": q(0.99),
        "max_ms": round(lat[-1], 2),
        "service_publish_to_bus_p50_ms": q(0.5, bus),
        "service_publish_to_bus_p99_ms": q(0.99, bus),
        "gateway_bus_to_desktop_p50_ms": q(0.5, hop),
        "gateway_bus_to_desktop_p99_ms": q(0.99, hop),
        "gateway_inside_p50_ms": _quantile(inside, 0.5),
        "gateway_inside_p99_ms": _quantile(inside, 0.99),
        "open_all_connections_s": round(open_s, 2),
        "gateway_cpu_share_of_one_core": round((cpu1 - cpu0) / (wall1 - wall0), 3),
        "harness_cpu_share_of_one_core": round((own1 - own0) / (wall1 - wall0), 3),
        "service_cpu_share_of_one_core": round((svc1 - svc0) / (wall1 - wall0), 3),
        "gateway_cpu_us_per_offer": round((cpu1 - cpu0) / max(1, len(lat)) * 1e6, 1),
        "gateway_rss_mib_before": round(rss0 / 1024, 1),
        "gateway_rss_mib_with_connections": round(rss1 / 1024, 1),
        "gateway_kib_per_connection": round((rss1 - rss0) / CONNECTIONS, 1),
    }


def test_1000_desktops_offer_latency_at_500_arrivals_per_s(benchmark: Any, stack: Stack) -> None:
    result = benchmark.pedantic(lambda: asyncio.run(_run(stack)), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    record("web gateway: publish->offer at the desktop", **result)
    assert result["offers_at_wrong_connection"] == 0
    assert result["offers_received"] == result["arrivals"]
