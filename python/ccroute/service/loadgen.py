"""Synthetic steady load for the service's tests and benchmarks.

:class:`Workload` writes a realistic input sequence ahead of time: agents log in, contacts
arrive on several channels, agents accept their offers and complete them. Which agent gets
which offer is decided by a local :class:`~ccroute.engine.Engine` fed the same inputs in the
same order, so the sequence is valid as a whole when the service sees it in that order
(the engine is deterministic). Each step also says whether it is an arrival that is
offered at once, so a harness can time arrival -> offer.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from ccroute.config import Config, config_from_dict
from ccroute.engine import Engine
from ccroute.service.subjects import Names

__all__ = ["Step", "Workload", "config_toml", "make_config"]

_CHANNELS = ("voice", "chat", "chat", "email")


def _config_dict(tenants: int, agents: int, offer_timeout: int) -> dict[str, object]:
    ts = [f"t{i}" for i in range(tenants)]
    return {
        "routing": {"offer_timeout_seconds": offer_timeout},
        "tenants": [{"id": t, "name": f"Tenant {t}"} for t in ts],
        "queues": [
            {"id": f"{t}-{kind}", "tenant": t, "channels": chans}
            for t in ts
            for kind, chans in (("live", ["voice", "chat"]), ("mail", ["email"]))
        ],
        "agents": [
            {"id": f"a{i}", "capacity": {"voice": 1, "chat": 2, "email": 3}} for i in range(agents)
        ],
    }


def make_config(tenants: int = 2, agents: int = 40, offer_timeout: int = 20) -> Config:
    """A small multi-tenant configuration the workload fits."""
    return config_from_dict(_config_dict(tenants, agents, offer_timeout), source="<loadgen>")


def config_toml(tenants: int = 2, agents: int = 40, offer_timeout: int = 20) -> str:
    """The same configuration as TOML text (for ``ccroute serve --config``)."""
    lines = ["[routing]", f"offer_timeout_seconds = {offer_timeout}", ""]
    for i in range(tenants):
        lines += ["[[tenants]]", f'id = "t{i}"', f'name = "Tenant t{i}"', ""]
    for i in range(tenants):
        lines += ["[[queues]]", f'id = "t{i}-live"', f'tenant = "t{i}"']
        lines += ['channels = ["voice", "chat"]', ""]
        lines += ["[[queues]]", f'id = "t{i}-mail"', f'tenant = "t{i}"', 'channels = ["email"]', ""]
    for i in range(agents):
        lines += ["[[agents]]", f'id = "a{i}"', "capacity = { voice = 1, chat = 2, email = 3 }", ""]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Step:
    """One input of the workload, ready to publish."""

    subject: str
    payload: bytes
    id: str
    offered_at_once: bool
    """An arrival that the engine offers to an agent as its direct decision."""
    contact: str | None = None


class Workload:
    """An input sequence of ``n`` steps at ``rate`` inputs/s of event time from ``start_ms``.

    When ``max_waiting`` contacts wait, event time jumps ahead to the next acceptance or
    completion instead of another arrival: the mix stays near a third each at any rate.
    """

    def __init__(
        self,
        config: Config,
        names: Names,
        *,
        seed: int = 7,
        accept_delay_ms: int = 300,
        handle_ms: tuple[int, int] = (2_000, 8_000),
        max_waiting: int | None = None,
    ) -> None:
        self.config = config
        self.names = names
        self.rng = random.Random(seed)
        self.accept_delay_ms = accept_delay_ms
        self.handle_ms = handle_ms
        self.engine = Engine(config)
        self.queues = [(q.tenant, q.id, list(q.channels)) for q in config.queues]
        self._n = 0
        self.max_waiting = (
            max_waiting if max_waiting is not None else max(1, len(config.agents) // 2)
        )

    def _step(self, ev: dict[str, object], *, contact: str | None = None) -> Step:
        payload = json.dumps(ev, separators=(",", ":")).encode()
        decisions = json.loads(self.engine.apply_raw_many([payload])[0])
        tenant = ev.get("tenant")
        offered = False
        for d in decisions:
            if d["type"] == "contact_queued":
                self._queued.add(d["contact"])
            if d["type"] == "offer_made":
                self._queued.discard(d["contact"])
                self._offers.append((d["tenant"], d["contact"], d["agent"], int(d["ts"])))
                if d["cause"] == ev["id"]:
                    offered = True
            elif d["type"] == "contact_assigned":
                lo, hi = self.handle_ms
                due = int(d["ts"]) + self.rng.randint(lo, hi)
                heapq.heappush(self._active, (due, d["tenant"], d["contact"], d["agent"]))
        agent = ev.get("agent")
        if tenant is None and isinstance(agent, str):
            # An agent desktop's input goes on the agent's own subject (subjects v2).
            subject = self.names.agent_input_subject(str(ev["type"]), agent)
        else:
            subject = self.names.input_subject(
                str(ev["type"]), tenant if isinstance(tenant, str) else None
            )
        return Step(
            subject, payload, str(ev["id"]), offered and ev["type"] == "contact_arrived", contact
        )

    def generate(self, n: int, *, start_ms: int, rate: float) -> list[Step]:
        """``n`` inputs: agent logins first, then arrivals, accepts and completions."""
        return list(itertools.islice(self.stream(start_ms=start_ms, rate=rate), n))

    def stream(self, *, start_ms: int, rate: float) -> Iterator[Step]:
        """The same sequence without end, made as it is taken (a soak of hours would not
        fit in memory written ahead). Event time runs at ``rate`` inputs/s from
        ``start_ms`` except where it jumps to the next acceptance or completion."""
        self._offers: collections.deque[tuple[str, str, str, int]] = collections.deque()
        self._active: list[tuple[int, str, str, str]] = []
        self._queued: set[str] = set()
        dt = 1000.0 / rate
        t = float(start_ms)
        for a in self.config.agents:
            self._n += 1
            yield self._step(
                {"type": "agent_logged_in", "id": f"e{self._n}", "ts": int(t), "agent": a.id}
            )
            t += dt
        while True:
            self._n += 1
            now = int(t)
            eid = f"e{self._n}"
            if self._active and self._active[0][0] <= now:
                # A heap: the same order as sorting the list, at a soak's rate.
                _, tenant, contact, agent = heapq.heappop(self._active)
                ev: dict[str, object] = {
                    "type": "contact_completed",
                    "id": eid,
                    "ts": now,
                    "tenant": tenant,
                    "contact": contact,
                    "agent": agent,
                }
                yield self._step(ev)
            elif self._offers and self._offers[0][3] + self.accept_delay_ms <= now:
                tenant, contact, agent, _ = self._offers.popleft()
                ev = {
                    "type": "offer_accepted",
                    "id": eid,
                    "ts": now,
                    "tenant": tenant,
                    "contact": contact,
                    "agent": agent,
                }
                yield self._step(ev)
            elif len(self._queued) >= self.max_waiting and (self._active or self._offers):
                # Enough contacts wait: let time pass to the next completion or accept
                # instead, so the mix stays about a third each at any rate.
                nxt = [self._active[0][0]] if self._active else []
                if self._offers:
                    nxt.append(self._offers[0][3] + self.accept_delay_ms)
                t = max(t, float(min(nxt)))
                self._n -= 1
                continue
            else:
                tenant, queue, chans = self.rng.choice(self.queues)
                channel = self.rng.choice([c for c in _CHANNELS if c in chans] or chans)
                contact = f"c{self._n}"
                ev = {
                    "type": "contact_arrived",
                    "id": eid,
                    "ts": now,
                    "tenant": tenant,
                    "contact": contact,
                    "queue": queue,
                    "channel": channel,
                }
                yield self._step(ev, contact=contact)
            t += dt
