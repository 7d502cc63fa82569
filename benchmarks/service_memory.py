"""Memory of ``ccroute serve`` with many contacts waiting, against the engine's own.

Both are given the same inputs: 200 agents configured (none logged in), then ``n``
contacts arriving on the loadgen configuration's queues, so all of them wait.

- **engine**: a bare Python process holding a :class:`ccroute.engine.Engine`; its
  resident memory before and after applying the inputs (the difference is the engine's
  state for ``n`` waiting contacts);
- **service**: ``ccroute serve`` on a real nats-server; its resident memory when it is the
  writer and idle, and after it has applied the inputs (and flushed its projections and
  taken a snapshot); the difference is what the service holds for them.

The service holds the engine's state plus its projections (a read model per waiting
contact) and whatever its buffers and caches keep. Target (issue 13): the service's growth
at most twice the engine's. Run ``python benchmarks/service_memory.py --waiting 100000``
for JSON, or ``benchmarks/test_service_memory.py`` under ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

REPO = Path(__file__).resolve().parents[1]
for p in (REPO / "python", REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from ccroute.service.loadgen import config_toml  # noqa: E402
from ccroute.service.subjects import Names  # noqa: E402
from e2e_harness import Harness, preload, status, wait_applied, wait_writer  # noqa: E402
from soak import rss_bytes  # noqa: E402

TENANTS = 4
AGENTS = 200
DOMAIN = "mem"


def arrivals(n: int, start_ms: int = 1_700_000_000_000) -> list[tuple[str, bytes, str]]:
    """(subject, payload, id) of ``n`` contacts arriving over the tenants' queues."""
    names = Names(DOMAIN)
    chans = {"live": ("voice", "chat"), "mail": ("email",)}
    out = []
    for i in range(n):
        tenant = f"t{i % TENANTS}"
        kind = "live" if i % 3 else "mail"
        ev = {
            "type": "contact_arrived",
            "id": f"arrival-{i:07d}",
            "ts": start_ms + i,
            "tenant": tenant,
            "contact": f"contact-{i:07d}",
            "queue": f"{tenant}-{kind}",
            "channel": chans[kind][i % len(chans[kind])],
        }
        payload = json.dumps(ev, separators=(",", ":")).encode()
        out.append((names.input_subject("contact_arrived", tenant), payload, str(ev["id"])))
    return out


_ENGINE_PROBE = """
import json, sys
sys.path.insert(0, {python!r})
from ccroute.engine import Engine
from ccroute.service.loadgen import make_config
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
payloads = [line.encode() for line in open({path!r}).read().splitlines()]
engine = Engine(make_config(tenants={tenants}, agents={agents}))
before = rss()
for i in range(0, len(payloads), 1000):
    engine.apply_raw_many(payloads[i : i + 1000])
del payloads
after = rss()
print(json.dumps({{"before": before, "after": after, "waiting": engine.stats()["waiting"]}}))
"""


def engine_memory(payloads: list[bytes], workdir: Path) -> dict[str, Any]:
    """The bare engine's resident memory before and after the inputs (own process)."""
    path = workdir / "inputs.jsonl"
    path.write_bytes(b"\n".join(payloads))
    code = _ENGINE_PROBE.format(
        python=str(REPO / "python"), path=str(path), tenants=TENANTS, agents=AGENTS
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def service_memory(h: Harness, inputs: list[tuple[str, bytes, str]]) -> dict[str, Any]:
    names = Names(DOMAIN)
    proc = h.serve(DOMAIN, CCROUTE_SNAPSHOT_EVENTS="50000", CCROUTE_SNAPSHOT_SECONDS="5")
    nc = await nats.connect(h.url, pending_size=64 * 1024 * 1024)
    try:
        await wait_writer(nc, names)
        await asyncio.sleep(1.0)
        before = rss_bytes(proc.pid)
        from ccroute.service.loadgen import Step

        steps = [Step(s, p, i, False) for s, p, i in inputs]
        await preload(nc, names.input_stream, steps)
        st = await wait_applied(nc, names, len(steps), timeout=600)
        # Projections flushed and a snapshot of the full state taken, then quiet.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = await status(nc, names) or st
            if int(st.get("snapshot_seq", 0)) >= len(steps):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)
        peak = 0
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
        return {
            "before": before,
            "after": rss_bytes(proc.pid),
            "peak": peak,
            "waiting": int(st["engine"]["waiting"]),
            "snapshot_seq": int(st.get("snapshot_seq", 0)),
        }
    finally:
        await nc.close()


def measure(waiting: int, workdir: Path | None = None) -> dict[str, Any]:
    """Both measurements for ``waiting`` contacts; sizes in MB."""
    work = workdir or Path(tempfile.mkdtemp(prefix="ccroute-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    inputs = arrivals(waiting)
    eng = engine_memory([p for _, p, _ in inputs], work)
    h = Harness(work)
    h.start()
    assert h.config_file is not None
    h.config_file.write_text(config_toml(tenants=TENANTS, agents=AGENTS))
    try:
        svc = asyncio.run(service_memory(h, inputs))
    finally:
        h.stop()
    mb = 1e6
    engine_growth = (eng["after"] - eng["before"]) / mb
    service_growth = (svc["after"] - svc["before"]) / mb
    return {
        "waiting": waiting,
        "engine_waiting": eng["waiting"],
        "service_waiting": svc["waiting"],
        "engine_rss_before_mb": round(eng["before"] / mb, 1),
        "engine_rss_after_mb": round(eng["after"] / mb, 1),
        "engine_state_mb": round(engine_growth, 1),
        "service_rss_idle_mb": round(svc["before"] / mb, 1),
        "service_rss_after_mb": round(svc["after"] / mb, 1),
        "service_rss_peak_mb": round(svc["peak"] / mb, 1),
        "service_growth_mb": round(service_growth, 1),
        "service_over_engine": round(service_growth / engine_growth, 2) if engine_growth else None,
        "workdir": str(work),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--waiting", type=int, default=100_000)
    p.add_argument("--workdir", default=None)
    args = p.parse_args()
    print(json.dumps(measure(args.waiting, Path(args.workdir) if args.workdir else None), indent=2))


if __name__ == "__main__":
    main()
