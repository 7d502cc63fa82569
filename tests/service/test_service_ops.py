"""Operating the service: /metrics and /healthz, ``ccroute project --rebuild``, and
``ccroute serve`` starting its own embedded nats-server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from ccroute.client import Client
from ccroute.config import Config
from ccroute.service.embedded import EmbeddedNats, free_port
from ccroute.service.kv_entries import read_entries
from ccroute.service.loadgen import Workload
from ccroute.service.subjects import Names

from .checks import publish_steady
from .conftest import REPO, fast_settings, run_service


async def http_get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


async def kv_entries(nc: NATS, bucket: str) -> dict[str, bytes]:
    entries = await read_entries(nc.jetstream(), bucket)
    return {k: v for k, v in entries.items() if k.split(".")[0] in ("agent", "queue", "tenant")}


def content(entries: dict[str, bytes]) -> dict[str, dict[str, object]]:
    """The entries without when they were written (``as_of``, ``oldest_wait_ms``)."""
    when = ("as_of", "oldest_wait_ms")
    return {
        k: {f: x for f, x in json.loads(v).items() if f not in when} for k, v in entries.items()
    }


async def test_metrics_and_health(nats_server: EmbeddedNats, nc: NATS, config: Config) -> None:
    settings = fast_settings(nats_server.url, metrics_port=0)
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
        names = Names("test")
        steps = Workload(config, names, max_waiting=2).generate(300, start_ms=1, rate=100)
        await publish_steady(nc, names, steps, rate=5000)
        await nc.publish(names.input_subject("contact_arrived", "t0"), b"garbage")
        while svc.service.router is None or svc.service.router.applied_seq < 301:
            await asyncio.sleep(0.02)
        assert svc.service.metrics_server is not None
        port = svc.service.metrics_server.port
        status, body = await http_get(port, "/metrics")
        assert status == 200
        assert 'ccroute_events_in_total{domain="test"} 301' in body
        assert 'ccroute_dead_letters_total{domain="test",reason="malformed"} 1' in body
        assert 'ccroute_leader{domain="test"} 1' in body
        assert "ccroute_apply_seconds_bucket" in body and "ccroute_consumer_lag" in body
        assert "ccroute_snapshot_age_seconds" in body and "ccroute_event_latency_seconds" in body
        decisions = svc.service.metrics.decisions_out.get()
        assert decisions >= 300
        status, body = await http_get(port, "/healthz")
        assert status == 200 and '"role": "writer"' in body
        assert (await http_get(port, "/nope"))[0] == 404


async def test_project_rebuild_matches_live_projections(
    nats_server: EmbeddedNats, nc: NATS, config: Config, config_file: Path
) -> None:
    names = Names("proj")
    async with run_service(config, fast_settings(nats_server.url, domain="proj")) as svc:
        await svc.wait_ready()
        steps = Workload(config, names, max_waiting=2).generate(
            1500, start_ms=1_700_000_000_000, rate=50
        )
        await publish_steady(nc, names, steps, rate=5000)
        while svc.service.router is None or svc.service.router.applied_seq < 1500:
            await asyncio.sleep(0.02)
        assert await svc.stop() == 0  # flushes the projections
    live = await kv_entries(nc, names.kv_bucket)
    assert any(k.startswith("agent.") for k in live) and any(k.startswith("tenant.") for k in live)
    # Spoil one entry, then rebuild from the log alone.
    await (await nc.jetstream().key_value(names.kv_bucket)).put("agent.a0", b"{}")
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ccroute",
            "project",
            "--config",
            str(config_file),
            "--nats",
            nats_server.url,
            "--domain",
            "proj",
            "--rebuild",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert '"rebuilt": true' in out.stdout and '"inputs": 1500' in out.stdout
    rebuilt = await kv_entries(nc, names.kv_bucket)
    # as_of is the engine clock when an entry was written, and oldest_wait_ms is measured
    # at it: the rebuild writes every entry at the end of the log, the live writer each
    # when it last changed (with small batches while caught up, often before the end).
    assert content(rebuilt) == content(live)
    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "ccroute",
            "project",
            "--config",
            str(config_file),
            "--nats",
            nats_server.url,
            "--domain",
            "proj",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert '"key": "agent.a0"' in listing.stdout


CREDS_ISSUE = (sys.executable, "-m", "ccroute", "creds", "issue")


async def test_serve_starts_an_embedded_server(tmp_path: Path, config_file: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), CCROUTE_TICK_MS="0")
    metrics_port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ccroute",
            "serve",
            "--config",
            str(config_file),
            "--data-dir",
            str(tmp_path / "data"),
            "--metrics-port",
            str(metrics_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
        assert b"embedded NATS listening on nats://127.0.0.1:" in line
        url = line.decode().rsplit(" ", 1)[1].strip()
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
        admin_creds = line.decode().split(" in ", 1)[1].strip()
        assert admin_creds.endswith("admin-default.creds")
        # Secure by default: an anonymous client is refused; the admin's credential works.
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0)
        nc = await Client.connect(url, creds=admin_creds, allow_reconnect=False)
        deadline = time.monotonic() + 15
        while True:
            try:
                status, body = await http_get(metrics_port, "/healthz")
                if status == 200 and "writer" in body:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        # `ccroute creds` against the running server: issue, connect, revoke, dropped.
        data = str(tmp_path / "data")
        issued = subprocess.run(
            [
                sys.executable,
                "-m",
                "ccroute",
                "creds",
                "issue",
                "tenant",
                "--tenant",
                "t1",
                "--name",
                "crm-t1",
                "--data-dir",
                data,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        creds_file = json.loads(issued.stdout)["file"]
        # The secret is never printed.  (Compare the seed itself: a public key may
        # well contain the letters "SU" by chance.)
        seed = next(ln for ln in Path(creds_file).read_text().splitlines() if ln.startswith("SU"))
        assert seed not in issued.stdout + issued.stderr
        assert "server reloaded" in issued.stderr
        tenant = await Client.connect(url, creds=creds_file, allow_reconnect=False)
        assert await tenant.queue_view("t1", "t1-live") is not None
        # A tenant new to the accounts: `creds issue` (as the admin) gives it its entry
        # stream, sourced by the log, before it can publish its first input.
        issued = subprocess.run(
            [*CREDS_ISSUE, "tenant", "--tenant", "t9", "--name", "crm-t9", "--data-dir", data],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        assert "entry stream CCROUTE_DEFAULT_IN_T_t9 created" in issued.stderr
        # (Published here by the admin where t9's import would land: nats-server 2.15 gives
        # an account added by a reload no working service import until it restarts;
        # docs/security.md.)
        reply = await nc.nc.request("ccroute.default.entry.t9.contact_arrived", b"{}", timeout=5)
        assert json.loads(reply.data) == {"stream": "CCROUTE_DEFAULT_IN_T_t9", "seq": 1}
        log_info = await nc.nc.jetstream().stream_info("CCROUTE_DEFAULT_IN")
        assert "CCROUTE_DEFAULT_IN_T_t9" in {src.name for src in log_info.config.sources or []}
        subprocess.run(
            [sys.executable, "-m", "ccroute", "creds", "revoke", "crm-t1", "--data-dir", data],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        deadline = time.monotonic() + 10
        while tenant.nc.is_connected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not tenant.nc.is_connected
        listing = subprocess.run(
            [sys.executable, "-m", "ccroute", "creds", "list", "--data-dir", data],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        ).stdout
        rows = {r["name"]: r for r in map(json.loads, listing.splitlines())}
        assert rows["crm-t1"]["revoked_at"] and rows["router-default"]["kind"] == "router"
        await nc.close()
        assert (tmp_path / "data" / "nats" / "jetstream").is_dir()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
