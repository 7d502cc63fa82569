"""Contact-centre figures: one implementation for the live view and for history.

Every figure is built from **facts** of contact records, each stamped with the time it
happened, and from agent presence intervals:

==================  =========================  ============================================
fact                time                       counts
==================  =========================  ============================================
arrival             ``arrived_ms``             arrived, chat start pages
answer              ``answered_ms``            offered, answered, answered within T, ASA,
                                               wait, handled by the overflow partner
abandon             ``abandoned_ms``           offered, abandoned, short abandons, wait
close               ``closed_ms``              handled (talk, wrap-up: AHT), resolved, tags,
                                               wrap-up codes, offers; closed by a policy
                                               (by reason), callbacks unreached
survey              ``survey_ms``              CSAT, NPS, CES, solved
callback request    ``callback_requested_ms``  callbacks requested (by why)
callback dial       each dial's ``ms``         callbacks made, reached
move                ``moved_ms``               moved by a policy (by reason), tickets
overflow            ``overflow_ms``            opened to the partner (by trigger)
presence            interval, split            logged-in, available, paused by reason, busy
==================  =========================  ============================================

A move counts in the queue the contact left (``moved_from``); every other fact in the
queue the record names.

A fact falls into the interval (15 minutes by default) in which it happened. The engine's
clock never goes back, so once the clock has passed an interval's end nothing can change
its figures: the live figures of a closed interval are final, and equal to what the
historical report computes for it -- both add the same facts with the same code
(:meth:`MetricsCube.add_record`, :meth:`MetricsCube.add_agent`).

A contact is *offered* in the interval where its wait ends (answered or abandoned), as
ACD reporting does; a contact still waiting is counted when it is answered or given up.
*Arrived* counts contacts by arrival (the customers' demand), for volume charts.

Service level formulas: :data:`SL_FORMULAS`; definitions in ``docs/reports.md``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from msgspec import Struct

from ccroute.config import Config
from ccroute.events import Decision, Input
from ccroute.records import (
    AgentActivity,
    ContactRecord,
    ContactRecorder,
    busy_spans,
    load_agent_activity,
    load_meta,
    load_records,
)

SLFormula = Literal[
    "answered_within_t_over_offered",
    "answered_within_t_over_answered",
    "answered_within_t_over_offered_minus_short_abandons",
    "answered_or_abandoned_within_t",
    "answered_over_offered",
]


class SLFormulaInfo(NamedTuple):
    """How a service-level formula is named in reports and what it computes."""

    label: str
    definition: str


#: Every service-level formula, by name: the label a report prints and its definition.
SL_FORMULAS: dict[SLFormula, SLFormulaInfo] = {
    "answered_within_t_over_offered": SLFormulaInfo(
        "Answered within T / offered (abandons counted against)",
        "contacts answered within T ÷ contacts offered (answered + abandoned)",
    ),
    "answered_within_t_over_answered": SLFormulaInfo(
        "Answered within T / answered (abandons ignored)",
        "contacts answered within T ÷ contacts answered",
    ),
    "answered_within_t_over_offered_minus_short_abandons": SLFormulaInfo(
        "Answered within T / (offered − short abandons)",
        "contacts answered within T ÷ (contacts offered − abandons under the short-abandon"
        " threshold)",
    ),
    "answered_or_abandoned_within_t": SLFormulaInfo(
        "(Answered + abandoned within T) / offered (abandons within T counted for)",
        "(contacts answered within T + contacts abandoned within T) ÷ contacts offered",
    ),
    "answered_over_offered": SLFormulaInfo(
        "Answered / offered (answer rate, 'palveluaste')",
        "contacts answered ÷ contacts offered, whatever the wait",
    ),
}

#: Channel classes whose waits are reported apart: a caller or chatter holds on for
#: seconds, an e-mail or form may wait hours, so one ASA or service level over both
#: describes neither. Label, then the channels.
CHANNEL_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "live": ("phone & chat", ("voice", "callback", "chat")),
    "written": ("e-mail & forms", ("email", "web_form", "social")),
}


def channel_class(channel: str) -> str:
    """The class (:data:`CHANNEL_CLASSES`) a channel is reported in."""
    for name, (_, channels) in CHANNEL_CLASSES.items():
        if channel in channels:
            return name
    return "written"


Dimension = Literal["tenant", "queue", "channel", "agent"]
Period = Literal["all", "interval", "hour_of_day", "day", "month"]
#: A period's key: interval start (UTC ms) or local hour 0-23 (int); local ``YYYY-MM-DD``
#: or ``YYYY-MM`` (str); ``""`` for the whole selection.
PeriodKey = int | str

_DIMS: tuple[Dimension, ...] = ("tenant", "queue", "channel", "agent")


class MetricOptions(Struct, frozen=True, kw_only=True):
    """Choices that change figures; the report prints them."""

    interval_minutes: int = 15
    """Length of the reporting interval; must divide a day."""
    short_abandon_seconds: float = 5.0
    """Abandons after a shorter wait are short abandons (reported apart)."""
    sl_formula: SLFormula = "answered_within_t_over_offered"
    """The formula behind ``service_level_pct``; every formula is in ``service_levels_pct``."""
    threshold_seconds: float | None = None
    """T for every queue; ``None``: each queue's own ``service_level.threshold_seconds``."""

    def __post_init__(self) -> None:
        if self.interval_minutes <= 0 or 1440 % self.interval_minutes:
            raise ValueError(f"interval_minutes must divide 1440, not {self.interval_minutes}")
        if self.sl_formula not in SL_FORMULAS:
            raise ValueError(f"unknown service level formula {self.sl_formula!r}")

    @property
    def interval_ms(self) -> int:
        return self.interval_minutes * 60_000


