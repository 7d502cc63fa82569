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
    assert offers == stats["offers_open"]
    days = [e for k, e in entries.items() if k.endswith(".today")]
    assert sum(d["answered"] for d in days) == stats["assigned"]
    assert sum(d["completed"] for d in days) == stats["completed"]
    assert all(0 <= (d["service_level_percent"] or 0) <= 100 for d in days)


def test_entries_written_in_small_chunks_end_where_one_full_write_does() -> None:
    """The writer drains a bounded chunk per pass while the fold goes on; the KV bucket
    (here a dict, later writes winning) ends with exactly the entries of a rebuild, and
    every queue's agents_available counts the same agents a full recount finds (as of
    their last change: ``as_of`` is when each was written)."""
    engine, views = _views(3000, agents=12)
    chunked = Projections(engine.config)
    kv: dict[str, bytes] = {}
    for i, v in enumerate(views):
        chunked.fold(v)
        if i % 7 == 0:
            kv.update(chunked.drain(limit=3))
    while chunked.pending():
        kv.update(chunked.drain(limit=3))
    whole = Projections(engine.config)
    for v in views:
        whole.fold(v)

    def content(entries: dict[str, bytes]) -> dict[str, dict[str, object]]:
        # as_of is the clock when an entry was last written, and oldest_wait_ms is
        # measured at it: when, not what.
        when = ("as_of", "oldest_wait_ms")
        return {
            k: {f: x for f, x in json.loads(v).items() if f not in when} for k, v in entries.items()
        }

    assert content(kv) == content(dict(whole.all_entries()))
    assert any(e.get("agents_available") for e in content(kv).values())


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


def test_fold_follows_callbacks_moves_and_closed_queues() -> None:
    from ccroute.demo import default_scenario
    from ccroute.events import Decision, Input, encode_json
    from ccroute.simulation import load_scenario
    from ccroute.simulation.simulator import Simulator

    # Two days of the shipped month: 1 May closed (a holiday), 2 May open 8-18 / 9-15,
    # callers out of hours made callbacks or turned away, callbacks dialled and retried.
    views: list[list] = []  # type: ignore[type-arg]

    def observe(_inp: Input, ds: list[Decision]) -> None:
        views.append(view_list_decoder.decode(b"[" + b",".join(encode_json(d) for d in ds) + b"]"))

    sim = Simulator(load_scenario(default_scenario()), days=2, observe=observe)  # type: ignore[arg-type]
    res = sim.run()
    assert res.callbacks_requested and res.closed_by_policy and res.callback_dials
    p = Projections(sim.config)
    for v in views:
        p.fold(v)
    entries = {k: json.loads(v) for k, v in p.all_entries()}
    stats = sim.engine.stats()
    queues = {k: e for k, e in entries.items() if k.startswith("queue.")}
    assert sum(e["waiting"] for e in queues.values()) == stats["waiting"]
    held = sum(1 for c in p.contacts.values() if c.agent is not None)
    assert held == sum(
        sum(e["load"].values()) for k, e in entries.items() if k.startswith("agent.")
    )
    days = {e["tenant"]: e for k, e in entries.items() if k.endswith(".today")}
    lumo, tuki = days["lumo-energia"], days["tukivirasto"]
    assert lumo["callbacks_requested"] == res.callbacks_requested
    assert lumo["callbacks_made"] == res.callback_dials
    assert lumo["callbacks_reached"] == res.callbacks_reached
    assert tuki["closed_by_policy"] == res.closed_by_policy
    # The run ends at midnight: both phone lines are closed then, the web shop is not.
    assert queues[Names.queue_key("lumo-energia", "lumo-voice")]["open"] is False
    assert queues[Names.queue_key("kide-shop", "kide-chat")]["open"] is True


def test_a_line_closed_when_the_log_starts_shows_closed_before_any_change() -> None:
    from ccroute.demo import default_scenario
    from ccroute.events import Decision, Input, encode_json
    from ccroute.simulation import load_scenario
    from ccroute.simulation.simulator import Simulator

    # The shipped month starts on 1 May, a Finnish holiday: the phone lines never open
    # that day, so the engine reports no change until 2 May, yet a supervisor looking at
    # the board on 1 May must see them closed.
    views: list[list] = []  # type: ignore[type-arg]

    def observe(_inp: Input, ds: list[Decision]) -> None:
        if ds:
            views.append(
                view_list_decoder.decode(b"[" + b",".join(encode_json(d) for d in ds) + b"]")
            )

    sim = Simulator(load_scenario(default_scenario()), days=1, observe=observe)  # type: ignore[arg-type]
    sim.run()
    assert views and not any(d.type == "queue_status" for v in views for d in v)
    p = Projections(sim.config)
    for v in views:
        p.fold(v)
    queues = {k: json.loads(e) for k, e in p.all_entries() if k.startswith("queue.")}
    assert queues[Names.queue_key("lumo-energia", "lumo-voice")]["open"] is False
    assert queues[Names.queue_key("tukivirasto", "tuki-voice")]["open"] is False
    assert queues[Names.queue_key("kide-shop", "kide-chat")]["open"] is True


