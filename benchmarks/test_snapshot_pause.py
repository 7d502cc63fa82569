"""How long a snapshot holds the writer's loop, at a large engine state.

Before issue 13 the loop encoded the whole snapshot itself (``Engine.snapshot``): the
pause grew with the state, to seconds, and cost the writer its lease. Now the loop only
takes a :meth:`~ccroute.engine.Engine.snapshot_job` (open contacts, agents and timers
copied; the de-duplication and closed-contact memories shared copy-on-write) and the
bytes are encoded on a worker thread. Measured here on the engine's seeded workload of
``CCROUTE_BENCH_EVENTS`` inputs (default 1,000,000: a full de-duplication memory at its
default budget): the pause, and the full encoding it replaces; and how long the loop's
thread waits while the worker encodes (the worker must not hold the GIL for more than a
moment: handing the bytes to Python once zeroed 43 MB with the GIL held, 22 ms here and
up to 120 ms in the soak). Run with ``make bench``.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from ccroute import Engine
from ccroute._core import generate_workload
from ccroute.config import config_from_dict
from conftest import EVENTS, record


@pytest.fixture(scope="module")
def large_engine() -> Engine:
    cfg_json, events = generate_workload(1_000, EVENTS, 42)
    engine = Engine(config_from_dict(json.loads(cfg_json), source="generated"))
    engine.apply_encoded_batch(events)
    return engine


def test_snapshot_pause_of_the_writers_loop(
    benchmark: pytest.FixtureRequest, large_engine: Engine
) -> None:
    jobs = []
    benchmark.pedantic(lambda: jobs.append(large_engine.snapshot_job()), rounds=5)
    pause = benchmark.stats.stats.min
    t0 = time.perf_counter()
    data = jobs[-1].encode()
    encode = time.perf_counter() - t0
    t0 = time.perf_counter()
    whole = large_engine.snapshot()
    before = time.perf_counter() - t0
    assert data == whole  # the job encodes the same bytes the old pause produced
    stats = large_engine.stats()
    figures = {
        "snapshot_mb": len(data) / 1e6,
        "open_contacts": stats["open_contacts"],
        "pause_ms": pause * 1000,
        "encode_off_loop_ms": encode * 1000,
        "old_pause_ms": before * 1000,
    }
    benchmark.extra_info.update(figures)
    record(f"snapshot pause, {EVENTS:,} inputs applied", **figures)


def longest_wait_while_encoding(engine: Engine) -> float:
    """The longest the calling thread waited between two 0.5 ms sleeps while another
    thread encoded a paced snapshot job (the writer's settings), in seconds."""
    job = engine.snapshot_job(busy_ms=1.0, rest_ms=2.0)
    worker = threading.Thread(target=job.encode)
    worker.start()
    longest, last = 0.0, time.perf_counter()
    while worker.is_alive():
        time.sleep(0.0005)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    worker.join()
    return longest


def test_the_loop_keeps_running_while_a_snapshot_is_encoded(
    benchmark: pytest.FixtureRequest, large_engine: Engine
) -> None:
    waits: list[float] = []
    benchmark.pedantic(lambda: waits.append(longest_wait_while_encoding(large_engine)), rounds=3)
    figures = {
        "snapshot_mb": len(large_engine.snapshot()) / 1e6,
        "longest_wait_ms": max(waits) * 1000,
    }
    benchmark.extra_info.update(figures)
    record(f"loop's longest wait while a snapshot is encoded, {EVENTS:,} inputs", **figures)
