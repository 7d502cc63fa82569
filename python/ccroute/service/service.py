"""The service process: connect, set up assets, stand by or write, stop cleanly.

Life of ``ccroute serve``:

1. connect to NATS (or start the embedded server first) and create or check the
   domain's streams, KV bucket and object store;
2. start the request/reply API and the metrics endpoint (both run on standbys too);
3. wait for the writer lease (a hot standby waits here, polling a few times a second);
4. as the writer: recover (snapshot + log tail), then consume -> apply -> publish, while
   the clock publishes ticks and the lease is renewed;
5. on SIGTERM/SIGINT: finish the batch in hand, flush projections, snapshot, give the
   lease up (a standby takes over at once), exit 0. If the lease is lost instead (this
   process was cut off), go back to step 3.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client as NATS

from ccroute.config import Config
from ccroute.config import Service as ConfigService
from ccroute.service.accounts import ServerAuth
from ccroute.service.api import ApiResponder
from ccroute.service.assets import AssetError, AssetSettings, ensure_assets
from ccroute.service.clock import run_clock
from ccroute.service.connection import RECONNECT_WAIT, close_promptly, connect
from ccroute.service.credentials import credential_options, private_directory
from ccroute.service.disk_recovery import EMBEDDED_UNANSWERED_ACTION, EmbeddedStoreWatch
from ccroute.service.embedded import NICE_DEFAULT, EmbeddedNats, nice_from_environment
from ccroute.service.lease import Lease
from ccroute.service.metrics import MetricsServer, ServiceMetrics
from ccroute.service.runner import Router, RouterSettings
from ccroute.service.storage import StoreHealth
from ccroute.service.subjects import Names

__all__ = [
    "ROUTER_INBOX_PREFIX",
    "Service",
    "ServiceSettings",
    "SettingsError",
    "connect",
    "credential_options",
    "env_float",
    "env_int",
]

ROUTER_INBOX_PREFIX = "_CCROUTE_ROUTER"
"""The router's reply inboxes (its pull deliveries, acknowledgements, API reads): not
``_INBOX``, so no permission granted for clients' inboxes can ever cover them."""


log = logging.getLogger("ccroute.service")

_FIRST_CONNECT_WAIT = 1.0
"""Seconds between attempts to one server before the first connection."""
_DRAIN_SECONDS = 0.5
"""How long a stopping service waits for its connection to drain."""


LOG_SNAPSHOT_INTERVALS = 3
"""The log must keep inputs for at least this many snapshot intervals (input max age)."""


class SettingsError(ValueError):
    """Settings that cannot work together; the message names the keys to change."""


_N = TypeVar("_N", int, float)


def _env_number(env: Mapping[str, str], name: str, default: _N, parse: Callable[[str], _N]) -> _N:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError:
        kind = "an integer" if parse is int else "a number"
        raise SettingsError(f"{name} must be {kind}, not {raw!r}") from None


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    """The integer in variable ``name``, ``default`` if unset or empty; a
    :class:`SettingsError` naming the variable if it is not one."""
    return _env_number(env, name, default, int)


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    """The number in variable ``name``, ``default`` if unset or empty; a
    :class:`SettingsError` naming the variable if it is not one."""
    return _env_number(env, name, default, float)


def _env_nice(env: Mapping[str, str]) -> int:
    try:
        return nice_from_environment(env)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@dataclass
