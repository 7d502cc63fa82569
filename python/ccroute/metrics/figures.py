"""Figures: a tally turned into the named figures (SL by formula, ASA, AHT, ...)."""

from __future__ import annotations

from collections import Counter

from msgspec import Struct

from ccroute.metrics.definitions import MetricOptions
from ccroute.metrics.tallies import AgentTally, ContactTally, offered

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
