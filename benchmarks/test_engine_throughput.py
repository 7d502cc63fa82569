"""Events per second through the engine's batch path at 1,000 / 10,000 / 100,000 agents,
and the same events through the plain-Python reference model, as a ratio.

Targets (issue #2): >= 1,000,000 events/s at 10,000 agents; >= 50x the reference model;
throughput at 100,000 agents >= half of that at 1,000. Run with ``make bench``.
"""

from __future__ import annotations

import json
import time

import msgspec
import pytest

from ccroute import Engine
from ccroute._core import generate_workload
from ccroute.config import Config, config_from_dict
from ccroute.events import Input
from conftest import EVENTS, record
from reference_model import ReferenceEngine

#: The reference model scans every agent and contact per decision (tens of events per
#: second); a prefix of the stream (the logins and the first traffic) gives its rate,
#: measured on the same events the engine sees.
REFERENCE_EVENTS = 2_500
_workloads: dict[int, tuple[Config, bytes, int]] = {}


def workload(agents: int) -> tuple[Config, bytes, int]:
    if agents not in _workloads:
        cfg_json, events = generate_workload(agents, EVENTS, 42)
        config = config_from_dict(json.loads(cfg_json), source="generated")
        count = len(msgspec.msgpack.decode(events))
        _workloads[agents] = (config, events, count)
    return _workloads[agents]


@pytest.mark.parametrize("agents", [1_000, 10_000, 100_000])
def test_engine_batch_throughput(benchmark: pytest.FixtureRequest, agents: int) -> None:
    config, events, count = workload(agents)

    def fresh() -> tuple[tuple[Engine], dict[str, object]]:
        return (Engine(config),), {}

    out = benchmark.pedantic(lambda e: e.apply_encoded_batch(events), setup=fresh, rounds=3)
    assert len(msgspec.msgpack.decode(out)) == count  # one decision list per input
    rate = count / benchmark.stats.stats.min
    benchmark.extra_info.update(events=count, events_per_second=rate)
    record(f"engine/{agents}_agents", events=count, events_per_s=rate)


@pytest.mark.parametrize("agents", [1_000])
def test_engine_against_reference_model(benchmark: pytest.FixtureRequest, agents: int) -> None:
    config, events, _ = workload(agents)
    inputs = msgspec.msgpack.decode(events, type=list[Input])[:REFERENCE_EVENTS]
    prefix = msgspec.msgpack.encode(inputs)

    t0 = time.perf_counter()
    model = ReferenceEngine(config)
    expected = [model.apply(e) for e in inputs]
    reference_rate = len(inputs) / (time.perf_counter() - t0)

    def fresh() -> tuple[tuple[Engine], dict[str, object]]:
        return (Engine(config),), {}

    out = benchmark.pedantic(lambda e: e.apply_encoded_batch(prefix), setup=fresh, rounds=5)
    engine_rate = len(inputs) / benchmark.stats.stats.min
    # Same events, same decisions: the comparison is only fair if both did the same work.
    got = Engine(config).apply_batch_grouped(inputs)
    assert got == expected
    assert out  # the timed runs produced output
    ratio = engine_rate / reference_rate
    benchmark.extra_info.update(reference_events_per_second=reference_rate, ratio=ratio)
    record(
        f"vs_reference/{agents}_agents",
        events=len(inputs),
        engine_events_per_s=engine_rate,
        reference_events_per_s=reference_rate,
        ratio=ratio,
    )
