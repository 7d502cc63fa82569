"""Benchmarks share seeded workloads (router_core::workload) and print a summary table."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The plain-Python reference model lives with the tests.
sys.path.insert(0, str(ROOT / "tests"))

#: Events per workload; CCROUTE_BENCH_EVENTS lowers it for a quick look.
EVENTS = int(os.environ.get("CCROUTE_BENCH_EVENTS", "1000000"))
RESULTS: dict[str, dict[str, float]] = {}


def record(name: str, **figures: float) -> None:
    RESULTS.setdefault(name, {}).update(figures)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("ccroute figures")
    for name, figs in RESULTS.items():
        tr.write_line(f"{name}: " + ", ".join(f"{k}={v:,.3f}" for k, v in figs.items()))
    out = ROOT / "benchmarks" / "results.json"
    out.write_text(json.dumps(RESULTS, indent=2, sort_keys=True) + "\n")
    tr.write_line(f"written to {out}")
