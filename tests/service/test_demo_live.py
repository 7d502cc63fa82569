"""``ccroute demo --live``: the simulated days driven through ``ccroute serve`` on its
embedded NATS server, the recorder writing the records -- and the reports equal those of
the in-process demo for the same seed, figure for figure."""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from ccroute.demo import cli_demo

from .test_recorder import DESK

# Two quieter days at the desk of the recorder tests: a Monday and a Tuesday.
TWO_DAYS = (
    DESK.replace("days = 1", "days = 2")
    .replace("mon = 260", "mon = 50, tue = 40")
    .replace("mon = 120", "mon = 30, tue = 30")
    .replace("mon = 60", "mon = 12, tue = 12")
    .replace('mon = "08:00-16:00"', 'mon = "08:00-16:00"\ntue = "08:00-16:00"')
)


def _demo(scenario: Path, out: Path, *, live: bool) -> None:
    args = argparse.Namespace(
        scenario=str(scenario),
        out=str(out),
        days=None,
        seed=None,
        compare_silos=False,
        progress=False,
        live=live,
    )
    assert cli_demo(args) == 0


def _tables(db: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("contacts", "agent_states", "agent_work", "forecast")
        }
    finally:
        con.close()


def test_the_live_demo_writes_the_same_reports_as_the_in_process_demo(tmp_path: Path) -> None:
    scenario = tmp_path / "desk.toml"
    scenario.write_text(TWO_DAYS, encoding="utf-8")
    _demo(scenario, tmp_path / "sim", live=False)
    _demo(scenario, tmp_path / "live", live=True)
    sim, live = (
        _tables(tmp_path / "sim" / "contacts.duckdb"),
        _tables(tmp_path / "live" / "contacts.duckdb"),
    )
    assert len({r[10].date() for r in sim["contacts"]}) == 2, "two days of contacts"
    assert live == sim
    for name in ("acme-2025-05.csv", "globex-2025-05.csv"):
        assert (tmp_path / "live" / name).read_bytes() == (tmp_path / "sim" / name).read_bytes()
