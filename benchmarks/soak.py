"""Soak: ``ccroute serve`` under a steady closed-loop load for an hour (or ten minutes).

The workload (the project's own, :class:`ccroute.service.loadgen.Workload`): 3,000 agents
of 4 tenants log in, then contacts arrive on voice, chat and email, are offered, accepted
300 ms after the offer and completed 1 to 3 s after that; about a third of the inputs
each. At 5,000 inputs/s that keeps about 3,900 contacts open. Event time follows the
wall clock (``ts`` of input *i* is the start plus *i* / rate), so the engine's
time-based memories age as they would in production. Inputs are generated as they are
sent (an hour is 18 million of them), by an engine in this process that decides the
same offers the service will, so each arrival offered at once can be timed.

Every second the harness samples the service process's resident memory, the input
stream's last sequence and the service's applied sequence (the difference is the
consumer lag), and the service log's ``snapshot_taken`` lines (size, and how long the
writer's loop was held). Per minute it reports:

``rss_mb``            resident memory of the service process at the end of the minute
``rss_max_mb``        the most seen during the minute
``lag_max``           most inputs stored but not yet applied
``snapshots``         snapshots taken; ``snapshot_mb`` the last one's size,
                      ``pause_max_ms`` the longest the loop was held by one
``p50_ms p99_ms max_ms``  arrival published -> its ``offer_made`` received (the
                      receipt is stamped by a subscriber process of its own,
                      ``offer_timer.py``, so the generator's busy moments are not
                      counted as the router's)
``loop_cpu_max_ms``   the longest piece of CPU work on the writer's loop (a batch or a
                      projection chunk); ``live_cpu_max_ms`` the longest live batch
``live_slowest_inputs live_slowest_faults`` the longest live batch's inputs and the page
                      faults it took; ``loop_faults`` the loop thread's page faults
                      in the minute; ``threads`` the service's threads
``gc_full gc_max_ms`` the service's full passes of Python's cyclic collector, and its
                      longest pass of any generation (each stops the loop)
``open``              open contacts in the engine

Run ``make soak`` (60 minutes) or ``make soak-short`` (10 minutes; ``SOAK_MINUTES``
sets either), or ``python benchmarks/soak.py --minutes 10``. The table goes to stdout,
everything to the JSON file (``--out``, default ``reports/soak-<minutes>m.json``).
The server's store (about 12 GB an hour) is in a temporary directory removed at the end;
``--keep`` keeps it, ``--workdir DIR`` puts it in a directory of your own and leaves it.

``--sync always|interval`` (or ``SOAK_SYNC``) sets the server's flush policy: ``always``
(the embedded server's default: each write is on disk before it is acknowledged) or
``interval`` (nats-server's own default, a flush every two minutes); the report says
which (``server_sync``). With ``always`` the disk's fsync latency bounds the rate.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import inspect
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js.errors import ObjectNotFoundError

REPO = Path(__file__).resolve().parents[1]
for p in (REPO / "python", REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from ccroute.service.embedded import EmbeddedNats  # noqa: E402
from ccroute.service.loadgen import Workload, config_toml, make_config  # noqa: E402
from ccroute.service.subjects import Names  # noqa: E402
from ccroute.service.transport import _hpub  # noqa: E402
from e2e_harness import (  # noqa: E402
    Harness,
    cpu_seconds,
    ranked,
    run_directory,
    status,
    wait_writer,
)
from offer_timer import OfferTimer  # noqa: E402

TENANTS = 4
AGENTS = 3000
HANDLE_MS = (1_000, 3_000)
DOMAIN = "soak"
SYNC_DEFAULT = (
    "always" if inspect.signature(EmbeddedNats).parameters["sync_always"].default else "interval"
)
"""The embedded server's flush policy unless ``--sync`` says otherwise."""

