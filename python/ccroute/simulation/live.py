"""A simulated run through the live service: ``ccroute demo --live``.

The same simulator, but its engine is ``ccroute serve`` on an embedded NATS server: each
batch of inputs is published through :class:`ccroute.client.Client`, the service routes
them, and the simulated people react to the decisions read back from the decision
subjects. Time stays data (the service's own clock ticks are off; the simulator sends its
ticks as it always does), so the same seed makes the same log as without ``--live``. The
recorder (:mod:`ccroute.service.recorder`) follows the log into the contact database the
reports are written from: the whole product, end to end, on one machine.

Every batch waits for the service to confirm it (its status ``applied_seq``), so a live
run is slower than the in-process one by a round trip per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccroute.client import Client
from ccroute.config import Config
from ccroute.events import Decision, Input, decode_decision
from ccroute.record_store import RecordStore
from ccroute.records import ContactRecorder
from ccroute.service.recorder import LogRecorder, RecorderSettings
from ccroute.service.service import Service, ServiceSettings, connect
from ccroute.service.subjects import Names
from ccroute.simulation.engine_toml import config_to_toml
from ccroute.simulation.forecast import forecast_rows, write_forecast_table
from ccroute.simulation.progress import Progress
from ccroute.simulation.scenario import LoadedScenario
from ccroute.simulation.simulator import SimulationResult, Simulator
from ccroute.simulation.staff import check_coverage, simulated_config

__all__ = ["LiveRun", "ServiceEngine", "run_live"]

T = TypeVar("T")
_SEQ = re.compile(r":(\d+):(\d+)$")


class ServiceEngine:
    """:meth:`apply_batch_grouped` over the running service (called from the simulator's
    thread; the NATS work runs on the service's event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, nc: NATS, names: Names) -> None:
        self.loop = loop
        self.nc = nc
        self.names = names
        self.client = Client(nc, names.domain)
        self._decisions: dict[int, list[tuple[int, bytes]]] = {}
        self._sub: Any = None
        self.last_seq = 0

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def start(self) -> None:
        async def subscribe() -> None:
            async def on_decision(msg: Msg) -> None:
                m = _SEQ.search((msg.headers or {}).get("Nats-Msg-Id", ""))
                if m:
                    self._decisions.setdefault(int(m.group(1)), []).append(
                        (int(m.group(2)), msg.data)
                    )

            self._sub = await self.nc.subscribe(
                self.names.decision_wildcard,
                cb=on_decision,
                pending_msgs_limit=-1,
                pending_bytes_limit=-1,
            )
            await self.nc.flush()

        self._run(subscribe())

    def apply_batch_grouped(self, events: Sequence[Input]) -> list[list[Decision]]:
        """Publish the batch, wait until the service has stored its decisions, read them."""
        return self._run(self._apply(events))

    async def _apply(self, events: Sequence[Input]) -> list[list[Decision]]:
        seqs = await self.client.publish_many(events, timeout=60.0)
        last = max(seqs)
        self.last_seq = max(self.last_seq, last)
        while True:
            status = await self.client.status()
            if int(status.get("applied_seq") or 0) >= last:
                break
            await asyncio.sleep(0.0005)
        # The decisions reached this connection before the status reply did: the server
        # delivers one connection's messages in the order it handled them.
        await self.nc.flush()
        out: list[list[Decision]] = []
        for seq in seqs:
            got = sorted(self._decisions.pop(seq, []))
            out.append([decode_decision(data) for _, data in got])
        return out


@dataclass
class LiveRun:
    """A finished live run and where its files are."""

    result: SimulationResult
    recorder: ContactRecorder
    """The live recorder's records (what the database holds)."""
    db_path: Path
    config_path: Path
    inputs_recorded: int


class _Loop:
    """An event loop in a thread of its own (the simulator keeps the main thread)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def run_live(
    ld: LoadedScenario,
    out_dir: str | Path,
    *,
    days: int | None = None,
    seed: int | None = None,
    progress: bool = False,
    domain: str = "demo",
) -> LiveRun:
    """Simulate ``ld`` through ``ccroute serve`` on an embedded NATS server, with the
    recorder writing ``<out_dir>/contacts.duckdb``; returns when all is recorded."""
    import sys

    cfg: Config = simulated_config(ld)
    check_coverage(ld, cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / "contacts.duckdb"
    db_path.unlink(missing_ok=True)  # a fresh run: records of this log only
    names = Names(domain)
    runner = _Loop()
    with tempfile.TemporaryDirectory(prefix="ccroute-live-") as data_dir:
        settings = ServiceSettings(domain=domain, data_dir=data_dir, tick_ms=0)
        service = Service(cfg, settings)
        stop = asyncio.Event()
        rec_stop = asyncio.Event()
        box: dict[str, Any] = {}

        async def start() -> None:
            box["task"] = asyncio.ensure_future(service.run(stop))
            deadline = time.monotonic() + 60
            while not (service.role == "writer" and service.router and service.router.ready):
                if box["task"].done():
                    box["task"].result()
                if time.monotonic() > deadline:
                    raise TimeoutError("the service did not become the writer")
                await asyncio.sleep(0.02)
            assert service.embedded is not None
            # The embedded server walls tenants off: connect as the service does.
            nc = await connect([service.embedded.url], creds=service.creds_in_use)
            box["nc"] = nc
            rec = LogRecorder(
                nc, names, cfg, RecordStore(db_path, cfg, domain=domain), RecorderSettings()
            )
            box["recorder"] = rec
            box["rec_task"] = asyncio.ensure_future(rec.run(rec_stop))

        async def finish(last: int) -> None:
            rec: LogRecorder = box["recorder"]
            while rec.position.input_seq < last:
                if box["rec_task"].done():
                    box["rec_task"].result()
                await asyncio.sleep(0.05)
            rec_stop.set()
            await box["rec_task"]
            stop.set()
            await box["task"]
            with contextlib.suppress(Exception):
                await box["nc"].close()

        try:
            runner.run(start())
            engine = ServiceEngine(runner.loop, box["nc"], names)
            engine.start()
            bar = Progress(sys.stderr) if progress else None
            sim = Simulator(ld, days=days, seed=seed, config=cfg, progress=bar, engine=engine)
            res = sim.run()
            runner.run(finish(engine.last_seq))
        finally:
            if not stop.is_set():
                runner.loop.call_soon_threadsafe(stop.set)
                runner.loop.call_soon_threadsafe(rec_stop.set)
                with contextlib.suppress(Exception):
                    runner.run(asyncio.sleep(1.0))
            runner.close()
    config_path = out / "ccroute.toml"
    config_path.write_text(
        config_to_toml(
            cfg,
            comment=f"The engine configuration run live by scenario {ld.info.name!r}\n"
            f"(seed {res.seed}) through ccroute serve",
        ),
        encoding="utf-8",
    )
    write_forecast_table(db_path, forecast_rows(ld, res.streams, res.period))
    rec: LogRecorder = box["recorder"]
    return LiveRun(res, rec.recorder, db_path, config_path, rec.position.input_seq)
