"""Retention that cannot work is refused at start, naming the keys; a log that truly lost
inputs the state needs is said so (health, metrics) and nothing is routed from it."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from ccroute.config import Config
from ccroute.service.assets import ensure_assets
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.loadgen import Workload
from ccroute.service.service import ServiceSettings, SettingsError
from ccroute.service.subjects import Names

from .checks import publish_steady
from .conftest import fast_settings, run_service, serve_subprocess, stop_subprocess
from .test_service_ops import http_get


@pytest.mark.parametrize(
    ("env", "keys"),
    [
        (
            {"CCROUTE_INPUT_MAX_AGE": "10"},
            ("input_max_age_seconds", "input_duplicate_window_seconds"),
        ),
        (
            {"CCROUTE_INPUT_MAX_AGE": "120", "CCROUTE_SNAPSHOT_SECONDS": "60"},
            ("input_max_age_seconds", "snapshot_every_seconds"),
        ),
        (
            {"CCROUTE_DECISION_MAX_AGE": "5"},
            ("decision_max_age_seconds", "decision_duplicate_window_seconds"),
        ),
    ],
)
def test_retention_shorter_than_recovery_needs_is_refused_at_start(
    nats_server: EmbeddedNats,
    config_file: Path,
    tmp_path: Path,
    env: dict[str, str],
    keys: tuple[str, str],
) -> None:
    log = tmp_path / "serve.log"
    proc = serve_subprocess(config_file, nats_server.url, "retention", env=env, log=log)
    try:
        assert proc.wait(30) == 2
    finally:
        stop_subprocess(proc, signal.SIGKILL)
    text = log.read_text()
    assert "Traceback" not in text
    for key in keys:
        assert key in text, text


def test_settings_check_accepts_what_recovery_can_live_with() -> None:
    ServiceSettings().check()  # the defaults keep the whole log
    s = ServiceSettings.from_args(None, env={"CCROUTE_INPUT_MAX_AGE": "86400"})
    s.check()
    with pytest.raises(SettingsError, match="input_max_age_seconds"):
        ServiceSettings.from_args(None, env={"CCROUTE_INPUT_MAX_AGE": "30"}).check()


async def test_a_log_trimmed_past_the_state_is_reported_and_not_routed(
    nats_server: EmbeddedNats, nc: NATS, config: Config
) -> None:
    names = Names("trimmed")
    js = nc.jetstream()
    await ensure_assets(js, names)
    steps = Workload(config, names, seed=8, max_waiting=2).generate(
        400, start_ms=1_700_000_000_000, rate=100
    )
    await publish_steady(nc, names, steps, rate=5000)
    # The first 150 inputs are gone (aged out while no snapshot covered them).
    await js.purge_stream(names.input_stream, seq=151)
    settings = fast_settings(nats_server.url, domain="trimmed", metrics_port=0)
    async with run_service(config, settings) as svc:
        deadline = time.monotonic() + 15
        while svc.service.role != "halted":
            assert time.monotonic() < deadline, svc.service.role
            await asyncio.sleep(0.05)
        assert svc.service.metrics_server is not None
        port = svc.service.metrics_server.port
        status, body = await http_get(port, "/healthz")
        assert status == 503 and "log_trimmed" in body and '"first_seq": 151' in body
        _, metrics = await http_get(port, "/metrics")
        assert 'ccroute_log_trimmed{domain="trimmed"} 1' in metrics
        await asyncio.sleep(1.0)  # time it would have needed to route
        info = await js.stream_info(names.decision_stream)
        assert info.state.messages == 0, "routed from a state known to be wrong"
