"""Fixtures of the service tests: a real ``nats-server -js`` per test, on a free loopback
port with its store in the test's temporary directory, and helpers to run the service
in-process or as a ``python -m ccroute serve`` subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from ccroute.config import Config
from ccroute.events import ContactArrived
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.loadgen import config_toml, make_config
from ccroute.service.runner import RouterSettings
from ccroute.service.service import Service, ServiceSettings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[NATS]:
    conn = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        yield conn
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


@pytest.fixture
def config() -> Config:
    return make_config(tenants=2, agents=8)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    p = tmp_path / "ccroute.toml"
    p.write_text(config_toml(tenants=2, agents=8))
    return p


def arrivals(first: int, n: int) -> list[ContactArrived]:
    """``n`` chats arriving for tenant t0's live queue, one a millisecond of event time."""
    return [
        ContactArrived(
            id=f"arr-{i}",
            ts=1_000 + i,
            tenant="t0",
            contact=f"c{i}",
            queue="t0-live",
            channel="chat",
        )
        for i in range(first, first + n)
    ]


def fast_settings(url: str, domain: str = "test", **kw: Any) -> ServiceSettings:
    """Settings for tests: no ticks unless asked, quick flushes, small lease TTL."""
    router = RouterSettings(
        batch=kw.pop("batch", 500),
        pull_batch=kw.pop("pull_batch", 500),
        snapshot_every_events=kw.pop("snapshot_every_events", 100_000),
        snapshot_every_seconds=kw.pop("snapshot_every_seconds", 60.0),
        projection_flush_seconds=kw.pop("projection_flush_seconds", 0.05),
    )
    s = ServiceSettings(domain=domain, servers=[url], tick_ms=kw.pop("tick_ms", 0), lease_ttl=2)
    return replace(s, router=router, **kw)


class RunningService:
    def __init__(self, service: Service, task: asyncio.Task[int], stop: asyncio.Event) -> None:
        self.service = service
        self.task = task
        self.stop_event = stop

    async def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.task.done():
                self.task.result()
            r = self.service.router
            if self.service.role == "writer" and r is not None and r.ready:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("service not ready")

    async def stop(self) -> int:
        self.stop_event.set()
        return await asyncio.wait_for(self.task, 20)


@contextlib.asynccontextmanager
async def run_service(config: Config, settings: ServiceSettings) -> AsyncIterator[RunningService]:
    """The service as an asyncio task of the test, stopped (gracefully) at the end."""
    stop = asyncio.Event()
    service = Service(config, settings)
    task = asyncio.create_task(service.run(stop))
    running = RunningService(service, task, stop)
    try:
        yield running
    finally:
        if not task.done():
            await running.stop()


@pytest.fixture
async def svc(nats_server: EmbeddedNats, config: Config) -> AsyncIterator[RunningService]:
    """The service on the test's server with the test configuration and
    :func:`fast_settings`, ready (the writer); stopped gracefully at the end."""
    async with run_service(config, fast_settings(nats_server.url)) as running:
        await running.wait_ready()
        yield running


def serve_subprocess(
    config_file: Path, url: str, domain: str, *, env: dict[str, str] | None = None, log: Path
) -> subprocess.Popen[bytes]:
    """``python -m ccroute serve --nats URL`` as a real process (for kill tests)."""
    e = dict(os.environ)
    e.update(
        {
            "PYTHONPATH": str(REPO / "python") + os.pathsep + e.get("PYTHONPATH", ""),
            "CCROUTE_TICK_MS": "0",
            "CCROUTE_LEASE_TTL": "2",
            "CCROUTE_PROJECTION_FLUSH_SECONDS": "0.1",
            "CCROUTE_LOG_LEVEL": "INFO",
        }
    )
    e.update(env or {})
    out = log.open("ab")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ccroute",
            "serve",
            "--config",
            str(config_file),
            "--nats",
            url,
            "--domain",
            domain,
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=e,
        cwd=str(log.parent),
    )


def stop_subprocess(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(5)
    return int(proc.returncode)
