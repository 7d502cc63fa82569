"""The contact-record database kept up to date as the log is followed.

:class:`RecordStore` writes what a :class:`~ccroute.records.ContactRecorder` changed since
the last commit -- the contact rows, their ``agent_work`` rows and the agents' presence
intervals -- together with the log position they cover, in **one DuckDB transaction**. A
crash at any point leaves either the old rows with the old position or the new rows with
the new position, so a recorder resuming from the stored position never writes a contact
twice and never misses one. The tables and columns are those of
:meth:`ContactRecorder.write_duckdb` (``docs/reports.md``): a report or export reads a live
database exactly as it reads a simulated one.

How rows change:

- ``contacts`` and ``agent_work``: the rows of each changed contact are replaced (a record
  changes over the contact's life: offered, answered, closed, surveyed);
- ``agent_states``: an agent's presence intervals only grow, and only the last one is open
  (``end_at`` NULL); the open row is replaced, closed rows are written once.

Readers and the single writer: DuckDB lets one process open a file for writing and none
other open it meanwhile, not even read-only. The store therefore opens the file for each
commit and closes it at once (a commit every ``flush_seconds``, see
:mod:`ccroute.service.recorder`); a reader (``ccroute report``, ``export``) opens it
read-only between two commits -- :func:`ccroute.reports._db.open_db` retries while a
commit holds the file -- and a commit that finds a reader holding it is retried at the
next flush, rows kept in memory meanwhile (the position does not move).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ccroute.config import Config
from ccroute.events import Input
from ccroute.records import (
    DB_FORMAT_VERSION,
    ContactRecorder,
    contacts_to_arrow,
    load_agent_activity,
    load_records,
)
from ccroute.records.columns import DDL, STATE_SPEC, to_arrow, work_to_arrow

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "OfflineRecords",
    "PendingCommit",
    "Position",
    "RecordStore",
    "StoreBusy",
    "StoreMismatch",
    "records_from_log",
]


class StoreBusy(RuntimeError):
    """The database file is held by another process (a reader): try again later."""


class StoreMismatch(RuntimeError):
    """The database holds another routing domain's records (or is not a record database)."""


@dataclass(frozen=True, slots=True)
class Position:
    """How far the stored rows cover the log: the last stream sequence folded of each
    stream (0: nothing yet)."""

    input_seq: int = 0
    decision_seq: int = 0
    deadletter_seq: int = 0


_POSITION_KEYS = {
    "input_seq": "recorder_input_seq",
    "decision_seq": "recorder_decision_seq",
    "deadletter_seq": "recorder_deadletter_seq",
}


@dataclass(frozen=True, slots=True)
class PendingCommit:
    """Rows and position ready to be stored (:meth:`RecordStore.prepare`)."""

    keys: pa.Table
    """(tenant, contact) of the contacts whose rows are replaced."""
    agents: pa.Table
    """Agents whose open presence row is replaced."""
    tables: dict[str, pa.Table]
    meta: dict[str, str]
    final: dict[str, int]
    position: Position


