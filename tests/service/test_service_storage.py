"""A full store is a condition, not a failure: the writer keeps its role, says what is
full, producers get a clear error, and everything resumes by itself when space returns.
Also the durability default: the embedded server flushes before acknowledging."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from ccroute.client import Client, StoreFull
from ccroute.config import Config
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.loadgen import Workload
from ccroute.service.subjects import Names

from .checks import check_log
from .conftest import fast_settings, run_service
from .test_service_ops import http_get

STORE_BYTES = 3_000_000


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats", max_file_store=STORE_BYTES).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def small_nc(small_server: EmbeddedNats) -> AsyncIterator[NATS]:
    conn = await nats.connect(small_server.url)
    try:
        yield conn
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


def test_embedded_server_flushes_before_acknowledging(small_server: EmbeddedNats) -> None:
    assert "sync_interval: always" in small_server.conf_path.read_text()
    log = small_server.log_path.read_text()
    assert "Sync Interval" not in log or "always" in log.lower()


async def test_a_full_store_keeps_the_writer_and_resumes_by_itself(
    small_server: EmbeddedNats, small_nc: NATS, config: Config
) -> None:
    nc = small_nc
    names = Names("full")
    js = nc.jetstream()
    # Something else on the same store, deleted later to make room.
    await js.add_stream(StreamConfig(name="FILLER", subjects=["filler.>"]))
    for i in range(600):
        await js.publish("filler.x", b"%04d" % i * 250)
    settings = fast_settings(small_server.url, domain="full", tick_ms=200, metrics_port=0)
    steps = Workload(config, names, seed=4, max_waiting=2).generate(
        40_000, start_ms=int(time.time() * 1000) - 2000, rate=500
    )
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
        client = Client(nc, "full")
        sent = 0
        refused: StoreFull | None = None
        for step in steps:
            try:
                await client.publish_raw(step.subject, step.payload, step.id, timeout=3)
            except StoreFull as exc:
                refused = exc
                break
            sent += 1
        assert refused is not None, "the store never filled up"
        assert "insufficient" in refused.reason or "storage" in refused.reason, refused
        # Full for several lease TTLs: still the writer, and saying why it is degraded.
        assert svc.service.metrics_server is not None
        port = svc.service.metrics_server.port
        deadline = time.monotonic() + 3 * settings.lease_ttl
        while time.monotonic() < deadline:
            assert svc.service.role == "writer", svc.service.role
            await asyncio.sleep(0.1)
        status, body = await http_get(port, "/healthz")
        assert status == 200 and '"status": "degraded"' in body and "store_full" in body
        _, metrics = await http_get(port, "/metrics")
        assert 'ccroute_store_full{domain="full"} 1' in metrics
        # Room again: the same input goes through, the service catches up by itself.
        await js.delete_stream("FILLER")
        for step in steps[sent : sent + 200]:
            for _ in range(100):
                try:
                    await client.publish_raw(step.subject, step.payload, step.id, timeout=3)
                    break
                except StoreFull:
                    await asyncio.sleep(0.1)
        last = int((await js.stream_info(names.input_stream)).state.last_seq)
        deadline = time.monotonic() + 30
        while True:
            r = svc.service.router
            if r is not None and r.confirmed_seq >= last and not svc.service.store.full:
                break
            assert time.monotonic() < deadline, f"not resumed: {svc.service.status()}"
            await asyncio.sleep(0.1)
        status, body = await http_get(port, "/healthz")
        assert status == 200 and '"status": "ok"' in body
        _, metrics = await http_get(port, "/metrics")
        assert 'ccroute_store_full{domain="full"} 0' in metrics
    result = await check_log(nc, names, config)
    assert result["inputs"] >= sent + 200