# --------------------------------------------------------------------------- tallies


@dataclass(slots=True)
class ContactTally:
    """Sums of contact facts; tallies add up (intervals to days, queues to tenants)."""

    arrived: int = 0
    callbacks_requested: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_within_t: int = 0
    abandoned_within_t: int = 0
    wait_answered_ms: int = 0
    wait_abandoned_ms: int = 0
    max_wait_ms: int = 0
    target_bp_sum: int = 0
    """Sum over offered contacts of their queue's SL target in basis points (integer, so
    that sums do not depend on the order of addition)."""
    callbacks_made: int = 0
    callbacks_reached: int = 0
    callbacks_unreached: int = 0
    callbacks_first_dialled: int = 0
    callback_wait_ms: int = 0
    """From becoming a callback to the first dial's acceptance, summed over first dials."""
    ticketed: int = 0
    partner_answered: int = 0
    handled: int = 0
    talk_ms: int = 0
    wrap_ms: int = 0
    resolved_yes: int = 0
    resolved_known: int = 0
    closed: int = 0
    offers: int = 0
    offers_rejected: int = 0
    offers_expired: int = 0
    csat_n: int = 0
    csat_sum: int = 0
    nps_n: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0
    ces_n: int = 0
    ces_sum: int = 0
    solved_n: int = 0
    solved_yes: int = 0
    tags: Counter[str] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)
    wrap_up_codes: Counter[str] = field(default_factory=Counter)
    callback_reasons: Counter[str] = field(default_factory=Counter)
    """Callbacks requested by why: ``requested`` by the customer, or the policy."""
    policy_closed: Counter[str] = field(default_factory=Counter)
    """Contacts a policy closed (outcome ``closed``), by reason."""
    policy_moved: Counter[str] = field(default_factory=Counter)
    """Contacts a policy moved to another queue (``contact_moved``), by reason."""
    overflows: Counter[str] = field(default_factory=Counter)
    """Contacts opened to the partner, by what opened them (a step, a trigger, a policy)."""

    def add(self, other: ContactTally) -> None:
        """Add another tally into this one."""
        # A tally of one interval and group holds mostly zeros: adding only what is there
        # keeps a month's report quick.
        for name in _TALLY_SUMS:
            v = getattr(other, name)
            if v:
                setattr(self, name, getattr(self, name) + v)
        if other.max_wait_ms > self.max_wait_ms:
            self.max_wait_ms = other.max_wait_ms
        for name in _TALLY_COUNTERS:
            c = getattr(other, name)
            if c:
                getattr(self, name).update(c)


