"""``ccroute serve`` stops within 2 s of SIGTERM or SIGINT in every state: still trying to
reach a server that is not there, the writer at work, the writer cut off from its
server. Each test runs the real command as a subprocess and measures from the signal to
the exit."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest
from tests.service.conftest import serve_subprocess

from ccroute.client import Client
from ccroute.service.embedded import EmbeddedNats, find_nats_server, free_port

STOP_WITHIN_S = 2.0


def _wait_for_line(log: Path, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged within {timeout} s:\n{log.read_text()}")


def _seconds_to_stop(proc: subprocess.Popen[bytes], sig: int) -> float:
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError("ccroute serve ignored the signal for 10 s") from None
    return time.monotonic() - t0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_server_that_is_not_there_is_retried_aloud_and_a_signal_still_stops_it(
    tmp_path: Path, config_file: Path, sig: int
) -> None:
    log = tmp_path / "serve.log"
    nowhere = f"nats://127.0.0.1:{free_port()}"
    proc = serve_subprocess(config_file, nowhere, "stop", log=log)
    try:
        # Every failed attempt is logged with its number: no silent hang.
        _wait_for_line(log, "nats_connect_failed attempt=2")
        took = _seconds_to_stop(proc, sig)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert took < STOP_WITHIN_S, log.read_text()
    assert proc.returncode == 0
    text = log.read_text()
    assert f"servers={nowhere}" in text
    assert "stopped domain=stop (before connecting)" in text


def test_the_writer_stops_cleanly_within_two_seconds(tmp_path: Path, config_file: Path) -> None:
    log = tmp_path / "serve.log"
    with EmbeddedNats(tmp_path / "nats") as server:
        proc = serve_subprocess(config_file, server.url, "stop", log=log)
        try:
            _wait_for_writer(log)
            took = _seconds_to_stop(proc, signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    assert took < STOP_WITHIN_S, log.read_text()
    assert proc.returncode == 0, log.read_text()


def test_a_writer_cut_off_from_its_server_still_stops_within_two_seconds(
    tmp_path: Path, config_file: Path
) -> None:
    log = tmp_path / "serve.log"
    server = EmbeddedNats(tmp_path / "nats").start()
    proc = serve_subprocess(config_file, server.url, "stop", log=log)
    try:
        _wait_for_writer(log)
        server.kill()  # the server dies under the writer: reconnecting for ever
        _wait_for_line(log, "nats_disconnected")
        took = _seconds_to_stop(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        server.stop()
    assert took < STOP_WITHIN_S, log.read_text()


def test_a_stop_while_the_server_cannot_make_the_streams_is_a_clean_stop(
    tmp_path: Path, config_file: Path
) -> None:
    """A service started while its server is restarting (a writer replaced during a
    server restart, in the chaos run) stopped with a traceback and exit status 1 when
    the signal came before the streams could be checked. Here the server has no
    JetStream at all, then stops answering, so a request is in flight at the signal."""
    port = free_port()
    server = subprocess.Popen(
        [find_nats_server(), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = tmp_path / "serve.log"
    proc = serve_subprocess(config_file, f"nats://127.0.0.1:{port}", "stop", log=log)
    try:
        _wait_for_line(log, "assets_retry")  # retried aloud, not a crash
        server.send_signal(signal.SIGSTOP)  # the next check waits for an answer
        time.sleep(2.5)  # past the longest rest between checks: one is in flight
        took = _seconds_to_stop(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait(5)
    text = log.read_text()
    assert proc.returncode == 0, text
    assert took < STOP_WITHIN_S, text
    assert "Traceback" not in text
    assert "assets_not_ready" in text


def _wait_for_writer(log: Path) -> None:
    """The service logs ``caught_up`` once it holds the lease and has replayed the log."""
    _wait_for_line(log, "caught_up")


async def test_a_client_closing_while_its_server_is_paused_does_not_wait_for_it() -> None:
    """An agent desktop shutting down while the server does not answer (paused, cut off)
    waited out nats-py's drain: its closing flush alone waits 10 s. ``Client.close`` now
    drains for at most the time it is given, then closes."""
    port = free_port()
    server = subprocess.Popen(
        [find_nats_server(), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = await _connect_when_up(f"nats://127.0.0.1:{port}")
        server.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        await client.close(drain_seconds=0.5)
        took = time.monotonic() - t0
        assert client.nc.is_closed
    finally:
        server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait(5)
    assert took < 1.5


async def test_a_client_closing_normally_still_delivers_what_it_buffered(tmp_path: Path) -> None:
    """The bounded close is still a drain: a publish buffered just before it arrives."""
    import nats

    server = EmbeddedNats(tmp_path / "nats").start()
    try:
        seen = await nats.connect(server.url)
        sub = await seen.subscribe("desk.bye")
        await seen.flush()
        client = await _connect_when_up(server.url)
        await client.nc.publish("desk.bye", b"logged out")  # buffered, not flushed
        await client.close()
        msg = await sub.next_msg(timeout=2)
        await seen.close()
    finally:
        server.stop()
    assert msg.data == b"logged out"


async def _connect_when_up(url: str) -> Client:
    deadline = time.monotonic() + 10
    while True:
        try:
            return await Client.connect(url, connect_timeout=1, max_reconnect_attempts=0)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
