"""A full store is a condition, not a failure: the writer keeps its role, says what is
full, producers get a clear error, and everything resumes by itself when space returns.
Also the durability default: the embedded server flushes before acknowledging."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from ccroute.client import Client, ClientError, StoreFull
from ccroute.config import Config
from ccroute.service.disk_recovery import stuck_streams
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.loadgen import Workload
from ccroute.service.storage import StoreHealth
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
        assert "raise its max_file_store" in body, body
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


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs: a disk that really fills up (skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(path: Path) -> None:
    with path.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * (1 << 16))
            f.flush()


async def test_a_full_disk_under_the_embedded_server_resumes_by_itself(
    small_disk: Path, config: Config
) -> None:
    """nats-server keeps a stream that failed a write for want of disk space stuck after
    the space returns (until it restarts). The service owns its embedded server: it says
    what is stuck and why, keeps its role, and restarts the server once there is room;
    the inputs published again with the same ids go through, nothing lost or doubled."""
    names = Names("diskfull")
    settings = replace(
        fast_settings("", domain="diskfull", tick_ms=200, metrics_port=0),
        servers=None,
        data_dir=str(small_disk / "data"),
        insecure_dev=True,
    )
    steps = Workload(config, names, seed=5, max_waiting=2).generate(
        20_000, start_ms=int(time.time() * 1000) - 2000, rate=500
    )
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
        assert svc.service.embedded is not None and svc.service.store_watch is not None
        nc = await nats.connect(
            svc.service.embedded.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2
        )
        try:
            client = Client(nc, "diskfull")
            for step in steps[:300]:
                await client.publish_raw(step.subject, step.payload, step.id, timeout=3)
            sent = 300
            filler = small_disk / "filler"
            fill(filler)
            failed: Exception | None = None
            for step in steps[sent:]:
                try:
                    await client.publish_raw(step.subject, step.payload, step.id, timeout=1)
                except (ClientError, TimeoutError) as exc:
                    failed = exc
                    break
                sent += 1
            assert failed is not None, "the disk never filled up"
            # Stuck: still the writer, saying what is stuck and what brings it back.
            assert svc.service.metrics_server is not None
            port = svc.service.metrics_server.port
            deadline = time.monotonic() + 15
            while not svc.service.store.full:
                assert time.monotonic() < deadline, svc.service.status()
                await asyncio.sleep(0.1)
            deadline = time.monotonic() + 3 * settings.lease_ttl
            while time.monotonic() < deadline:
                assert svc.service.role == "writer", svc.service.role
                await asyncio.sleep(0.1)
            status, body = await http_get(port, "/healthz")
            assert status == 200 and '"status": "degraded"' in body, body
            assert "no space left on device" in body and "restarts by itself" in body, body
            assert svc.service.store_watch.restarts == 0
            # Room again: the service restarts its server; the same inputs go through.
            filler.unlink()
            for step in steps[sent : sent + 200]:
                for _ in range(200):
                    try:
                        await client.publish_raw(step.subject, step.payload, step.id, timeout=1)
                        break
                    except (ClientError, TimeoutError):
                        await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"input never stored again: {svc.service.status()}")
            assert svc.service.store_watch.restarts >= 1
            last = int((await nc.jetstream().stream_info(names.input_stream)).state.last_seq)
            deadline = time.monotonic() + 30
            while True:
                r = svc.service.router
                if r is not None and r.confirmed_seq >= last and not svc.service.store.full:
                    break
                assert time.monotonic() < deadline, f"not resumed: {svc.service.status()}"
                await asyncio.sleep(0.1)
            assert svc.service.role == "writer"
            status, body = await http_get(port, "/healthz")
            assert status == 200 and '"status": "ok"' in body, body
            result = await check_log(nc, names, config)
            assert result["inputs"] >= sent + 200
        finally:
            with contextlib.suppress(Exception):
                await nc.close()


def test_the_stuck_streams_are_read_from_the_servers_own_log_lines() -> None:
    log = (
        "[7042] 2026/12/05 11:47:52.928722 [ERR] Filestore [IN] Critical write error: write "
        "/d/nats/jetstream/$G/streams/IN/msgs/1.blk: no space left on device\n"
        "[7042] 2026/12/05 11:47:52.928781 [ERR] JetStream stream '$G > IN' critical write "
        "error: write /d/nats/jetstream/$G/streams/IN/msgs/1.blk: no space left on device\n"
        "[7042] 2026/12/05 11:47:54.930330 [ERR] JetStream failed to store a msg on stream "
        "'$G > IN': write /d/nats/jetstream/$G/streams/IN/msgs/1.blk: no space left on device\n"
    )
    assert stuck_streams(log) == {
        "IN": "write /d/nats/jetstream/$G/streams/IN/msgs/1.blk: no space left on device"
    }
    assert stuck_streams("[1] [INF] Server is ready\n") == {}


def test_unanswered_writes_to_an_external_server_tell_the_operator_to_restart_it() -> None:
    health = StoreHealth()
    health.UNANSWERED_AFTER = 0.0
    health.unanswered("CCROUTE_X_OUT")
    status = health.status()
    assert status is not None
    entry = status["CCROUTE_X_OUT"]
    assert "no answer" in entry["reason"]
    assert "free disk space, then restart nats-server" in entry["action"]
    health.stored("CCROUTE_X_OUT")
    assert health.status() is None