_TALLY_COUNTERS = (
    "tags",
    "pages",
    "wrap_up_codes",
    "callback_reasons",
    "policy_closed",
    "policy_moved",
    "overflows",
)
_TALLY_SUMS = tuple(
    f.name for f in fields(ContactTally) if f.name not in ("max_wait_ms", *_TALLY_COUNTERS)
)


@dataclass(slots=True)
class AgentTally:
    """Time sums of agent presence, in milliseconds."""

    logged_in_ms: int = 0
    available_ms: int = 0
    not_responding_ms: int = 0
    busy_ms: int = 0
    """Holding at least one accepted contact (talk, interrupted or wrap-up)."""
    ready_ms: int = 0
    """Available or busy: logged-in time less pauses taken while holding no contact."""
    paused_ms: dict[str, int] = field(default_factory=dict)
    """Pause time by reason (``""``: no reason given)."""

    def add(self, other: AgentTally) -> None:
        self.logged_in_ms += other.logged_in_ms
        self.available_ms += other.available_ms
        self.not_responding_ms += other.not_responding_ms
        self.busy_ms += other.busy_ms
        self.ready_ms += other.ready_ms
        for reason, ms in other.paused_ms.items():
            self.paused_ms[reason] = self.paused_ms.get(reason, 0) + ms


def add_answer(
    t: ContactTally, wait_ms: int, threshold_ms: int, target_bp: int, *, partner: bool = False
) -> None:
    """Count one answer (a contact offered and answered after ``wait_ms``).

    The one definition of what an answer adds, used by the report's cube and by the
    service's live projections alike. A callback is no answer here (its wait is the time
    to call back, reported apart).
    """
    t.answered += 1
    t.wait_answered_ms += wait_ms
    if wait_ms > t.max_wait_ms:
        t.max_wait_ms = wait_ms
    t.answered_within_t += wait_ms <= threshold_ms
    t.target_bp_sum += target_bp
    t.partner_answered += partner


def add_abandon(
    t: ContactTally, wait_ms: int, threshold_ms: int, target_bp: int, short_ms: int
) -> None:
    """Count one abandon (a contact offered, the customer gone after ``wait_ms``)."""
    t.abandoned += 1
    t.wait_abandoned_ms += wait_ms
    if wait_ms > t.max_wait_ms:
        t.max_wait_ms = wait_ms
    t.short_abandoned += wait_ms < short_ms
    t.abandoned_within_t += wait_ms <= threshold_ms
    t.target_bp_sum += target_bp


def offered(t: ContactTally) -> int:
    """Contacts offered: answered + abandoned (ACD reporting; a contact still waiting is
    counted when its wait ends)."""
    return t.answered + t.abandoned


# --------------------------------------------------------------------------- figures


