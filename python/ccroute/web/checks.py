"""Inputs checked against the configuration before they enter the log.

The engine would reject an input naming an unknown tenant, queue or agent with an
``input_rejected`` decision, after it is stored for ever in the log. A contact source
talking HTTP gets the answer at once instead, and nothing is stored: a 422 naming the
field. Agents created at run time (``agent_profile_changed``) are known once their
projection exists.
"""

from __future__ import annotations

from collections.abc import Callable

from ccroute.config import Config
from ccroute.events import (
    AgentProfileChanged,
    ClockTick,
    ContactArrived,
    ContactTransferred,
    Input,
    QueueEmergency,
)
from ccroute.web.problems import ProblemError

__all__ = ["InputChecker"]


class InputChecker:
    """Answers "would the configuration know what this input names?"."""

    def __init__(self, config: Config, agent_exists: Callable[[str], bool]) -> None:
        self.tenants = {t.id for t in config.tenants}
        self.queues = {(q.tenant, q.id): frozenset(q.channels) for q in config.queues}
        self._agent_exists = agent_exists

    def tenant(self, tenant: str, field: str = "$.tenant") -> None:
        if tenant not in self.tenants:
            raise ProblemError(422, "unknown_tenant", f"no tenant {tenant!r}", field)

    def queue(self, tenant: str, queue: str, field: str = "$.queue") -> frozenset[str]:
        channels = self.queues.get((tenant, queue))
        if channels is None:
            raise ProblemError(
                422, "unknown_queue", f"tenant {tenant!r} has no queue {queue!r}", field
            )
        return channels

    def agent(self, agent: str, field: str = "$.agent") -> None:
        if not self._agent_exists(agent):
            raise ProblemError(422, "unknown_agent", f"no agent {agent!r}", field)

    def check(self, event: Input) -> None:
        """Raise a :class:`ProblemError` (422) for anything the configuration lacks."""
        if isinstance(event, ClockTick):
            raise ProblemError(
                403, "forbidden", "clock ticks come from the service's own clock", "$.type"
            )
        tenant = getattr(event, "tenant", None)
        if tenant is not None:
            self.tenant(tenant)
        agent = getattr(event, "agent", None)
        if agent is not None and not isinstance(event, AgentProfileChanged):
            self.agent(agent)
        if isinstance(event, ContactArrived):
            channels = self.queue(event.tenant, event.queue)
            if event.channel not in channels:
                raise ProblemError(
                    422,
                    "unknown_channel",
                    f"queue {event.queue!r} takes {', '.join(sorted(channels))}, "
                    f"not {event.channel!r}",
                    "$.channel",
                )
        elif isinstance(event, ContactTransferred):
            given = [x for x in (event.to_queue, event.to_agent, event.handoff) if x]
            if len(given) != 1:
                raise ProblemError(
                    422, "malformed", "give exactly one of to_queue, to_agent, handoff", "$"
                )
            if event.to_queue:
                self.queue(event.tenant, event.to_queue, "$.to_queue")
            if event.to_agent:
                self.agent(event.to_agent, "$.to_agent")
        elif isinstance(event, QueueEmergency):
            self.queue(event.tenant, event.queue)
            if event.to_queue:
                self.queue(event.tenant, event.to_queue, "$.to_queue")
