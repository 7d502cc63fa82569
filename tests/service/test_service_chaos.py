"""The bounded chaos run: a few writer kills, nats-server restarts (SIGTERM and SIGKILL), a
stall past the lease with a standby running and a storage-full episode, under steady load,
then the checker (every acknowledged input in the log, one set of decisions per input,
no contact with two agents, no agent over capacity, decisions byte-equal to a replay).
``make chaos`` runs the same harness with the full counts."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import REPO


def run_chaos(*args: str, timeout: float) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "chaos.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-8000:] + proc.stderr[-3000:]
    report: dict[str, object] = json.loads(out[out.index("{") : out.rindex("}") + 1])
    return report


def test_a_short_chaos_run_keeps_every_invariant() -> None:
    counts = run_chaos("--quick", "--seed", "5", timeout=240)
    assert counts["violations"] == []
    assert counts["writer_kills"] == 3 and counts["stalls"] == 1
    assert counts["store_full_episodes"] == 1 and counts["store_full_refusals"] == 1
    assert int(counts["server_restarts_sigterm"]) + int(counts["server_restarts_sigkill"]) >= 4  # type: ignore[call-overload]
    assert counts["acknowledged"] == counts["inputs"] == 3000


def test_a_three_node_cluster_keeps_routing_through_node_kills() -> None:
    """replicas = 3 on a loopback cluster from the wheel's binary: two nodes SIGKILLed and
    brought back in turn, then the input stream's leader stopped, under steady load."""
    counts = run_chaos(
        "--phases",
        "cluster",
        "--cluster-inputs",
        "4000",
        "--cluster-kills",
        "2",
        "--cluster-leader-stops",
        "1",
        "--seed",
        "3",
        timeout=240,
    )
    assert counts["violations"] == []
    assert counts["cluster_node_kills"] == 2 and counts["cluster_leader_stops"] == 1
    assert counts["acknowledged"] == counts["inputs"] and int(counts["inputs"]) > 0  # type: ignore[call-overload]