class Figures(Struct, kw_only=True):
    """The figures of one selection (period, tenant, queue, channel, agent).

    Percentages are 0-100; times are seconds; ``None`` where the denominator is zero.
    Presence figures (``logged_in_s`` .. ``utilisation_pct``) are ``None`` where the
    selection has no presence data (e.g. a queue: agents are not per queue).
    """

    arrived: int
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    answered_within_t: int
    abandoned_within_t: int
    sl_formula: str
    service_level_pct: float | None
    service_levels_pct: dict[str, float | None]
    target_pct: float | None
    """The SL target: offered-weighted mean of the queues' targets (each queue's own
    target when one queue is selected)."""
    abandon_rate_pct: float | None
    asa_s: float | None
    avg_wait_s: float | None
    max_wait_s: float | None
    handled: int
    aht_s: float | None
    avg_talk_s: float | None
    avg_wrap_s: float | None
    resolved_pct: float | None
    callbacks_requested: int
    """Contacts that became callbacks: asked for, or made by a policy (``callback`` action),
    or arrived as callback requests."""
    callbacks_made: int
    """Dials of callbacks (``callback_attempted``), retries included."""
    callbacks_reached: int
    callbacks_unreached: int
    """Callbacks given up after the queue's ``callback_attempts`` dials."""
    callbacks_by_reason: dict[str, int]
    avg_callback_wait_s: float | None
    """Time to call back: from becoming a callback to the agent taking the first dial."""
    closed_by_policy: int
    """Contacts a policy turned away (outside hours, at closing, emergency, caps)."""
    closed_by_policy_reason: dict[str, int]
    moved: int
    """Contacts a policy moved to another queue (emergency reroute or ticket)."""
    moved_by_reason: dict[str, int]
    ticketed: int
    """Of ``moved``, the ones filed as e-mail tasks (the ``ticket`` action)."""
    overflowed: int
    """Contacts opened to the outsourcing partner (whoever then answered them)."""
    overflow_by_reason: dict[str, int]
    """By what opened them: ``step``, ``long_line``, ``expected_wait``, ``service_level``, or
    a policy's ``partner`` action (``outside_hours``, ``queue_full``, ...)."""
    handled_by_partner: int
    partner_share_pct: float | None
    closed: int
    offers: int
    offers_rejected: int
    offers_expired: int
    csat_avg: float | None
    csat_responses: int
    nps: float | None
    nps_responses: int
    promoters_pct: float | None
    detractors_pct: float | None
    ces_avg: float | None
    ces_responses: int
    solved_pct: float | None
    solved_responses: int
    tags: dict[str, int]
    tag_shares_pct: dict[str, float]
    pages: dict[str, int]
    """Where contacts started (web page), most frequent first."""
    wrap_up_codes: dict[str, int]
    """Closed contacts by the agent's wrap-up code (e.g. ticket, lead), most frequent first."""
    logged_in_s: float | None = None
    available_s: float | None = None
    busy_s: float | None = None
    not_responding_s: float | None = None
    pause_s: float | None = None
    pause_s_by_reason: dict[str, float] | None = None
    occupancy_pct: float | None = None
    """Busy time ÷ logged-in time."""
    utilisation_pct: float | None = None
    """Busy time ÷ ready time (logged-in time less pauses taken while holding no contact)."""


def _pct(num: float, den: float) -> float | None:
    return None if den <= 0 else 100.0 * num / den


def _avg(total: float, n: int, scale: float = 1.0) -> float | None:
    return None if n <= 0 else total / n / scale


def _by_count(c: Counter[str]) -> dict[str, int]:
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def service_levels(t: ContactTally) -> dict[str, float | None]:
    """Every formula of :data:`SL_FORMULAS` on one tally, in percent."""
    n = offered(t)
    return {
        "answered_within_t_over_offered": _pct(t.answered_within_t, n),
        "answered_within_t_over_answered": _pct(t.answered_within_t, t.answered),
        "answered_within_t_over_offered_minus_short_abandons": _pct(
            t.answered_within_t, n - t.short_abandoned
        ),
        "answered_or_abandoned_within_t": _pct(t.answered_within_t + t.abandoned_within_t, n),
        "answered_over_offered": _pct(t.answered, n),
    }


