"""Names on the bus: subjects, streams, buckets and keys of one routing domain.

Every subject starts ``ccroute.<domain>.`` and carries the tenant as its own token, so a
tenant's systems can be granted ``ccroute.<domain>.in.<tenant>.>`` and
``ccroute.<domain>.out.<tenant>.>`` and see nothing of other tenants:

==========================================================  ================================
``ccroute.<domain>.in.<tenant>.<type>``                     tenant inputs (contact events)
``ccroute.<domain>.in._agents.<agent>.<type>``              an agent desktop's inputs
``ccroute.<domain>.in._agents.<type>``                      agent inputs, before v2 (router
                                                            and admin only)
``ccroute.<domain>.in._clock``                              clock ticks
``ccroute.<domain>.out.<tenant>.<type>.<agent>``            tenant decisions
``ccroute.<domain>.out._agents.<type>.<agent>``             decisions without a tenant
``ccroute.<domain>.dlq.<tenant>.<reason>``                  dead letters, under the tenant
                                                            token of their input's subject
``ccroute.<domain>.api.<operation>``                        request/reply surface
``ccroute.<domain>.entry.<tenant>.<type>``                  tenant wall: where a tenant's
                                                            ``in.<tenant>.<type>`` lands in
                                                            the router's account (its import
                                                            maps it); its entry stream
``ccroute.<domain>.entry._agents.<agent>.<type>``           the same for desktops
==========================================================  ================================

An agent desktop publishes every input it makes (log-in, states, accepting, completing)
on its agent's own subject, which its credential alone may publish to; the service
checks the subject's agent is the input's ``agent`` (else a ``subject_mismatch`` dead
letter), so one desktop's credential cannot act for another agent.

The last token of a decision subject is the agent it concerns (``_`` when none), so an
agent desktop subscribes to ``ccroute.<domain>.out.*.offer_made.<agent>`` only.

Ids are free text but subject tokens and KV keys are not, so every id is written as a
*token*: ASCII letters, digits, ``-`` and ``_`` stay as they are, anything else (and a
leading ``_``, which marks the service's own tokens) becomes ``=XX`` per UTF-8 byte.
The encoding is reversible (:func:`decode_token`) and valid both in subjects and KV keys.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "AGENTS_TOKEN",
    "AGENT_PROFILE_TYPE",
    "CLOCK_TOKEN",
    "NO_AGENT_TOKEN",
    "UNKNOWN_TENANT_TOKEN",
    "Names",
    "decode_token",
    "encode_token",
]

AGENTS_TOKEN = "_agents"
"""The tenant token of inputs and decisions that belong to no tenant (agent events)."""
CLOCK_TOKEN = "_clock"
AGENT_PROFILE_TYPE = "agent_profile_changed"
"""The one agent input an agent desktop may not make: its tenants, skills and capacities
are the provider's to set (its credential is denied that subject, the API refuses it)."""
NO_AGENT_TOKEN = "_"
UNKNOWN_TENANT_TOKEN = "_unknown"
"""The tenant token of a dead letter whose input named no tenant one could read."""

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_DOMAIN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ESCAPE_RE = re.compile(r"=([0-9A-F]{2})")


@lru_cache(maxsize=65536)
def encode_token(value: str) -> str:
    """An id as one subject token / KV key segment (reversible, see module doc)."""
    if value and value[0] != "_" and all(ch in _SAFE for ch in value):
        return value
    out: list[str] = []
    for i, ch in enumerate(value):
        if ch in _SAFE and not (i == 0 and ch == "_"):
            out.append(ch)
        else:
            out.extend(f"={b:02X}" for b in ch.encode())
    return "".join(out) if out else "="  # the empty id: "=" is no escape, so it is unique


def decode_token(token: str) -> str:
    """The id a token was made from (inverse of :func:`encode_token`)."""
    if "=" not in token:
        return token
    if token == "=":
        return ""
    raw = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "=":
            raw.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(token[i].encode())
            i += 1
    return raw.decode()


