"""A snapshot covers only inputs whose decisions are stored.

The next writer starts after the snapshot's input sequence, so a decision that was still
on its way when the snapshot was taken, and never arrived (the writer killed), would be
lost for good. The chaos run found it: the writer decided to snapshot between two
batches, but the snapshot's state was taken when its task first ran, after the loop had
applied the next batch, whose decisions were then in flight when the writer was killed.
"""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client as NATS

from ccroute.client import Client
from ccroute.config import Config
from ccroute.service.assets import ensure_assets
from ccroute.service.runner import Router, RouterSettings
from ccroute.service.subjects import Names


async def _batch(router: Router, n: int) -> list[tuple[bytes, bytes, bytes]]:
    assert router.consumer is not None
    got: list[tuple[bytes, bytes, bytes]] = []
    deadline = time.monotonic() + 10
    while len(got) < n and time.monotonic() < deadline:
        got += await router.consumer.next_batch(n - len(got), 0.5)
    assert len(got) == n
    return got


async def test_a_snapshot_taken_between_batches_holds_no_decision_still_on_its_way(
    nc: NATS, config: Config
) -> None:
    names = Names("horizon")
    await ensure_assets(nc.jetstream(), names)
    stop = asyncio.Event()
    router = Router(
        nc, names, config, RouterSettings(snapshot_every_seconds=0.0, projections=False)
    )
    await router.recover()
    cc = Client(nc, "horizon")
    await cc.login("a0")
    await cc.login("a1")
    await cc.arrive("t0", "c1", queue="t0-live", channel="chat")

    # The loop's first turn: apply, send, confirm. Every applied input's decision stored.
    first = await _batch(router, 3)
    router._process(first)
    await router._send(first, False, stop)
    await router._settle()
    assert router.applied_seq == router.confirmed_seq == 3

    # The loop's next turn: it decides to snapshot and, before yielding, applies the next
    # batch and starts sending its decisions.
    await cc.arrive("t0", "c2", queue="t0-live", channel="chat")
    await cc.arrive("t0", "c3", queue="t0-live", channel="chat")
    second = await _batch(router, 2)
    router._maybe_snapshot(time.monotonic())
    router._process(second)
    await router._send(second, False, stop)
    assert router.applied_seq == 5
    task = router._snapshot_task
    assert task is not None
    await task
    stored = await router.snapshots.load()
    assert stored is not None
    assert stored.seq == 3, "the snapshot covers inputs whose decisions were not stored"
    await router._settle()
    assert router.confirmed_seq == 5
    await router.consumer_stop()
