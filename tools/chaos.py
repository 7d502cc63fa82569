"""The project's chaos suite: ``ccroute serve`` under steady load while things go wrong.

Faults, at random moments (seeded, so a failing run can be repeated):

- **writer kills**: SIGKILL of whichever process holds the lease (a standby takes over,
  the killed one is started again as the next standby);
- **server restarts**: nats-server stopped with SIGTERM or SIGKILL and started again on the
  same port and store;
- **stalls**: SIGSTOP of the writer for longer than the lease (the standby takes over),
  then SIGCONT: the old writer must stop, fenced, without splitting the inputs;
- **storage full**: the server restarted with a file storage limit just above what it
  holds; producers get ``StoreFull`` from ``ccroute.client``, the writer keeps its role;
- **disk full** (when this process may mount a small tmpfs): the store on a tmpfs that
  is then filled up;
- **cluster**: a three-node JetStream cluster (``replicas = 3``) with nodes killed and
  brought back one after another, and the stream leader stopped.

After each phase a checker reads the whole log and decision stream and verifies: every
acknowledged input is in the log; exactly one set of decisions per input; no contact
assigned to two agents; no agent over capacity; the decisions byte-equal to an offline
replay of the log. It prints the counts and exits non-zero on any violation.

``make chaos`` runs the full counts (>= 100 writer kills, >= 20 server restarts, >= 20
stalls); ``python tools/chaos.py --quick`` is the bounded version the test suite runs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

import msgspec  # noqa: E402
import nats  # noqa: E402
from nats.aio.client import Client as NATS  # noqa: E402

from ccroute.client import Client, StoreFull  # noqa: E402
from ccroute.config import Config  # noqa: E402
from ccroute.engine import Engine  # noqa: E402
from ccroute.service.cluster import LoopbackCluster  # noqa: E402
from ccroute.service.embedded import EmbeddedNats  # noqa: E402
from ccroute.service.lease import Lease  # noqa: E402
from ccroute.service.loadgen import Step, Workload, config_toml, make_config  # noqa: E402
from ccroute.service.projections import Projections, view_list_decoder  # noqa: E402
from ccroute.service.subjects import Names  # noqa: E402
from ccroute.service.transport import StreamWriter  # noqa: E402
from ccroute.service.whole_stream import StoredMessage, read_whole_stream  # noqa: E402

TENANTS, AGENTS = 2, 12
LEASE_TTL = 2
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_DEAD_CODES = frozenset({"malformed", "unsupported_version", "clock_jump"})


@dataclass
class Counts:
    """What one chaos run did and found."""

    writer_kills: int = 0
    server_restarts_sigterm: int = 0
    server_restarts_sigkill: int = 0
    stalls: int = 0
    takeovers: int = 0
    store_full_episodes: int = 0
    store_full_refusals: int = 0
    disk_full_episodes: int = 0
    cluster_node_kills: int = 0
    cluster_leader_stops: int = 0
    inputs: int = 0
    acknowledged: int = 0
    decisions: int = 0
    contacts_assigned: int = 0
    violations: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- processes


class Services:
    """``python -m ccroute serve`` processes of one domain (a writer and standbys)."""

    def __init__(self, work: Path, urls: list[str], domain: str, env: dict[str, str]) -> None:
        self.work = work
        self.urls = urls
        self.domain = domain
        self.env = env
        self.config_file = work / "ccroute.toml"
        self.config_file.write_text(config_toml(tenants=TENANTS, agents=AGENTS))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}
        self.started = 0

    def spawn(self) -> subprocess.Popen[bytes]:
        e = dict(os.environ)
        e.update(
            {
                "PYTHONPATH": str(REPO / "python") + os.pathsep + e.get("PYTHONPATH", ""),
                "CCROUTE_TICK_MS": "0",
                "CCROUTE_LEASE_TTL": str(LEASE_TTL),
                "CCROUTE_SNAPSHOT_EVENTS": "2000",
                "CCROUTE_PROJECTION_FLUSH_SECONDS": "0.2",
                "CCROUTE_LOG_LEVEL": "INFO",
                # The checker asks for clean stops (final snapshot, lease given up), not
                # the 1.5 s forced stop an operator's signal gets: on a loaded machine a
                # clean stop can take longer, which is not a fault of the run.
                "CCROUTE_STOP_GRACE_SECONDS": "20",
            }
        )
        e.update(self.env)
        self.started += 1
        log_path = self.work / f"serve-{self.domain}-{self.started}.log"
        log = log_path.open("ab")
        cmd = [sys.executable, "-m", "ccroute", "serve", "--config", str(self.config_file)]
        for url in self.urls:
            cmd += ["--nats", url]
        cmd += ["--domain", self.domain]
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=e, cwd=self.work)
        self.procs.append(p)
        self.logs[p.pid] = log_path
        return p

    def log_tail(self, pid: int, lines: int = 25) -> str:
        """The last lines a service printed: why it stopped the way it did."""
        path = self.logs.get(pid)
        if path is None or not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def by_pid(self, pid: int) -> subprocess.Popen[bytes] | None:
        for p in self.procs:
            if p.pid == pid and p.poll() is None:
                return p
        return None

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def stop_all(self) -> list[int]:
        """SIGTERM every process still running; their exit statuses (0: a clean stop).

        The last lines of any service that did not stop cleanly are printed, so that a
        failed run says why."""
        codes = []
        running = [p for p in self.procs if p.poll() is None]
        for p in running:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
        for p in running:
            try:
                codes.append(p.wait(30))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait(5))
        for p, code in zip(running, codes, strict=True):
            if code != 0:
                print(f"--- service pid={p.pid} exited {code}; its last lines:", flush=True)
                print(self.log_tail(p.pid), flush=True)
        self.procs = []
        return codes


async def status(nc: NATS, names: Names, timeout: float = 1.0) -> dict[str, Any] | None:
    try:
        msg = await nc.request(names.api_subject("status"), b"", timeout=timeout)
    except Exception:
        return None
    result: dict[str, Any] | None = json.loads(msg.data).get("result")
    return result


async def writer_pid(nc: NATS, names: Names, timeout: float = 30.0) -> int:
    """The pid of the process that is the ready writer (waits for one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = await status(nc, names)
        if st and st.get("role") == "writer" and st.get("ready") and st.get("holder"):
            return int(str(st["holder"]).split(":")[1])
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no ready writer within {timeout}s")


# ------------------------------------------------------------------------------ the load


class Load:
    """Publishes the workload in order at a steady rate, confirmed, through every fault."""

    def __init__(self, nc: NATS, names: Names, steps: list[Step], rate: float) -> None:
        self.nc = nc
        self.names = names
        self.steps = steps
        self.rate = rate
        self.acked = 0
        """Steps whose publish JetStream acknowledged (a prefix of ``steps``)."""
        self.task: asyncio.Task[None] | None = None
        self.paused = asyncio.Event()
        self.paused.set()
        self.stopping = False

    async def _run(self) -> None:
        writer = StreamWriter(self.nc, self.names.input_stream, timeout=3.0)
        per_tick = max(1, int(self.rate * 0.02))
        t0 = time.monotonic()
        i = 0
        while i < len(self.steps) and not self.stopping:
            await self.paused.wait()
            chunk = self.steps[i : i + per_tick]
            for s in chunk:
                writer.add(s.subject, s.payload, s.id)
            await writer.commit()
            i += len(chunk)
            self.acked = i
            delay = t0 + (i / self.rate) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                t0 -= delay  # behind (a fault): carry on at the rate, do not burst

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def finish(self, timeout: float = 600) -> None:
        """Stop after the batch in hand; what was acknowledged is ``steps[:acked]``."""
        assert self.task is not None
        self.stopping = True
        self.paused.set()
        await asyncio.wait_for(self.task, timeout)


def workload(names: Names, n: int, rate: float, seed: int) -> list[Step]:
    config = make_config(tenants=TENANTS, agents=AGENTS)
    return Workload(config, names, seed=seed, max_waiting=4).generate(
        n, start_ms=1_700_000_000_000, rate=rate
    )


# --------------------------------------------------------------------------- the checker


async def read_stream(nc: NATS, stream: str, subject: str) -> list[StoredMessage]:
    """Every message of a stream, read again from the start for up to a minute while the
    server's API does not answer (for a while after a cluster's leader stops, creating the
    reading consumer can time out): the checker must judge the log, not the cluster's
    recovery time."""

    def say_retry(exc: Exception) -> None:
        print(f"checker: reading {stream} again after {exc!r}", flush=True)

    return await read_whole_stream(nc, stream, subject, retry_for=60, on_retry=say_retry)


async def check(nc: NATS, names: Names, config: Config, acked: list[Step], counts: Counts) -> None:
    """The invariants of a run; violations are added to ``counts.violations``."""
    v = counts.violations
    inputs = await read_stream(nc, names.input_stream, names.input_wildcard)
    decisions = await read_stream(nc, names.decision_stream, names.decision_wildcard)
    ids = {m.msg_id for m in inputs}
    lost = [s.id for s in acked if s.id not in ids]
    if lost:
        v.append(f"{names.domain}: {len(lost)} acknowledged inputs not in the log: {lost[:3]}")
    engine = Engine(config)
    outs = engine.apply_raw_many([m.data for m in inputs])
    expected: list[tuple[str, bytes]] = []
    for m, out in zip(inputs, outs, strict=True):
        raws = _raw_list.decode(out)
        if len(raws) == 1 and json.loads(bytes(raws[0])).get("code") in _DEAD_CODES:
            continue  # the service dead-letters these instead of publishing them
        for n, raw in enumerate(raws):
            expected.append((f"{names.domain}:{m.seq}:{n}", bytes(raw)))
    got = [(m.msg_id, m.data) for m in decisions]
    per_id = collections.Counter(i for i, _ in got)
    doubled = [i for i, c in per_id.items() if c > 1]
    if doubled:
        v.append(f"{names.domain}: {len(doubled)} decisions stored twice: {doubled[:3]}")
    if got != expected:
        first = next(
            (i for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e),
            min(len(got), len(expected)),
        )
        v.append(
            f"{names.domain}: decisions differ from a replay of the log at #{first} "
            f"({len(got)} stored, replay makes {len(expected)})"
        )
    agents_of: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    projections = Projections(config)
    for _, data in got:
        views = view_list_decoder.decode(b"[" + data + b"]")
        projections.fold(views)
        d = json.loads(data)
        if d.get("type") == "contact_assigned":
            agents_of[(d["tenant"], d["contact"])].add(d["agent"])
    two = [c for c, a in agents_of.items() if len(a) > 1]
    if two:
        v.append(f"{names.domain}: contacts assigned to two agents: {two[:3]}")
    for key, value in projections.all_entries():
        if not key.startswith("agent."):
            continue
        a = json.loads(value)
        over = {
            ch: n for ch, n in a.get("load", {}).items() if n > a.get("capacity", {}).get(ch, 0)
        }
        if over:
            v.append(f"{names.domain}: {key} over capacity: {over}")
    counts.inputs += len(inputs)
    counts.acknowledged += len(acked)
    counts.decisions += len(got)
    counts.contacts_assigned += len(agents_of)


# ------------------------------------------------------------------------------ phases


async def connect(urls: list[str]) -> NATS:
    async def quiet(exc: Exception) -> None:  # reconnects are the point here
        return None

    return await nats.connect(
        servers=urls,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        connect_timeout=2,
        error_cb=quiet,
    )


async def wait_caught_up(nc: NATS, names: Names, timeout: float = 120.0) -> None:
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            last = int((await js.stream_info(names.input_stream)).state.last_seq)
        except Exception:
            await asyncio.sleep(0.2)
            continue
        st = await status(nc, names)
        if st and st.get("role") == "writer" and st.get("applied_seq", -1) >= last:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{names.domain}: the writer did not catch up within {timeout}s")


async def single_server_phase(args: argparse.Namespace, work: Path, counts: Counts) -> None:
    """Writer kills, server restarts, stalls and storage-full episodes on one server."""
    rng = random.Random(args.seed)
    server = EmbeddedNats(work / "nats").start()
    names = Names("chaos")
    config = make_config(tenants=TENANTS, agents=AGENTS)
    services = Services(work, [server.url], names.domain, {})
    nc = await connect([server.url])
    faults = (
        ["kill"] * args.kills
        + ["restart"] * args.restarts
        + ["stall"] * args.stalls
        + ["store_full"] * args.store_full
    )
    rng.shuffle(faults)
    # Enough load to last the faults, at a rate this machine sustains beside them.
    steps = workload(names, args.inputs, args.rate, args.seed)
    load = Load(nc, names, steps, args.rate)
    try:
        services.spawn()
        await writer_pid(nc, names, 60)
        services.spawn()  # the standby
        load.start()
        for n, fault in enumerate(faults, 1):
            await asyncio.sleep(rng.uniform(0.1, args.gap))
            if fault == "kill":
                pid = await writer_pid(nc, names)
                proc = services.by_pid(pid)
                if proc is not None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
                    counts.writer_kills += 1
                    services.spawn()
            elif fault == "restart":
                hard = rng.random() < 0.5
                await asyncio.get_running_loop().run_in_executor(
                    None, server.kill if hard else server.stop
                )
                await asyncio.sleep(rng.uniform(0.0, 0.5))
                await asyncio.get_running_loop().run_in_executor(None, server.start)
                if hard:
                    counts.server_restarts_sigkill += 1
                else:
                    counts.server_restarts_sigterm += 1
            elif fault == "stall":
                pid = await writer_pid(nc, names)
                proc = services.by_pid(pid)
                if proc is None:
                    continue
                proc.send_signal(signal.SIGSTOP)
                try:
                    # Until another process is the writer (well past the lease).
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:
                        st = await status(nc, names)
                        if (
                            st
                            and st.get("role") == "writer"
                            and st.get("holder", "").split(":")[1] != str(pid)
                        ):
                            counts.takeovers += 1
                            break
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(rng.uniform(0.2, 1.5))
                finally:
                    proc.send_signal(signal.SIGCONT)
                counts.stalls += 1
            elif fault == "store_full":
                await store_full_episode(server, nc, names, steps, load, counts)
            if args.verbose:
                print(f"fault {n}/{len(faults)} {fault} acked={load.acked}", flush=True)
        await load.finish()
        await wait_caught_up(nc, names)
        await check(nc, names, config, steps[: load.acked], counts)
        codes = services.stop_all()
        if any(c != 0 for c in codes):
            counts.violations.append(f"services did not stop cleanly: exit codes {codes}")
    finally:
        services.stop_all()
        with contextlib.suppress(Exception):
            await nc.close()
        server.stop()


async def store_full_episode(
    server: EmbeddedNats, nc: NATS, names: Names, steps: list[Step], load: Load, counts: Counts
) -> None:
    """The server restarted with a file storage limit just above what it holds."""
    load.paused.clear()
    info = json.loads((await nc.request("$JS.API.INFO", b"", timeout=5)).data)
    used = int(info.get("storage", 0))
    loop = asyncio.get_running_loop()
    server.max_file_store = used + 150_000
    await loop.run_in_executor(None, server.restart)
    counts.server_restarts_sigterm += 1
    # A restart loses the memory lease bucket: let the writer re-create it first, so what
    # follows measures the full store, not the restart.
    lease = Lease(nc, names, "chaos-observer")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            _, value = await lease.current()
            if value is not None:
                break
        await asyncio.sleep(0.1)
    client = Client(nc, names.domain)
    refused = False
    k = load.acked
    deadline = time.monotonic() + 60
    while not refused and k < len(steps) and time.monotonic() < deadline:
        # The load's own next inputs, in order (the load re-sends them later: duplicates).
        try:
            await client.publish_raw(steps[k].subject, steps[k].payload, steps[k].id, timeout=2)
            k += 1
        except StoreFull:
            refused = True
        except Exception:
            await asyncio.sleep(0.1)
    if not refused:
        counts.violations.append("storage full: the producer never got StoreFull")
    else:
        counts.store_full_refusals += 1
        # Full for longer than the lease: the same writer holds the lease all along.
        holders = set()
        deadline = time.monotonic() + LEASE_TTL * 2
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                _, value = await lease.current()
                holders.add((value or {}).get("holder"))
            await asyncio.sleep(0.2)
        if len(holders) != 1 or None in holders:
            counts.violations.append(f"storage full: the writer changed or lapsed: {holders}")
    server.max_file_store = None
    await loop.run_in_executor(None, server.restart)
    counts.server_restarts_sigterm += 1
    counts.store_full_episodes += 1
    load.paused.set()


async def disk_full_phase(args: argparse.Namespace, work: Path, counts: Counts) -> None:
    """The store on a small tmpfs that fills up (needs the right to mount; else skipped)."""
    mount = work / "disk"
    mount.mkdir()
    ok = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if ok.returncode != 0:
        print("disk-full phase skipped: cannot mount a tmpfs here", flush=True)
        return
    server = EmbeddedNats(mount / "nats", max_file_store=1 << 30)
    names = Names("diskfull")
    config = make_config(tenants=TENANTS, agents=AGENTS)
    services = Services(work, [server.url], names.domain, {})
    nc: NATS | None = None
    try:
        server.start()
        nc = await connect([server.url])
        steps = workload(names, min(args.inputs, 6000), args.rate, args.seed + 1)
        load = Load(nc, names, steps, args.rate)
        services.spawn()
        await writer_pid(nc, names, 60)
        load.start()
        await asyncio.sleep(2.0)
        filler = mount / "filler"
        with filler.open("wb") as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        await asyncio.sleep(LEASE_TTL * 2.5)
        st = await status(nc, names)
        if not st or st.get("role") != "writer":
            counts.violations.append(f"disk full: the writer lost its role: {st}")
        filler.unlink()
        # nats-server keeps a stream that met ENOSPC stuck until it restarts; the service
        # (on this external server) says so in /healthz and the operator restarts it.
        await asyncio.get_running_loop().run_in_executor(None, server.restart)
        counts.server_restarts_sigterm += 1
        counts.disk_full_episodes += 1
        await load.finish()
        await wait_caught_up(nc, names)
        await check(nc, names, config, steps[: load.acked], counts)
    finally:
        services.stop_all()
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
        server.stop()
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


async def stream_leader(nc: NATS, stream: str, timeout: float = 30.0) -> str | None:
    """The server name of the stream's leader (asks until the cluster answers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = await nc.jetstream().stream_info(stream)
        except Exception:
            await asyncio.sleep(0.5)
            continue
        if info.cluster and info.cluster.leader:
            return info.cluster.leader
        await asyncio.sleep(0.5)
    return None


async def cluster_phase(args: argparse.Namespace, work: Path, counts: Counts) -> None:
    """A three-node cluster, replicas = 3: nodes killed and back, the stream leader stopped."""
    rng = random.Random(args.seed + 2)
    cluster = LoopbackCluster(work / "cluster")
    names = Names("clustered")
    config = make_config(tenants=TENANTS, agents=AGENTS)
    nc: NATS | None = None
    services = Services(work, [], names.domain, {"CCROUTE_REPLICAS": "3"})
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, cluster.start)
        services.urls = cluster.urls
        nc = await connect(cluster.urls)
        steps = workload(names, args.cluster_inputs, args.rate, args.seed + 2)
        load = Load(nc, names, steps, args.rate)
        services.spawn()
        await writer_pid(nc, names, 90)
        services.spawn()
        load.start()
        order = list(range(len(cluster.nodes)))
        rng.shuffle(order)
        for i in order[: args.cluster_kills]:
            await asyncio.sleep(rng.uniform(1.0, 2.0))
            node = cluster.nodes[i]
            await loop.run_in_executor(None, node.kill)
            counts.cluster_node_kills += 1
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            await loop.run_in_executor(None, node.start)
            await writer_pid(nc, names, 60)
        for _ in range(args.cluster_leader_stops):
            await asyncio.sleep(rng.uniform(1.0, 2.0))
            leader = await stream_leader(nc, names.input_stream)
            if not leader:
                continue
            node = cluster.node_named(leader)
            await loop.run_in_executor(None, node.stop)
            counts.cluster_leader_stops += 1
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            await loop.run_in_executor(None, node.start)
            await writer_pid(nc, names, 60)
        await load.finish()
        await wait_caught_up(nc, names)
        await check(nc, names, config, steps[: load.acked], counts)
    finally:
        services.stop_all()
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
        await loop.run_in_executor(None, cluster.stop)


async def run(args: argparse.Namespace) -> Counts:
    counts = Counts()
    with tempfile.TemporaryDirectory(prefix="ccroute-chaos-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        if "single" in args.phases:
            await single_server_phase(args, work, counts)
            print(f"single-server phase done in {time.monotonic() - t0:.0f}s", flush=True)
        if "disk" in args.phases:
            await disk_full_phase(args, work, counts)
            print(f"disk-full phase done in {time.monotonic() - t0:.0f}s", flush=True)
        if "cluster" in args.phases:
            await cluster_phase(args, work, counts)
            print(f"cluster phase done in {time.monotonic() - t0:.0f}s", flush=True)
    return counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=100, help="SIGKILLs of the writer")
    p.add_argument("--restarts", type=int, default=20, help="nats-server restarts")
    p.add_argument("--stalls", type=int, default=20, help="SIGSTOPs longer than the lease")
    p.add_argument("--store-full", type=int, default=2, help="storage-full episodes")
    p.add_argument("--cluster-kills", type=int, default=3, help="cluster nodes killed in turn")
    p.add_argument("--cluster-leader-stops", type=int, default=1)
    p.add_argument("--inputs", type=int, default=400_000, help="load of the single-server phase")
    p.add_argument("--cluster-inputs", type=int, default=20_000)
    p.add_argument("--rate", type=float, default=400.0, help="inputs per second")
    p.add_argument("--gap", type=float, default=1.5, help="longest pause between faults (s)")
    p.add_argument("--phases", default="single,disk,cluster")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    p.add_argument("--workdir", default=None)
    p.add_argument("--verbose", action="store_true")
    p.add_argument(
        "--quick",
        action="store_true",
        help="the bounded version of the test suite (a few faults of each kind)",
    )
    args = p.parse_args()
    if args.quick:
        args.kills, args.restarts, args.stalls, args.store_full = 3, 2, 1, 1
        args.inputs, args.gap = 3000, 0.8
        args.phases = "single"
    print(f"chaos seed={args.seed} phases={args.phases}", flush=True)
    counts = asyncio.run(run(args))
    report = asdict(counts)
    print(json.dumps(report, indent=2), flush=True)
    if counts.violations:
        print(f"FAILED: {len(counts.violations)} violations", flush=True)
        sys.exit(1)
    print("OK: no acknowledged input lost, no decision doubled, decisions = replay", flush=True)


if __name__ == "__main__":
    main()
