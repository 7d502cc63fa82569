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
import re
import sys
import tempfile
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
from e2e_harness import Harness, percentile  # noqa: E402
from offer_timer import OfferTimer, cause_of  # noqa: E402
from soak import AGENTS, DOMAIN, TENANTS, soak  # noqa: E402

HOPS = ("published_logged", "logged_decided", "decided_received", "total")


def stored_ns(reply: str) -> int:
    """The stored message's timestamp (ns) from a JetStream delivery's reply subject."""
    tokens = reply.split(".")
    return int(tokens[7] if len(tokens) == 9 else tokens[9])


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
                    out[key] = stored_ns(m.reply)
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


_SNAPSHOT_LINE = re.compile(r"ts=(\S+)Z .*snapshot_taken .*encode_ms=([\d.]+)")
BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 1e9)


def snapshot_times(log: Path) -> list[int]:
    """When each snapshot's encoding began (wall ns), from the service's log."""
    out = []
    for m in _SNAPSHOT_LINE.finditer(log.read_text()):
        at = datetime.datetime.fromisoformat(m[1]).replace(tzinfo=datetime.UTC)
        out.append(int(at.timestamp() * 1e9) - int(float(m[2]) * 1e6))
    return out


def since_snapshot(snaps: list[int], at_ns: int) -> float:
    i = bisect.bisect_right(snaps, at_ns)
    return (at_ns - snaps[i - 1]) / 1e9 if i else -1.0


def _label(bucket: float) -> str:
    return f"<{bucket:g}s" if bucket < 1e9 else "later"


def spread(seconds: list[float]) -> dict[str, float]:
    """Shares of ``seconds`` (after a snapshot) in buckets up to 0.25 s, 0.5 s, ..."""
    counts = dict.fromkeys((_label(b) for b in BUCKETS), 0)
    for x in seconds:
        if x < 0:
            continue
        b = next(b for b in BUCKETS if x < b)
        counts[_label(b)] += 1
    n = max(1, sum(counts.values()))
    return {k: round(v / n, 3) for k, v in counts.items()}


def summary(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        hop: {
            "p50_ms": round(percentile([r[hop] for r in rows], 0.50), 2),
            "p99_ms": round(percentile([r[hop] for r in rows], 0.99), 2),
            "max_ms": round(max(r[hop] for r in rows), 2),
        }
        for hop in HOPS
    }


async def breakdown(h: Harness, minutes: float, rate: float, env: dict[str, str]) -> dict[str, Any]:
    names = Names(DOMAIN)
    # perf_counter and the wall clock, related once: stamps are taken on the first.
    wall_minus_perf = time.time_ns() - int(time.perf_counter() * 1e9)
    timer = OfferTimer(h.url, f"{names.out_prefix}*.offer_made.>", keep_pairs=True)
    report = await soak(h, minutes, rate, env, quiet=True, timer=timer)
    assert timer.pairs is not None
    if not timer.pairs:
        raise SystemExit("no arrival was timed")
    last = max(p[1] for p in timer.pairs)
    pairs = [p for p in timer.pairs if p[1] >= last - 60.0]
    since = int(min(p[1] for p in pairs) * 1e9) + wall_minus_perf - 2_000_000_000
    nc = await nats.connect(h.url)
    try:
        logged = await stored_times(nc, names.input_stream, names.input_wildcard, since, input_id)
        decided = await stored_times(
            nc, names.decision_stream, f"{names.out_prefix}*.offer_made.>", since, offer_cause
        )
    finally:
        await nc.close()
    snaps = snapshot_times(h.workdir / f"serve-{DOMAIN}.log")
    first_ns = int(min(p[1] for p in pairs) * 1e9) + wall_minus_perf
    rows = []
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
                "after_snapshot_s": since_snapshot(snaps, pub),
                "second": (pub - first_ns) // 1_000_000_000,
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
        # Published how long after a snapshot's encoding began (its upload follows it):
        # a tail that gathers in the first second is the snapshot's doing.
        "after_snapshot_all": spread([r["after_snapshot_s"] for r in rows]),
        "after_snapshot_slowest_1pct": spread([r["after_snapshot_s"] for r in tail]),
        # The seconds of the last minute that hold most of the slowest 1 %: a tail made
        # in a few moments (a pause) or spread over the minute (a steady cost).
        "slowest_1pct_by_second": dict(
            collections.Counter(int(r["second"]) for r in tail).most_common(8)
        ),
        "per_minute_p99_ms": [r["p99_ms"] for r in report["per_minute"]],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--rate", type=float, default=5000.0)
    p.add_argument("--sync", choices=("always", "interval"), default="interval")
    p.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the service (repeatable)"
    )
    a = p.parse_args()
    env = dict(kv.split("=", 1) for kv in a.env)
    work = Path(tempfile.mkdtemp(prefix="ccroute-breakdown-"))
    h = Harness(work, sync_always=a.sync == "always")
    h.start()
    assert h.config_file is not None
    h.config_file.write_text(config_toml(tenants=TENANTS, agents=AGENTS))
    try:
        out = asyncio.run(breakdown(h, a.minutes, a.rate, env))
    finally:
        h.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
