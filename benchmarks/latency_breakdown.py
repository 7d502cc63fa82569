"""Where an arrival's time to its offer goes: the soak's load, then each timed arrival of
the last minute split into the hops it took.

For every arrival offered at once, four stamps on the machine's wall clock:

- ``published``: the load generator wrote it to its NATS connection;
- ``logged``: nats-server stored it in the input log (the stored message's timestamp);
- ``decided``: nats-server stored its ``offer_made`` in the decision stream;
- ``received``: the offer reached a subscriber process of its own (``offer_timer.py``).

So ``published -> logged`` is the server taking the input in, ``logged -> decided`` is the
service (delivery to its consumer, the engine, the publish) and ``decided -> received`` is
the server handing the offer out. Printed: p50/p99/max of each hop over all timed arrivals
of the last minute, and the same hops over the slowest 1 % alone, which says which hop
makes the tail.

``python benchmarks/latency_breakdown.py --minutes 3 --sync interval``
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import datetime
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

REPO = Path(__file__).resolve().parents[1]
for p in (REPO / "python", REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from ccroute.service.loadgen import config_toml  # noqa: E402
from ccroute.service.subjects import Names  # noqa: E402
from ccroute.service.transport import parse_ack_reply  # noqa: E402
from e2e_harness import Harness, cpu_seconds, percentile, run_directory  # noqa: E402
from offer_timer import OfferTimer, cause_of  # noqa: E402
from soak import AGENTS, DOMAIN, TENANTS, soak  # noqa: E402

HOPS = ("published_logged", "logged_decided", "decided_received", "total")


async def stored_times(
    nc: nats.NATS, stream: str, subject: str, since_ns: int, key_of: Any
) -> dict[str, int]:
    """``key -> stored ns`` of every message of ``stream`` on ``subject`` since ``since_ns``."""
    js = nc.jetstream()
    info = await js.stream_info(stream)
    last = int(info.state.last_seq)
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since_ns // 1_000_000_000)) + "Z"
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=start,
            inactive_threshold=30.0,
            mem_storage=True,
        ),
    )
    out: dict[str, int] = {}
    try:
        while True:
            try:
                msgs = await sub.fetch(2000, timeout=2.0)
            except nats.errors.TimeoutError:
                break
            for m in msgs:
                key = key_of(m.data)
                if key is not None:
                    out[key] = parse_ack_reply(m.reply.encode()).timestamp_ns
            if msgs and msgs[-1].metadata.sequence.stream >= last:
                break
    finally:
        await sub.unsubscribe()
    return out


def input_id(data: bytes) -> str | None:
    i = data.find(b'"id":"')
    if i < 0:
        return None
    j = data.find(b'"', i + 6)
    return data[i + 6 : j].decode()


def offer_cause(data: bytes) -> str | None:
    c = cause_of(data)
    return None if c is None else c.decode()


_TAKEN = re.compile(r"ts=(\S+)Z .*snapshot_taken seq=(\d+) .*encode_ms=([\d.]+)")
_SAVED = re.compile(r"ts=(\S+)Z .*snapshot_saved seq=(\d+) ")
PHASES = ("encoding", "uploading", "first second after", "between")


def _ns(ts: str) -> int:
    at = datetime.datetime.fromisoformat(ts).replace(tzinfo=datetime.UTC)
    return int(at.timestamp() * 1e9)


def snapshot_phases(log: Path) -> list[tuple[int, int, int]]:
    """(encoding began, encoded, uploaded) of each snapshot (wall ns), from the service's
    log: ``snapshot_taken`` is written when the encoding ends, ``snapshot_saved`` when
    the upload does."""
    text = log.read_text()
    saved = {m[2]: _ns(m[1]) for m in _SAVED.finditer(text)}
    out = []
    for m in _TAKEN.finditer(text):
        taken = _ns(m[1])
        out.append((taken - int(float(m[3]) * 1e6), taken, saved.get(m[2], taken)))
    return out


def phase_of(snaps: list[tuple[int, int, int]], at_ns: int) -> str:
    """Where ``at_ns`` falls in the snapshot cycle."""
    i = bisect.bisect_right(snaps, (at_ns, 1 << 63, 1 << 63))
    if not i:
        return "between"
    _began, encoded, uploaded = snaps[i - 1]
    if at_ns < encoded:
        return "encoding"
    if at_ns < uploaded:
        return "uploading"
    return "first second after" if at_ns < uploaded + 1_000_000_000 else "between"


def shares(phases: list[str]) -> dict[str, float]:
    n = max(1, len(phases))
    c = collections.Counter(phases)
    return {k: round(c[k] / n, 3) for k in PHASES}


def _machine_ticks() -> tuple[int, int, int]:
    """(busy, iowait, steal) clock ticks of the whole machine so far (``/proc/stat``)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, iowait, irq, softirq, steal = f[:8]
    return user + nice + system + irq + softirq, iowait, steal


async def sample_cpu(h: Harness, out: dict[int, dict[str, float]], stop: asyncio.Event) -> None:
    """Each second (wall, whole seconds): the machine's busy, iowait and steal shares of
    its CPUs, and the service's and nats-server's own CPU use (% of one core)."""
    tick = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    last: tuple[float, tuple[int, int, int], float, float] | None = None
    while not stop.is_set():
        await asyncio.sleep(1.0 - time.time() % 1.0)
        service = h.procs[-1].pid if h.procs else None
        server = h.server.pid if h.server is not None else None
        now = (
            time.time(),
            _machine_ticks(),
            cpu_seconds(service) if service else 0.0,
            cpu_seconds(server) if server else 0.0,
        )
        if last is not None:
            dt = now[0] - last[0]
            d = [(a - b) / tick / dt / cores * 100 for a, b in zip(now[1], last[1], strict=True)]
            out[int(last[0] + 0.5)] = {
                "busy_pct": round(d[0], 1),
                "iowait_pct": round(d[1], 1),
                "steal_pct": round(d[2], 1),
                "service_pct": round((now[2] - last[2]) / dt * 100, 1),
                "server_pct": round((now[3] - last[3]) / dt * 100, 1),
            }
        last = now


