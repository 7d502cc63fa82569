"""``ccroute simulate SCENARIO --out DIR``: run a scenario, write its files, summarise."""

from __future__ import annotations

import argparse
import sys

from ccroute.simulation.runner import run_scenario
from ccroute.simulation.scenario import load_scenario
from ccroute.simulation.summary import format_policies, format_tenants, run_figures


def wants_progress(args: argparse.Namespace) -> bool:
    """A progress bar when asked (``--progress``) or when a person watches stderr."""
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


def cli_simulate(args: argparse.Namespace) -> int:
    """Entry point of ``ccroute simulate`` (arguments parsed by :mod:`ccroute.cli`)."""
    ld = load_scenario(args.scenario)
    run = run_scenario(ld, args.out, days=args.days, seed=args.seed, progress=wants_progress(args))
    res = run.result
    p = res.period
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
