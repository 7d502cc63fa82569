"""Live figures: a cube kept current from (input, decisions) pairs as they are applied."""

from __future__ import annotations

from collections.abc import Sequence

from ccroute.config import Config
from ccroute.events import Decision, Input
from ccroute.metrics.cube import MetricsCube
from ccroute.metrics.definitions import MetricOptions
from ccroute.metrics.figures import Figures
from ccroute.records import (
    AgentActivity,
    ContactRecorder,
    busy_spans,
)

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
