"""What the tenant wall costs the NATS server: inputs published by a tenant through its
account's service import, against the same inputs published inside the router's account.

The router's own path (pulling inputs, publishing decisions, the KV bucket) stays inside
its account either way, so the import on the way in is the wall's cost per input. The
figure is the nats-server's CPU time per input (user + system, from /proc), and the
publish rate; best of two alternating runs of each (other work on the machine moves
single runs). See docs/security.md.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import nats

from ccroute.service.accounts import ServerAuth
from ccroute.service.assets import ensure_assets
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.service import credential_options
from ccroute.service.subjects import Names
from ccroute.service.transport import StreamWriter
from conftest import record

N = int(os.environ.get("CCROUTE_WALL_COST_INPUTS", "200000"))
PAYLOAD = (
    b'{"type":"contact_arrived","id":"x","ts":1,"tenant":"t0","contact":"c",'
    b'"queue":"q","channel":"chat"}'
)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _publish(server: EmbeddedNats, creds: Path, names: Names, tag: str) -> dict[str, float]:
    assert server.pid is not None
    nc = await nats.connect(
        server.url, pending_size=64 * 1024 * 1024, **credential_options(str(creds))
    )
    try:
        # exact=False: a tenant's connection has no JetStream API (no stream info).
        writer = StreamWriter(nc, names.input_stream, exact=False, timeout=30)
        subject = names.input_subject("contact_arrived", "t0")
        cpu0, t0 = _cpu_seconds(server.pid), time.perf_counter()
        for i in range(0, N, 2000):
            for j in range(i, min(N, i + 2000)):
                writer.add(subject, PAYLOAD, f"{tag}-{j}")
            await writer.commit()
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds(server.pid) - cpu0
    finally:
        await nc.close()
    return {"inputs_per_s": N / seconds, "server_cpu_us_per_input": cpu / N * 1e6}


def test_server_cost_of_publishing_through_a_tenant_import(benchmark: Any, tmp_path: Path) -> None:
    names = Names("wallcost")
    auth = ServerAuth(tmp_path / "data", names)
    admin = auth.store.ensure("admin", "admin-wallcost")
    _, tenant = auth.store.issue("tenant", tenant="t0", name="t0-source")
    server = EmbeddedNats(tmp_path / "nats", config_file=auth.write(["t0"])).start()

    async def run() -> dict[str, Any]:
        nc = await nats.connect(server.url, **credential_options(str(admin)))
        await ensure_assets(nc.jetstream(), names)
        await nc.close()
        inside, through = [], []
        for i in range(2):
            inside.append(await _publish(server, admin, names, f"in{i}"))
            through.append(await _publish(server, tenant, names, f"th{i}"))
        best_in = min(inside, key=lambda r: r["server_cpu_us_per_input"])
        best_th = min(through, key=lambda r: r["server_cpu_us_per_input"])
        return {
            "inside_router_account_us": round(best_in["server_cpu_us_per_input"], 2),
            "through_tenant_import_us": round(best_th["server_cpu_us_per_input"], 2),
            "inside_inputs_per_s": round(max(r["inputs_per_s"] for r in inside)),
            "through_inputs_per_s": round(max(r["inputs_per_s"] for r in through)),
        }

    try:
        result = benchmark.pedantic(lambda: asyncio.run(run()), rounds=1, iterations=1)
    finally:
        server.stop()
    benchmark.extra_info.update(result)
    record("tenant wall: server CPU per input", **result)
    assert result["through_inputs_per_s"] > 0 and result["inside_inputs_per_s"] > 0
