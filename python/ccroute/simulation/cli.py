"""``ccroute simulate SCENARIO --out DIR``: run a scenario, write its files, summarise."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import msgspec

from ccroute.simulation.runner import RunOutput, run_scenario
from ccroute.simulation.scenario import LoadedScenario, load_scenario
from ccroute.simulation.summary import RunFigures, format_policies, format_tenants, run_figures


def wants_progress(args: argparse.Namespace) -> bool:
    """A progress bar when asked (``--progress``) or when a person watches stderr."""
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


def summary_json(ld: LoadedScenario, run: RunOutput, figures: RunFigures) -> dict[str, Any]:
    """The run's counts and every figure, unrounded (``ccroute simulate --json``)."""
    res = run.result
    counts = {
        name: getattr(res, name)
        for name in (
            "arrived",
            "answered",
            "abandoned",
            "completed",
            "callbacks",
            "callbacks_requested",
            "callback_dials",
            "callbacks_reached",
            "callbacks_unreached",
            "closed_by_policy",
            "moved",
            "surveys",
            "open_at_end",
            "rejected",
            "inputs",
            "decisions",
        )
    }
    return {
        "scenario": ld.info.name,
        "model": ld.info.model,
        "seed": res.seed,
        "first_day": res.period.first_day.isoformat(),
        "days": res.period.days,
        "counts": counts,
        "wall_seconds": res.wall_seconds,
        "tenants": {line.tenant: msgspec.to_builtins(line.figures) for line in figures.tenants},
        "total": msgspec.to_builtins(figures.total),
        "files": {
            "events": str(run.events_path) if run.events_path else None,
            "config": str(run.config_path) if run.config_path else None,
            "contacts": str(run.db_path) if run.db_path else None,
        },
    }


def cli_simulate(args: argparse.Namespace) -> int:
    """Entry point of ``ccroute simulate`` (arguments parsed by :mod:`ccroute.cli`)."""
    ld = load_scenario(args.scenario)
    run = run_scenario(
        ld,
        args.out,
        days=args.days,
        seed=args.seed,
        progress=wants_progress(args),
        write_events=not getattr(args, "no_events", False),
    )
    res = run.result
    p = res.period
    if getattr(args, "json", False):
        figures = run_figures(run.recorder, res.config, p.end_ms)
        print(json.dumps(summary_json(ld, run, figures), indent=2, sort_keys=True))
        return 0
    print(f"{ld.info.name}: {p.days} days from {p.first_day} (seed {res.seed})")
    print(
        f"{res.arrived:,} contacts"
        + (f" (+{res.callbacks:,} callback requests)" if res.callbacks else "")
        + ", "
        f"{res.inputs:,} input events, {res.decisions:,} decisions "
        f"in {res.wall_seconds:.1f} s ({res.contacts_per_second:,.0f} contacts/s)"
    )
    if res.rejected:
        print(f"warning: the engine rejected {res.rejected} inputs; first: {res.rejections[0]}")
    print()
    figures = run_figures(run.recorder, res.config, p.end_ms)
    print(format_tenants(figures))
    policies = format_policies(figures)
    if policies:
        print()
        print(policies)
    print()
    for label, path in (
        ("input log", run.events_path),
        ("engine configuration", run.config_path),
        ("contact database", run.db_path),
    ):
        print(f"{label + ':':22} {path}")
    return 0
