"""Small, dependency-free SVG charts for the reports.

Charts are plain strings of inline SVG: no scripts, no fonts or images to fetch, so a
report opens offline and prints as it looks. Hover text uses SVG ``<title>``. Every
chart has a ``viewBox`` and scales to its container's width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Fmt = Callable[[float], str]

AXIS = "#94a3b8"
GRID = "#e2e8f0"
TEXT = "#475569"
FONT = "font-family='inherit' font-size='12'"


@dataclass(frozen=True, slots=True)
class Series:
    """A named row of values (``None``: no value) drawn in one colour."""

    name: str
    values: Sequence[float | None]
    color: str
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class RefLine:
    """A horizontal reference line across the plot (a target, a month's figure)."""

    value: float
    label: str
    color: str
    dashed: bool = True


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def plain(v: float) -> str:
    """A number as ``1,234`` or ``2.5``."""
    return f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.1f}"


def nice_scale(hi: float, ticks: int = 5) -> tuple[float, float]:
    """An axis top and tick step covering ``hi`` with round numbers (1, 2, 2.5, 5 x 10^k)."""
    if hi <= 0 or not math.isfinite(hi):
        return 1.0, 0.25
    raw = hi / ticks
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return float(step * math.ceil(hi / step - 1e-9)), float(step)


class _Plot:
    """Geometry shared by the vertical charts: a category x-axis and a value y-axis."""

    def __init__(
        self,
        n: int,
        y_max: float,
        *,
        width: int,
        height: int,
        y_format: Fmt,
        y_title: str,
        left: int = 56,
    ) -> None:
        self.n = max(n, 1)
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = left, 14, 14, 34
        self.top_val, self.step = nice_scale(y_max)
        self.y_format = y_format
        self.y_title = y_title
        self.pw = width - self.left - self.right
        self.ph = height - self.top - self.bottom

    def x(self, i: float) -> float:
        """The centre of category ``i``."""
        return self.left + (i + 0.5) * self.pw / self.n

    @property
    def band(self) -> float:
        return self.pw / self.n

    def y(self, v: float) -> float:
        return self.top + self.ph * (1 - min(v, self.top_val) / self.top_val)

    def frame(
        self, categories: Sequence[str], label_every: int, shade: Sequence[bool] | None
    ) -> list[str]:
        out = []
        if shade:
            for i, s in enumerate(shade):
                if s:
                    out.append(
                        f"<rect x='{self.left + i * self.band:.1f}' y='{self.top}' "
                        f"width='{self.band:.1f}' height='{self.ph}' fill='#f1f5f9'/>"
                    )
        k = 0
        while k * self.step <= self.top_val + 1e-9:
            v = float(k * self.step)
            yy = self.y(v)
            out.append(
                f"<line x1='{self.left}' x2='{self.width - self.right}' y1='{yy:.1f}' "
                f"y2='{yy:.1f}' stroke='{GRID if k else AXIS}' stroke-width='1'/>"
            )
            out.append(
                f"<text x='{self.left - 6}' y='{yy + 4:.1f}' text-anchor='end' fill='{TEXT}' "
                f"{FONT}>{escape(self.y_format(v))}</text>"
            )
            k += 1
        for i, c in enumerate(categories):
            if i % label_every:
                continue
            out.append(
                f"<text x='{self.x(i):.1f}' y='{self.height - self.bottom + 16}' "
                f"text-anchor='middle' fill='{TEXT}' {FONT}>{escape(c)}</text>"
            )
        if self.y_title:
            out.append(
                f"<text x='12' y='{self.top + self.ph / 2:.1f}' text-anchor='middle' "
                f"fill='{TEXT}' {FONT} transform='rotate(-90 12 {self.top + self.ph / 2:.1f})'>"
                f"{escape(self.y_title)}</text>"
            )
        return out

    def refs(self, lines: Sequence[RefLine]) -> list[str]:
        """Reference lines, labelled at the right end; a label that would collide with the
        one above it goes below its line."""
        out = []
        last_label_y = -1e9
        for line in sorted(lines, key=lambda ln: -ln.value):
            yy = self.y(line.value)
            ty = yy - 6
            if ty - last_label_y < 15:
                ty = yy + 16
            last_label_y = ty
            dash = " stroke-dasharray='6 4'" if line.dashed else ""
            out.append(
                f"<g><title>{escape(line.label)}</title>"
                f"<line x1='{self.left}' x2='{self.width - self.right}' y1='{yy:.1f}' "
                f"y2='{yy:.1f}' stroke='{line.color}' stroke-width='2'{dash}/>"
                f"<text x='{self.width - self.right - 4}' y='{ty:.1f}' text-anchor='end' "
                f"fill='{line.color}' {FONT} font-weight='600' paint-order='stroke' "
                f"stroke='#fff' stroke-width='4' stroke-linejoin='round'>"
                f"{escape(line.label)}</text></g>"
            )
        return out

    def svg(self, body: list[str], label: str) -> str:
        return (
            f"<svg class='chart' viewBox='0 0 {self.width} {self.height}' width='100%' "
            f"role='img' aria-label='{escape(label)}'>"
            f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
        )


