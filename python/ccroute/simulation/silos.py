"""The same centre split into silos: one team per channel instead of blended agents.

Blending is the reason for one universal queue: when the phones are quiet the same
agents write e-mail. To show what it buys, ``ccroute demo --compare-silos`` runs the same
customers (same seed) with the same headcount, each agent keeping the channels of one
team only:

- **phone** (voice and callback requests), **chat**, **written** (e-mail, web forms,
  social messages).

A group with ``main_channel`` goes wholly to that channel's team. Any other group is split
across the teams of the channels it can take, in proportion to the work of those
channels it is qualified for (what a planner staffing silos would do), spreading each
team over the group's shifts.
"""

from __future__ import annotations

from collections import defaultdict

from ccroute.config import Agent, Config
from ccroute.simulation.scenario import LoadedScenario, agent_id
from ccroute.simulation.staff import main_channel
from ccroute.simulation.timeline import make_period
from ccroute.simulation.traffic import Stream, build_streams

TEAMS: dict[str, tuple[str, ...]] = {
    "phone": ("voice", "callback"),
    "chat": ("chat",),
    "written": ("email", "web_form", "social"),
}
_TEAM_OF = {ch: team for team, chans in TEAMS.items() for ch in chans}


def _qualified(a: Agent, st: Stream) -> bool:
    needs = dict(st.queue.skills)
    for k, v in st.traffic.skills.items():
        needs[k] = max(v, needs.get(k, 0))
    return (
        ("*" in a.tenants or st.tenant in a.tenants)
        and a.capacity.get(st.channel, 0) > 0  # type: ignore[call-overload]
        and all(a.skills.get(k, 0) >= v for k, v in needs.items())
    )


def _workload(st: Stream) -> float:
    """Agent-seconds of work the stream brings over the period (a proportion, not a plan)."""
    b = st.behaviour
    per_contact = b.handle_time.mean + (b.wrap_up.mean if st.queue.wrap_up_seconds else 0.0)
    concurrency = 2.0 if st.channel == "chat" else 1.0
    return sum(st.expected) * per_contact / concurrency


def silo_config(ld: LoadedScenario, config: Config, *, seed: int = 1) -> Config:
    """``config`` with every agent reduced to the channels of one team."""
    period = make_period(ld.info.start, min(ld.info.days, 7), ld.zone)
    streams = build_streams(ld, period, seed=seed)
    by_id = {a.id: a for a in config.agents}
    agents: list[Agent] = []
    for g in ld.scenario.agents:
        members = [by_id[agent_id(g, n)] for n in range(1, g.count + 1)]
        profile = members[0]
        teams = sorted({_TEAM_OF[c] for c, n in profile.capacity.items() if n > 0})
        if g.main_channel is not None or len(teams) <= 1:
            shares = {_TEAM_OF[main_channel(g, profile)]: 1.0}
        else:
            work: dict[str, float] = defaultdict(float)
            for st in streams:
                if _qualified(profile, st):
                    work[_TEAM_OF[st.channel]] += _workload(st)
            total = sum(work.values())
            shares = (
                {t: w / total for t, w in work.items() if w > 0}
                if total > 0
                else {_TEAM_OF[main_channel(g, profile)]: 1.0}
            )
        given: dict[str, int] = defaultdict(int)
        for i, a in enumerate(members):
            # The team furthest behind its share gets the next agent: teams interleave
            # along the group, so each gets its part of every shift.
            team = max(sorted(shares), key=lambda t: shares[t] * (i + 1) - given[t])
            given[team] += 1
            keep = {c: n for c, n in a.capacity.items() if _TEAM_OF[c] == team}
            agents.append(
                Agent(
                    id=a.id,
                    name=a.name,
                    skills=a.skills,
                    languages=a.languages,
                    tenants=a.tenants,
                    capacity=keep,
                    team=f"{a.team} ({team})" if a.team else team,
                    partner=a.partner,
                )
            )
    return Config(
        routing=config.routing, tenants=config.tenants, queues=config.queues, agents=agents
    )