def test_a_flush_in_chunks_writes_queues_and_tenants_once() -> None:
    """A flush's later chunks carry agents only: the queues and tenants, which change
    with nearly every input, went with its first chunk (each write is a disk flush on a
    syncing server). Written that way the bucket still ends as one full write does."""
    engine, views = _views(3000, agents=12)
    chunked = Projections(engine.config)
    kv: dict[str, bytes] = {}
    later_agents = 0
    for i, v in enumerate(views):
        chunked.fold(v)
        if i % 50 == 0:  # a flush begins: a first chunk, then the changed agents
            first = chunked.drain(limit=3)
            rest = chunked.drain(limit=chunked.changed_agents(), shared=False)
            assert all(k.startswith("agent.") for k, _ in rest)
            later_agents += len(rest)
            kv.update(first + rest)
    kv.update(chunked.drain())
    whole = Projections(engine.config)
    for v in views:
        whole.fold(v)
    assert chunked.pending() == 0
    as_written = {k: json.loads(v) for k, v in kv.items()}
    for k, v in whole.all_entries():
        want, got = json.loads(v), as_written[k]
        want.pop("as_of"), got.pop("as_of")
        want.pop("oldest_wait_ms", None), got.pop("oldest_wait_ms", None)
        assert got == want, k
    assert later_agents > 0, "no flush needed more than its first chunk"


def _recount(p: Projections) -> dict[tuple[str, str], int]:
    """agents_available the slow way: every queue against every agent."""
    out = dict.fromkeys(p.available, 0)
    for q in p.config.queues:
        for a in p.agents.values():
            if a.state != "available" or a.phone:
                continue
            if "*" not in a.tenants and q.tenant not in a.tenants:
                continue
            if any(a.skills.get(k, 0) < v for k, v in dict(q.skills).items()):
                continue
            if any(a.capacity.get(ch, 0) > a.load.get(ch, 0) for ch in q.channels):
                out[(q.tenant, q.id)] += 1
    return out


def test_an_agent_moved_to_another_tenant_stops_counting_for_the_first_at_once() -> None:
    """Which queues an agent may serve is kept per agent (its tenants and skills change
    seldom, its state and load with nearly every decision); a profile change must still
    move its count in agents_available at the next flush, and back."""
    from ccroute.events import AgentProfileChanged

    engine, views = _views(600)
    p = Projections(engine.config)
    for v in views:
        p.fold(v)
    p.drain()
    assert p.available == _recount(p)
    free = [
        name
        for name, a in p.agents.items()
        if a.state == "available" and p.available.get(("t0", "t0-live")) and "*" in a.tenants
    ]
    assert free, "the workload leaves some agent available"
    before = dict(p.available)
    for step, tenants in enumerate((["t1"], ["*"])):
        p.on_profile(AgentProfileChanged(id=f"p{step}", ts=p.clock, agent=free[0], tenants=tenants))
        p.drain()
        assert p.available == _recount(p)
        if tenants == ["t1"]:
            assert p.available[("t0", "t0-live")] < before[("t0", "t0-live")]
    assert p.available == before


def test_an_agents_entry_keeps_its_documented_shape() -> None:
    """``agent.<agent>`` (service.md "KV entries"): the fields in their order, the load and
    capacity maps by channel name, whatever order the decisions filled them in."""
    engine, views = _views(600)
    p = Projections(engine.config)
    for v in views:
        p.fold(v)
    name, a = next(iter(p.agents.items()))
    a.load = {"voice": 1, "email": 2, "chat": 1}  # as decisions may have filled it in
    a.capacity = dict(sorted(a.capacity.items(), reverse=True))
    p.mark_all_dirty()
    value = dict(p.drain())[Names.agent_key(name)]
    entry = json.loads(value)
    assert list(entry) == [
        "agent", "state", "reason", "since", "load", "capacity", "offers", "as_of"
    ]  # fmt: skip
    assert list(entry["load"]) == sorted(a.load) and entry["load"] == a.load
    assert list(entry["capacity"]) == sorted(a.capacity) and entry["capacity"] == a.capacity
    assert (entry["agent"], entry["state"], entry["offers"]) == (name, a.state, a.offers)
    assert entry["as_of"] == p.clock