def _line_path(plot: _Plot, s: Series, *, hover: Sequence[str], fmt: Fmt) -> list[str]:
    out = []
    runs: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(s.values):
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((plot.x(i), plot.y(v)))
    dash = " stroke-dasharray='5 4'" if s.dashed else ""
    for run in runs:
        if len(run) > 1:
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            out.append(
                f"<polyline points='{pts}' fill='none' stroke='{s.color}' stroke-width='2.2' "
                f"stroke-linejoin='round' stroke-linecap='round'{dash}/>"
            )
    for i, v in enumerate(s.values):
        if v is None:
            continue
        out.append(
            f"<circle cx='{plot.x(i):.1f}' cy='{plot.y(v):.1f}' r='3.2' fill='#fff' "
            f"stroke='{s.color}' stroke-width='2'><title>{escape(hover[i])} · "
            f"{escape(s.name)}: {escape(fmt(v))}</title></circle>"
        )
    return out


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    label: str,
    stacked: bool = True,
    width: int = 960,
    height: int = 280,
    y_format: Fmt = plain,
    y_title: str = "",
    y_max: float | None = None,
    lines: Sequence[RefLine] = (),
    overlay: Sequence[Series] = (),
    bar_colors: Sequence[str | None] | None = None,
    markers: Sequence[float | None] | None = None,
    marker_label: str = "target",
    shade: Sequence[bool] | None = None,
    hover: Sequence[str] | None = None,
    label_every: int = 1,
) -> str:
    """Vertical bars per category, stacked or side by side, with optional lines over them.

    ``bar_colors`` overrides the colour per category (single-series charts: a day below
    target in red); ``markers`` draws a short tick per category (that day's target);
    ``shade`` tints a category's background (weekends).
    """
    hov = list(hover or categories)
    if stacked:
        tops = [sum(s.values[i] or 0 for s in series) for i in range(len(categories))]
    else:
        tops = [max((s.values[i] or 0 for s in series), default=0) for i in range(len(categories))]
    cand = [*tops, *(ln.value for ln in lines)]
    cand += [v for s in overlay for v in s.values if v is not None]
    plot = _Plot(
        len(categories),
        y_max if y_max is not None else max(cand, default=0) * 1.05,
        width=width,
        height=height,
        y_format=y_format,
        y_title=y_title,
    )
    body = plot.frame(categories, label_every, shade)
    gap = plot.band * 0.18
    for i in range(len(categories)):
        base = 0.0
        k = len(series)
        for j, s in enumerate(series):
            v = s.values[i]
            if v is None or v <= 0:
                continue
            color = s.color
            if bar_colors is not None and bar_colors[i]:
                color = bar_colors[i] or color
            if stacked:
                x0, w = plot.left + i * plot.band + gap / 2, plot.band - gap
                y0, y1 = plot.y(base + v), plot.y(base)
                base += v
            else:
                w = (plot.band - gap) / k
                x0 = plot.left + i * plot.band + gap / 2 + j * w
                y0, y1 = plot.y(v), plot.y(0)
            body.append(
                f"<rect x='{x0:.1f}' y='{y0:.1f}' width='{max(w, 1):.1f}' "
                f"height='{max(y1 - y0, 0.5):.1f}' fill='{color}' rx='1.5'>"
                f"<title>{escape(hov[i])} · {escape(s.name)}: {escape(y_format(v))}</title></rect>"
            )
    body.extend(plot.refs(lines))
    for i, m in enumerate(markers or ()):
        if m is None:
            continue
        x0 = plot.left + i * plot.band + gap / 4
        x1 = x0 + plot.band - gap / 2
        ym = plot.y(m)
        tip = f"<title>{escape(hov[i])} · {escape(marker_label)}: {escape(y_format(m))}</title>"
        # A white halo under the mark keeps it readable over a bar of the same height.
        body.append(
            f"<g>{tip}<line x1='{x0:.1f}' x2='{x1:.1f}' y1='{ym:.1f}' y2='{ym:.1f}' "
            "stroke='#fff' stroke-width='5.5' stroke-linecap='round'/>"
            f"<line x1='{x0:.1f}' x2='{x1:.1f}' y1='{ym:.1f}' y2='{ym:.1f}' "
            "stroke='#0f172a' stroke-width='2.5' stroke-linecap='round'/></g>"
        )
    for s in overlay:
        body.extend(_line_path(plot, s, hover=hov, fmt=y_format))
    return plot.svg(body, label)


