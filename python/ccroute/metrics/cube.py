"""The cube: tallies by period and dimension, filled from contact records and agent presence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from ccroute.config import Config
from ccroute.metrics.definitions import (
    _DIMS,
    CHANNEL_CLASSES,
    Dimension,
    MetricOptions,
    Period,
    PeriodKey,
    channel_class,
)
from ccroute.metrics.figures import Figures, figures_of
from ccroute.metrics.tallies import AgentTally, ContactTally, add_abandon, add_answer
from ccroute.records import (
    AgentActivity,
    ContactRecord,
)

# --------------------------------------------------------------------------- intervals


def _union(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(intervals):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _spread(s: int, e: int, size: int) -> Iterator[tuple[int, int]]:
    """(bucket start, milliseconds) of ``[s, e)`` cut at bucket boundaries."""
    b = s - s % size
    while b < e:
        yield b, min(e, b + size) - max(s, b)
        b += size


def _clip(s: int, e: int | None, lo: int, hi: int) -> tuple[int, int] | None:
    s2, e2 = max(s, lo), min(hi if e is None else e, hi)
    return (s2, e2) if e2 > s2 else None


# --------------------------------------------------------------------------- the cube

#: (tenant, queue, channel, agent); agent is ``""`` for facts without one (arrival, abandon).
GroupKey = tuple[str, str, str, str]


class MetricsCube:
    """Contact and presence sums per interval and per (tenant, queue, channel, agent).

    Built the same way for live and historical use; figures for any period and grouping
    come from :meth:`figures` and :meth:`collect`. A cube scoped to a ``tenant`` refuses
    other tenants' records, so a tenant's report cannot contain another tenant's rows.
    """

    def __init__(
        self, config: Config, options: MetricOptions | None = None, *, tenant: str | None = None
    ) -> None:
        self.options = options or MetricOptions()
        self.tenant = tenant
        self.interval_ms = self.options.interval_ms
        t = self.options.threshold_seconds
        self._targets: dict[str, tuple[int, int]] = {
            q.id: (
                round(1000 * (q.service_level.threshold_seconds if t is None else t)),
                round(100 * q.service_level.target_percent),
            )
            for q in config.queues
        }
        default_t = 20.0 if t is None else t
        self._default_target = (round(1000 * default_t), 8000)
        self._short_ms = round(1000 * self.options.short_abandon_seconds)
        self._partners = {a.id: a.partner for a in config.agents}
        self.contacts: dict[int, dict[GroupKey, ContactTally]] = {}
        self.agents: dict[int, dict[str, AgentTally]] = {}

    # -------------------------------------------------------------- adding facts

    def _ct(self, ts: int, key: GroupKey) -> ContactTally:
        bucket = self.contacts.setdefault(ts - ts % self.interval_ms, {})
        t = bucket.get(key)
        if t is None:
            t = bucket[key] = ContactTally()
        return t

    def add_record(self, r: ContactRecord, lo: int | None = None, hi: int | None = None) -> None:
        """Add the facts of one contact record whose time is in ``[lo, hi)``."""
        if self.tenant is not None and r.tenant != self.tenant:
            raise ValueError(f"record of tenant {r.tenant!r} in a cube of {self.tenant!r}")

        def inside(ts: int | None) -> bool:
            return ts is not None and (lo is None or ts >= lo) and (hi is None or ts < hi)

        thr_ms, target_bp = self._targets.get(r.queue, self._default_target)
        agent = r.agent or ""
        base = (r.tenant, r.queue, r.channel)
        if inside(r.arrived_ms):
            t = self._ct(r.arrived_ms, (*base, ""))
            t.arrived += 1
            if r.page:
                t.pages[r.page] += 1
        if r.callback_requested_ms is not None and inside(r.callback_requested_ms):
            t = self._ct(r.callback_requested_ms, (*base, ""))
            t.callbacks_requested += 1
            t.callback_reasons[r.callback_reason or "requested"] += 1
        for n, dial in enumerate(r.callback_dials):
            if inside(dial.ms):
                t = self._ct(dial.ms, (*base, dial.agent))
                t.callbacks_made += 1
                t.callbacks_reached += dial.outcome == "reached"
                if n == 0 and r.callback_requested_ms is not None:
                    t.callbacks_first_dialled += 1
                    t.callback_wait_ms += dial.accepted_ms - r.callback_requested_ms
        if r.moved_ms is not None and inside(r.moved_ms):
            t = self._ct(r.moved_ms, (r.tenant, r.moved_from or r.queue, r.channel, ""))
            t.policy_moved[r.move_reason or ""] += 1
            t.ticketed += r.ticket
        if r.overflow_ms is not None and inside(r.overflow_ms):
            t = self._ct(r.overflow_ms, (*base, ""))
            t.overflows[r.overflow_reason or "step"] += 1
        # A callback's customer was not holding the line: its wait is the time to call
        # back (counted with its dials), kept out of speed of answer and service level,
        # as contact centres report callbacks apart from the calls they replace.
        if r.answered_ms is not None and inside(r.answered_ms) and r.callback_requested_ms is None:
            # A callback dialled again by someone else was answered by its first dialler:
            # the answer stays theirs, as it was counted when it happened.
            answerer = r.callback_dials[0].agent if r.callback_dials else agent
            partner = r.agent_partner if answerer == agent else self._partners.get(answerer)
            t = self._ct(r.answered_ms, (*base, answerer))
            add_answer(t, r.wait_ms or 0, thr_ms, target_bp, partner=partner is not None)
        if r.abandoned_ms is not None and inside(r.abandoned_ms):
            t = self._ct(r.abandoned_ms, (*base, ""))
            add_abandon(t, r.wait_ms or 0, thr_ms, target_bp, self._short_ms)
        if r.closed_ms is not None and inside(r.closed_ms):
            t = self._ct(r.closed_ms, (*base, agent))
            t.closed += 1
            t.offers += r.offers
            t.offers_rejected += r.offers_rejected
            t.offers_expired += r.offers_expired
            t.tags.update(r.tags)
            if r.wrap_up_code:
                t.wrap_up_codes[r.wrap_up_code] += 1
            if r.outcome == "closed":
                t.policy_closed[r.closed_reason or ""] += 1
            t.callbacks_unreached += r.outcome == "callback_unreached"
            if r.outcome == "completed" and r.talk_ms is not None:
                t.handled += 1
                t.talk_ms += r.talk_ms
                t.wrap_ms += r.wrap_ms or 0
                if r.resolved is not None:
                    t.resolved_known += 1
                    t.resolved_yes += r.resolved
        if r.survey_ms is not None and inside(r.survey_ms):
            t = self._ct(r.survey_ms, (*base, agent))
            if r.csat is not None:
                t.csat_n += 1
                t.csat_sum += r.csat
            if r.nps is not None:
                t.nps_n += 1
                t.nps_promoters += r.nps >= 9
                t.nps_detractors += r.nps <= 6
            if r.ces is not None:
                t.ces_n += 1
                t.ces_sum += r.ces
            if r.solved is not None:
                t.solved_n += 1
                t.solved_yes += r.solved

    def add_agent(
        self,
        agent: str,
        states: Iterable[AgentActivity],
        items: Iterable[tuple[int, int | None]],
        lo: int,
        hi: int,
    ) -> None:
        """Add an agent's presence and busy time within ``[lo, hi)``.

        ``states``: presence intervals (an open one lasts to ``hi``); ``items``: (accepted,
        closed or ``None``) of each contact the agent held. Busy time is the union of the
        items, so three chats at once count once.
        """
        logged: list[tuple[int, int]] = []
        available: list[tuple[int, int]] = []
        not_responding: list[tuple[int, int]] = []
        paused: dict[str, list[tuple[int, int]]] = {}
        for st in states:
            c = _clip(st.start_ms, st.end_ms, lo, hi)
            if c is None or st.state == "offline":
                continue
            logged.append(c)
            if st.state == "available":
                available.append(c)
            elif st.state == "not_responding":
                not_responding.append(c)
            else:
                paused.setdefault(st.reason or "", []).append(c)
        busy = _union(c for s, e in items if (c := _clip(s, e, lo, hi)) is not None)
        ready = _union([*available, *busy])
        parts: list[tuple[str, list[tuple[int, int]]]] = [
            ("logged_in_ms", logged),
            ("available_ms", available),
            ("not_responding_ms", not_responding),
            ("busy_ms", busy),
            ("ready_ms", ready),
        ]
        for name, spans in parts:
            for s, e in spans:
                for b, ms in _spread(s, e, self.interval_ms):
                    a = self._at(b, agent)
                    setattr(a, name, getattr(a, name) + ms)
        for reason, spans in paused.items():
            for s, e in spans:
                for b, ms in _spread(s, e, self.interval_ms):
                    a = self._at(b, agent)
                    a.paused_ms[reason] = a.paused_ms.get(reason, 0) + ms

    def _at(self, bucket: int, agent: str) -> AgentTally:
        d = self.agents.setdefault(bucket, {})
        a = d.get(agent)
        if a is None:
            a = d[agent] = AgentTally()
        return a

    def drop_before(self, ms: int) -> None:
        """Forget intervals that start before ``ms`` (a live view keeps a window)."""
        for cube in (self.contacts, self.agents):
            for b in [b for b in cube if b < ms]:
                del cube[b]

    # -------------------------------------------------------------- reading figures

    def intervals(self) -> list[int]:
        """Start times (UTC ms) of the intervals holding any fact, in order."""
        return sorted(set(self.contacts) | set(self.agents))

    def collect(
        self,
        start_ms: int | None = None,
        end_ms: int | None = None,
        *,
        period: Period = "all",
        tz: str = "UTC",
        by: Sequence[Dimension] = (),
        tenant: str | None = None,
        queue: str | None = None,
        channel: str | None = None,
        agent: str | None = None,
    ) -> dict[tuple[PeriodKey, tuple[str, ...]], Figures]:
        """Figures per (period, group) for intervals starting in ``[start_ms, end_ms)``.

        ``period`` groups intervals by local time in ``tz``; ``by`` names the dimensions
        to group on (the group is a tuple of their values, in that order). Presence
        figures are included where they apply: no queue or channel filter or grouping, and
        no tenant filter unless the cube is scoped to that tenant.
        """
        for d in by:
            if d not in _DIMS:
                raise ValueError(f"unknown dimension {d!r}; use one of {_DIMS}")
        want = (tenant, queue, channel, agent)
        idx = [_DIMS.index(d) for d in by]
        zone = ZoneInfo(tz)
        pkeys: dict[int, PeriodKey] = {}

        def pkey(b: int) -> PeriodKey:
            k = pkeys.get(b)
            if k is None:
                k = pkeys[b] = _period_key(b, period, zone)
            return k

        def in_range(b: int) -> bool:
            return (start_ms is None or b >= start_ms) and (end_ms is None or b < end_ms)

        sums: dict[tuple[PeriodKey, tuple[str, ...]], ContactTally] = {}
        for b, groups in self.contacts.items():
            if not in_range(b):
                continue
            for key, tally in groups.items():
                if any(w is not None and w != k for w, k in zip(want, key, strict=True)):
                    continue
                gk = (pkey(b), tuple(key[i] for i in idx))
                acc = sums.get(gk)
                if acc is None:
                    acc = sums[gk] = ContactTally()
                acc.add(tally)
        presence = (
            queue is None
            and channel is None
            and set(by) <= {"agent"}
            and (tenant is None or tenant == self.tenant)
        )
        asums: dict[tuple[PeriodKey, tuple[str, ...]], AgentTally] = {}
        if presence:
            for b, ags in self.agents.items():
                if not in_range(b):
                    continue
                for ag, at in ags.items():
                    if agent is not None and ag != agent:
                        continue
                    gk = (pkey(b), (ag,) if by else ())
                    acc_a = asums.get(gk)
                    if acc_a is None:
                        acc_a = asums[gk] = AgentTally()
                    acc_a.add(at)
        out: dict[tuple[PeriodKey, tuple[str, ...]], Figures] = {}
        # Within one call every period key has the same type, so keys sort as they are.
        for gk in sorted(set(sums) | set(asums)):
            agent_tally = asums.get(gk, AgentTally() if presence else None)
            out[gk] = figures_of(sums.get(gk, ContactTally()), agent_tally, self.options)
        return out

    def figures_by_channel_class(self, *, tenant: str | None = None) -> dict[str, Figures]:
        """Contact figures per channel class (:data:`CHANNEL_CLASSES`) over the whole cube,
        of one tenant or all; classes without a contact are left out."""
        sums: dict[str, ContactTally] = {}
        for groups in self.contacts.values():
            for (ten, _, channel, _), tally in groups.items():
                if tenant is None or ten == tenant:
                    sums.setdefault(channel_class(channel), ContactTally()).add(tally)
        return {
            name: figures_of(sums[name], None, self.options)
            for name in CHANNEL_CLASSES
            if name in sums
        }

    def figures(
        self,
        start_ms: int | None = None,
        end_ms: int | None = None,
        *,
        tenant: str | None = None,
        queue: str | None = None,
        channel: str | None = None,
        agent: str | None = None,
    ) -> Figures:
        """The figures of one selection over ``[start_ms, end_ms)`` (zeros if empty)."""
        got = self.collect(
            start_ms, end_ms, tenant=tenant, queue=queue, channel=channel, agent=agent
        )
        if got:
            return next(iter(got.values()))
        presence = queue is None and channel is None and (tenant is None or tenant == self.tenant)
        return figures_of(ContactTally(), AgentTally() if presence else None, self.options)


def _period_key(bucket_ms: int, period: Period, zone: ZoneInfo) -> PeriodKey:
    if period == "all":
        return ""
    if period == "interval":
        return bucket_ms
    local = dt.datetime.fromtimestamp(bucket_ms / 1000, tz=zone)
    if period == "hour_of_day":
        return local.hour
    if period == "day":
        return local.date().isoformat()
    if period == "month":
        return f"{local.year:04d}-{local.month:02d}"
    raise ValueError(f"unknown period {period!r}")