_SNAP = re.compile(
    rb"snapshot_taken seq=(\d+) bytes=(\d+) pause_ms=([\d.]+)(?: pause_cpu_ms=([\d.]+))?"
    rb"(?: encode_ms=[\d.]+ engine_ms=([\d.]+) projections_ms=([\d.]+)(?: release_ms=([\d.]+))?)?"
)
_LOOP = re.compile(
    rb"loop_minute passes=\d+ process_cpu_max_ms=([\d.]+) flushes=\d+ flush_cpu_max_ms=([\d.]+)"
    rb"(?: live_process_cpu_max_ms=([\d.]+))?(?: gc_passes=\d+ gc_full=(\d+) gc_max_ms=([\d.]+))?"
    rb"(?: live_slowest_inputs=(\d+) live_slowest_faults=(\d+) live_slowest_at=[\d.]+"
    rb" faults=(\d+) threads=(\d+))?"
)
_LEASE = re.compile(rb"lease_lost|lease_renew_failed|writer_stepped_down|lease_reacquired")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux ``/proc``); 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Minute:
    """What one minute of the soak saw."""

    latencies_ms: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    server_rss: list[int] = field(default_factory=list)
    """nats-server's resident memory, sampled with the service's."""
    lag: list[int] = field(default_factory=list)
    snapshots: list[tuple[int, int, float, float]] = field(default_factory=list)
    pause_parts_ms: list[tuple[float, float, float | None]] = field(default_factory=list)
    """Each snapshot's pause split: the engine's job, the projections and (builds before
    2026-12-06 only) the release."""
    lease_events: int = 0
    sent: int = 0
    open_contacts: int = 0
    applied: int = 0
    loop_cpu_max_ms: float | None = None
    live_cpu_max_ms: float | None = None
    """The longest CPU work of one piece on the writer's loop (its loop_minute line)."""
    live_slowest: tuple[int, int] | None = None
    """The longest live batch's inputs and the page faults it took (builds from
    2026-12-06 on)."""
    loop_faults: int | None = None
    """Page faults of the writer loop's thread, and the service's threads (the most seen)."""
    threads: int | None = None
    gc_full: int = 0
    gc_max_ms: float | None = None
    """The cyclic collector's full passes and its longest pass (the loop_minute line)."""
    service_cpu: float = 0.0
    """CPU seconds the service process used in the minute."""
    load: float = 0.0
    """The machine's 1-minute load average at the end of the minute."""

    def row(self, n: int) -> dict[str, Any]:
        # Sorted once: the row is made on the loop that sends the load, and each sort of
        # a minute's ~90,000 latencies holds it (and so the sending) for milliseconds.
        ms = sorted(self.latencies_ms)
        return {
            "minute": n,
            "sent": self.sent,
            "applied_seq": self.applied,
            "rss_mb": round(self.rss[-1] / 1e6, 1) if self.rss else None,
            "rss_max_mb": round(max(self.rss) / 1e6, 1) if self.rss else None,
            "server_rss_max_mb": round(max(self.server_rss) / 1e6, 1) if self.server_rss else None,
            "lag_max": max(self.lag) if self.lag else None,
            "snapshots": len(self.snapshots),
            "snapshot_mb": round(self.snapshots[-1][1] / 1e6, 2) if self.snapshots else None,
            "pause_max_ms": max(s[2] for s in self.snapshots) if self.snapshots else None,
            "pause_cpu_max_ms": max(s[3] for s in self.snapshots) if self.snapshots else None,
            **{
                f"pause_{part}_max_ms": max(parts)
                for i, part in enumerate(("engine", "projections", "release"))
                if (parts := [p[i] for p in self.pause_parts_ms if p[i] is not None])
            },
            "arrivals_timed": len(ms),
            "p50_ms": round(ranked(ms, 0.50), 2) if ms else None,
            "p99_ms": round(ranked(ms, 0.99), 2) if ms else None,
            "max_ms": round(ms[-1], 2) if ms else None,
            "open": self.open_contacts,
            "lease_events": self.lease_events,
            "loop_cpu_max_ms": self.loop_cpu_max_ms,
            "live_cpu_max_ms": self.live_cpu_max_ms,
            "live_slowest_inputs": self.live_slowest[0] if self.live_slowest else None,
            "live_slowest_faults": self.live_slowest[1] if self.live_slowest else None,
            "loop_faults": self.loop_faults,
            "threads": self.threads,
            "gc_full": self.gc_full,
            "gc_max_ms": self.gc_max_ms,
            "service_cpu_pct": round(100 * self.service_cpu / 60, 1),
            "load": round(self.load, 1),
        }


COLUMNS = (
    ("minute", 6), ("sent", 8), ("rss_mb", 8), ("rss_max_mb", 10), ("server_rss_max_mb", 17),
    ("lag_max", 8),
    ("snapshots", 9), ("snapshot_mb", 11), ("pause_max_ms", 12), ("pause_cpu_max_ms", 16),
    ("p50_ms", 8),
    ("p99_ms", 8), ("max_ms", 9), ("open", 6), ("lease_events", 12),
    ("loop_cpu_max_ms", 15), ("live_cpu_max_ms", 15), ("live_slowest_faults", 19),
    ("loop_faults", 11), ("threads", 7), ("gc_full", 7), ("gc_max_ms", 9),
    ("service_cpu_pct", 15), ("load", 5),
)  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    head = " ".join(f"{name:>{w}}" for name, w in COLUMNS)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = []
        for name, w in COLUMNS:
            v = r.get(name)
            cells.append(f"{'-' if v is None else v:>{w}}")
        lines.append(" ".join(cells))
    return "\n".join(lines)


