"""While caught up the writer applies small batches (an arrival never waits behind a long
engine call); while catching up, big ones (throughput)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from nats.aio.client import Client as NATS

from ccroute.client import Client
from ccroute.config import Config
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.metrics import Histogram

from .conftest import arrivals, fast_settings, run_service

LIVE = 10


def batches_over(h: Histogram, size: int) -> int:
    """Engine calls seen with more than ``size`` inputs (``size`` is a bucket bound)."""
    return sum(
        n for bound, n in zip((*h.bounds, float("inf")), h.counts, strict=True) if bound > size
    )


async def applied(cc: Client, seq: int) -> None:
    for _ in range(400):
        if (await cc.status()).get("applied_seq", 0) >= seq:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"the writer never applied input {seq}")


async def test_small_batches_while_live_big_ones_while_catching_up(
    nats_server: EmbeddedNats, nc: NATS, config: Config
) -> None:
    settings = fast_settings(nats_server.url)
    settings = replace(
        settings, router=replace(settings.router, live_batch=LIVE, catchup_backlog=200)
    )
    cc = Client(nc, "test")
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
        await svc.stop()
    # A backlog stored while no writer runs: the next one replays it in big batches.
    await cc.publish_many(arrivals(0, 2_000))
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
        sizes = svc.service.metrics.batch_size
        assert batches_over(sizes, LIVE) > 0, "the backlog was replayed in small batches"
        await applied(cc, 2_000)

        # Caught up: fewer inputs than the catch-up backlog arrive at once.
        before = batches_over(sizes, LIVE)
        calls = sizes.count
        await cc.publish_many(arrivals(2_000, 150))
        await applied(cc, 2_150)
        assert sizes.count - calls >= 150 // LIVE
        assert batches_over(sizes, LIVE) == before, "a live batch was longer than live_batch"

        # Far behind again (a burst): big batches come back.
        await cc.publish_many(arrivals(2_150, 5_000))
        await applied(cc, 7_150)
        assert batches_over(sizes, LIVE) > before, "a burst was applied in small batches only"
