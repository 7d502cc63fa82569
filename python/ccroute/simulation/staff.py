"""The people: agent groups expanded to agents, and each agent's days planned.

A group of ``count`` agents becomes ``count`` engine agents (``<group>-01`` ..), each with
the routing profile of the group (or of the engine configuration's ``like`` agent), an
individual handle-time factor, and a plan: log in at the start of each shift, pause for
each break with its reason, and log out at the end. Absence, late logins and long coffee
breaks are drawn per agent from the agent's own random stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ccroute.config import Agent, Config
from ccroute.events import LIVE_CHANNELS
from ccroute.simulation.scenario import AgentGroup, LoadedScenario, ScenarioError, agent_id
from ccroute.simulation.timeline import Period, local_to_ms, weekday_of

# Kinds of planned agent actions, in the order they happen within a shift.
LOGIN, PAUSE, RESUME, SHIFT_END = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One thing an agent will do: at ``ts`` (UTC ms), ``kind`` with a pause ``reason``."""

    ts: int
    kind: int
    reason: str | None = None


@dataclass(slots=True)
class StaffMember:
    """An agent of the simulated centre: engine profile, behaviour and plan."""

    profile: Agent
    group: AgentGroup
    speed: float
    """Handle-time factor: the group's speed times the person's own."""
    plan: list[PlannedAction] = field(default_factory=list)


def expand_group(g: AgentGroup, template: Agent | None) -> list[Agent]:
    """The engine agents of a group: the template's profile with the group's fields."""
    base = template or Agent(id="template")
    out: list[Agent] = []
    for n in range(1, g.count + 1):
        out.append(
            Agent(
                id=agent_id(g, n),
                name=f"{g.name or base.name or g.group} {n}",
                skills=dict(g.skills if g.skills is not None else base.skills),
                languages=list(g.languages if g.languages is not None else base.languages),
                tenants=list(g.tenants if g.tenants is not None else base.tenants),
                capacity=dict(g.capacity if g.capacity is not None else base.capacity),
                team=g.team if g.team is not None else (base.team or g.name or g.group),
                partner=g.partner if g.partner is not None else base.partner,
            )
        )
    return out


def main_channel(g: AgentGroup, profile: Agent) -> str:
    """The channel a group keeps when the centre is split into one team per channel."""
    if g.main_channel is not None:
        return g.main_channel
    chans = [c for c, n in profile.capacity.items() if n > 0]
    live = [c for c in chans if c in LIVE_CHANNELS]
    return (live or chans or ["voice"])[0]


def simulated_config(ld: LoadedScenario) -> Config:
    """The engine configuration the simulation runs: the groups' agents replace the file's.

    The engine file's own ``[[agents]]`` are templates (``like``) and examples for
    ``ccroute replay``; the simulated staff is exactly the scenario's groups.
    """
    if not ld.scenario.agents:
        raise ScenarioError(f"{ld.source}: agents: a scenario needs at least one agent group")
    templates = {a.id: a for a in ld.engine.agents}
    agents: list[Agent] = []
    for g in ld.scenario.agents:
        agents.extend(expand_group(g, templates.get(g.like) if g.like else None))
    cfg = ld.engine
    return Config(routing=cfg.routing, tenants=cfg.tenants, queues=cfg.queues, agents=agents)