def summary(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        hop: {
            "p50_ms": round(percentile([r[hop] for r in rows], 0.50), 2),
            "p99_ms": round(percentile([r[hop] for r in rows], 0.99), 2),
            "max_ms": round(max(r[hop] for r in rows), 2),
        }
        for hop in HOPS
    }


async def breakdown(
    h: Harness,
    minutes: float,
    rate: float,
    env: dict[str, str],
    keep_rows: bool = False,
    window_minutes: float = 1.0,
) -> dict[str, Any]:
    names = Names(DOMAIN)
    # perf_counter and the wall clock, related once: stamps are taken on the first.
    wall_minus_perf = time.time_ns() - int(time.perf_counter() * 1e9)
    timer = OfferTimer(h.url, f"{names.out_prefix}*.offer_made.>", keep_pairs=True)
    cpu: dict[int, dict[str, float]] = {}
    stop = asyncio.Event()
    sampler = asyncio.get_running_loop().create_task(sample_cpu(h, cpu, stop))
    try:
        report = await soak(h, minutes, rate, env, quiet=True, timer=timer)
    finally:
        stop.set()
        await sampler
    assert timer.pairs is not None
    if not timer.pairs:
        raise SystemExit("no arrival was timed")
    last = max(p[1] for p in timer.pairs)
    pairs = [p for p in timer.pairs if p[1] >= last - 60.0 * window_minutes]
    since = int(min(p[1] for p in pairs) * 1e9) + wall_minus_perf - 2_000_000_000
    nc = await nats.connect(h.url)
    try:
        logged = await stored_times(nc, names.input_stream, names.input_wildcard, since, input_id)
        decided = await stored_times(
            nc, names.decision_stream, f"{names.out_prefix}*.offer_made.>", since, offer_cause
        )
    finally:
        await nc.close()
    snaps = snapshot_phases(h.workdir / f"serve-{DOMAIN}.log")
    first_ns = int(min(p[1] for p in pairs) * 1e9) + wall_minus_perf
    rows: list[dict[str, Any]] = []
    for input_id_, sent, received in pairs:
        lg, dc = logged.get(input_id_), decided.get(input_id_)
        if lg is None or dc is None:
            continue
        pub = int(sent * 1e9) + wall_minus_perf
        rec = int(received * 1e9) + wall_minus_perf
        rows.append(
            {
                "published_logged": (lg - pub) / 1e6,
                "logged_decided": (dc - lg) / 1e6,
                "decided_received": (rec - dc) / 1e6,
                "total": (rec - pub) / 1e6,
                "phase": phase_of(snaps, pub),
                "second": (pub - first_ns) // 1_000_000_000,
                "wall_second": pub // 1_000_000_000,
                "published_ns": pub,
            }
        )
    rows.sort(key=lambda r: r["total"])
    tail = rows[int(len(rows) * 0.99) :]
    return {
        "minutes": minutes,
        "service_env": env,
        "arrivals": len(rows),
        "all": summary(rows),
        "slowest_1pct": summary(tail),
        # Where in the snapshot cycle arrivals were published: a phase that holds a far
        # larger share of the slowest 1 % than of all arrivals is what makes the tail.
        "snapshot_phase_all": shares([str(r["phase"]) for r in rows]),
        "snapshot_phase_slowest_1pct": shares([str(r["phase"]) for r in tail]),
        # The seconds of the last minute that hold most of the slowest 1 %: a tail made
        # in a few moments (a pause) or spread over the minute (a steady cost).
        "slowest_1pct_by_second": dict(
            collections.Counter(int(r["second"]) for r in tail).most_common(8)
        ),
        # The CPU in the seconds that hold the most of the tail, and in a typical second.
        "cpu_in_tail_seconds": {
            str(sec - first_ns // 1_000_000_000): cpu.get(sec)
            for sec, _ in collections.Counter(int(r["wall_second"]) for r in tail).most_common(5)
        },
        "cpu_median_second": {
            k: sorted(v[k] for v in cpu.values())[len(cpu) // 2] for k in next(iter(cpu.values()))
        }
        if cpu
        else {},
        "per_minute_p99_ms": [r["p99_ms"] for r in report["per_minute"]],
        "snapshots": snaps[-4:],
        "rows": rows if keep_rows else [],
        "cpu_by_second": {str(k): v for k, v in sorted(cpu.items())} if keep_rows else {},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--rate", type=float, default=5000.0)
    p.add_argument("--sync", choices=("always", "interval"), default="interval")
    p.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the service (repeatable)"
    )
    p.add_argument("--keep-rows", action="store_true", help="every arrival's hops, in the JSON")
    p.add_argument("--keep", action="store_true", help="keep the run's temporary directory")
    p.add_argument(
        "--window-minutes",
        type=float,
        default=1.0,
        help="how much of the run's end is split into hops (default: its last minute)",
    )
    a = p.parse_args()
    env = dict(kv.split("=", 1) for kv in a.env)
    with run_directory(None, "ccroute-breakdown-", a.keep) as work:
        h = Harness(work, sync_always=a.sync == "always")
        h.start()
        assert h.config_file is not None
        h.config_file.write_text(config_toml(tenants=TENANTS, agents=AGENTS))
        try:
            out = asyncio.run(breakdown(h, a.minutes, a.rate, env, a.keep_rows, a.window_minutes))
        finally:
            h.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
