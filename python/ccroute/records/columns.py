"""The columns of the record tables: name, Arrow type, DuckDB type and where each value
comes from; and the conversion of rows to Arrow tables, column by column."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from ccroute.records.rows import ContactRecord

if TYPE_CHECKING:
    import pyarrow as pa

# A column: (name in the database, Arrow type name, DuckDB type, value from the struct).
Column = tuple[str, str, str, Callable[[Any], object]]


class _attr:  # lower case: it reads as the function it stands for
    """A column that is a field of the struct as it is (converted column-wise, fast)."""

    __slots__ = ("field",)

    def __init__(self, field: str) -> None:
        self.field = field

    def __call__(self, o: Any) -> object:
        return getattr(o, self.field)


CONTACT_SPEC: list[Column] = [
    ("tenant", "string", "VARCHAR NOT NULL", _attr("tenant")),
    ("contact", "string", "VARCHAR NOT NULL", _attr("contact")),
    ("queue", "string", "VARCHAR NOT NULL", _attr("queue")),
    ("channel", "string", "VARCHAR NOT NULL", _attr("channel")),
    ("language", "string", "VARCHAR", _attr("language")),
    ("priority", "int64", "BIGINT", _attr("priority")),
    ("customer", "string", "VARCHAR", _attr("customer")),
    ("page", "string", "VARCHAR", _attr("page")),
    (
        "attributes",
        "string",
        "VARCHAR",
        lambda r: json.dumps(r.attributes, sort_keys=True) if r.attributes else "{}",
    ),
    ("tags", "list", "VARCHAR[]", _attr("tags")),
    ("arrived_at", "ts", "TIMESTAMP NOT NULL", _attr("arrived_ms")),
    ("first_offer_at", "ts", "TIMESTAMP", _attr("first_offer_ms")),
    ("answered_at", "ts", "TIMESTAMP", _attr("answered_ms")),
    ("accepted_at", "ts", "TIMESTAMP", _attr("accepted_ms")),
    ("completed_at", "ts", "TIMESTAMP", _attr("completed_ms")),
    ("wrap_up_end_at", "ts", "TIMESTAMP", _attr("wrap_end_ms")),
    ("closed_at", "ts", "TIMESTAMP", _attr("closed_ms")),
    ("abandoned_at", "ts", "TIMESTAMP", _attr("abandoned_ms")),
    ("wait_ms", "int64", "BIGINT", _attr("wait_ms")),
    ("talk_ms", "int64", "BIGINT", _attr("talk_ms")),
    ("wrap_ms", "int64", "BIGINT", _attr("wrap_ms")),
    ("handle_ms", "int64", "BIGINT", _attr("handle_ms")),
    ("agent", "string", "VARCHAR", _attr("agent")),
    ("agent_team", "string", "VARCHAR", _attr("agent_team")),
    ("agent_partner", "string", "VARCHAR", _attr("agent_partner")),
    ("handled_by_partner", "bool", "BOOLEAN NOT NULL", lambda r: r.agent_partner is not None),
    ("wrap_up_code", "string", "VARCHAR", _attr("wrap_up_code")),
    ("resolved", "bool", "BOOLEAN", _attr("resolved")),
    ("offers", "int64", "BIGINT NOT NULL", _attr("offers")),
    ("offers_rejected", "int64", "BIGINT NOT NULL", _attr("offers_rejected")),
    ("offers_expired", "int64", "BIGINT NOT NULL", _attr("offers_expired")),
    ("offers_revoked", "int64", "BIGINT NOT NULL", _attr("offers_revoked")),
    ("interruptions", "int64", "BIGINT NOT NULL", _attr("interruptions")),
    ("step", "int64", "BIGINT NOT NULL", _attr("step")),
    ("overflow_ms", "int64", "BIGINT", _attr("overflow_ms")),
    ("overflow_reason", "string", "VARCHAR", _attr("overflow_reason")),
    ("transfers", "int64", "BIGINT NOT NULL", _attr("transfers")),
    ("handoff", "string", "VARCHAR", _attr("handoff")),
    ("callback_requested_at", "ts", "TIMESTAMP", _attr("callback_requested_ms")),
    ("callback_reason", "string", "VARCHAR", _attr("callback_reason")),
    ("callback_attempts", "int64", "BIGINT NOT NULL", lambda r: len(r.callback_dials)),
    (
        "callback_dials",
        "string",
        "VARCHAR",
        lambda r: msgspec.json.encode(r.callback_dials).decode(),
    ),
    ("moved_at", "ts", "TIMESTAMP", _attr("moved_ms")),
    ("moved_from", "string", "VARCHAR", _attr("moved_from")),
    ("move_reason", "string", "VARCHAR", _attr("move_reason")),
    ("moves", "int64", "BIGINT NOT NULL", _attr("moves")),
    ("ticket", "bool", "BOOLEAN NOT NULL", _attr("ticket")),
    ("closed_reason", "string", "VARCHAR", _attr("closed_reason")),
    ("announcement", "string", "VARCHAR", _attr("announcement")),
    ("survey_at", "ts", "TIMESTAMP", _attr("survey_ms")),
    ("csat", "int64", "BIGINT", _attr("csat")),
    ("nps", "int64", "BIGINT", _attr("nps")),
    ("ces", "int64", "BIGINT", _attr("ces")),
    ("solved", "bool", "BOOLEAN", _attr("solved")),
    ("outcome", "string", "VARCHAR NOT NULL", _attr("outcome")),
]

STATE_SPEC: list[Column] = [
    ("agent", "string", "VARCHAR NOT NULL", _attr("agent")),
    ("team", "string", "VARCHAR", _attr("team")),
    ("partner", "string", "VARCHAR", _attr("partner")),
    ("state", "string", "VARCHAR NOT NULL", _attr("state")),
    ("reason", "string", "VARCHAR", _attr("reason")),
    ("set_by", "string", "VARCHAR NOT NULL", _attr("by")),
    ("start_at", "ts", "TIMESTAMP NOT NULL", _attr("start_ms")),
    ("end_at", "ts", "TIMESTAMP", _attr("end_ms")),
]

WORK_SPEC: list[Column] = [
    ("agent", "string", "VARCHAR NOT NULL", _attr("agent")),
    ("team", "string", "VARCHAR", _attr("team")),
    ("partner", "string", "VARCHAR", _attr("partner")),
    ("tenant", "string", "VARCHAR NOT NULL", _attr("tenant")),
    ("contact", "string", "VARCHAR NOT NULL", _attr("contact")),
    ("queue", "string", "VARCHAR NOT NULL", _attr("queue")),
    ("channel", "string", "VARCHAR NOT NULL", _attr("channel")),
    ("start_at", "ts", "TIMESTAMP NOT NULL", _attr("start_ms")),
    ("talk_end_at", "ts", "TIMESTAMP", _attr("talk_end_ms")),
    ("end_at", "ts", "TIMESTAMP", _attr("end_ms")),
]

#: Column names of the ``contacts`` table, in order.
CONTACT_COLUMNS: tuple[str, ...] = tuple(c[0] for c in CONTACT_SPEC)
#: Column names of the ``agent_states`` table, in order.
AGENT_STATE_COLUMNS: tuple[str, ...] = tuple(c[0] for c in STATE_SPEC)
#: Column names of the ``agent_work`` table, in order.
AGENT_WORK_COLUMNS: tuple[str, ...] = tuple(c[0] for c in WORK_SPEC)

DDL = {
    "contacts": CONTACT_SPEC,
    "agent_states": STATE_SPEC,
    "agent_work": WORK_SPEC,
}


def _arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
        "list": pa.list_(pa.string()),
        "ts": pa.timestamp("ms"),
    }[kind]


def to_arrow(columns: list[Column], rows: Sequence[object]) -> pa.Table:
    import pyarrow as pa

    # A month's commit converts tens of thousands of rows: take every field of each struct
    # in one call and hand whole columns to Arrow, calling Python per row only for the
    # computed columns.
    kinds = {type(r) for r in rows}
    index: dict[str, int] = {}
    values: list[tuple[object, ...]] = []
    if len(kinds) == 1:
        (kind_of_rows,) = kinds
        fields = kind_of_rows.__struct_fields__  # type: ignore[attr-defined]
        index = {f: i for i, f in enumerate(fields)}
        values = list(zip(*map(operator.attrgetter(*fields), rows), strict=True))
    arrays = []
    for _, kind, _, get in columns:
        at = index.get(get.field) if isinstance(get, _attr) else None
        column = values[at] if at is not None else [get(r) for r in rows]
        arrays.append(pa.array(column, type=_arrow_type(kind)))
    return pa.Table.from_arrays(arrays, names=[c[0] for c in columns])


def contacts_to_arrow(records: Sequence[ContactRecord]) -> pa.Table:
    """Contact records as an Arrow table with the ``contacts`` columns (times UTC, naive)."""
    return to_arrow(CONTACT_SPEC, records)
