"""The page around the sections: styles, the building blocks every section uses, and
the context (:class:`Page`) a section is written from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from html import escape

from ccroute.events import CHANNELS, LIVE_CHANNELS
from ccroute.metrics import Figures
from ccroute.reports.monthly.data import MonthlyData
from ccroute.reports.monthly.labels import Labels

CHANNEL_COLORS = {
    "voice": "#2563eb",
    "chat": "#0d9488",
    "email": "#7c3aed",
    "web_form": "#d97706",
    "social": "#db2777",
    "callback": "#475569",
}
GOOD, BAD, TARGET, MONTH_LINE = "#16a34a", "#dc2626", "#0f172a", "#2563eb"
#: Channels where the customer waits on the line; deferred work has its own response times.
LIVE = tuple(c for c in CHANNELS if c in LIVE_CHANNELS)


@dataclass
class Page:
    """What every section is written from: the month's figures and the language."""

    d: MonthlyData
    tr: Labels

    @cached_property
    def day_keys(self) -> list[str]:
        return [x.isoformat() for x in self.d.days]

    @cached_property
    def labels(self) -> list[str]:
        return [str(x.day) for x in self.d.days]

    @cached_property
    def hover(self) -> list[str]:
        return [self.tr.day(x) for x in self.d.days]

    @cached_property
    def weekend(self) -> list[bool]:
        return [x.weekday() >= 5 for x in self.d.days]

    @cached_property
    def days_with(self) -> list[str]:
        return [k for k in self.day_keys if (f := self.d.daily.get(k)) is not None and f.offered]

    @cached_property
    def bad_days(self) -> list[str]:
        return [k for k in self.day_keys if below(self.d.daily.get(k))]

    @property
    def live_channels(self) -> list[str]:
        return [c for c in self.d.channels if c in LIVE]

    def live(self, attr: str) -> float | None:
        """A wait figure over the live channels (phone, callback, chat)."""
        num = 0.0
        n = 0
        for c in LIVE:
            f = self.d.by_channel.get(c)
            v = getattr(f, attr) if f is not None else None
            if f is not None and v is not None and f.answered:
                num += v * f.answered
                n += f.answered
        return num / n if n else None

    def live_day(self, day: str) -> float | None:
        """Average speed of answer of one day over the live channels."""
        num = 0.0
        n = 0
        for c in LIVE:
            f = self.d.daily_channel.get((day, c))
            if f is not None and f.asa_s is not None and f.answered:
                num += f.asa_s * f.answered
                n += f.answered
        return num / n if n else None


def below(f: Figures | None) -> bool:
    """A selection with contacts whose service level is under its target."""
    return (
        f is not None
        and f.offered > 0
        and f.service_level_pct is not None
        and f.target_pct is not None
        and f.service_level_pct < f.target_pct
    )


def legend(items: Sequence[tuple[str, str, str]]) -> str:
    """Legend entries (label, colour, kind: box | line | dash)."""
    parts = []
    for label, color, kind in items:
        cls = "" if kind == "box" else f" class='{kind}'"
        style = f"border-color:{color}" if kind == "dash" else f"background:{color}"
        parts.append(f"<span><i{cls} style='{style}'></i>{escape(label)}</span>")
    return "<div class='legend'>" + "".join(parts) + "</div>"


def kpi(label: str, value: str, sub: str) -> str:
    return (
        f"<div class='kpi'><div class='label'>{escape(label)}</div>"
        f"<div class='value'>{value}</div><div class='sub'>{sub}</div></div>"
    )


def stat(value: str, text: str) -> str:
    return f"<div class='stat'><b>{value}</b><span>{text}</span></div>"


def table(
    head: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]], cls: Sequence[str] = ()
) -> str:
    """A table; ``head`` is (title, numeric); cells are HTML already escaped."""
    th = "".join(
        f"<th class='num'>{escape(h)}</th>" if n else f"<th>{escape(h)}</th>" for h, n in head
    )
    body = []
    for i, row in enumerate(rows):
        rc = f" class='{cls[i]}'" if i < len(cls) and cls[i] else ""
        tds = "".join(
            f"<td class='num'>{c}</td>" if head[j][1] else f"<td>{c}</td>"
            for j, c in enumerate(row)
        )
        body.append(f"<tr{rc}>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section(title: str, lead: str, body: str) -> str:
    return (
        f"<section class='card'><h2>{escape(title)}</h2><p class='lead'>{lead}</p>{body}</section>"
    )


def note(text: str) -> str:
    return f"<p class='note'>{text}</p>"


def document(title: str, lang: str, header: str, sections: Sequence[str], footer: str) -> str:
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body>"
        + header
        + "".join(s for s in sections if s)
        + footer
        + "</div></body></html>"
    )


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


