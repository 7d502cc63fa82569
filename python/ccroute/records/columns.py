"""The columns of the record tables: name, Arrow type, DuckDB type and where each value
comes from; and the conversion of rows to Arrow tables, column by column."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from ccroute.records.rows import ContactRecord
from ccroute.records.work import work_rows

if TYPE_CHECKING:
    import pyarrow as pa

# A column: (name in the database, Arrow type name, DuckDB type, values from the rows):
# a field of the struct as it is (_attr), or computed for all rows at once (a function of
# the list of rows: a comprehension costs less than a call per row).
Column = tuple[str, str, str, "_attr | Callable[[Sequence[Any]], list[object]]"]


class _attr:  # lower case: it reads as the function it stands for
    """A column that is a field of the struct as it is (converted column-wise, fast)."""

    __slots__ = ("field",)

    def __init__(self, field: str) -> None:
        self.field = field


_dials = operator.attrgetter("callback_dials")
_encode = msgspec.json.Encoder().encode


def _attributes_json(rows: Sequence[Any]) -> list[object]:
    return [json.dumps(a, sort_keys=True) if a else "{}" for a in map(_attrs, rows)]


_attrs = operator.attrgetter("attributes")


def _partner_handled(rows: Sequence[Any]) -> list[object]:
    return [r.agent_partner is not None for r in rows]


def _dial_count(rows: Sequence[Any]) -> list[object]:
    return list(map(len, map(_dials, rows)))


def _dials_json(rows: Sequence[Any]) -> list[object]:
    return [_encode(d).decode() if d else "[]" for d in map(_dials, rows)]


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
        _attributes_json,
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
    ("handled_by_partner", "bool", "BOOLEAN NOT NULL", _partner_handled),
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
    ("callback_attempts", "int64", "BIGINT NOT NULL", _dial_count),
    (
        "callback_dials",
        "string",
        "VARCHAR",
        _dials_json,
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
    """Rows (structs of one type) as an Arrow table with these columns."""
    import pyarrow as pa

    # The recorder converts every changed contact at each commit (tens of thousands while
    # catching up), so this is measured: each row is read once, its plain fields taken in
    # one call as a tuple and the tuples handed to Arrow as one struct array, split into
    # columns in C++; the computed columns are one comprehension each. (Taking the fields
    # column by column reads every row once per column: half again as slow.)
    plain = [(i, get.field) for i, (_, _, _, get) in enumerate(columns) if isinstance(get, _attr)]
    take = operator.attrgetter(*(field for _, field in plain))
    fields = _tuples_to_arrays([columns[i] for i, _ in plain], list(map(take, rows)))
    arrays: list[pa.Array | None] = [None] * len(columns)
    for (i, _), array in zip(plain, fields, strict=True):
        arrays[i] = array
    for i, (_, kind, _, get) in enumerate(columns):
        if arrays[i] is None:
            assert not isinstance(get, _attr)
            arrays[i] = pa.array(get(rows), type=_arrow_type(kind))
    return pa.Table.from_arrays(arrays, names=[c[0] for c in columns])


def _tuples_to_arrays(columns: list[Column], rows: list[tuple[Any, ...]]) -> list[pa.Array]:
    """Tuples holding the values of these columns, in order, as one Arrow array each."""
    import pyarrow as pa

    struct = pa.struct([(name, _arrow_type(kind)) for name, kind, _, _ in columns])
    arrays: list[pa.Array] = pa.array(rows, type=struct).flatten()
    return arrays


def work_to_arrow(
    records: Sequence[ContactRecord], agent_info: dict[str, tuple[str, str | None]]
) -> pa.Table:
    """The ``agent_work`` rows of these records as an Arrow table (no row objects made)."""
    import pyarrow as pa

    arrays = _tuples_to_arrays(WORK_SPEC, list(work_rows(records, agent_info)))
    return pa.Table.from_arrays(arrays, names=[c[0] for c in WORK_SPEC])


def contacts_to_arrow(records: Sequence[ContactRecord]) -> pa.Table:
    """Contact records as an Arrow table with the ``contacts`` columns (times UTC, naive)."""
    return to_arrow(CONTACT_SPEC, records)
