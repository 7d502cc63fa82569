"""The report's words in English, Finnish and Swedish.

Every label is written in English in the section that uses it and looked up here by
that text (``tr("Service level per day")``); ``{name}`` fields are filled after the
lookup. ``tests/test_reports.py`` renders the report in each language and fails on any
label without a translation.
"""

from __future__ import annotations

import datetime as dt

from ccroute.reports.monthly.translations import FI, SV

LANGUAGES: tuple[str, ...] = ("en", "fi", "sv")
_TABLES: dict[str, dict[str, str]] = {"fi": FI, "sv": SV}

_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "fi": [
        "tammikuu",
        "helmikuu",
        "maaliskuu",
        "huhtikuu",
        "toukokuu",
        "kesäkuu",
        "heinäkuu",
        "elokuu",
        "syyskuu",
        "lokakuu",
        "marraskuu",
        "joulukuu",
    ],
    "sv": [
        "januari",
        "februari",
        "mars",
        "april",
        "maj",
        "juni",
        "juli",
        "augusti",
        "september",
        "oktober",
        "november",
        "december",
    ],
}
_WEEKDAYS = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "fi": ["ma", "ti", "ke", "to", "pe", "la", "su"],
    "sv": ["mån", "tis", "ons", "tor", "fre", "lör", "sön"],
}
_CHANNELS = {
    "en": {"voice": "Phone", "chat": "Chat", "email": "E-mail", "web_form": "Web form",
           "social": "Social", "callback": "Callback"},
    "fi": {"voice": "Puhelin", "chat": "Chat", "email": "Sähköposti", "web_form": "Verkkolomake",
           "social": "Some", "callback": "Soittopyyntö"},
    "sv": {"voice": "Telefon", "chat": "Chatt", "email": "E-post", "web_form": "Webbformulär",
           "social": "Sociala medier", "callback": "Återuppringning"},
}  # fmt: skip
#: Why a contact became a callback, was closed, moved or opened to the partner.
_REASONS = {
    "requested": "asked for by the customer",
    "outside_hours": "outside the service hours",
    "at_closing": "still waiting at closing time",
    "emergency": "emergency closure",
    "queue_full": "line full",
    "max_wait": "waited too long",
    "step": "routing step (waited long enough)",
    "long_line": "long line on arrival",
    "expected_wait": "expected wait too long",
    "service_level": "service level under target",
}
#: A part of the headline sum: contacts a rule closed, by the rule.
_CLOSED = {
    "outside_hours": "closed outside the service hours",
    "at_closing": "closed at closing time",
    "emergency": "closed by an emergency closure",
    "queue_full": "closed, line full",
    "max_wait": "closed after waiting too long",
}


class Labels:
    """Look-ups in one language; ``missing`` collects labels without a translation."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"report language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
        self.lang = lang
        self._table = _TABLES.get(lang)
        self.missing: set[str] = set()

    def __call__(self, text: str, **fields: object) -> str:
        out = text
        if self._table is not None:
            found = self._table.get(text)
            if found is None:
                self.missing.add(text)
            else:
                out = found
        return out.format(**fields) if fields else out

    def month(self, year: int, month: int) -> str:
        name = _MONTHS[self.lang][month - 1]
        return f"{name} {year}" if self.lang != "fi" else f"{name} {year}".capitalize()

    def day(self, d: dt.date) -> str:
        wd = _WEEKDAYS[self.lang][d.weekday()]
        if self.lang == "en":
            return f"{wd} {d.day} {_MONTHS['en'][d.month - 1][:3]}"
        return f"{wd} {d.day}.{d.month}."

    def channel(self, c: str) -> str:
        return _CHANNELS[self.lang].get(c, c)

    def reason(self, key: str) -> str:
        return self(_REASONS[key]) if key in _REASONS else (key or "—")

    def closed(self, key: str) -> str:
        return self(_CLOSED.get(key, "closed by the rules"))