class RecordStore:
    """One contact-record database written by one recorder (see the module docs)."""

    def __init__(self, path: str | Path, config: Config, *, domain: str) -> None:
        self.path = Path(path)
        self.config = config
        self.domain = domain
        self._final: dict[str, int] = {}
        """Per agent: how many of its presence intervals are stored closed (final)."""
        self.commits = 0
        self.commit_seconds = 0.0

    # ------------------------------------------------------------------ opening

    def _connect(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        try:
            return duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreBusy(f"{self.path}: held by another process ({exc})") from None
            raise

    def load(self) -> tuple[ContactRecorder, Position]:
        """The recorder and position to continue from (a fresh one for a new file).

        Creates the tables of a new file; refuses a file of another routing domain.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._connect()
        try:
            con.begin()
            for name, columns in DDL.items():
                cols = ", ".join(f"{n} {ddl}" for n, _, ddl, _ in columns)
                con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
            con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            stored_domain = meta.get("recorder_domain")
            if stored_domain is None and meta.get("format_version") is not None:
                raise StoreMismatch(
                    f"{self.path}: written by a simulation or a replay, not by a recorder: "
                    "give the recorder its own file"
                )
            if stored_domain is not None and stored_domain != self.domain:
                raise StoreMismatch(
                    f"{self.path}: holds the records of domain {stored_domain!r}, "
                    f"not {self.domain!r}"
                )
            position = Position(**{f: int(meta.get(k, "0")) for f, k in _POSITION_KEYS.items()})
            clock = int(meta.get("as_of_ms", "0"))
            # The configuration the service runs now describes agents and queues from now
            # on; the stored rows keep what they were written with.
            fresh = {
                "format_version": str(DB_FORMAT_VERSION),
                "config": msgspec.json.encode(self.config).decode(),
                "recorder_domain": self.domain,
                "as_of_ms": str(clock),
            }
            for k, v in fresh.items():
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])
            con.commit()
            records = load_records(con, None)
            activity = con.execute("SELECT count(*) FROM agent_states").fetchone()
            acts = load_agent_activity(con) if activity and activity[0] else []
        finally:
            con.close()
        # Equal start times: the closed interval (ended at once) before the one still open.
        acts.sort(key=lambda a: (a.agent, a.start_ms, a.end_ms is None, a.end_ms or 0))
        self._final = {}
        for a in acts:
            if a.end_ms is not None:
                self._final[a.agent] = self._final.get(a.agent, 0) + 1
        return ContactRecorder.restore(self.config, records, acts, clock), position

    # ------------------------------------------------------------------ writing

    def prepare(
        self,
        recorder: ContactRecorder,
        contacts: set[tuple[str, str]],
        agents: set[str],
        position: Position,
    ) -> PendingCommit:
        """The rows of the changed contacts and agents as they are now, with the position
        (taken between two folds, so rows and position agree); :meth:`write` stores them.

        Converting is the part that needs the recorder; writing needs only this, so the
        recorder may go on folding while a thread writes.
        """
        import pyarrow as pa

        records = [r for k in contacts if (r := recorder.get(*k)) is not None]
        keys = pa.table(
            {
                "tenant": pa.array([r.tenant for r in records], pa.string()),
                "contact": pa.array([r.contact for r in records], pa.string()),
            }
        )
        info = {a.id: (a.team, a.partner) for a in recorder.config.agents}
        new_states = []
        final: dict[str, int] = {}
        for agent in agents:
            acts = recorder.agent_activity(agent)
            new_states.extend(acts[self._final.get(agent, 0) :])
            final[agent] = len(acts) - (1 if acts and acts[-1].end_ms is None else 0)
        return PendingCommit(
            keys=keys,
            agents=pa.table({"agent": pa.array(sorted(agents), pa.string())}),
            tables={
                "contacts": contacts_to_arrow(records),
                "agent_work": work_to_arrow(records, info),
                "agent_states": to_arrow(STATE_SPEC, new_states),
            },
            meta={
                "as_of_ms": str(recorder.clock_ms),
                **{k: str(getattr(position, f)) for f, k in _POSITION_KEYS.items()},
            },
            final=final,
            position=position,
        )

    def write(self, batch: PendingCommit) -> None:
        """Store a prepared batch in one transaction (safe to call from a thread).

        Raises :class:`StoreBusy` (nothing written) while a reader holds the file.
        """
        t0 = time.perf_counter()
        con = self._connect()
        try:
            con.begin()
            con.register("_ccroute_keys", batch.keys)
            con.register("_ccroute_agents", batch.agents)
            for table in ("contacts", "agent_work"):
                con.execute(
                    f"DELETE FROM {table} USING _ccroute_keys k "
                    f"WHERE {table}.tenant = k.tenant AND {table}.contact = k.contact"
                )
            con.execute(
                "DELETE FROM agent_states USING _ccroute_agents g "
                "WHERE agent_states.agent = g.agent AND agent_states.end_at IS NULL"
            )
            for name, table in batch.tables.items():
                if table.num_rows:
                    con.register("_ccroute_src", table)
                    con.execute(f"INSERT INTO {name} SELECT * FROM _ccroute_src")
                    con.unregister("_ccroute_src")
            for k, v in batch.meta.items():
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])
            con.commit()
        finally:
            con.close()
        self._final.update(batch.final)
        self.commits += 1
        self.commit_seconds += time.perf_counter() - t0

    def commit(
        self,
        recorder: ContactRecorder,
        contacts: set[tuple[str, str]],
        agents: set[str],
        position: Position,
    ) -> None:
        """:meth:`prepare` and :meth:`write` in one go."""
        self.write(self.prepare(recorder, contacts, agents, position))

    def position(self) -> Position:
        """The stored position (reads the file)."""
        con = self._connect()
        try:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        finally:
            con.close()
        return Position(**{f: int(meta.get(k, "0")) for f, k in _POSITION_KEYS.items()})


class OfflineRecords:
    """The records of an input log replayed offline through a fresh engine, fed in chunks
    of JSON lines (``ccroute replay --stats``, :func:`records_from_log`).

    The same :class:`ContactRecorder` fold as the simulator's and the live recorder's, so
    for the same log all three write the same rows. A line that does not decode is
    skipped: the engine rejects it before its clock moves, so it changes no record.
    """

    def __init__(self, config: Config, *, chunk: int = 5000) -> None:
        from ccroute.engine import Engine

        self.engine = Engine(config)
        self.recorder = ContactRecorder(config)
        self._chunk = chunk
        self.skipped = 0

    def feed(self, lines: Iterable[bytes]) -> None:
        """Apply these input lines (blank lines are ignored)."""
        from ccroute.events import decode_input

        batch: list[Input] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                batch.append(decode_input(line))
            except (msgspec.DecodeError, msgspec.ValidationError):
                self.skipped += 1
                continue
            if len(batch) >= self._chunk:
                self._apply(batch)
                batch = []
        self._apply(batch)

    def _apply(self, batch: list[Input]) -> None:
        if batch:
            for inp, ds in zip(batch, self.engine.apply_batch_grouped(batch), strict=True):
                self.recorder.observe(inp, ds)


def records_from_log(config: Config, lines: Iterable[bytes]) -> ContactRecorder:
    """The records of a whole input log replayed offline (see :class:`OfflineRecords`)."""
    fold = OfflineRecords(config)
    fold.feed(lines)
    return fold.recorder