def figures_of(
    t: ContactTally, a: AgentTally | None = None, options: MetricOptions | None = None
) -> Figures:
    """Turn sums into figures (averages, rates, service levels)."""
    opts = options or MetricOptions()
    n_offered = offered(t)
    sls = service_levels(t)
    tags = _by_count(t.tags)
    nps = None
    if t.nps_n:
        nps = 100.0 * (t.nps_promoters - t.nps_detractors) / t.nps_n
    f = Figures(
        arrived=t.arrived,
        offered=n_offered,
        answered=t.answered,
        abandoned=t.abandoned,
        short_abandoned=t.short_abandoned,
        answered_within_t=t.answered_within_t,
        abandoned_within_t=t.abandoned_within_t,
        sl_formula=opts.sl_formula,
        service_level_pct=sls[opts.sl_formula],
        service_levels_pct=sls,
        target_pct=_avg(t.target_bp_sum, n_offered, 100.0),
        abandon_rate_pct=_pct(t.abandoned, n_offered),
        asa_s=_avg(t.wait_answered_ms, t.answered, 1000.0),
        avg_wait_s=_avg(t.wait_answered_ms + t.wait_abandoned_ms, n_offered, 1000.0),
        max_wait_s=t.max_wait_ms / 1000.0 if n_offered else None,
        handled=t.handled,
        aht_s=_avg(t.talk_ms + t.wrap_ms, t.handled, 1000.0),
        avg_talk_s=_avg(t.talk_ms, t.handled, 1000.0),
        avg_wrap_s=_avg(t.wrap_ms, t.handled, 1000.0),
        resolved_pct=_pct(t.resolved_yes, t.resolved_known),
        callbacks_requested=t.callbacks_requested,
        callbacks_made=t.callbacks_made,
        callbacks_reached=t.callbacks_reached,
        callbacks_unreached=t.callbacks_unreached,
        callbacks_by_reason=_by_count(t.callback_reasons),
        avg_callback_wait_s=_avg(t.callback_wait_ms, t.callbacks_first_dialled, 1000.0),
        closed_by_policy=t.policy_closed.total(),
        closed_by_policy_reason=_by_count(t.policy_closed),
        moved=t.policy_moved.total(),
        moved_by_reason=_by_count(t.policy_moved),
        ticketed=t.ticketed,
        overflowed=t.overflows.total(),
        overflow_by_reason=_by_count(t.overflows),
        handled_by_partner=t.partner_answered,
        partner_share_pct=_pct(t.partner_answered, t.answered),
        closed=t.closed,
        offers=t.offers,
        offers_rejected=t.offers_rejected,
        offers_expired=t.offers_expired,
        csat_avg=_avg(t.csat_sum, t.csat_n),
        csat_responses=t.csat_n,
        nps=nps,
        nps_responses=t.nps_n,
        promoters_pct=_pct(t.nps_promoters, t.nps_n),
        detractors_pct=_pct(t.nps_detractors, t.nps_n),
        ces_avg=_avg(t.ces_sum, t.ces_n),
        ces_responses=t.ces_n,
        solved_pct=_pct(t.solved_yes, t.solved_n),
        solved_responses=t.solved_n,
        tags=tags,
        tag_shares_pct={k: 100.0 * v / t.closed for k, v in tags.items()} if t.closed else {},
        pages=_by_count(t.pages),
        wrap_up_codes=_by_count(t.wrap_up_codes),
    )
    if a is not None:
        paused = sum(a.paused_ms.values())
        f.logged_in_s = a.logged_in_ms / 1000.0
        f.available_s = a.available_ms / 1000.0
        f.busy_s = a.busy_ms / 1000.0
        f.not_responding_s = a.not_responding_ms / 1000.0
        f.pause_s = paused / 1000.0
        f.pause_s_by_reason = {k: v / 1000.0 for k, v in sorted(a.paused_ms.items())}
        f.occupancy_pct = _pct(a.busy_ms, a.logged_in_ms)
        f.utilisation_pct = _pct(a.busy_ms, a.ready_ms)
    return f


def headline(f: Figures) -> dict[str, object]:
    """The figures everyone quotes, named as in ``docs/reports.md``: what the service's live
    entries, ``replay --stats``, the demo summary and ``ccroute status`` print."""

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    return {
        "arrived": f.arrived,
        "offered": f.offered,
        "answered": f.answered,
        "answered_within_threshold": f.answered_within_t,
        "abandoned": f.abandoned,
        "short_abandoned": f.short_abandoned,
        "service_level_formula": f.sl_formula,
        "service_level_percent": r(f.service_level_pct),
        "answered_percent": r(f.service_levels_pct["answered_over_offered"]),
        "abandon_rate_percent": r(f.abandon_rate_pct),
        "asa_seconds": r(f.asa_s),
        "max_wait_seconds": f.max_wait_s,
        "target_percent": r(f.target_pct),
        "handled": f.handled,
        "aht_seconds": r(f.aht_s),
        "occupancy_percent": r(f.occupancy_pct),
    }


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


# --------------------------------------------------------------------------- historical


