"""A day at a contact centre with service hours, sent to the Rust core and the model at once.

The scenario tests of section 4b (service hours, callbacks, caps, overflow triggers,
borrowing, fairness) tell a day in the domain's words; every input goes to both
``ccroute.Engine`` and ``tests/reference_model.py``, their decisions must be equal, and
the model's invariants must hold after each one. Times are written as local wall-clock
times of the tenant (``"2026-06-19 09:00"``), as a supervisor would say them.

``CCROUTE_MODEL_ONLY=1`` runs the model alone: for working on the model while the core
catches up with a new rule.
"""

from __future__ import annotations

import datetime
import os
import zoneinfo
from typing import Any

import msgspec

from ccroute import Engine
from ccroute.config import config_from_dict
from ccroute.events import Decision, Input, InputRejected
from reference_model import ReferenceEngine

MODEL_ONLY = os.environ.get("CCROUTE_MODEL_ONLY") == "1"
HELSINKI = "Europe/Helsinki"
STOCKHOLM = "Europe/Stockholm"
MINUTE = 60_000
HOUR = 3_600_000


def local(when: str, tz: str = HELSINKI) -> int:
    """UTC ms of a local wall-clock time ``YYYY-MM-DD HH:MM[:SS]`` in ``tz``."""
    naive = datetime.datetime.fromisoformat(when)
    aware = naive.replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return int(aware.timestamp()) * 1000


def comparable(decisions: list[Decision]) -> list[Decision]:
    """Rejections compared without their free text: the spec leaves wording open."""
    return [
        msgspec.structs.replace(d, message="") if isinstance(d, InputRejected) else d
        for d in decisions
    ]


def kinds(decisions: list[Decision]) -> list[str]:
    return [str(type(d).__struct_config__.tag) for d in decisions]


class Day:
    """Inputs go to the model and the core; the model's decisions are returned."""

    def __init__(self, config: dict[str, Any], *, tz: str = HELSINKI) -> None:
        self.config = config_from_dict(config)
        self.model = ReferenceEngine(self.config)
        self.rust = None if MODEL_ONLY else Engine(self.config)
        self.tz = tz
        self.now = 0
        self.n = 0
        self.log: list[Decision] = []

    def at(self, when: str) -> None:
        """Move the day's clock to a local time (inputs are stamped with it)."""
        self.now = local(when, self.tz)

    def send(self, cls: type[Any], *, at: str | None = None, **fields: Any) -> list[Decision]:
        if at is not None:
            self.at(at)
        self.n += 1
        fields.setdefault("id", f"e{self.n}")
        fields.setdefault("ts", self.now)
        event: Input = cls(**fields)
        decisions = self.model.apply(event)
        self.model.invariants()
        if self.rust is not None:
            actual = comparable(self.rust.apply(event))
            assert actual == comparable(decisions), (
                f"after {event!r}\nmodel: {decisions}\nrust:  {actual}"
            )
        self.log += decisions
        return decisions

    def restart(self) -> None:
        """The core restarts from a snapshot mid-day (the model carries on as it is)."""
        if self.rust is not None:
            self.rust = Engine.restore(self.config, self.rust.snapshot())

    def state(self, tenant: str, contact: str) -> str:
        return self.model.contacts[(tenant, contact)].state

    def parked(self, tenant: str, contact: str) -> bool:
        return self.model.contacts[(tenant, contact)].parked
