"""A writer paused longer than its lease (SIGSTOP: a VM pause, CPU starvation) while a
standby takes over, then resumed: the router must not split. The old writer stops
consuming and publishing, the server refuses what it still sends (fencing), the new
writer skips no input, and the decision stream stays equal to a replay of the log."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

from nats.aio.client import Client as NATS

from ccroute.service.embedded import EmbeddedNats
from ccroute.service.loadgen import Workload, make_config
from ccroute.service.subjects import Names

from .checks import check_log, publish_steady, wait_writer
from .conftest import serve_subprocess, stop_subprocess

CONFIG = make_config(tenants=2, agents=8)
LEASE_TTL = 2


def steps_for(names: Names, n: int, seed: int) -> list:  # type: ignore[type-arg]
    return Workload(CONFIG, names, seed=seed, max_waiting=2).generate(
        n, start_ms=1_700_000_000_000, rate=500
    )


async def wait_for_line(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"{text!r} not in {path.name} after {timeout}s"
        await asyncio.sleep(0.05)


async def test_writer_stalled_past_its_lease_does_not_split_the_router(
    nats_server: EmbeddedNats, nc: NATS, config_file: Path, tmp_path: Path
) -> None:
    names = Names("stall")
    env = {"CCROUTE_LEASE_TTL": str(LEASE_TTL)}
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs: list[subprocess.Popen[bytes]] = [
        serve_subprocess(config_file, nats_server.url, names.domain, env=env, log=logs[0])
    ]
    try:
        await wait_writer(nc, names)
        procs.append(
            serve_subprocess(config_file, nats_server.url, names.domain, env=env, log=logs[1])
        )
        await wait_for_line(logs[1], "standby", 20)
        steps = steps_for(names, 9000, seed=21)
        progress = [0]
        load = asyncio.create_task(publish_steady(nc, names, steps, rate=1000, progress=progress))
        while progress[0] < 1500:
            await asyncio.sleep(0.02)
        # Pause the writer for well over the lease: the standby takes over meanwhile.
        writer = procs[0]
        writer.send_signal(signal.SIGSTOP)
        try:
            await wait_for_line(logs[1], "lease_acquired", 20)
            await asyncio.sleep(1.5)  # the new writer is working when the old one wakes up
        finally:
            writer.send_signal(signal.SIGCONT)
        await asyncio.wait_for(load, 60)
        await wait_writer(nc, names, min_seq=9000, timeout=30)
        await asyncio.sleep(1.0)  # what the old writer might still send arrives by now
        result = await check_log(nc, names, CONFIG)
        assert result["inputs"] == 9000
        old = logs[0].read_text()
        assert "lease_lost" in old or "writer_stepped_down" in old
        for p in procs:
            assert stop_subprocess(p) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
            stop_subprocess(p, signal.SIGKILL)
