"""``ccroute simulate --no-events --json``: no input log, and the summary unrounded."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import ccroute

SCENARIO = Path(__file__).resolve().parent.parent / "examples" / "nordic_bpo" / "scenario.toml"


def test_no_events_writes_no_log_and_json_gives_every_figure_unrounded(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    run = ccroute(
        "simulate", str(SCENARIO), "--out", str(out), "--days", "1", "--no-events", "--json"
    )
    assert run.returncode == 0, run.stderr
    assert not (out / "events.jsonl").exists()
    assert (out / "contacts.duckdb").exists() and (out / "ccroute.toml").exists()
    summary = json.loads(run.stdout)
    assert summary["days"] == 1 and summary["files"]["events"] is None
    counts = summary["counts"]
    assert counts["arrived"] > 1000 and counts["answered"] <= counts["arrived"]
    lumo = summary["tenants"]["lumo-energia"]
    # Full precision: the service level is the exact ratio, not a rounded percentage.
    assert lumo["service_level_pct"] == 100.0 * lumo["answered_within_t"] / lumo["offered"]
    assert set(summary["tenants"]) == {"lumo-energia", "kide-shop", "tukivirasto"}
