"""While busy the writer keeps what its allocators free (on a virtual machine each page
handed back and used again costs a page fault of 8-16 us, and a snapshot every 20 s
frees and uses again tens of megabytes); once idle it gives it back, once per idle
spell, and never while a snapshot is in flight."""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client as NATS

from ccroute.client import Client
from ccroute.config import Config
from ccroute.service.assets import ensure_assets
from ccroute.service.runner import RELEASE_IDLE_S, Router, RouterSettings
from ccroute.service.subjects import Names


async def _released(router: Router, times: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while router.metrics.memory_releases.get() < times and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return router.metrics.memory_releases.get() == times


async def test_an_idle_writer_gives_back_the_memory_it_kept_while_busy(
    nc: NATS, config: Config
) -> None:
    names = Names("idle-memory")
    await ensure_assets(nc.jetstream(), names)
    router = Router(
        nc, names, config, RouterSettings(snapshot_every_seconds=0.3, projections=False)
    )
    await router.recover()
    stop = asyncio.Event()
    loop = asyncio.create_task(router.run(stop))
    cc = Client(nc, "idle-memory")
    try:
        await cc.login("a0")
        # Busy: an input every 0.1 s for 2 s, snapshots taken meanwhile.
        for i in range(20):
            await cc.arrive("t0", f"c{i}", queue="t0-live", channel="chat")
            await asyncio.sleep(0.1)
        assert router.snapshot_seq > 0, "snapshots were taken while busy"
        assert router.metrics.memory_releases.get() == 0, "nothing given back while busy"

        # Idle: given back once, RELEASE_IDLE_S after the last input and snapshot.
        quiet_from = time.monotonic()
        assert await _released(router, 1)
        assert time.monotonic() - quiet_from >= RELEASE_IDLE_S - 0.3
        await asyncio.sleep(2 * RELEASE_IDLE_S)
        assert router.metrics.memory_releases.get() == 1, "once per idle spell"

        # Busy again, then idle again: once more.
        await cc.arrive("t0", "c-late", queue="t0-live", channel="chat")
        assert await _released(router, 2)
    finally:
        stop.set()
        await loop
        await router.consumer_stop()
