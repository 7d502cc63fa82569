"""The projection fold without NATS: agrees with the engine, survives a snapshot."""

from __future__ import annotations

import json

from ccroute.engine import Engine
from ccroute.service.loadgen import Workload, make_config
from ccroute.service.projections import Projections, view_list_decoder
from ccroute.service.subjects import Names


def _views(n: int, agents: int = 8) -> tuple[Engine, list[list]]:  # type: ignore[type-arg]
    cfg = make_config(tenants=2, agents=agents)
    steps = Workload(cfg, Names("x"), max_waiting=3).generate(
        n, start_ms=1_700_000_000_000, rate=40
    )
    engine = Engine(cfg)
    outs = engine.apply_raw_many([s.payload for s in steps])
    return engine, [view_list_decoder.decode(o) for o in outs]


def test_fold_agrees_with_the_engine() -> None:
    engine, views = _views(4000)
    p = Projections(engine.config)
    for v in views:
        p.fold(v)
    entries = {k: json.loads(v) for k, v in p.all_entries()}
    stats = engine.stats()
    waiting = sum(e["waiting"] for k, e in entries.items() if k.startswith("queue."))
    assert waiting == stats["waiting"]
    held = sum(1 for c in p.contacts.values() if c.agent is not None)
    assert held == sum(
        sum(e["load"].values()) for k, e in entries.items() if k.startswith("agent.")
    )
    offers = sum(e["offers"] for k, e in entries.items() if k.startswith("agent."))
    assert offers == stats["offered"]
    days = [e for k, e in entries.items() if k.endswith(".today")]
    assert sum(d["answered"] for d in days) == stats["assigned"]
    assert sum(d["completed"] for d in days) == stats["completed"]
    assert all(0 <= (d["service_level_percent"] or 0) <= 100 for d in days)


def test_fold_state_survives_a_snapshot() -> None:
    engine, views = _views(3000)
    whole = Projections(engine.config)
    for v in views:
        whole.fold(v)
    first = Projections(engine.config)
    for v in views[:1700]:
        first.fold(v)
    second = Projections(engine.config)
    second.load_bytes(first.to_bytes())
    for v in views[1700:]:
        second.fold(v)
    assert dict(second.all_entries()) == dict(whole.all_entries())
