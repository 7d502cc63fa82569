"""The recorder's own work per input, without the transport: decoding an input and its
decisions as they are stored in the log, folding them into contact records, and the one
commit of the changed rows to DuckDB.

The end-to-end figure (``test_e2e_nats.py::test_e2e_recorder_keeps_up_with_the_service``)
adds reading the three streams from nats-server; this one moves only with the recorder's
code, not with the machine's network stack or the other work on it, so a change to the
fold or the commit shows here first. Target (issue 15): the recorder keeps up with the
service, at least 20,000 inputs/s on the 2-core reference machine: this part has to leave
room for the reading. Run with ``make bench``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ccroute.config import load_config
from ccroute.engine import Engine
from ccroute.events import decode_decision, decode_input, encode_json
from ccroute.record_store import Position, RecordStore
from ccroute.service.loadgen import config_toml
from conftest import record
from e2e_harness import make_steps

INPUTS = 100_000


def _routed_log(tmp: Path) -> tuple[Any, list[bytes], list[list[bytes]]]:
    """The harness's workload as the log holds it: input payloads and, per input, the
    encoded decisions the engine made."""
    from e2e_harness import AGENTS, TENANTS

    cfg_file = tmp / "ccroute.toml"
    cfg_file.write_text(config_toml(tenants=TENANTS, agents=AGENTS))
    config = load_config(cfg_file)
    payloads = [s.payload for s in make_steps("bench", INPUTS, seed=4)]
    engine = Engine(config)
    inputs = [decode_input(p) for p in payloads]
    grouped = engine.apply_batch_grouped(inputs)
    return config, payloads, [[encode_json(d) for d in ds] for ds in grouped]


def test_recorder_fold_and_commit(benchmark: Any, tmp_path: Path) -> None:
    config, payloads, decisions = _routed_log(tmp_path)
    n_decisions = sum(map(len, decisions))
    runs = iter(range(1_000))

    def fold_and_commit() -> dict[str, float]:
        store = RecordStore(tmp_path / f"records{next(runs)}.duckdb", config, domain="bench")
        rec, _ = store.load()
        touched: set[tuple[str, str]] = set()
        agents: set[str] = set()
        t0 = time.process_time()
        for payload, encoded in zip(payloads, decisions, strict=True):
            rec.observe(decode_input(payload), [decode_decision(d) for d in encoded])
            touched.update(rec.last_touched)
            agents.update(rec.last_agents)
        t1 = time.process_time()
        store.commit(rec, touched, agents, Position(len(payloads), n_decisions, 0))
        t2 = time.process_time()
        return {"fold_cpu_s": t1 - t0, "commit_cpu_s": t2 - t1, "contacts": len(touched)}

    result = benchmark.pedantic(fold_and_commit, rounds=3, iterations=1)
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update(result)
    record(
        "recorder fold + commit (no transport)",
        inputs_per_s=INPUTS / mean,
        inputs_per_cpu_s=INPUTS / (result["fold_cpu_s"] + result["commit_cpu_s"]),
        decisions=n_decisions,
        contacts=result["contacts"],
        fold_us_per_input=result["fold_cpu_s"] / INPUTS * 1e6,
        commit_us_per_input=result["commit_cpu_s"] / INPUTS * 1e6,
    )
    assert result["contacts"] > 0
