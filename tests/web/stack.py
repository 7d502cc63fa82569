"""A real web stack: ``nats-server -js`` on a free loopback port and
``python -m ccroute serve --http-port 0`` (service + in-process gateway) beside it.

Shared by the gateway tests (``conftest.py``) and ``tools/web_screenshots.py``, which
starts the same stack with the same two tenants and its own queues and agents."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ccroute.service.embedded import EmbeddedNats
from ccroute.web.tokens import Role, issue_token, load_or_create_secret

REPO = Path(__file__).resolve().parents[2]

TENANTS = """
[routing]
offer_timeout_seconds = 30

[[tenants]]
id = "lumo"
name = "Lumo Energia"
timezone = "Europe/Helsinki"

[[tenants]]
id = "kide"
name = "Kide Shop"
timezone = "Europe/Helsinki"
"""
"""The routing settings and the two tenants, Lumo and Kide, that every web stack has."""

CONFIG = (
    TENANTS
    + """
[[queues]]
id = "lumo-voice"
tenant = "lumo"
channels = ["voice", "chat"]
wrap_up_seconds = 0
service_level = { threshold_seconds = 20, target_percent = 80 }

[[queues]]
id = "lumo-email"
tenant = "lumo"
channels = ["email"]
wrap_up_seconds = 120
service_level = { threshold_seconds = 3600, target_percent = 90 }

[[queues]]
id = "kide-chat"
tenant = "kide"
channels = ["chat"]

[[agents]]
id = "aino"
name = "Aino Virtanen"
languages = ["fi", "sv", "en"]
tenants = ["lumo"]
capacity = { voice = 1, chat = 2, email = 3 }

[[agents]]
id = "bjorn"
name = "Björn Lindqvist"
languages = ["sv", "en"]
tenants = ["kide"]
capacity = { chat = 2 }

[[agents]]
id = "eino"
name = "Eino Mäkelä"
languages = ["fi"]
tenants = ["lumo"]
capacity = { voice = 1, email = 2 }
"""
)


@dataclass
class Stack:
    url: str
    nats_url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]

    def token(self, role: Role, *, tenant: str | None = None, agent: str | None = None) -> str:
        secret = load_or_create_secret(self.data_dir)
        return issue_token(secret, role, tenant=tenant, agent=agent)[0]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def start_stack(
    tmp: Path, config: str = CONFIG, *, tick_ms: int = 250
) -> tuple[EmbeddedNats, Stack]:
    nats = EmbeddedNats(tmp / "nats").start()
    cfg = tmp / "ccroute.toml"
    cfg.write_text(config)
    data = tmp / "data"
    log = tmp / "serve.log"
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(REPO / "python") + os.pathsep + env.get("PYTHONPATH", ""),
            "CCROUTE_TICK_MS": str(tick_ms),
            "CCROUTE_LEASE_TTL": "2",
            "CCROUTE_PROJECTION_FLUSH_SECONDS": "0.05",
        }
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ccroute",
            "serve",
            "--config",
            str(cfg),
            "--nats",
            nats.url,
            "--domain",
            "web",
            "--data-dir",
            str(data),
            "--http-port",
            "0",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=str(tmp),
    )
    deadline = time.monotonic() + 30
    url = None
    while time.monotonic() < deadline and url is None:
        if proc.poll() is not None:
            raise RuntimeError(f"ccroute serve exited: {log.read_text()[-2000:]}")
        for line in log.read_text().splitlines():
            if "web gateway listening on " in line:
                url = line.split("listening on ", 1)[1].strip()
        time.sleep(0.05)
    assert url, f"gateway did not start: {log.read_text()[-2000:]}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return nats, Stack(url, nats.url, data, proc)


def stop_stack(nats: EmbeddedNats, stack: Stack) -> None:
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGTERM)
        try:
            stack.proc.wait(20)
        except subprocess.TimeoutExpired:
            stack.proc.kill()
            stack.proc.wait(5)
    nats.stop()