CSS = """
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--soft:#f1f5f9;--bg:#f6f7fb;
--accent:#1d4ed8;--good:#15803d;--bad:#b91c1c;--warn:#b45309}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.55 "Segoe UI","Helvetica Neue",Helvetica,Arial,"Noto Sans","DejaVu Sans",sans-serif;
font-variant-numeric:tabular-nums}
.wrap{max-width:1080px;margin:0 auto;padding:0 28px}
header.top{background:linear-gradient(135deg,#0b1f3a 0%,#173e7a 60%,#1d4ed8 100%);color:#fff;
padding:34px 0 54px}
header.top .eyebrow{text-transform:uppercase;letter-spacing:.14em;font-size:12px;opacity:.75}
header.top h1{font-size:32px;line-height:1.2;margin:6px 0 4px;font-weight:650;letter-spacing:-.01em}
header.top .meta{opacity:.85;font-size:14px}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin-top:-34px}
.kpi{background:#fff;border:1px solid var(--line);border-radius:12px;padding:14px 16px 13px;
box-shadow:0 1px 3px rgba(15,23,42,.06)}
.kpi .label{font-size:11.5px;color:var(--muted);text-transform:uppercase;letter-spacing:.07em;
font-weight:600}
.kpi .value{font-size:28px;font-weight:650;line-height:1.2;margin:4px 0 2px;letter-spacing:-.01em}
.kpi .value small{font-size:15px;font-weight:500;color:var(--muted)}
.kpi .sub{font-size:13px;color:var(--muted)}
.kpi.empty .value{font-size:17px;color:var(--muted);font-weight:500;padding:7px 0 4px}
.parts{background:#fff;border:1px solid var(--line);border-radius:12px;padding:12px 18px;
margin:14px 0 0;font-size:14px;box-shadow:0 1px 3px rgba(15,23,42,.06)}
.parts b{font-weight:650}
.parts .eq{color:var(--muted);margin:0 6px}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;
margin-left:4px;vertical-align:2px}
.pill.good{background:#dcfce7;color:var(--good)}
.pill.bad{background:#fee2e2;color:var(--bad)}
.pill.info{background:#e0e7ff;color:#3730a3}
.note{margin:18px 0 0;font-size:13.5px;color:var(--muted)}
section.card{background:#fff;border:1px solid var(--line);border-radius:14px;padding:24px 28px;
margin:22px 0;box-shadow:0 1px 2px rgba(15,23,42,.04)}
h2{font-size:19px;margin:0 0 4px;letter-spacing:-.005em}
h3{font-size:15px;margin:18px 0 6px}
p.lead{color:var(--muted);margin:0 0 14px;font-size:14px;max-width:820px}
table{border-collapse:collapse;width:100%;font-size:13.5px;margin-top:8px}
th{text-align:left;font-weight:600;color:var(--muted);font-size:11.5px;text-transform:uppercase;
letter-spacing:.05em;border-bottom:1px solid var(--line);padding:7px 8px;white-space:nowrap}
td{padding:6px 8px;border-bottom:1px solid var(--soft)}
td.num,th.num{text-align:right}
tr.bad td{background:#fef2f2}
tr.gap td{color:var(--muted);text-align:center;font-size:12.5px;background:var(--soft)}
tr.total td{border-top:1px solid var(--line)}
.flag{background:#fee2e2;color:var(--bad);font-weight:600;padding:1px 7px;border-radius:6px}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:13px;color:#334155;margin:2px 0 6px}
.legend i{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:6px;
vertical-align:-1px}
.legend i.line{height:3px;border-radius:2px;vertical-align:3px;width:16px}
.legend i.dash{height:0;border-top:3px dashed;border-radius:0;vertical-align:3px;width:16px;
background:none!important}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:26px}
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:6px 0 12px}
.stat{background:var(--soft);border-radius:10px;padding:10px 14px}
.stat b{display:block;font-size:22px;font-weight:650}
.stat span{font-size:12.5px;color:var(--muted)}
svg.chart{display:block;overflow:visible}
.muted{color:var(--muted)}
.agents td{white-space:nowrap}
.n{color:#94a3b8;font-size:12px;display:inline-block;min-width:2.6em;
text-align:right}
footer{color:var(--muted);font-size:12.5px;padding:10px 0 40px}
code{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px;
background:var(--soft);padding:1px 5px;border-radius:4px}
@media (max-width:860px){.kpis,.stats{grid-template-columns:repeat(2,1fr)}
.grid2{grid-template-columns:1fr}}
@media print{body{background:#fff}
header.top{-webkit-print-color-adjust:exact;print-color-adjust:exact}
section.card{break-inside:avoid;box-shadow:none}.kpi{box-shadow:none}}
"""
