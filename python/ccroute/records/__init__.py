"""The contact-record projection: one row per contact, one row per agent presence interval.

The flow, one module per step:

1. :mod:`~ccroute.records.fold` -- :class:`ContactRecorder` is fed every input together
   with the decisions it caused, in log order (the same feed the live service, the
   recorder and the simulator have), and keeps the rows of
2. :mod:`~ccroute.records.rows` -- one :class:`ContactRecord` per contact (tenant, contact
   id): every timestamp from arrival to close, the waits and handle times, the answering
   agent, tags, wrap-up code and the customer's survey answer; one
   :class:`AgentActivity` per agent presence interval (available, paused with a reason,
   not responding, offline);
3. :mod:`~ccroute.records.work` -- the item-level busy intervals (:class:`AgentWork`),
   derived from the records, one per time an agent held a contact;
4. :mod:`~ccroute.records.columns` -- the table columns and the conversion of rows to
   Arrow, column by column;
5. :mod:`~ccroute.records.database` -- the DuckDB file: :meth:`ContactRecorder.write_duckdb`
   stores the tables ``contacts``, ``agent_states``, ``agent_work`` and ``meta``
   (configuration snapshot); :func:`load_records` and friends read them back.

The live recorder keeps such a file up to date as it follows the log
(:mod:`ccroute.record_store`). All times are UTC milliseconds. :mod:`ccroute.metrics` and
:mod:`ccroute.reports` read the tables; column meanings: ``docs/reports.md``.
"""

from ccroute.records.columns import (
    AGENT_STATE_COLUMNS,
    AGENT_WORK_COLUMNS,
    CONTACT_COLUMNS,
    contacts_to_arrow,
)
from ccroute.records.database import (
    DB_FORMAT_VERSION,
    load_agent_activity,
    load_meta,
    load_records,
)
from ccroute.records.fold import ContactRecorder
from ccroute.records.rows import AgentActivity, AgentWork, CallbackDial, ContactRecord, Outcome
from ccroute.records.work import busy_spans, work_items

__all__ = [
    "AGENT_STATE_COLUMNS",
    "AGENT_WORK_COLUMNS",
    "CONTACT_COLUMNS",
    "DB_FORMAT_VERSION",
    "AgentActivity",
    "AgentWork",
    "CallbackDial",
    "ContactRecord",
    "ContactRecorder",
    "Outcome",
    "busy_spans",
    "contacts_to_arrow",
    "load_agent_activity",
    "load_meta",
    "load_records",
    "work_items",
]