def line_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    label: str,
    width: int = 960,
    height: int = 240,
    y_format: Fmt = plain,
    y_title: str = "",
    y_max: float | None = None,
    lines: Sequence[RefLine] = (),
    shade: Sequence[bool] | None = None,
    hover: Sequence[str] | None = None,
    label_every: int = 1,
) -> str:
    """Lines over categories (gaps where a value is ``None``), with reference lines."""
    vals = [v for s in series for v in s.values if v is not None]
    vals += [ln.value for ln in lines]
    plot = _Plot(
        len(categories),
        y_max if y_max is not None else max(vals, default=0) * 1.1,
        width=width,
        height=height,
        y_format=y_format,
        y_title=y_title,
    )
    body = plot.frame(categories, label_every, shade)
    body.extend(plot.refs(lines))
    hov = list(hover or categories)
    for s in series:
        body.extend(_line_path(plot, s, hover=hov, fmt=y_format))
    return plot.svg(body, label)


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    label: str,
    value_format: Fmt = plain,
    color: str = "#2563eb",
    colors: Sequence[str] | None = None,
    width: int = 960,
    label_width: int = 220,
    bar_height: int = 22,
    max_value: float | None = None,
) -> str:
    """Horizontal bars with the label on the left and the value at the bar's end."""
    n = len(labels)
    height = n * (bar_height + 8) + 8
    top = max_value if max_value is not None else max(values, default=0)
    span = width - label_width - 90
    body = []
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 4 + i * (bar_height + 8)
        w = 0 if top <= 0 else span * v / top
        c = colors[i] if colors else color
        shown = lab if len(lab) <= 34 else lab[:32] + "…"
        body.append(
            f"<text x='{label_width - 10}' y='{y + bar_height / 2 + 4:.1f}' text-anchor='end' "
            f"fill='#1e293b' {FONT}><title>{escape(lab)}</title>{escape(shown)}</text>"
            f"<rect x='{label_width}' y='{y}' width='{max(w, 1):.1f}' height='{bar_height}' "
            f"fill='{c}' rx='3'><title>{escape(lab)}: {escape(value_format(v))}</title></rect>"
            f"<text x='{label_width + w + 6:.1f}' y='{y + bar_height / 2 + 4:.1f}' "
            f"fill='{TEXT}' {FONT}>{escape(value_format(v))}</text>"
        )
    return (
        f"<svg class='chart' viewBox='0 0 {width} {height}' width='100%' role='img' "
        f"aria-label='{escape(label)}'>"
        f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )


def share_bar(
    parts: Sequence[tuple[str, float, str]],
    *,
    label: str,
    width: int = 960,
    height: int = 34,
    value_format: Fmt = plain,
) -> str:
    """One bar split into shares (channel mix, NPS groups), labelled inside where room."""
    total = sum(v for _, v, _ in parts)
    body = []
    x = 0.0
    for name, v, color in parts:
        if v <= 0 or total <= 0:
            continue
        w = width * v / total
        pct = 100 * v / total
        body.append(
            f"<rect x='{x:.1f}' y='0' width='{w:.1f}' height='{height}' fill='{color}'>"
            f"<title>{escape(name)}: {escape(value_format(v))} ({_num(pct)} %)</title></rect>"
        )
        text = f"{name} {pct:.0f} %"
        if w > 7.2 * len(text) + 12:
            body.append(
                f"<text x='{x + 8:.1f}' y='{height / 2 + 4.5:.1f}' fill='#fff' {FONT} "
                f"font-weight='600'>{escape(text)}</text>"
            )
        x += w
    return (
        f"<svg class='chart share' viewBox='0 0 {width} {height}' width='100%' role='img' "
        f"aria-label='{escape(label)}'><title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )
