"""The short tables a run prints: per client, and blended against silos.

Figures come from :mod:`ccroute.metrics`, the same code the monthly report uses, so the
table and the report agree to the decimal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ccroute.config import Config
from ccroute.metrics import (
    CHANNEL_CLASSES,
    ContactTally,
    Figures,
    MetricOptions,
    cube_from_records,
    figures_of,
)
from ccroute.records import ContactRecorder


@dataclass(frozen=True, slots=True)
class TenantLine:
    """One client's month in a line."""

    tenant: str
    name: str
    figures: Figures
    by_class: dict[str, Figures] = field(default_factory=dict)
    """Waits per channel class (phone & chat, e-mail & forms): never blended."""


@dataclass(frozen=True, slots=True)
class RunFigures:
    """Per-client figures and the provider's totals (with agent occupancy)."""

    tenants: list[TenantLine]
    total: Figures
    total_line: TenantLine | None = None


def run_figures(recorder: ContactRecorder, config: Config, end_ms: int) -> RunFigures:
    """Figures of everything the recorder saw, up to ``end_ms``."""
    # Totals do not depend on the interval length; day-long intervals make far fewer
    # buckets than the reports' quarter hours (same figures, a third of the time).
    cube = cube_from_records(
        config,
        recorder.records(),
        agent_activity=recorder.agent_activity(),
        as_of_ms=end_ms,
        options=MetricOptions(interval_minutes=1440),
    )
    by_tenant = {group[0]: fig for (_, group), fig in cube.collect(by=("tenant",)).items()}
    # Every client gets a line, also one without a contact (closed on a holiday).
    lines = [
        TenantLine(
            t.id,
            t.name or t.id,
            by_tenant.get(t.id) or figures_of(ContactTally()),
            cube.figures_by_channel_class(tenant=t.id),
        )
        for t in sorted(config.tenants, key=lambda t: t.name or t.id)
    ]
    total = TenantLine("all", "all clients", cube.figures(), cube.figures_by_channel_class())
    return RunFigures(lines, total.figures, total)


def _num(v: float | None, fmt: str = "{:.0f}") -> str:
    return "-" if v is None else fmt.format(v)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    line = "  ".join("-" * w for w in widths)
    return "\n".join([fmt.format(*header), line, *(fmt.format(*r) for r in rows)])


def format_tenants(fig: RunFigures) -> str:
    """Per client and channel class: contacts, answered, SL against target, ASA, AHT,
    abandons, CSAT. Waits are never blended across classes: an e-mail's hours would drown
    a caller's seconds."""
    header = [
        "client",
        "channels",
        "contacts",
        "answered",
        "SL %",
        "target %",
        "ASA s",
        "AHT s",
        "abandon %",
        "CSAT",
        "partner %",
    ]
    rows = []
    total = fig.total_line or TenantLine("all", "all clients", fig.total)
    for t in [*fig.tenants, total]:
        parts = [(CHANNEL_CLASSES[c][0], f) for c, f in t.by_class.items()] or [("all", t.figures)]
        for n, (label, f) in enumerate(parts):
            rows.append(
                [
                    t.name if n == 0 else "",
                    label,
                    f"{f.arrived:,}",
                    f"{f.answered:,}",
                    _num(f.service_level_pct, "{:.1f}"),
                    _num(f.target_pct, "{:.0f}"),
                    _num(f.asa_s),
                    _num(f.aht_s),
                    _num(f.abandon_rate_pct, "{:.1f}"),
                    _num(f.csat_avg, "{:.2f}"),
                    _num(f.partner_share_pct, "{:.1f}"),
                ]
            )
    occ = fig.total.occupancy_pct
    return (
        _table(header, rows)
        + f"\nagent occupancy (busy / logged in): {_num(occ, '{:.1f}')} %"
        + "\nSL: answered within the queue's threshold / offered (answered + abandoned);"
        + " ASA: seconds to answer,\nper channel class; partner: share answered by the"
        + " overflow partner. Definitions: docs/reports.md."
    )


def format_policies(fig: RunFigures) -> str:
    """Per client: callbacks, and what service hours, limits and overflow did; ``""``
    when nothing of the kind happened."""
    header = [
        "client",
        "callback req.",
        "dials",
        "reached",
        "not reached",
        "closed",
        "moved",
        "to partner",
    ]
    rows = []
    for t in [*fig.tenants, TenantLine("all", "all clients", fig.total)]:
        f = t.figures
        rows.append(
            [
                t.name,
                f"{f.callbacks_requested:,}",
                f"{f.callbacks_made:,}",
                f"{f.callbacks_reached:,}",
                f"{f.callbacks_unreached:,}",
                f"{f.closed_by_policy:,}",
                f"{f.moved:,}",
                f"{f.overflowed:,}",
            ]
        )
    tot = fig.total
    if not (tot.callbacks_requested or tot.closed_by_policy or tot.moved or tot.overflowed):
        return ""
    why = ", ".join(f"{k} {v:,}" for k, v in tot.closed_by_policy_reason.items()) or "none"
    return (
        _table(header, rows)
        + f"\nclosed with an announcement, by reason: {why}; callback requests: "
        + (", ".join(f"{k} {v:,}" for k, v in tot.callbacks_by_reason.items()) or "none")
    )


def format_comparison(blended: RunFigures, silos: RunFigures) -> str:
    """The same traffic and headcount, blended against one team per channel."""
    header = [
        "client",
        "SL blended",
        "SL silos",
        "ASA blended",
        "ASA silos",
        "abandon blended",
        "abandon silos",
    ]
    silo_by = {t.tenant: t.figures for t in silos.tenants}
    rows = []
    pairs = [(t.name, t.figures, silo_by.get(t.tenant)) for t in blended.tenants]
    pairs.append(("all clients", blended.total, silos.total))
    for name, b, s in pairs:
        rows.append(
            [
                name,
                _num(b.service_level_pct, "{:.1f} %"),
                _num(s.service_level_pct if s else None, "{:.1f} %"),
                _num(b.asa_s, "{:.0f} s"),
                _num(s.asa_s if s else None, "{:.0f} s"),
                _num(b.abandon_rate_pct, "{:.1f} %"),
                _num(s.abandon_rate_pct if s else None, "{:.1f} %"),
            ]
        )
    rows.append(
        [
            "agent occupancy",
            _num(blended.total.occupancy_pct, "{:.1f} %"),
            _num(silos.total.occupancy_pct, "{:.1f} %"),
            "",
            "",
            "",
            "",
        ]
    )
    return _table(header, rows)
