"""Item-level busy intervals: when an agent held a contact, derived from its record."""

from __future__ import annotations

from collections.abc import Iterable

from ccroute.records.rows import AgentWork, ContactRecord


def busy_spans(r: ContactRecord) -> list[tuple[str, int, int | None, int | None]]:
    """(agent, accepted, talk ended, let go) of every time an agent held the contact: each
    failed callback dial, then the current (or last) holder; ``None`` while it lasts."""
    out: list[tuple[str, int, int | None, int | None]] = [
        (d.agent, d.accepted_ms, d.ms, d.ms) for d in r.callback_dials if d.outcome != "reached"
    ]
    start = r.accepted_ms
    if start is None and not r.callback_dials:
        # Records made before ``accepted_ms`` existed: the one acceptance is the answer.
        start = r.answered_ms
    if r.agent is not None and start is not None:
        out.append((r.agent, start, r.completed_ms, r.closed_ms))
    return out


def work_items(
    records: Iterable[ContactRecord], agent_info: dict[str, tuple[str, str | None]] | None = None
) -> list[AgentWork]:
    """The busy interval of every answered contact (acceptance to close)."""
    info = agent_info or {}
    out = []
    for r in records:
        for agent, start, talk_end, end in busy_spans(r):
            team, partner = info.get(agent, (r.agent_team or "", r.agent_partner))
            out.append(
                AgentWork(
                    agent=agent,
                    tenant=r.tenant,
                    contact=r.contact,
                    queue=r.queue,
                    channel=r.channel,
                    start_ms=start,
                    talk_end_ms=talk_end,
                    end_ms=end,
                    team=team,
                    partner=partner,
                )
            )
    out.sort(key=lambda w: (w.start_ms, w.agent))
    return out
