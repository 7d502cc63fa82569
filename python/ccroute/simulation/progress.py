"""A plain-text progress bar on stderr (no dependency): simulated time done, pace."""

from __future__ import annotations

import time
from typing import IO, Protocol


class _Counts(Protocol):
    arrived: int
    inputs: int


class Progress:
    """Redraws one line with ``\\r`` at most five times a second."""

    def __init__(self, out: IO[str], *, width: int = 30, label: str = "simulating") -> None:
        self._out = out
        self._width = width
        self._label = label
        self._t0 = time.perf_counter()
        self._last = 0.0

    def update(self, fraction: float, counts: _Counts) -> None:
        now = time.perf_counter()
        if now - self._last < 0.2:
            return
        self._last = now
        self._draw(fraction, counts, now)

    def done(self, counts: _Counts) -> None:
        self._draw(1.0, counts, time.perf_counter())
        self._out.write("\n")
        self._out.flush()

    def _draw(self, fraction: float, counts: _Counts, now: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(fraction * self._width)
        bar = "#" * filled + "." * (self._width - filled)
        took = now - self._t0
        self._out.write(
            f"\r{self._label} [{bar}] {fraction * 100:5.1f}%  "
            f"{counts.arrived:,} contacts  {counts.inputs:,} events  {took:5.1f} s"
        )
        self._out.flush()