class Names:
    """All names of one routing domain (``ccroute serve --domain``)."""

    __slots__ = (
        "agent_entry_stream",
        "api_prefix",
        "deadletter_stream",
        "decision_stream",
        "domain",
        "entry_prefix",
        "in_prefix",
        "input_consumer",
        "input_stream",
        "kv_bucket",
        "lease_bucket",
        "out_prefix",
        "prefix",
        "snapshot_bucket",
    )

    def __init__(self, domain: str = "default") -> None:
        if not _DOMAIN_RE.match(domain):
            raise ValueError(
                f"routing domain {domain!r}: use 1-64 letters, digits, '-' or '_' "
                "(it is part of subject, stream and bucket names)"
            )
        self.domain = domain
        self.prefix = f"ccroute.{domain}"
        self.in_prefix = f"{self.prefix}.in."
        self.out_prefix = f"{self.prefix}.out."
        self.api_prefix = f"{self.prefix}.api."
        self.entry_prefix = f"{self.prefix}.entry."
        # Stream and bucket names allow no dots; upper-case streams as NATS custom has it.
        up = domain.upper().replace("-", "_")
        self.input_stream = f"CCROUTE_{up}_IN"
        # Under the tenant wall the inputs of tenant and desktop accounts land in entry
        # streams (one per tenant, one for the desktops) that the log sources: see
        # service.assets and service.accounts.
        self.agent_entry_stream = f"CCROUTE_{up}_IN_AGENTS"
        self.decision_stream = f"CCROUTE_{up}_OUT"
        self.deadletter_stream = f"CCROUTE_{up}_DLQ"
        self.input_consumer = "ccroute-router"
        self.kv_bucket = f"ccroute_{domain}"
        self.lease_bucket = f"ccroute_{domain}_lease"
        self.snapshot_bucket = f"ccroute_{domain}_snapshots"

    # ------------------------------------------------------------------ subjects

    @property
    def input_wildcard(self) -> str:
        return f"{self.prefix}.in.>"

    def entry_of(self, input_wildcard: str) -> str:
        """Under the tenant wall: the router-account subject an account's import of
        ``in.<...>`` maps to (``entry.<...>``), captured by an entry stream; the log
        sources it back as ``in.<...>``."""
        assert input_wildcard.startswith(self.in_prefix), input_wildcard
        return self.entry_prefix + input_wildcard[len(self.in_prefix) :]

    @property
    def agent_inputs_wildcard(self) -> str:
        """Every agent desktop's inputs (the agents' entry stream sources them)."""
        return f"{self.in_prefix}{AGENTS_TOKEN}.>"

    def tenant_entry_stream(self, tenant: str) -> str:
        """The stream a tenant's inputs land in under the tenant wall (sourced by the log):
        its duplicate window and expected-last checks answer about this tenant only."""
        return f"{self.input_stream}_T_{encode_token(tenant)}"

    @property
    def decision_wildcard(self) -> str:
        return f"{self.prefix}.out.>"

    @property
    def deadletter_wildcard(self) -> str:
        return f"{self.prefix}.dlq.>"

    @property
    def clock_subject(self) -> str:
        return f"{self.prefix}.in.{CLOCK_TOKEN}"

    def input_subject(self, type_: str, tenant: str | None) -> str:
        """Where an input of ``type_`` is published (``tenant`` None: agent event)."""
        if type_ == "clock_tick":
            return self.clock_subject
        t = AGENTS_TOKEN if tenant is None else encode_token(tenant)
        return f"{self.in_prefix}{t}.{type_}"

    def agent_input_subject(self, type_: str, agent: str) -> str:
        """Where an agent desktop publishes an input of ``type_`` it makes as ``agent``."""
        return f"{self.in_prefix}{AGENTS_TOKEN}.{encode_token(agent)}.{type_}"

    def agent_inputs(self, agent: str) -> str:
        """The wildcard an agent desktop may publish to (its own inputs only)."""
        return f"{self.in_prefix}{AGENTS_TOKEN}.{encode_token(agent)}.*"

    def tenant_inputs(self, tenant: str) -> str:
        """The wildcard of one tenant's inputs (its systems' publish permission)."""
        return f"{self.in_prefix}{encode_token(tenant)}.>"

    def decision_subject(self, type_: str, tenant: str | None, agent: str | None) -> str:
        """Where a decision is published: tenant, decision type and the agent concerned."""
        t = AGENTS_TOKEN if tenant is None else encode_token(tenant)
        a = NO_AGENT_TOKEN if agent is None else encode_token(agent)
        return f"{self.out_prefix}{t}.{type_}.{a}"

    def tenant_decisions(self, tenant: str) -> str:
        """The wildcard of one tenant's decisions (its consumers' permission)."""
        return f"{self.out_prefix}{encode_token(tenant)}.>"

    def agent_offers(self, agent: str) -> str:
        """The wildcard of the offers made to one agent, whatever the tenant."""
        return f"{self.out_prefix}*.offer_made.{encode_token(agent)}"

    def agent_decisions(self, agent: str) -> str:
        """Every decision concerning one agent (offers, expiries, revocations, state)."""
        return f"{self.out_prefix}*.*.{encode_token(agent)}"

    def deadletter_subject(self, reason: str, tenant_token: str | None = None) -> str:
        """Where a dead letter goes: under a tenant *token* (as in the input's subject:
        already encoded, or ``_agents``), then the reason; None is ``_unknown``."""
        t = tenant_token or UNKNOWN_TENANT_TOKEN
        return f"{self.prefix}.dlq.{t}.{encode_token(reason)}"

    def tenant_deadletters(self, tenant: str) -> str:
        """The wildcard of one tenant's dead letters."""
        return f"{self.prefix}.dlq.{encode_token(tenant)}.>"

    def api_subject(self, operation: str) -> str:
        return f"{self.api_prefix}{operation}"

    # ---------------------------------------------------------------- message ids

    def decision_msg_id(self, input_seq: int, n: int) -> str:
        """``Nats-Msg-Id`` of the n-th decision (from 0) of the input at ``input_seq``.

        Derived from the log position, so a decision re-made during replay carries the
        same id and the decision stream's duplicate window drops it.
        """
        return f"{self.domain}:{input_seq}:{n}"

    @staticmethod
    def parse_decision_msg_id(msg_id: str) -> tuple[int, int] | None:
        """(input sequence, index) from a decision's ``Nats-Msg-Id``; None if not ours."""
        parts = msg_id.rsplit(":", 2)
        if len(parts) != 3:
            return None
        try:
            return int(parts[1]), int(parts[2])
        except ValueError:
            return None

    def deadletter_msg_id(self, input_seq: int) -> str:
        return f"{self.domain}:dlq:{input_seq}"

    # ---------------------------------------------------------------------- keys

    @staticmethod
    def agent_key(agent: str) -> str:
        return f"agent.{encode_token(agent)}"

    @staticmethod
    def queue_key(tenant: str, queue: str) -> str:
        return f"queue.{encode_token(tenant)}.{encode_token(queue)}"

    @staticmethod
    def tenant_key(tenant: str) -> str:
        """The tenant's figures for its current day (in the tenant's time zone)."""
        return f"tenant.{encode_token(tenant)}.today"

    @staticmethod
    def tenant_day_key(tenant: str, date: str) -> str:
        """The tenant's figures for one day, kept after the day ends (``YYYY-MM-DD``)."""
        return f"tenant.{encode_token(tenant)}.day.{date}"

    LEASE_KEY = "writer"
    """The KV key of the writer lease (see :mod:`ccroute.service.lease`)."""
