"""Business metrics on ``/metrics``: what an operator alerts on, from the live projections.

Read at each scrape from the writer's :class:`~ccroute.service.projections.Projections`
(nothing is counted twice: the projections are the one live fold, and their day figures
come from :mod:`ccroute.metrics`, the report's definitions). Rendered with
``prometheus-client`` beside the transport metrics of :mod:`ccroute.service.metrics`.

Tenants are confidential: tenant and queue labels appear only with ``--metrics-tenants``
(``CCROUTE_METRICS_TENANTS=1``), on an endpoint only the provider reaches. Without it the
same metrics are the provider's totals, without those labels.

==========================================  =============================================
``ccroute_contacts_waiting``                contacts in line now
``ccroute_oldest_wait_seconds``             the longest wait in line now
``ccroute_service_level_today_percent``     service level so far today (the report's
                                            formula, each queue's threshold; the
                                            tenant's day in its time zone)
``ccroute_offered_today``                   contacts offered today (answered + abandoned)
``ccroute_abandoned_today``                 abandons today
``ccroute_offers_expired_today``            offers that rang out today
``ccroute_agents``                          agents by ``state``: available, busy,
                                            wrap_up, paused (with ``reason``),
                                            not_responding, offline
==========================================  =============================================

Dead letters by reason are the transport metric ``ccroute_dead_letters_total{reason}``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ccroute.metrics import ContactTally, figures_of
from ccroute.service.projections import Projections

__all__ = ["BusinessMetrics", "agent_states"]


def agent_states(p: Projections) -> dict[str, tuple[str, str]]:
    """Each agent's operational state now: (state, pause reason or ``""``).

    ``busy``: available and holding an accepted contact; ``wrap_up``: in after-contact
    work on one; otherwise the presence state itself.
    """
    wrap = {c.agent for c in p.contacts.values() if c.phase == "wrap_up" and c.agent}
    active = {
        c.agent for c in p.contacts.values() if c.agent and c.phase in ("active", "interrupted")
    }
    out: dict[str, tuple[str, str]] = {}
    for agent, a in p.agents.items():
        state = a.state
        if state == "available":
            if agent in wrap:
                state = "wrap_up"
            elif agent in active:
                state = "busy"
        out[agent] = (state, (a.reason or "") if state == "paused" else "")
    return out


class BusinessMetrics(Collector):
    """A ``prometheus-client`` collector over the writer's projections (none: no samples)."""

    def __init__(
        self, domain: str, projections: Callable[[], Projections | None], *, tenants: bool
    ) -> None:
        self.domain = domain
        self.projections = projections
        self.tenants = tenants
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def render(self) -> bytes:
        """The samples in the Prometheus text format."""
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        p = self.projections()
        if p is None:
            return
        q_labels = ["domain", "tenant", "queue"] if self.tenants else ["domain"]
        waiting = GaugeMetricFamily(
            "ccroute_contacts_waiting", "Contacts in line now.", labels=q_labels
        )
        oldest = GaugeMetricFamily(
            "ccroute_oldest_wait_seconds", "The longest wait in line now.", labels=q_labels
        )
        sl = GaugeMetricFamily(
            "ccroute_service_level_today_percent",
            "Service level so far today (answered within the queue's threshold / offered).",
            labels=q_labels,
        )
        offered = GaugeMetricFamily(
            "ccroute_offered_today",
            "Contacts offered today (answered + abandoned).",
            labels=q_labels,
        )
        abandoned = GaugeMetricFamily("ccroute_abandoned_today", "Abandons today.", labels=q_labels)
        expired = GaugeMetricFamily(
            "ccroute_offers_expired_today", "Offers that rang out today.", labels=q_labels
        )
        total_wait = 0
        total_oldest = 0
        total = ContactTally()
        total_expired = 0
        for qk in sorted(p.waiting):
            tenant, queue = qk
            line = p.waiting.get(qk, {})
            n = len(line)
            oldest_ms = p.clock - min(line.values()) if line else 0
            wait_s = oldest_ms / 1000.0
            tally = p.day_tally(tenant, queue)
            day = p.days.get(tenant)
            exp = day.offers_expired.get(queue, 0) if day is not None else 0
            total_wait += n
            total_oldest = max(total_oldest, oldest_ms)
            total_expired += exp
            if tally is not None:
                total.add(tally)
            if self.tenants:
                labels = [self.domain, tenant, queue]
                f = figures_of(tally or ContactTally())
                waiting.add_metric(labels, n)
                oldest.add_metric(labels, wait_s)
                if f.service_level_pct is not None:
                    sl.add_metric(labels, f.service_level_pct)
                offered.add_metric(labels, f.offered)
                abandoned.add_metric(labels, f.abandoned)
                expired.add_metric(labels, exp)
        if not self.tenants:
            f = figures_of(total)
            waiting.add_metric([self.domain], total_wait)
            oldest.add_metric([self.domain], total_oldest / 1000.0)
            if f.service_level_pct is not None:
                sl.add_metric([self.domain], f.service_level_pct)
            offered.add_metric([self.domain], f.offered)
            abandoned.add_metric([self.domain], f.abandoned)
            expired.add_metric([self.domain], total_expired)
        yield from (waiting, oldest, sl, offered, abandoned, expired)
        yield self._agents(p)

    def _agents(self, p: Projections) -> GaugeMetricFamily:
        labels = (
            ["domain", "tenant", "state", "reason"]
            if self.tenants
            else ["domain", "state", "reason"]
        )
        fam = GaugeMetricFamily("ccroute_agents", "Agents by state now.", labels=labels)
        states = agent_states(p)
        counts: Counter[tuple[str, ...]] = Counter()
        tenant_ids = [t.id for t in p.config.tenants]
        for agent, (state, reason) in states.items():
            if not self.tenants:
                counts[(state, reason)] += 1
                continue
            served = p.agents[agent].tenants
            for t in tenant_ids if "*" in served else served:
                counts[(t, state, reason)] += 1
        # Every state shows, also at zero, so an alert on "no agent available" can fire.
        for state in ("available", "busy", "wrap_up", "not_responding", "offline"):
            if self.tenants:
                for t in tenant_ids:
                    counts.setdefault((t, state, ""), 0)
            else:
                counts.setdefault((state, ""), 0)
        for key in sorted(counts):
            fam.add_metric([self.domain, *key], counts[key])
        return fam
