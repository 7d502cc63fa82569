"""Numbers, durations and dates as the report prints them (language-neutral parts)."""

from __future__ import annotations

from ccroute.config import Queue
from ccroute.metrics import MetricOptions

DASH = "—"


def fmt_int(v: int | float | None) -> str:
    """``12,345`` (a thin space would be Nordic, but a comma reads everywhere)."""
    return DASH if v is None else f"{v:,.0f}"


def fmt_pct(v: float | None, digits: int = 1) -> str:
    # A no-break space keeps "85 %" on one line.
    return DASH if v is None else f"{v:.{digits}f}\u00a0%"


def fmt_dur(s: float | None) -> str:
    """Seconds as ``42 s``, ``4:05 min`` or ``3 h 20 min``."""
    if s is None:
        return DASH
    if s < 90:
        return f"{s:.0f}\u00a0s"
    if s < 3600:
        m, sec = divmod(round(s), 60)
        return f"{m}:{sec:02d}\u00a0min"
    h, rem = divmod(round(s), 3600)
    if rem < 60:
        return f"{h}\u00a0h"
    return f"{h}\u00a0h {rem // 60:02d}\u00a0min"


def signed(v: float, digits: int = 1, unit: str = "") -> str:
    """``+3.5`` or ``−3.5`` (a true minus sign), with an optional unit."""
    text = f"{v:+.{digits}f}".replace("-", "\u2212")
    return f"{text}\u00a0{unit}" if unit else text


def axis_dur(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min" if s % 60 == 0 else f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def fmt_num(v: float | None, digits: int = 1) -> str:
    return DASH if v is None else f"{v:.{digits}f}"


def fmt_nps(v: float | None) -> str:
    return DASH if v is None else signed(v, 0)


def mmss(s: float | None) -> str:
    if s is None:
        return DASH
    m, sec = divmod(round(s), 60)
    return f"{m}:{sec:02d}"


def share(part: float, whole: float) -> float | None:
    return 100 * part / whole if whole else None


def threshold_text(q: Queue, options: MetricOptions) -> str:
    t = options.threshold_seconds
    return fmt_dur(q.service_level.threshold_seconds if t is None else t)
