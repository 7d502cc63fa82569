"""What sourcing costs the way in: under the tenant wall each tenant's inputs land in an
entry stream of its own and the log *sources* them (docs/security.md); on an open server
the log captures them itself. Same server, same inputs (three tenants, round robin):

- **latency**: inputs published at a fixed rate; for each, the time from its publish to
  its delivery from the log to an ordered consumer (what the router's pull sees),
  p50/p99;
- **burst**: inputs published as fast as one connection goes; the rate at which the log
  holds them all (the server copying from three entry streams vs storing directly).

Best of two alternating runs of each (other work on the machine moves single runs).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from ccroute.service.assets import AssetSettings, ensure_assets
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.subjects import Names
from conftest import record

TENANTS = ("t0", "t1", "t2")
RATE = int(os.environ.get("CCROUTE_SOURCING_RATE", "2000"))
SECONDS = float(os.environ.get("CCROUTE_SOURCING_SECONDS", "3"))
BURST = int(os.environ.get("CCROUTE_SOURCING_BURST", "30000"))


def _payload(tenant: str, n: int) -> bytes:
    return (
        b'{"type":"contact_arrived","id":"%d","ts":1,"tenant":"%s","contact":"c%d",'
        b'"queue":"q","channel":"chat"}' % (n, tenant.encode(), n)
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _subject(names: Names, tenant: str, walled: bool) -> str:
    # What a tenant account publishes as in.<t>.<type> lands on entry.<t>.<type> in the
    # router's account under the wall (its import maps it): published here as such.
    subject = names.input_subject("contact_arrived", tenant)
    return names.entry_of(subject) if walled else subject


async def _latency(nc: NATS, names: Names, walled: bool, tag: str) -> dict[str, float]:
    js = nc.jetstream()
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    done = asyncio.Event()
    total = int(RATE * SECONDS)

    async def on_msg(msg: Msg) -> None:
        key = (msg.headers or {}).get("Nats-Msg-Id", "")
        if key in sent and key not in got:
            got[key] = time.perf_counter()
            if len(got) == total:
                done.set()

    sub = await js.subscribe(
        names.input_wildcard,
        stream=names.input_stream,
        cb=on_msg,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.NEW,
    )
    start = time.perf_counter()
    for n in range(total):
        due = start + n / RATE
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tenant = TENANTS[n % len(TENANTS)]
        key = f"{tag}-lat-{n}"  # a new id each run: a repeat would be a duplicate
        sent[key] = time.perf_counter()
        await nc.publish(
            _subject(names, tenant, walled), _payload(tenant, n), headers={"Nats-Msg-Id": key}
        )
    await nc.flush()
    await asyncio.wait_for(done.wait(), 60)
    await sub.unsubscribe()
    ms = [(got[k] - sent[k]) * 1000 for k in got]
    return {"p50_ms": _percentile(ms, 0.5), "p99_ms": _percentile(ms, 0.99)}


async def _burst(nc: NATS, names: Names, walled: bool, tag: str) -> float:
    js = nc.jetstream()
    first = int((await js.stream_info(names.input_stream)).state.last_seq)
    start = time.perf_counter()
    for n in range(BURST):
        tenant = TENANTS[n % len(TENANTS)]
        await nc.publish(
            _subject(names, tenant, walled),
            _payload(tenant, n),
            headers={"Nats-Msg-Id": f"{tag}-{n}"},
        )
        if n % 2000 == 1999:
            await nc.flush()
    await nc.flush()
    while int((await js.stream_info(names.input_stream)).state.last_seq) < first + BURST:
        await asyncio.sleep(0.005)
    return BURST / (time.perf_counter() - start)


def test_what_sourcing_the_log_costs_the_way_in(benchmark: Any, tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()
    open_names, walled_names = Names("open"), Names("walled")

    async def run() -> dict[str, Any]:
        nc = await nats.connect(server.url, pending_size=64 * 1024 * 1024)
        try:
            js = nc.jetstream()
            await ensure_assets(js, open_names)
            await ensure_assets(js, walled_names, AssetSettings(tenants=TENANTS))
            lat: dict[str, list[dict[str, float]]] = {"open": [], "walled": []}
            rate: dict[str, list[float]] = {"open": [], "walled": []}
            for i in range(2):
                for mode, names in (("open", open_names), ("walled", walled_names)):
                    walled = mode == "walled"
                    lat[mode].append(await _latency(nc, names, walled, f"l{i}"))
                    rate[mode].append(await _burst(nc, names, walled, f"b{i}"))
        finally:
            await nc.close()
        out: dict[str, Any] = {}
        for mode in ("open", "walled"):
            best = min(lat[mode], key=lambda r: r["p50_ms"])
            out[f"{mode}_p50_ms"] = round(best["p50_ms"], 3)
            out[f"{mode}_p99_ms"] = round(best["p99_ms"], 3)
            out[f"{mode}_burst_inputs_per_s"] = round(max(rate[mode]))
        return out

    try:
        result = benchmark.pedantic(lambda: asyncio.run(run()), rounds=1, iterations=1)
    finally:
        server.stop()
    benchmark.extra_info.update(result)
    record("input log: captured vs sourced from entry streams", **result)
    assert result["walled_burst_inputs_per_s"] > 0 and result["open_burst_inputs_per_s"] > 0
