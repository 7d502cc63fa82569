"""Supervisor views made from the projection mirror and the configuration.

The numbers are the projections' (``docs/service.md``): waiting and the oldest wait per
queue, available agents, the tenant's day (offered, answered, within the threshold,
abandoned, and the two service levels of ``metrics.py``: ``service_level_percent`` =
answered within the threshold / offered, ``answered_percent`` = answered / offered).
Each queue also has its own day (``today`` in its projection: offered, answered, within
the threshold, abandoned, service level); a queue is *below target* when its service level
today is under its ``service_level.target_percent``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from typing import Any

from ccroute.config import Config
from ccroute.web.hub import Hub
from ccroute.web.models import AgentStatus, Board, DaySL, QueueBoard, TenantBoard

__all__ = ["BoardMaker"]


def now_ms() -> int:
    return int(time.time() * 1000)


class BoardMaker:
    """Views of queues, agents and figures per tenant."""

    def __init__(self, config: Config, hub: Hub) -> None:
        self.config = config
        self.hub = hub
        self.tenant_names = {t.id: t.name or t.id for t in config.tenants}
        self.queues = {t.id: [q for q in config.queues if q.tenant == t.id] for t in config.tenants}
        self.agents = config.agents
        self.agent_cfg = {a.id: a for a in config.agents}

    def agent_status(self, agent: str, now: int) -> AgentStatus:
        view = self.hub.agent_view(agent) or {}
        cfg = self.agent_cfg.get(agent)
        since = int(view.get("since") or 0)
        return AgentStatus(
            agent=agent,
            name=(cfg.name if cfg and cfg.name else agent),
            state=str(view.get("state", "offline")),
            reason=view.get("reason"),
            since=since,
            time_in_state_ms=max(0, now - since) if since else 0,
            load=dict(view.get("load") or {}),
            capacity={
                str(k): int(v)
                for k, v in (view.get("capacity") or (cfg.capacity if cfg else {})).items()
            },
            offers=int(view.get("offers") or 0),
            tenants=list(cfg.tenants) if cfg else ["*"],
        )

    def agents_of(self, tenant: str, now: int) -> list[AgentStatus]:
        """The agents who serve ``tenant`` (named, or serving every tenant)."""
        return [
            self.agent_status(a.id, now)
            for a in self.agents
            if "*" in a.tenants or tenant in a.tenants
        ]

    def queues_of(self, tenant: str) -> list[QueueBoard]:
        date = (self.hub.tenant_today(tenant) or {}).get("date")
        out = []
        for q in self.queues.get(tenant, []):
            v = self.hub.queue_view(tenant, q.id) or {}
            target = q.service_level.target_percent
            # The queue's own day, if it is the tenant's today (a quiet queue keeps the
            # figures of the last day it had contacts).
            day = v.get("today") or {}
            sl = day.get("service_level_percent") if day.get("date") == date else None
            out.append(
                QueueBoard(
                    tenant=tenant,
                    queue=q.id,
                    channels=list(q.channels),
                    waiting=int(v.get("waiting") or 0),
                    oldest_arrived_at=v.get("oldest_arrived_at"),
                    oldest_wait_ms=int(v.get("oldest_wait_ms") or 0),
                    agents_available=int(v.get("agents_available") or 0),
                    open=bool(v.get("open", True)),
                    sl_target_percent=target,
                    sl_threshold_seconds=q.service_level.threshold_seconds,
                    sl_today_percent=sl,
                    below_target=sl is not None and sl < target,
                )
            )
        return out

    def today(self, tenant: str) -> dict[str, Any] | None:
        return self.hub.tenant_today(tenant)

    def tenant_board(self, tenant: str, now: int) -> TenantBoard:
        queues = self.queues_of(tenant)
        agents = self.agents_of(tenant, now)
        targets = [q.sl_target_percent for q in queues]
        return TenantBoard(
            tenant=tenant,
            name=self.tenant_names.get(tenant, tenant),
            queues=queues,
            agents=agents,
            agents_by_state=dict(Counter(a.state for a in agents)),
            today=self.today(tenant),
            sl_target_percent=min(targets) if targets else 80.0,
        )

    def board(self, tenants: list[str]) -> Board:
        now = now_ms()
        as_of = max(
            (int(v.get("as_of") or 0) for v in self.hub.mirror.values()),
            default=0,
        )
        return Board(as_of=as_of, now=now, tenants=[self.tenant_board(t, now) for t in tenants])

    def month(self, tenant: str, month: str) -> list[DaySL]:
        """Each day of ``month`` (``YYYY-MM``): the service level, or nothing offered."""
        first = dt.date.fromisoformat(f"{month}-01")
        days = []
        d = first
        while d.month == first.month:
            v = self.hub.tenant_day(tenant, d.isoformat()) or {}
            days.append(
                DaySL(
                    date=d.isoformat(),
                    offered=int(v.get("offered") or 0),
                    service_level_percent=v.get("service_level_percent"),
                    answered_percent=v.get("answered_percent"),
                )
            )
            d += dt.timedelta(days=1)
        return days
