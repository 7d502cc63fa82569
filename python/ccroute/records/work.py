"""Item-level busy intervals: when an agent held a contact, derived from its record."""

from __future__ import annotations

import operator
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


WorkRow = tuple[str, str, str | None, str, str, str, str, int, int | None, int | None]
"""(agent, team, partner, tenant, contact, queue, channel, start, talk end, end): the
``agent_work`` columns in order."""


def work_rows(
    records: Iterable[ContactRecord], agent_info: dict[str, tuple[str, str | None]] | None = None
) -> list[WorkRow]:
    """The busy interval of every answered contact (acceptance to close), as plain rows in
    time order (by start, then agent): what the recorder converts at each commit."""
    info = agent_info or {}
    out: list[WorkRow] = []
    for r in records:
        if r.agent is None and not r.callback_dials:
            continue  # never held by an agent: no busy span
        for agent, start, talk_end, end in busy_spans(r):
            team, partner = info.get(agent, (r.agent_team or "", r.agent_partner))
            out.append(
                (agent, team, partner, r.tenant, r.contact, r.queue, r.channel)  # noqa: RUF005
                + (start, talk_end, end)
            )
    out.sort(key=_start_then_agent)
    return out


_start_then_agent = operator.itemgetter(7, 0)


def work_items(
    records: Iterable[ContactRecord], agent_info: dict[str, tuple[str, str | None]] | None = None
) -> list[AgentWork]:
    """The busy interval of every answered contact (acceptance to close)."""
    return [
        AgentWork(
            agent=agent,
            team=team,
            partner=partner,
            tenant=tenant,
            contact=contact,
            queue=queue,
            channel=channel,  # type: ignore[arg-type]  # a record's channel, as it was
            start_ms=start,
            talk_end_ms=talk_end,
            end_ms=end,
        )
        for agent, team, partner, tenant, contact, queue, channel, start, talk_end, end in (
            work_rows(records, agent_info)
        )
    ]
