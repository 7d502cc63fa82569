"""Faults, with the service as a real ``python -m ccroute serve`` process: SIGKILL in the
middle of a steady load, a restart of nats-server itself, a standby taking over, and a
graceful stop that snapshots."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from nats.aio.client import Client as NATS

from ccroute.service.embedded import EmbeddedNats
from ccroute.service.loadgen import Workload, make_config
from ccroute.service.subjects import Names

from .checks import api_status, check_log, publish_steady, wait_writer
from .conftest import serve_subprocess, stop_subprocess

CONFIG = make_config(tenants=2, agents=8)


def steps_for(names: Names, n: int, seed: int = 3) -> list:  # type: ignore[type-arg]
    return Workload(CONFIG, names, seed=seed, max_waiting=2).generate(
        n, start_ms=1_700_000_000_000, rate=500
    )


async def last_input_seq(nc: NATS, names: Names) -> int:
    info = await nc.jetstream().stream_info(names.input_stream)
    return int(info.state.last_seq)


async def test_sigkill_mid_load_then_restart(
    nats_server: EmbeddedNats, nc: NATS, config_file: Path, tmp_path: Path
) -> None:
    names = Names("kill")
    log = tmp_path / "serve.log"
    env = {"CCROUTE_SNAPSHOT_EVENTS": "1000"}
    proc = serve_subprocess(config_file, nats_server.url, names.domain, env=env, log=log)
    try:
        await wait_writer(nc, names)
        steps = steps_for(names, 6000)
        progress = [0]
        load = asyncio.create_task(publish_steady(nc, names, steps, rate=2000, progress=progress))
        while progress[0] < 2500:
            await asyncio.sleep(0.02)
        st = await api_status(nc, names)
        assert st is not None and st["applied_seq"] > 1000  # it was working, with a snapshot
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        await asyncio.sleep(0.3)
        proc = serve_subprocess(config_file, nats_server.url, names.domain, env=env, log=log)
        await load
        last = await last_input_seq(nc, names)
        assert last == 6000
        st = await wait_writer(nc, names, min_seq=last)
        assert st["recovery_seconds"] < 10
        result = await check_log(nc, names, CONFIG)
        assert result["inputs"] == 6000
        assert stop_subprocess(proc) == 0
    finally:
        stop_subprocess(proc, signal.SIGKILL)
    text = log.read_text()
    assert "snapshot_saved" in text and "recovering from_seq=" in text


async def test_nats_server_restart_mid_load(
    nats_server: EmbeddedNats, nc: NATS, config_file: Path, tmp_path: Path
) -> None:
    names = Names("bounce")
    log = tmp_path / "serve.log"
    proc = serve_subprocess(config_file, nats_server.url, names.domain, log=log)
    try:
        await wait_writer(nc, names)
        steps = steps_for(names, 5000, seed=5)
        progress = [0]
        load = asyncio.create_task(publish_steady(nc, names, steps, rate=2000, progress=progress))
        while progress[0] < 2000:
            await asyncio.sleep(0.02)
        await asyncio.get_running_loop().run_in_executor(None, nats_server.restart)
        await asyncio.wait_for(load, 60)
        last = await last_input_seq(nc, names)
        assert last == 5000  # the publisher's retries were deduplicated
        await wait_writer(nc, names, min_seq=last, timeout=30)
        await check_log(nc, names, CONFIG)
        assert proc.poll() is None  # the service rode the restart out
        assert stop_subprocess(proc) == 0
    finally:
        stop_subprocess(proc, signal.SIGKILL)


async def test_standby_takes_over_when_leader_dies(
    nats_server: EmbeddedNats, nc: NATS, config_file: Path, tmp_path: Path
) -> None:
    names = Names("ha")
    first = serve_subprocess(config_file, nats_server.url, names.domain, log=tmp_path / "a.log")
    second = None
    try:
        await wait_writer(nc, names)
        second = serve_subprocess(
            config_file, nats_server.url, names.domain, log=tmp_path / "b.log"
        )
        deadline = time.monotonic() + 15
        while "standby" not in (tmp_path / "b.log").read_text() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert "standby" in (tmp_path / "b.log").read_text()
        steps = steps_for(names, 3000, seed=9)
        progress = [0]
        load = asyncio.create_task(publish_steady(nc, names, steps, rate=1500, progress=progress))
        while progress[0] < 1200:
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait(10)
        while "lease_acquired" not in (tmp_path / "b.log").read_text():
            assert time.monotonic() - killed_at < 8, "standby did not take over"
            await asyncio.sleep(0.05)
        took_over = time.monotonic() - killed_at
        print(f"standby took over {took_over:.2f}s after the writer was killed")
        await load
        st = await wait_writer(nc, names, min_seq=3000)
        assert took_over < 5, f"took over after {took_over:.1f}s"
        assert st["holder"] and st["role"] == "writer"
        await check_log(nc, names, CONFIG)
        assert stop_subprocess(second) == 0
    finally:
        stop_subprocess(first, signal.SIGKILL)
        if second is not None:
            stop_subprocess(second, signal.SIGKILL)


async def test_graceful_stop_snapshots_and_restart_resumes(
    nats_server: EmbeddedNats, nc: NATS, config_file: Path, tmp_path: Path
) -> None:
    names = Names("grace")
    log = tmp_path / "serve.log"
    proc = serve_subprocess(config_file, nats_server.url, names.domain, log=log)
    try:
        await wait_writer(nc, names)
        await publish_steady(nc, names, steps_for(names, 800, seed=11), rate=4000)
        await wait_writer(nc, names, min_seq=800)
        assert stop_subprocess(proc, signal.SIGTERM) == 0
        assert "snapshot_saved seq=800" in log.read_text()
        proc = serve_subprocess(config_file, nats_server.url, names.domain, log=log)
        st = await wait_writer(nc, names, min_seq=800)
        assert st["snapshot_seq"] == 800
        assert "caught_up applied_seq=800 replayed=0" in log.read_text()
        await check_log(nc, names, CONFIG)
        assert stop_subprocess(proc, signal.SIGINT) == 0
    finally:
        stop_subprocess(proc, signal.SIGKILL)


async def test_a_hole_in_the_decision_stream_is_filled_on_replay(
    nats_server: EmbeddedNats, nc: NATS, config_file: Path, tmp_path: Path
) -> None:
    """A batch cut by a lost connection can reach the stream with a hole; if the writer
    then dies before re-sending it, the next writer's replay fills the hole."""
    names = Names("hole")
    log = tmp_path / "serve.log"
    # A real hole's ids never reached the stream; deleted messages' ids stay in the
    # duplicate window, so keep it short here and let it pass.
    env = {"CCROUTE_DECISION_DUPLICATE_WINDOW": "0.5"}
    proc = serve_subprocess(config_file, nats_server.url, names.domain, env=env, log=log)
    try:
        await wait_writer(nc, names)
        await publish_steady(nc, names, steps_for(names, 600, seed=13), rate=5000)
        await wait_writer(nc, names, min_seq=600)
        assert stop_subprocess(proc) == 0
        js = nc.jetstream()
        info = await js.stream_info(names.decision_stream)
        last = int(info.state.last_seq)
        for seq in (last - 40, last - 39, last - 7):
            await js.delete_msg(names.decision_stream, seq)
        store = await js.object_store(names.snapshot_bucket)
        await store.delete("engine")  # no snapshot: the tail is replayed
        await asyncio.sleep(0.6)
        proc = serve_subprocess(config_file, nats_server.url, names.domain, env=env, log=log)
        await wait_writer(nc, names, min_seq=600)
        await check_log(nc, names, CONFIG, in_order=False)
        assert stop_subprocess(proc) == 0
    finally:
        stop_subprocess(proc, signal.SIGKILL)