def plan_staff(
    ld: LoadedScenario, config: Config, period: Period, *, seed: int
) -> list[StaffMember]:
    """Each agent of ``config`` (made by :func:`simulated_config`) with the days planned."""
    scn = ld.scenario
    by_id = {a.id: a for a in config.agents}
    staff: list[StaffMember] = []
    for g in scn.agents:
        for n in range(1, g.count + 1):
            aid = agent_id(g, n)
            profile = by_id[aid]
            rng = random.Random(f"{seed}:agent:{aid}")
            speed = g.speed
            if g.speed_spread > 0:
                speed *= _unit_lognormal(rng, g.speed_spread)
            member = StaffMember(profile=profile, group=g, speed=speed)
            if g.always_on:
                member.plan.append(PlannedAction(period.start_ms, LOGIN))
                staff.append(member)
                continue
            offset = ((n - 1) * g.stagger_minutes // g.count) // 15 * 15
            shift = scn.shifts[g.shifts[(n - 1) % len(g.shifts)]]
            jitter_ms = g.login_jitter_seconds * 1000
            for d in range(period.days):
                day = period.day(d)
                wd = weekday_of(day)
                if wd not in shift.days or day in shift.closed:
                    continue
                # Draw every day's numbers even when absent, so one agent's absence does
                # not shift the rest of their month.
                away = rng.random() * 100.0 < g.absence_percent
                h, m = shift.start.split(":")
                start = local_to_ms(day, int(h) * 60 + int(m) + offset, period.zone)
                end = start + int(shift.hours * 3_600_000)
                login = start + _jitter(rng, jitter_ms)
                logout = end + _jitter(rng, jitter_ms)
                actions = [PlannedAction(login, LOGIN)]
                for b in shift.breaks:
                    late = _jitter(rng, jitter_ms)
                    if b.days and wd not in b.days:
                        continue
                    if b.after_minutes == 0:
                        actions[0] = PlannedAction(login, LOGIN, b.reason)
                        actions.append(PlannedAction(login + b.minutes * 60_000, RESUME, b.reason))
                        continue
                    at = start + b.after_minutes * 60_000 + late
                    back = at + b.minutes * 60_000 + abs(_jitter(rng, jitter_ms)) // 2
                    actions.append(PlannedAction(at, PAUSE, b.reason))
                    actions.append(PlannedAction(min(back, logout - 60_000), RESUME, b.reason))
                actions.append(PlannedAction(logout, SHIFT_END))
                if not away:
                    member.plan.extend(sorted(actions, key=lambda a: (a.ts, a.kind)))
            staff.append(member)
    return staff


def _jitter(rng: random.Random, span_ms: int) -> int:
    return int(rng.uniform(-span_ms, span_ms)) if span_ms else 0


def _unit_lognormal(rng: random.Random, cv: float) -> float:
    import math

    sigma = math.sqrt(math.log1p(cv * cv))
    return rng.lognormvariate(-sigma * sigma / 2.0, sigma)


def check_coverage(ld: LoadedScenario, config: Config) -> None:
    """Every stream (and language of it) must have an agent who could ever take it.

    A typo in a skill or a language otherwise shows only as a queue where every contact
    abandons; better to say so before simulating a month.
    """
    for i, t in enumerate(ld.scenario.traffic):
        q = config.queue(t.queue)
        needs = dict(q.skills)
        for skill, level in t.skills.items():
            needs[skill] = max(level, needs.get(skill, 0))
        channels = [ld.stream_channel(i)]
        if (t.callback_queue is not None and t.callback_percent > 0) or (
            t.callback_request_percent > 0
        ):
            channels.append("callback")
        langs: list[str | None] = [lang for lang, w in t.languages.items() if w > 0] or [None]
        for ch in channels:
            for lang in langs:
                if not any(_can_serve(a, q.tenant, ch, lang, needs) for a in config.agents):
                    what = f"{ch} contacts of queue {q.id!r}" + (f" in {lang!r}" if lang else "")
                    skills = ", ".join(f"{k} >= {v}" for k, v in sorted(needs.items()))
                    raise ScenarioError(
                        f"{ld.source}: traffic[{i}]: no agent group can take {what}"
                        f" (needs tenant {q.tenant!r}, capacity for {ch}"
                        + (f", language {lang!r}" if lang else "")
                        + (f", skills {skills}" if skills else "")
                        + ")"
                    )


def _can_serve(
    a: Agent, tenant: str, channel: str, lang: str | None, needs: dict[str, int]
) -> bool:
    return (
        a.capacity.get(channel, 0) > 0  # type: ignore[call-overload]
        and ("*" in a.tenants or tenant in a.tenants)
        and (lang is None or lang in a.languages)
        and all(a.skills.get(s, 0) >= m for s, m in needs.items())
    )
