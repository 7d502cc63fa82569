"""The gateway behind the tenant wall: ``ccroute serve`` with its embedded server secure
by default (the in-process gateway uses the admin credentials the service wrote), and a
separate ``ccroute web`` with a ``gateway`` credential, which has no JetStream and reads
the projections through the API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ccroute.web.tokens import issue_token, load_or_create_secret

from .stack import CONFIG, REPO


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python") + os.pathsep + env.get("PYTHONPATH", "")
    env.update({"CCROUTE_TICK_MS": "250", "CCROUTE_PROJECTION_FLUSH_SECONDS": "0.05"})
    return env


def _wait_line(log: Path, prefix: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        for line in log.read_text().splitlines():
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        time.sleep(0.05)
    raise TimeoutError(log.read_text()[-2000:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """(folder, NATS URL, in-process gateway URL) of a secure ``ccroute serve``."""
    tmp = tmp_path_factory.mktemp("wall")
    (tmp / "ccroute.toml").write_text(CONFIG)
    log = tmp / "serve.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ccroute",
            "serve",
            "--config",
            "ccroute.toml",
            "--data-dir",
            "d",
            "--http-port",
            "0",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=_env(),
        cwd=tmp,
    )
    try:
        nats_url = _wait_line(log, "ccroute: embedded NATS listening on ", proc)
        web_url = _wait_line(log, "ccroute: web gateway listening on ", proc)
        yield tmp, nats_url, web_url
    finally:
        _stop(proc)


def _token(data: Path, role: str, **kw: str) -> dict[str, str]:
    token = issue_token(load_or_create_secret(data), role, **kw)[0]  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def test_the_in_process_gateway_works_with_the_secure_embedded_server(
    secure: tuple[Path, str, str],
) -> None:
    tmp, _, web = secure
    agent = _token(tmp / "d", "agent", agent="aino")
    r = httpx.post(f"{web}/v1/agents/aino/login", json={}, headers=agent)
    assert r.status_code == 200 and r.json()["subject"].endswith("._agents.aino.agent_logged_in")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = httpx.get(f"{web}/v1/agents/aino", headers=agent).json()
        if status["state"] == "available":
            break
        time.sleep(0.1)
    assert status["state"] == "available"
    assert httpx.get(f"{web}/healthz").json()["ok"] is True


def test_a_gateway_with_the_gateway_credential_routes_a_contact(
    secure: tuple[Path, str, str],
) -> None:
    tmp, nats_url, _ = secure
    issued = subprocess.run(
        [sys.executable, "-m", "ccroute", "creds", "issue", "gateway", "--data-dir", "d"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp,
        check=True,
    )
    creds = json.loads(issued.stdout.splitlines()[0])["file"]
    log = tmp / "web.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ccroute",
            "web",
            "--config",
            "ccroute.toml",
            "--nats",
            nats_url,
            "--creds",
            creds,
            "--port",
            "0",
            "--data-dir",
            "w",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=_env(),
        cwd=tmp,
    )
    try:
        web = _wait_line(log, "ccroute: web gateway listening on ", proc)
        assert "projection_watch_unavailable" in log.read_text()  # no JetStream: the API
        agent = _token(tmp / "w", "agent", agent="eino")
        source = _token(tmp / "w", "integration", tenant="lumo")
        sup = _token(tmp / "w", "tenant_supervisor", tenant="lumo")
        assert httpx.post(f"{web}/v1/agents/eino/login", json={}, headers=agent).status_code == 200
        with httpx.stream("GET", f"{web}/v1/agents/eino/stream", headers=agent, timeout=20) as s:
            lines = s.iter_lines()
            assert next(lines) == "event: status"
            r = httpx.post(
                f"{web}/v1/tenants/lumo/inputs",
                headers=source,
                json={
                    "type": "contact_arrived",
                    "id": "wall-1",
                    "ts": int(time.time() * 1000),
                    "tenant": "lumo",
                    "contact": "c-wall-1",
                    "queue": "lumo-email",
                    "channel": "email",
                },
            )
            assert r.status_code == 200
            offer = None
            for line in lines:
                if line == "event: offer":
                    offer = json.loads(next(lines)[len("data: ") :])["offer"]
                    break
            assert offer is not None and offer["contact"] == "c-wall-1"
            assert offer["agent"] == "eino"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            agents = {
                a["agent"]: a
                for a in httpx.get(f"{web}/v1/tenants/lumo/agents", headers=sup).json()
            }
            if agents["eino"]["load"].get("email") == 1:
                break
            time.sleep(0.2)
        assert agents["eino"]["state"] == "available" and agents["eino"]["load"] == {"email": 1}
    finally:
        _stop(proc)