def cube_from_records(
    config: Config,
    records: Iterable[ContactRecord],
    *,
    options: MetricOptions | None = None,
    tenant: str | None = None,
    agent_activity: Iterable[AgentActivity] = (),
    as_of_ms: int | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> MetricsCube:
    """A cube of contact records (and, provider-wide, agent presence), for history.

    Busy time comes from the records' agents; presence from ``agent_activity``. A
    tenant-scoped cube takes no presence (agents serve many tenants): its agents' busy
    time is the time on that tenant's contacts. Intervals open at ``as_of_ms`` (default:
    the latest time in the records) end there.
    """
    cube = MetricsCube(config, options, tenant=tenant)
    recs = list(records)
    acts = list(agent_activity)
    if tenant is not None and acts:
        raise ValueError("agent presence is provider-internal: not in a tenant's cube")
    for r in recs:
        cube.add_record(r, start_ms, end_ms)
    hi = as_of_ms if as_of_ms is not None else _latest(recs, acts)
    if end_ms is not None:
        hi = min(hi, end_ms)
    lo = start_ms if start_ms is not None else 0
    items: dict[str, list[tuple[int, int | None]]] = {}
    for r in recs:
        for ag, start, _, end in busy_spans(r):
            items.setdefault(ag, []).append((start, end))
    states: dict[str, list[AgentActivity]] = {}
    for a in acts:
        states.setdefault(a.agent, []).append(a)
    for ag in sorted(set(items) | set(states)):
        cube.add_agent(ag, states.get(ag, []), items.get(ag, []), lo, hi)
    return cube


def _latest(recs: Sequence[ContactRecord], acts: Sequence[AgentActivity]) -> int:
    latest = 0
    for r in recs:
        for ts in (r.arrived_ms, r.answered_ms, r.closed_ms, r.survey_ms):
            if ts is not None and ts > latest:
                latest = ts
    for a in acts:
        latest = max(latest, a.start_ms, a.end_ms or 0)
    return latest


def cube_from_duckdb(
    path: str | Path,
    *,
    tenant: str | None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    options: MetricOptions | None = None,
) -> tuple[MetricsCube, Config]:
    """A cube from a database written by :meth:`ContactRecorder.write_duckdb`.

    With ``tenant``, only that tenant's rows are read (the query filters them), and no
    agent presence. Returns the cube and the stored configuration.
    """
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        config, as_of = load_meta(con)
        records = load_records(con, tenant, start_ms, end_ms)
        acts = load_agent_activity(con) if tenant is None else []
    finally:
        con.close()
    cube = cube_from_records(
        config,
        records,
        options=options,
        tenant=tenant,
        agent_activity=acts,
        as_of_ms=as_of,
        start_ms=start_ms,
        end_ms=end_ms,
    )
    return cube, config


# --------------------------------------------------------------------------- live


class LiveMetrics:
    """Figures updated from the engine's feed: the open interval and the closed ones.

    Feed it what the recorder is fed (each input with its decisions); it owns a
    :class:`ContactRecorder` (or uses the one given -- then do not feed that one
    separately). When the clock passes an interval's end the interval is closed: its
    figures are final and equal those a historical cube computes for it.
    """

    def __init__(
        self,
        config: Config,
        *,
        options: MetricOptions | None = None,
        recorder: ContactRecorder | None = None,
        keep_intervals: int | None = None,
    ) -> None:
        self.options = options or MetricOptions()
        self.recorder = recorder if recorder is not None else ContactRecorder(config)
        self.closed = MetricsCube(config, self.options)
        """The closed intervals' sums."""
        self._config = config
        self._size = self.options.interval_ms
        self._keep = keep_intervals
        self._open: int | None = None
        self._touched: dict[tuple[str, str], int] = {}
        self._held: dict[str, dict[tuple[str, str], None]] = {}

    @property
    def current_interval_ms(self) -> int | None:
        """Start of the open interval (UTC ms), ``None`` before the first event."""
        return self._open

    @property
    def closed_until_ms(self) -> int | None:
        """Every interval starting before this time is closed (= the open interval's start)."""
        return self._open

    def observe(self, inp: Input, decisions: Sequence[Decision]) -> list[int]:
        """Apply one input and its decisions.

        Returns the starts of the intervals this closed that hold any figure (quiet
        intervals close too, with nothing in them).
        """
        rec = self.recorder
        rec.observe(inp, decisions)
        clock = rec.clock_ms
        for key in rec.last_touched:
            self._touched[key] = clock
            r = rec.get(*key)
            if r is not None and r.agent is not None:
                self._held.setdefault(r.agent, {})[key] = None
        new_open = clock - clock % self._size
        if self._open is None:
            self._open = new_open
            return []
        if new_open <= self._open:
            return []
        lo = self._open
        # One pass closes any number of intervals: facts and presence are cut at interval
        # boundaries as they are added, so a quiet night costs no more than one interval.
        self._close(lo, new_open)
        self._open = new_open
        if self._keep is not None:
            self.closed.drop_before(new_open - self._keep * self._size)
        return [b for b in self.closed.intervals() if lo <= b < new_open]

    def _add_range(self, cube: MetricsCube, lo: int, hi: int | None) -> None:
        rec = self.recorder
        for key in self._touched:
            r = rec.get(*key)
            if r is not None:
                cube.add_record(r, lo, hi)
        agent_hi = rec.clock_ms if hi is None else hi
        for agent in dict.fromkeys([*rec.agents(), *self._held]):
            states = _states_from(rec.agent_activity(agent), lo)
            items = [
                (start, end)
                for k in self._held.get(agent, ())
                if (r := rec.get(*k)) is not None
                for ag, start, _, end in busy_spans(r)
                if ag == agent
            ]
            if states or items:
                cube.add_agent(agent, states, items, lo, agent_hi)

    def _close(self, lo: int, hi: int) -> None:
        self._add_range(self.closed, lo, hi)
        # Records last changed before ``hi`` have no facts left to add: their next fact
        # will touch them again.
        self._touched = {k: t for k, t in self._touched.items() if t >= hi}
        rec = self.recorder
        for keys in self._held.values():
            done = [
                k
                for k in keys
                if (r := rec.get(*k)) is None or (r.closed_ms is not None and r.closed_ms <= hi)
            ]
            for k in done:
                del keys[k]

    def current(
        self,
        *,
        tenant: str | None = None,
        queue: str | None = None,
        channel: str | None = None,
        agent: str | None = None,
    ) -> Figures:
        """Figures of the open interval so far."""
        cube = MetricsCube(self._config, self.options)
        if self._open is not None:
            self._add_range(cube, self._open, None)
        return cube.figures(tenant=tenant, queue=queue, channel=channel, agent=agent)

    def interval(
        self,
        start_ms: int,
        *,
        tenant: str | None = None,
        queue: str | None = None,
        channel: str | None = None,
        agent: str | None = None,
    ) -> Figures:
        """Figures of one closed interval (by its start, UTC ms)."""
        if self._open is None or start_ms >= self._open:
            raise ValueError("the interval is not closed yet")
        return self.closed.figures(
            start_ms,
            start_ms + self._size,
            tenant=tenant,
            queue=queue,
            channel=channel,
            agent=agent,
        )


def _states_from(acts: Sequence[AgentActivity], lo: int) -> list[AgentActivity]:
    """The presence intervals still lasting at ``lo`` or later (scanning back from the newest)."""
    i = len(acts)
    while i > 0:
        end = acts[i - 1].end_ms
        if end is not None and end <= lo:
            break
        i -= 1
    return list(acts[i:])


__all__ = [
    "CHANNEL_CLASSES",
    "SL_FORMULAS",
    "AgentTally",
    "ContactTally",
    "Figures",
    "LiveMetrics",
    "MetricOptions",
    "MetricsCube",
    "SLFormula",
    "SLFormulaInfo",
    "add_abandon",
    "add_answer",
    "channel_class",
    "cube_from_duckdb",
    "cube_from_records",
    "figures_of",
    "headline",
    "offered",
    "service_levels",
]