async def soak(
    h: Harness,
    minutes: float,
    rate: float,
    env: dict[str, str],
    quiet: bool = False,
    timer: OfferTimer | None = None,
) -> dict[str, Any]:
    """Run the load for ``minutes``; a report with a row per minute. ``timer``: the
    caller's own (to keep every arrival's stamps), else one of the run's own."""
    names = Names(DOMAIN)
    cfg = make_config(tenants=TENANTS, agents=AGENTS)
    workload = Workload(cfg, names, seed=11, handle_ms=HANDLE_MS)
    start_ms = int(time.time() * 1000)
    steps = workload.stream(start_ms=start_ms, rate=rate)
    proc = h.serve(DOMAIN, **env)
    log_path = h.workdir / f"serve-{DOMAIN}.log"
    nc: NATS = await nats.connect(h.url, pending_size=256 * 1024 * 1024)
    minute = Minute()
    rows: list[dict[str, Any]] = []
    missing = 0
    timer = timer or OfferTimer(h.url, f"{names.out_prefix}*.offer_made.>")
    try:
        await wait_writer(nc, names)
        start_rss = rss_bytes(proc.pid)
        await timer.start()
        js = nc.jetstream()
        send = nc._send_command  # raw frames, as transport.StreamWriter sends them
        log_at = 0
        sent = total = 0
        cpu_at = cpu_seconds(proc.pid)
        # Inputs are made ahead, a slice at a time, into a buffer of about two seconds,
        # and stamped when sent: the time the harness spends making them never counts
        # as the service's, and no slice holds up the receipt of offers for long.
        ready: collections.deque[tuple[bytes, str | None]] = collections.deque()
        while len(ready) < rate:
            s = next(steps)
            ready.append((_hpub(s.subject, s.id, s.payload), s.id if s.offered_at_once else None))
        t0 = time.perf_counter()
        end = t0 + minutes * 60
        next_sample = t0 + 1.0
        next_minute = t0 + 60.0
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            due = int((now - t0) * rate) + 1
            if due > sent and ready:
                n = min(due - sent, len(ready))
                frames = []
                stamp = time.perf_counter()
                for _ in range(n):
                    frame, timed = ready.popleft()
                    if timed is not None:
                        timer.sent(timed, stamp)
                    frames.append(frame)
                await send(b"".join(frames))
                await nc._flush_pending()
                minute.sent += n
                total += n
                sent = max(sent + n, due - int(rate))  # fall behind, not burst
            elif len(ready) < 2 * rate:
                for _ in range(250):
                    s = next(steps)
                    ready.append(
                        (_hpub(s.subject, s.id, s.payload), s.id if s.offered_at_once else None)
                    )
                await asyncio.sleep(0)
                if now < next_sample:
                    continue
            if now >= next_sample:
                next_sample += 1.0
                minute.rss.append(rss_bytes(proc.pid))
                if h.server is not None and h.server.pid is not None:
                    minute.server_rss.append(rss_bytes(h.server.pid))
                st = await status(nc, names)
                try:
                    info = await js.stream_info(names.input_stream)
                    last = int(info.state.last_seq)
                except Exception:
                    last = 0
                if st is not None:
                    minute.applied = int(st["applied_seq"])
                    minute.lag.append(max(0, last - minute.applied))
                    minute.open_contacts = int(st["engine"]["open_contacts"])
                with log_path.open("rb") as f:
                    f.seek(log_at)
                    chunk = f.read()
                cut = chunk.rfind(b"\n") + 1
                log_at += cut
                for m in _SNAP.finditer(chunk[:cut]):
                    minute.snapshots.append((int(m[1]), int(m[2]), float(m[3]), float(m[4] or 0)))
                    if m[5] is not None:
                        release = float(m[7]) if m[7] is not None else None
                        minute.pause_parts_ms.append((float(m[5]), float(m[6]), release))
                minute.lease_events += len(_LEASE.findall(chunk[:cut]))
                for m in _LOOP.finditer(chunk[:cut]):
                    most = max(float(m[1]), float(m[2]))
                    minute.loop_cpu_max_ms = max(minute.loop_cpu_max_ms or 0.0, most)
                    if m[3] is not None:
                        live = float(m[3])
                        if m[6] is not None and live >= (minute.live_cpu_max_ms or 0.0):
                            minute.live_slowest = (int(m[6]), int(m[7]))
                        minute.live_cpu_max_ms = max(minute.live_cpu_max_ms or 0.0, live)
                    if m[8] is not None:
                        minute.loop_faults = (minute.loop_faults or 0) + int(m[8])
                        minute.threads = max(minute.threads or 0, int(m[9]))
                    if m[5] is not None:
                        minute.gc_full += int(m[4])
                        minute.gc_max_ms = max(minute.gc_max_ms or 0.0, float(m[5]))
                minute.latencies_ms.extend(timer.take())
                missing += timer.forget_older_than(now - 60.0)
            if now >= next_minute:
                next_minute += 60.0
                cpu = cpu_seconds(proc.pid)
                minute.service_cpu, cpu_at = cpu - cpu_at, cpu
                minute.load = os.getloadavg()[0]
                rows.append(minute.row(len(rows) + 1))
                if not quiet:
                    print(table(rows[-1:]).splitlines()[-1] if len(rows) > 1 else table(rows))
                    sys.stdout.flush()
                minute = Minute()
            await asyncio.sleep(0.002)
        await timer.settle(2.0)
        minute.latencies_ms.extend(timer.take())  # the last second's, with the last row
        if minute.sent:
            rows.append(minute.row(len(rows) + 1))
        js_in = await js.stream_info(names.input_stream)
        js_out = await js.stream_info(names.decision_stream)
        st = await status(nc, names) or {}
        elapsed = time.perf_counter() - t0
        inputs = int(js_in.state.messages)
        store = await js.object_store(names.snapshot_bucket)
        try:
            snapshot_bytes = int((await store.get_info("engine")).size or 0)
        except ObjectNotFoundError:  # no snapshot taken (a run with snapshots held off)
            snapshot_bytes = 0
        return {
            "minutes": minutes,
            "rate_target": rate,
            "rate_achieved": round(total / elapsed, 1),
            "agents": AGENTS,
            "tenants": TENANTS,
            "handle_ms": list(HANDLE_MS),
            "service_env": env,
            "rss_at_start_mb": round(start_rss / 1e6, 1),
            "inputs_stored": inputs,
            "input_stream_bytes": int(js_in.state.bytes),
            "input_bytes_per_input": round(js_in.state.bytes / max(1, inputs), 1),
            "decision_stream_bytes": int(js_out.state.bytes),
            "decisions_stored": int(js_out.state.messages),
            "decision_bytes_per_input": round(js_out.state.bytes / max(1, inputs), 1),
            "snapshot_object_bytes": snapshot_bytes,
            "arrivals_never_offered_in_60s": missing,
            "final_status": {k: st.get(k) for k in ("applied_seq", "snapshot_seq", "engine")},
            "per_minute": rows,
        }
    finally:
        await timer.stop()
        await nc.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "60") or 60)
    )
    p.add_argument("--rate", type=float, default=5000.0)
    p.add_argument(
        "--sync",
        choices=("always", "interval"),
        default=os.environ.get("SOAK_SYNC") or SYNC_DEFAULT,
        help="the server's flush policy: always (fsync before each ack, the embedded "
        "server's default) or interval (the server's own default, a flush every 2 min)",
    )
    p.add_argument("--out", default=None, help="JSON report (default reports/soak-<m>m.json)")
    p.add_argument("--workdir", default=None, help="kept; default: a temporary one")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the service (repeatable)"
    )
    args = p.parse_args()
    env = dict(kv.split("=", 1) for kv in args.env)
    with run_directory(args.workdir, "ccroute-soak-", args.keep) as work:
        h = Harness(work, sync_always=args.sync == "always")
        print(f"server flush policy: sync {args.sync}", flush=True)
        h.start()
        assert h.config_file is not None
        h.config_file.write_text(config_toml(tenants=TENANTS, agents=AGENTS))
        try:
            report = asyncio.run(soak(h, args.minutes, args.rate, env))
        finally:
            h.stop()
    report["server_sync"] = args.sync
    report["workdir"] = str(work) if args.workdir or args.keep else None
    report["cpus"] = os.cpu_count()
    out = Path(args.out or REPO / "reports" / f"soak-{args.minutes:g}m.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(report["per_minute"]))
    summary = {k: v for k, v in report.items() if k not in ("per_minute", "final_status")}
    print(json.dumps(summary, indent=2))
    print(f"report: {out}")


if __name__ == "__main__":
    main()
