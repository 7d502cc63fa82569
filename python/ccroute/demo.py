"""``ccroute demo``: a simulated month at a Nordic outsourcing provider, with reports.

Runs the shipped example (``examples/nordic_bpo/scenario.toml``: three clients, one
blended team of 200) through the real engine in this process -- no server needed --
writes the contact database and every client's monthly report into ``--out``, and
prints a summary per client. ``--compare-silos`` runs the same customers again with one
team per channel and shows what blending buys.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from importlib import resources
from pathlib import Path

from ccroute.simulation.cli import wants_progress
from ccroute.simulation.runner import run_scenario
from ccroute.simulation.scenario import LoadedScenario, ScenarioError, load_scenario
from ccroute.simulation.silos import silo_config
from ccroute.simulation.staff import simulated_config
from ccroute.simulation.summary import (
    format_comparison,
    format_policies,
    format_tenants,
    run_figures,
)

SCENARIO = ("nordic_bpo", "scenario.toml")
"""The shipped scenario: package data, with ``examples/nordic_bpo/`` the visible copy."""


def default_scenario() -> Path:
    """The example scenario: the package's copy, else the repository's ``examples/``."""
    packaged = resources.files("ccroute.simulation").joinpath("scenarios", *SCENARIO)
    if packaged.is_file():
        return Path(str(packaged))
    repo = Path(__file__).resolve().parents[2] / "examples" / SCENARIO[0] / SCENARIO[1]
    if repo.is_file():
        return repo
    raise ScenarioError(
        "the example scenario is missing from this installation; "
        "give one with --scenario examples/nordic_bpo/scenario.toml"
    )


def months_of(first_day: dt.date, days: int) -> list[str]:
    """The months (``YYYY-MM``) the simulated days touch."""
    out: list[str] = []
    for i in range(days):
        d = first_day + dt.timedelta(days=i)
        m = f"{d.year:04d}-{d.month:02d}"
        if m not in out:
            out.append(m)
    return out


def cli_demo(args: argparse.Namespace) -> int:
    """Entry point of ``ccroute demo`` (arguments parsed by :mod:`ccroute.cli`)."""
    from ccroute.reports.monthly import write_monthly_report

    t0 = time.perf_counter()
    ld: LoadedScenario = load_scenario(args.scenario or default_scenario())
    out = Path(args.out)
    days = args.days or ld.info.days
    print(
        f"{ld.info.name}: simulating {days} day{'s' if days != 1 else ''}"
        " through the routing engine ..."
    )
    if getattr(args, "live", False):
        from ccroute.simulation.live import run_live

        print("live: through ccroute serve on an embedded NATS server, the recorder writing")
        live = run_live(ld, out, days=days, seed=args.seed, progress=wants_progress(args))
        res, recorder, db_path, config_path = (
            live.result,
            live.recorder,
            live.db_path,
            live.config_path,
        )
    else:
        run = run_scenario(
            ld,
            out,
            days=days,
            seed=args.seed,
            progress=wants_progress(args),
            # A month's input log is hundreds of megabytes; `ccroute simulate` writes it.
            write_events=False,
        )
        res, recorder = run.result, run.recorder
        assert run.db_path is not None and run.config_path is not None
        db_path, config_path = run.db_path, run.config_path
    reports: list[Path] = []
    for month in months_of(res.period.first_day, res.period.days):
        for tenant in res.config.tenants:
            if wants_progress(args):
                print(f"writing {tenant.name}'s report for {month} ...", file=sys.stderr)
            html, csv = write_monthly_report(db_path, tenant.id, month, out, allow_empty=True)
            reports += [html, csv]
    blended = run_figures(recorder, res.config, res.period.end_ms)
    callbacks = res.callbacks + res.callbacks_requested
    print(
        f"{res.arrived:,} contacts and {callbacks:,} callback requests, "
        f"{res.inputs:,} events through the engine in {res.wall_seconds:.1f} s"
    )
    print()
    print(format_tenants(blended))
    policies = format_policies(blended)
    if policies:
        print()
        print(policies)
    if args.compare_silos:
        print()
        print("Blended team against one team per channel (same customers, same headcount):")
        silos = silo_config(ld, simulated_config(ld), seed=res.seed)
        silo_run = run_scenario(
            ld,
            None,
            days=days,
            seed=res.seed,
            config=silos,
            progress=wants_progress(args),
            check=False,
        )
        print(format_comparison(blended, run_figures(silo_run.recorder, silos, res.period.end_ms)))
    print()
    print(f"{'contact database:':20} {db_path}")
    print(f"{'engine configuration:':20} {config_path}")
    for p in reports:
        print(f"{'report:':20} {p}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