class ServiceSettings:
    """Everything ``ccroute serve`` needs besides the engine configuration.

    Command-line flags give the connection; tuning comes from the configuration's
    ``[service]`` table, each value overridable by a ``CCROUTE_*`` environment variable
    (see ``docs/service.md``).
    """

    domain: str = "default"
    servers: list[str] | None = None
    """NATS URLs; None starts the embedded server."""
    creds: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    data_dir: str = "ccroute-data"
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    insecure_dev: bool = False
    """Embedded server without authentication (local experiments only; warns)."""
    tick_ms: int = 1000
    lease_ttl: int = 3
    router: RouterSettings = field(default_factory=RouterSettings)
    assets: AssetSettings = field(default_factory=AssetSettings)
    metrics_tenants: bool = False
    """Business metrics with tenant and queue labels (a provider-only endpoint)."""
    records: str | None = None
    """Contact-record database a ``ccroute record`` child process keeps (None: none)."""
    config_path: str | None = None
    """The configuration file (handed to the recorder process)."""
    accept_log_gap: bool = False
    """Route even when inputs the state needs are gone from the log (operator override)."""
    nats_nice: int = NICE_DEFAULT
    """How far below the service's CPU priority the embedded server runs
    (``CCROUTE_NATS_NICE``; 0: the same)."""

    def problems(self) -> list[str]:
        """What is wrong with these settings together (empty: nothing)."""
        a, r = self.assets, self.router
        out = []
        for kind, age, window in (
            ("input", a.input_max_age, a.input_duplicate_window),
            ("decision", a.decision_max_age, a.decision_duplicate_window),
        ):
            if 0 < age < window:
                out.append(
                    f"[service] {kind}_max_age_seconds = {age:g} is shorter than "
                    f"{kind}_duplicate_window_seconds = {window:g} (JetStream needs the "
                    f"window inside the age): set {kind}_max_age_seconds to 0 (keep all) or "
                    f"at least {window:g}"
                )
        need = LOG_SNAPSHOT_INTERVALS * r.snapshot_every_seconds
        if 0 < a.input_max_age < need:
            out.append(
                f"[service] input_max_age_seconds = {a.input_max_age:g} is shorter than "
                f"{LOG_SNAPSHOT_INTERVALS} x snapshot_every_seconds = {need:g}: a restart "
                "would find inputs the newest snapshot does not cover gone from the log; "
                "set input_max_age_seconds to 0 (keep all) or at least "
                f"{need:g}, or snapshot more often"
            )
        return out

    def check(self) -> None:
        """Raise :class:`SettingsError` naming the keys when :meth:`problems` finds any."""
        found = self.problems()
        if found:
            raise SettingsError("; ".join(found))

    @classmethod
    def from_args(
        cls,
        args: Any,
        env: dict[str, str] | None = None,
        table: ConfigService | None = None,
    ) -> ServiceSettings:
        """From ``ccroute serve`` arguments, the ``CCROUTE_*`` environment variables and
        the configuration's ``[service]`` table, in that order of precedence."""
        e = dict(os.environ if env is None else env)
        t = table if table is not None else ConfigService()
        router = RouterSettings(
            batch=env_int(e, "CCROUTE_BATCH", t.batch),
            pull_batch=env_int(e, "CCROUTE_PULL_BATCH", t.pull_batch),
            snapshot_every_events=env_int(e, "CCROUTE_SNAPSHOT_EVENTS", t.snapshot_every_events),
            snapshot_every_seconds=env_float(
                e, "CCROUTE_SNAPSHOT_SECONDS", t.snapshot_every_seconds
            ),
            projection_flush_seconds=env_float(
                e, "CCROUTE_PROJECTION_FLUSH_SECONDS", t.projection_flush_seconds
            ),
            projections=e.get("CCROUTE_PROJECTIONS", "1" if t.projections else "0")
            not in ("0", "false", "no"),
        )
        assets = AssetSettings(
            replicas=env_int(e, "CCROUTE_REPLICAS", t.replicas),
            input_duplicate_window=env_float(
                e, "CCROUTE_INPUT_DUPLICATE_WINDOW", t.input_duplicate_window_seconds
            ),
            decision_duplicate_window=env_float(
                e, "CCROUTE_DECISION_DUPLICATE_WINDOW", t.decision_duplicate_window_seconds
            ),
            input_max_age=env_float(e, "CCROUTE_INPUT_MAX_AGE", t.input_max_age_seconds),
            decision_max_age=env_float(e, "CCROUTE_DECISION_MAX_AGE", t.decision_max_age_seconds),
            tenant_max_bytes=env_int(e, "CCROUTE_INPUT_TENANT_MAX_BYTES", t.input_tenant_max_bytes),
            entry_max_age=env_float(
                e, "CCROUTE_INPUT_ENTRY_MAX_AGE", t.input_entry_max_age_seconds
            ),
        )
        metrics_port = getattr(args, "metrics_port", None)
        if metrics_port is None and e.get("CCROUTE_METRICS_PORT"):
            metrics_port = env_int(e, "CCROUTE_METRICS_PORT", 0)
        if metrics_port is None:
            metrics_port = t.metrics_port
        data_dir = getattr(args, "data_dir", "ccroute-data") or "ccroute-data"
        records = getattr(args, "records", None)
        if records is None and not getattr(args, "no_records", True):
            records = str(Path(data_dir) / "contacts.duckdb")
        metrics_tenants = bool(getattr(args, "metrics_tenants", False)) or e.get(
            "CCROUTE_METRICS_TENANTS", "0"
        ) not in ("", "0", "false", "no")
        return cls(
            metrics_tenants=metrics_tenants,
            records=records,
            config_path=getattr(args, "config", None),
            domain=getattr(args, "domain", "default") or "default",
            servers=list(args.nats) if getattr(args, "nats", None) else None,
            creds=getattr(args, "creds", None),
            tls_ca=getattr(args, "tls_ca", None),
            tls_cert=getattr(args, "tls_cert", None),
            tls_key=getattr(args, "tls_key", None),
            data_dir=getattr(args, "data_dir", "ccroute-data") or "ccroute-data",
            metrics_port=metrics_port,
            insecure_dev=bool(getattr(args, "insecure_dev", False)),
            metrics_host=e.get("CCROUTE_METRICS_HOST", "127.0.0.1"),
            tick_ms=env_int(e, "CCROUTE_TICK_MS", t.tick_ms),
            lease_ttl=env_int(e, "CCROUTE_LEASE_TTL", t.lease_ttl_seconds),
            router=router,
            assets=assets,
            accept_log_gap=e.get("CCROUTE_ACCEPT_LOG_GAP", "0") not in ("", "0", "false", "no"),
            nats_nice=_env_nice(e),
        )


