"""Service level formulas, channel classes and the options every figure is computed with."""

from __future__ import annotations

from typing import Literal, NamedTuple

from msgspec import Struct

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