class Service:
    """One ``ccroute serve`` process."""

    def __init__(self, config: Config, settings: ServiceSettings) -> None:
        settings.check()
        self.config = config
        self.settings = settings
        self.names = Names(settings.domain)
        self.metrics = ServiceMetrics(settings.domain)
        self.store = StoreHealth(self.metrics)
        self.embedded: EmbeddedNats | None = None
        self.store_watch: EmbeddedStoreWatch | None = None
        """Restarts the embedded server when a disk error left a stream stuck."""
        self.nc: NATS | None = None
        self.router: Router | None = None
        self.lease: Lease | None = None
        self.role = "starting"
        self.nats_url = ""
        self.metrics_server: MetricsServer | None = None
        self.admin_creds: Path | None = None
        self.creds_in_use: str | None = None
        """The credentials this process connected with (the router's on a secure embedded
        server); its recorder child connects with them too."""
        """The admin's credentials file the embedded server was set up with."""
        self.started = time.time()

    # -------------------------------------------------------------------- status

    def status(self) -> dict[str, Any]:
        st: dict[str, Any] = {
            "domain": self.names.domain,
            "role": self.role,
            "holder": self.lease.holder if self.lease else None,
            "uptime_s": round(time.time() - self.started, 3),
            "connected": bool(self.nc and self.nc.is_connected),
        }
        if self.router is not None and self.role in ("writer", "halted"):
            st.update(self.router.status())
        store = self.store.status()
        if store is not None:
            st["store_full"] = store
        return st

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, details): a full store is *degraded* (the service waits for room and
        keeps its role); a writer that cannot route (log trimmed) is not healthy."""
        st = self.status()
        ok = st["connected"] and self.role in ("writer", "standby")
        if self.role == "halted" and self.router is not None:
            st["log_trimmed"] = self.router.log_trimmed
        info = {k: v for k, v in st.items() if k != "engine"}
        info["status"] = "ok" if ok and "store_full" not in st else "degraded" if ok else "down"
        return bool(ok), info

    # ---------------------------------------------------------------------- run

    def _on_reconnect(self) -> None:
        url = self.nc.connected_url.geturl() if self.nc and self.nc.connected_url else "?"
        log.info("nats_reconnected url=%s", url)
        if self.router is not None:
            self.router.on_reconnect()

    async def _connect(self) -> NATS:
        s = self.settings
        servers = s.servers
        creds = s.creds
        if not servers:
            store = Path(s.data_dir) / "nats"
            server_conf: Path | None = None
            if s.insecure_dev:
                log.warning("insecure_dev embedded server without authentication")
                print(
                    "ccroute: WARNING: --insecure-dev: the embedded NATS server accepts "
                    "anyone who can reach it, with every right (no tenant wall); "
                    "for local experiments only",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                server_conf, creds = self._secure_embedded(creds)
            self.embedded = EmbeddedNats.preferring_port(
                store, 4222, config_file=server_conf, nice=s.nats_nice
            )
            # Started from the main thread on purpose: the server's parent-death signal
            # belongs to the thread that started it (an executor thread could end first).
            self.embedded.start()
            servers = [self.embedded.url]
            log.info("embedded_nats url=%s store=%s", self.embedded.url, store.resolve())
            print(f"ccroute: embedded NATS listening on {self.embedded.url}", flush=True)
            if self.admin_creds is not None:
                print(f"ccroute: admin credentials in {self.admin_creds}", flush=True)

        async def reconnected() -> None:
            self._on_reconnect()

        async def disconnected() -> None:
            log.warning("nats_disconnected")

        attempts = 0

        async def error(exc: Exception) -> None:
            nonlocal attempts
            if self.nc is None:
                # Still connecting for the first time: say so on every failed attempt,
                # or a mistyped URL looks like a hang.
                attempts += 1
                log.warning(
                    "nats_connect_failed attempt=%d servers=%s error=%r (retrying)",
                    attempts,
                    ",".join(servers),
                    exc,
                )
            else:
                log.debug("nats_error error=%r", exc)

        log.info("nats_connecting servers=%s", ",".join(servers))
        nc = await connect(
            servers,
            creds=creds,
            inbox_prefix=ROUTER_INBOX_PREFIX,
            tls_ca=s.tls_ca,
            tls_cert=s.tls_cert,
            tls_key=s.tls_key,
            name=f"ccroute-serve-{s.domain}",
            reconnected_cb=reconnected,
            disconnected_cb=disconnected,
            error_cb=error,
            # One attempt a second per server until the first connection; once connected,
            # reconnect quickly (a standby or a restarted node is back within a second).
            reconnect_time_wait=_FIRST_CONNECT_WAIT,
        )
        nc.options["reconnect_time_wait"] = RECONNECT_WAIT
        self.creds_in_use = creds
        self.nats_url = str(nc.connected_url.geturl()) if nc.connected_url else servers[0]
        log.info("nats_connected url=%s", self.nats_url)
        return nc

    async def _connect_or_stop(self, stop: asyncio.Event) -> NATS | None:
        """Connect, unless ``stop`` is set first (then None): a server that is not there
        must not keep the process from stopping."""
        connecting = asyncio.ensure_future(self._connect())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not connecting.done():
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await connecting
        if connecting.cancelled():
            return None
        return connecting.result()

    def _check_data_dir(self) -> None:
        """Create the data directory for its owner only; say so if it is open to others
        (the server's store, snapshots and records in it hold every tenant)."""
        path = Path(self.settings.data_dir)
        if private_directory(path):
            mode = stat.S_IMODE(path.stat().st_mode)
            log.warning("data_dir_open path=%s mode=%o", path, mode)
            print(
                f"ccroute: WARNING: the data directory {path} is open to other users "
                f"(mode {mode:o}); it holds every tenant's data: chmod 700 it",
                file=sys.stderr,
                flush=True,
            )

    def _secure_embedded(self, creds: str | None) -> tuple[Path, str]:
        """Write the accounts of the configured tenants and the router's and admin's
        credentials; the server configuration and the router's credentials file."""
        auth = ServerAuth(self.settings.data_dir, self.names)
        router_creds = auth.store.ensure("router", f"router-{self.names.domain}")
        admin_creds = auth.store.ensure("admin", f"admin-{self.names.domain}")
        conf = auth.write(t.id for t in self.config.tenants)
        log.info(
            "embedded_auth accounts=%s router_creds=%s admin_creds=%s",
            auth.accounts_path,
            router_creds,
            admin_creds,
        )
        self.admin_creds = admin_creds.resolve()
        return conf, creds or str(router_creds)

    def _asset_settings(self) -> AssetSettings:
        """The stream settings, with the tenants whose entry streams the log sources when
        the service connects with a credential (a server with accounts: the tenant wall).

        Those are the configuration's tenants and every tenant the data directory's
        credentials registry names (``ccroute creds issue tenant``): each must have its
        entry stream before its first input, or its publish finds no stream."""
        a = self.settings.assets
        if self.creds_in_use is None:
            return a
        tenants = {t.id for t in self.config.tenants} | set(a.tenants or ())
        auth = ServerAuth(self.settings.data_dir, self.names)
        if auth.dir.is_dir():
            tenants |= set(auth.tenants())
            tenants |= {c.tenant for c in auth.store.active() if c.tenant is not None}
        return replace(a, tenants=tuple(sorted(tenants)))

    async def _ensure_assets(self, nc: NATS, stop: asyncio.Event) -> bool:
        """Create or check the assets, waiting out a cluster that is electing leaders or
        a server that is starting (a shape that does not fit is an error at once).

        False when ``stop`` came first: a stop while the server is away or restarting is
        a clean stop, not a failure, and does not wait for a request's time-out."""
        backoff = 0.25
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while True:
                attempt = asyncio.ensure_future(
                    ensure_assets(nc.jetstream(), self.names, self._asset_settings())
                )
                await asyncio.wait({attempt, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not attempt.done():
                    attempt.cancel()
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await attempt
                    log.info("assets_not_ready (stopping)")
                    return False
                try:
                    attempt.result()
                    return True
                except AssetError:
                    raise
                except Exception as exc:
                    if stop.is_set():
                        log.info("assets_not_ready error=%r (stopping)", exc)
                        return False
                    log.warning("assets_retry error=%r backoff=%.2f", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 2.0)
        finally:
            stopped.cancel()

    async def run(self, stop: asyncio.Event) -> int:
        """Serve until ``stop`` is set; the exit status (0 after a clean stop)."""
        s = self.settings
        if not s.servers or s.records is not None:
            self._check_data_dir()
        nc = await self._connect_or_stop(stop)
        if nc is None:
            await self._stop_embedded()
            log.info("stopped domain=%s (before connecting)", self.names.domain)
            return 0
        self.nc = nc
        watch_stop = asyncio.Event()
        watch: asyncio.Task[None] | None = None
        if self.embedded is not None:
            self.store_watch = EmbeddedStoreWatch(self.embedded, self.store)
            self.store.unanswered_action = EMBEDDED_UNANSWERED_ACTION
            watch = asyncio.create_task(self.store_watch.run(watch_stop))
        metrics_server: MetricsServer | None = None
        recorder: subprocess.Popen[bytes] | None = None
        api = ApiResponder(nc, self.names, self.status)
        try:
            if not await self._ensure_assets(nc, stop):
                return 0
            if s.records is not None and s.config_path is not None:
                from ccroute.service.record_cli import start_recorder_process

                # Its own process: folding records never takes the router's core.
                recorder = start_recorder_process(
                    s.config_path,
                    self.nats_url,
                    s.domain,
                    Path(s.records),
                    creds=self.creds_in_use,
                    tls=(s.tls_ca, s.tls_cert, s.tls_key),
                )
                log.info("recorder_started pid=%d records=%s", recorder.pid, s.records)
            api.walled = self.creds_in_use is not None
            await api.start()
            if s.metrics_port is not None:
                from ccroute.service.business_metrics import BusinessMetrics

                business = BusinessMetrics(
                    s.domain,
                    lambda: (
                        self.router.projections
                        if self.router is not None and self.role == "writer"
                        else None
                    ),
                    tenants=s.metrics_tenants,
                )
                metrics_server = MetricsServer(
                    self.metrics, self.health, s.metrics_host, s.metrics_port, business.render
                )
                await metrics_server.start()
                self.metrics_server = metrics_server
            self.lease = lease = Lease(
                nc, self.names, Lease.new_holder_id(), ttl=s.lease_ttl, replicas=s.assets.replicas
            )
            while not stop.is_set():
                self.role = "standby"
                if not await lease.acquire(stop):
                    break
                try:
                    outcome = await self._lead(nc, lease, stop)
                except Exception as exc:
                    # Recovery met a server away or restarting: stand by and try again
                    # (the lease, if still held, is taken back at once).
                    log.warning("writer_failed error=%r", exc)
                    outcome = "failed"
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.5)
                if outcome == "stopped":
                    break
                log.warning("writer_stepped_down reason=%s (standing by again)", outcome)
            return 0
        finally:
            self.role = "stopping"
            watch_stop.set()
            if watch is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await watch
            await api.stop()
            if metrics_server is not None:
                await metrics_server.stop()
            if recorder is not None and recorder.stdin is not None:
                # End of its standard input: it commits what it folded and exits on its
                # own. Not waited for beyond a moment: the service's stop stays quick, and
                # the recorder's position covers exactly what it stored either way.
                with contextlib.suppress(OSError):
                    recorder.stdin.close()
                for _ in range(4):
                    if recorder.poll() is not None:
                        break
                    await asyncio.sleep(0.05)
            # A server that went away must not hold the exit up: drain briefly, then close.
            await close_promptly(nc, _DRAIN_SECONDS)
            await self._stop_embedded()
            log.info("stopped domain=%s", self.names.domain)

    async def _stop_embedded(self) -> None:
        if self.embedded is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.embedded.stop)

    async def _halt(self, router: Router, stop: asyncio.Event, lost: asyncio.Event) -> str:
        """Hold the lease but route nothing: the state would be wrong (inputs it needs are
        gone). A standby would find the same, so keeping the lease keeps it quiet."""
        self.role = "halted"
        log.error(
            "not_routing log_trimmed=%s (inputs the state needs are gone from the log: "
            "restore them, or set CCROUTE_ACCEPT_LOG_GAP=1 to route from the partial state)",
            router.log_trimmed,
        )
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        await router.consumer_stop()
        return "stopped" if stop.is_set() else "lease_lost"

    async def _lead(self, nc: NATS, lease: Lease, stop: asyncio.Event) -> str:
        self.role = "recovering"
        router = self.router = Router(
            nc, self.names, self.config, self.settings.router, self.metrics
        )
        router.writer.health = self.store
        lost = asyncio.Event()
        leader_stop = asyncio.Event()
        keeper = asyncio.create_task(lease.keep(leader_stop, lost))
        clock: asyncio.Task[None] | None = None
        outcome = "stopped"
        finished = False
        try:
            await router.recover()
            if router.log_trimmed is not None and not self.settings.accept_log_gap:
                outcome = await self._halt(router, stop, lost)
                return outcome
            # What exists now (config, engine wrapper, caches) lives as long as the
            # process: keep it out of the cyclic collector's full passes (fewer pauses).
            gc.freeze()
            self.role = "writer"
            clock = asyncio.create_task(
                run_clock(
                    nc,
                    self.names,
                    self.settings.tick_ms,
                    leader_stop,
                    lambda: lease.held,
                    health=self.store,
                )
            )
            outcome = await router.run(stop, lease, lost)
            if outcome == "stopped":
                await router.finish()
                finished = True
        finally:
            if not finished:
                # Lease lost, fenced or failed: a snapshot in flight must not replace a
                # newer writer's.
                router.abandon()
            leader_stop.set()
            for task in (keeper, clock):
                if task is not None:
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await task
            if outcome == "stopped":
                await lease.release()
            self.router = None if outcome != "stopped" else router
        return outcome
