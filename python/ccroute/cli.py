"""The ``ccroute`` command line. Each subcommand lives in the module that does its job;
this file only parses arguments and hands over, so ``ccroute --help`` lists everything.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ccroute import __version__
from ccroute.config import ConfigError
from ccroute.events import SCHEMA_VERSION

if TYPE_CHECKING:
    from ccroute.records import ContactRecorder


def _cmd_schema(args: argparse.Namespace) -> int:
    from ccroute.events import json_schema

    json.dump(json_schema(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from ccroute.engine import Engine

    engine = Engine.from_toml(args.config)
    out = sys.stdout.buffer
    try:
        source = sys.stdin.buffer if args.events == "-" else Path(args.events).open("rb")  # noqa: SIM115
    except OSError as exc:
        print(f"ccroute: cannot read events {args.events}: {exc.strerror}", file=sys.stderr)
        return 2
    records = None
    if args.stats or args.records:
        from ccroute.record_store import OfflineRecords

        # The records are folded beside the fast path (a second engine, the same inputs):
        # the decisions printed stay the core's bytes.
        records = OfflineRecords(engine.config)
    with source:
        # Chunks of whole lines: bounded memory for any log size, one crossing per chunk.
        while True:
            chunk = source.readlines(1 << 20)
            if not chunk:
                break
            out.write(engine.replay_jsonl(b"".join(chunk)))
            if records is not None:
                records.feed(chunk)
    out.flush()
    if records is not None and args.records:
        records.recorder.write_duckdb(args.records)
    if args.stats:
        assert records is not None
        stats: dict[str, object] = dict(engine.stats())
        stats["figures"] = _log_figures(records.recorder)
        print(json.dumps(stats, sort_keys=True), file=sys.stderr)
    return 0


def _log_figures(recorder: ContactRecorder) -> dict[str, object]:
    """The contact-centre figures of a replayed log (``ccroute.metrics``): all tenants and
    each tenant, over the whole log."""
    from ccroute.metrics import cube_from_records, headline

    config = recorder.config
    cube = cube_from_records(
        config,
        recorder.records(),
        agent_activity=recorder.agent_activity(),
        as_of_ms=recorder.clock_ms,
    )
    figures = headline(cube.figures())
    figures["by_tenant"] = {t.id: headline(cube.figures(tenant=t.id)) for t in config.tenants}
    return figures


def _cmd_staffing(args: argparse.Namespace) -> int:
    from ccroute.staffing import cli_staffing

    return cli_staffing(args)


def _cmd_serve(args: argparse.Namespace) -> int:
    from ccroute.service.cli import cli_serve

    return cli_serve(args)


def _cmd_creds(args: argparse.Namespace) -> int:
    from ccroute.service.cli import cli_creds

    return cli_creds(args)


def _cmd_record(args: argparse.Namespace) -> int:
    from ccroute.service.record_cli import cli_record

    return cli_record(args)


def _cmd_status(args: argparse.Namespace) -> int:
    from ccroute.service.status_board import cli_status

    return cli_status(args)


def _cmd_project(args: argparse.Namespace) -> int:
    from ccroute.service.cli import cli_project

    return cli_project(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ccroute.demo import cli_demo

    return cli_demo(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from ccroute.reports.cli import cli_report

    return cli_report(args)


def _cmd_export(args: argparse.Namespace) -> int:
    from ccroute.reports.cli import cli_export

    return cli_export(args)


def _cmd_hours(args: argparse.Namespace) -> int:
    import datetime

    from ccroute.config import load_config
    from ccroute.hours import describe

    try:
        start = datetime.date.fromisoformat(args.start) if args.start else datetime.date.today()
    except ValueError as exc:
        print(
            f"ccroute hours: --from {args.start!r}: not a date YYYY-MM-DD ({exc})", file=sys.stderr
        )
        return 2
    try:
        print(describe(load_config(args.config), start, args.days, args.queue))
    except KeyError:
        print(f"ccroute hours: no queue {args.queue!r} in {args.config}", file=sys.stderr)
        return 2
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from ccroute.check import cli_check

    return cli_check(args)


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ccroute.simulation.cli import cli_simulate

    return cli_simulate(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ccroute",
        description="Event-sourced omnichannel routing for contact centres.",
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"ccroute {__version__} (event schema v{SCHEMA_VERSION})",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "check", help="validate engine configurations or scenarios, say which each file is"
    )
    s.add_argument("files", nargs="+", metavar="FILE", help="a TOML file")
    s.set_defaults(func=_cmd_check)

    s = sub.add_parser("schema", help="print the JSON Schema of inputs and decisions")
    s.set_defaults(func=_cmd_schema)

    s = sub.add_parser("replay", help="apply a JSON-lines event log, print decisions as JSON lines")
    s.add_argument("--config", "-c", required=True, help="engine configuration (TOML)")
    s.add_argument("events", help="JSON-lines input log, or - for standard input")
    s.add_argument(
        "--stats",
        action="store_true",
        help="print engine counters and the log's figures (offered, SL, ASA...) to stderr",
    )
    s.add_argument("--records", default=None, help="also write the log's contact records (DuckDB)")
    s.set_defaults(func=_cmd_replay)

    s = sub.add_parser("staffing", help="Erlang C/A agents needed per interval")
    s.add_argument("--forecast", required=True, help="CSV: interval start, contacts offered")
    s.add_argument("--aht", type=float, required=True, help="average handle time, seconds")
    s.add_argument("--target", default="80/20", help="service level target PCT/SECONDS")
    s.add_argument("--interval", type=int, default=900, help="interval length, seconds")
    s.add_argument("--shrinkage", type=float, default=0.0, help="share of paid time lost, 0-1")
    s.add_argument("--patience", type=float, default=None, help="mean patience s (Erlang A)")
    s.add_argument("--max-occupancy", type=float, default=None, help="cap, 0-1")
    s.add_argument("--max-abandon", type=float, default=None, help="Erlang A abandon cap, 0-1")
    s.set_defaults(func=_cmd_staffing)

    s = sub.add_parser("serve", help="run the routing service on NATS JetStream")
    s.add_argument("--config", "-c", required=True)
    s.add_argument("--nats", action="append", default=None, help="server URL (repeatable)")
    s.add_argument("--creds", default=None, help="NATS credentials file")
    s.add_argument("--tls-ca", default=None)
    s.add_argument("--tls-cert", default=None)
    s.add_argument("--tls-key", default=None)
    s.add_argument("--domain", default="default", help="routing domain (one writer each)")
    s.add_argument("--data-dir", default="ccroute-data", help="embedded server's store")
    s.add_argument("--metrics-port", type=int, default=None)
    s.add_argument(
        "--insecure-dev",
        action="store_true",
        help="embedded server WITHOUT authentication (local experiments only)",
    )
    s.add_argument(
        "--metrics-tenants",
        action="store_true",
        help="business metrics per tenant and queue (labels name tenants: provider only)",
    )
    s.add_argument(
        "--records",
        default=None,
        help="contact-record database the recorder keeps (default: DATA_DIR/contacts.duckdb)",
    )
    s.add_argument(
        "--no-records", action="store_true", help="run no recorder (records kept elsewhere)"
    )
    s.add_argument("--http-port", type=int, default=None, help="run the HTTP gateway too")
    s.add_argument("--http-host", default="127.0.0.1", help="the gateway's address")
    s.set_defaults(func=_cmd_serve)

    s = sub.add_parser("record", help="follow a domain's log into the contact-record database")
    s.add_argument("--config", "-c", required=True)
    s.add_argument("--nats", action="append", required=True, help="server URL (repeatable)")
    s.add_argument("--creds", default=None, help="NATS credentials file")
    s.add_argument("--tls-ca", default=None)
    s.add_argument("--tls-cert", default=None)
    s.add_argument("--tls-key", default=None)
    s.add_argument("--domain", default="default")
    s.add_argument("--data-dir", default="ccroute-data")
    s.add_argument("--records", default=None, help="database (default: DATA_DIR/contacts.duckdb)")
    s.add_argument("--flush-seconds", type=float, default=1.0, help="commit at least this often")
    s.add_argument("--parent-pipe", action="store_true", help=argparse.SUPPRESS)
    s.set_defaults(func=_cmd_record)

    s = sub.add_parser("status", help="today's figures per tenant and queue (from the projections)")
    s.add_argument("--nats", action="append", default=None, help="server URL (repeatable)")
    s.add_argument("--creds", default=None, help="NATS credentials file")
    s.add_argument("--domain", default="default")
    s.add_argument("--tenant", default=None, help="one tenant only")
    s.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=2.0,
        default=None,
        metavar="SECONDS",
        help="redraw every SECONDS (default 2) until interrupted",
    )
    s.set_defaults(func=_cmd_status)

    s = sub.add_parser("project", help="projections: rebuild from the log")
    s.add_argument("--config", "-c", required=True)
    s.add_argument("--nats", action="append", default=None)
    s.add_argument("--creds", default=None, help="credentials file (admin)")
    s.add_argument("--domain", default="default")
    s.add_argument("--rebuild", action="store_true", help="rebuild every projection from the log")
    s.set_defaults(func=_cmd_project)

    s = sub.add_parser("creds", help="issue, list and revoke credentials for the bus")
    csub = s.add_subparsers(dest="creds_command", required=True, metavar="ACTION")
    for action, help_ in (
        ("issue", "issue a credential (its secret written 0600)"),
        ("list", "list the credentials issued"),
        ("revoke", "revoke a credential (the server reloads and drops it)"),
        ("config", "write the accounts configuration for an existing NATS server"),
    ):
        c = csub.add_parser(action, help=help_)
        c.add_argument("--data-dir", default="ccroute-data", help="where the registry lives")
        c.add_argument("--domain", default="default")
        if action == "issue":
            c.add_argument(
                "kind",
                choices=("tenant", "supervisor", "agent", "provider", "gateway", "router", "admin"),
            )
            c.add_argument("--tenant", default=None, help="the tenant (tenant, supervisor)")
            c.add_argument("--agent", default=None, help="the agent (agent)")
            c.add_argument("--name", default=None, help="a name to revoke it by")
            c.add_argument("--out", default=None, help="where to write the secret")
        if action == "revoke":
            c.add_argument("name")
        if action == "config":
            c.add_argument("--config", "-c", default=None, help="engine configuration")
            c.add_argument("--out", default=None, help="file (default: standard output)")
        if action in ("issue", "revoke"):
            c.add_argument(
                "--no-reload", action="store_true", help="do not signal the running server"
            )
    s.set_defaults(func=_cmd_creds)

    s = sub.add_parser("hours", help="print the queues' service hours, day by day")
    s.add_argument("--config", required=True, help="engine configuration (TOML)")
    s.add_argument("--queue", default=None, help="one queue (default: every queue with hours)")
    s.add_argument(
        "--from", dest="start", default=None, help="first day, YYYY-MM-DD (default: today)"
    )
    s.add_argument("--days", type=_positive, default=14, help="how many days (at least 1)")
    s.set_defaults(func=_cmd_hours)

    s = sub.add_parser("simulate", help="simulate a scenario through the real engine")
    s.add_argument("scenario", help="scenario file (TOML)")
    s.add_argument("--out", default="simulation", help="output folder")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--days", type=_positive, default=None)
    s.add_argument(
        "--progress", action="store_true", help="progress bar on stderr (default on a terminal)"
    )
    s.add_argument(
        "--no-events", action="store_true", help="do not write events.jsonl (about 60 MB a month)"
    )
    s.add_argument(
        "--json", action="store_true", help="print the summary as JSON, at full precision"
    )
    s.set_defaults(func=_cmd_simulate)

    s = sub.add_parser("demo", help="a simulated month at a Nordic outsourcing provider")
    s.add_argument("--out", default="reports", help="where reports are written")
    s.add_argument("--scenario", default=None, help="scenario file (default: the shipped one)")
    s.add_argument("--days", type=_positive, default=None, help="simulate fewer days")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--compare-silos", action="store_true")
    s.add_argument(
        "--live",
        action="store_true",
        help="run through ccroute serve on an embedded NATS server, the recorder writing",
    )
    s.add_argument("--progress", action="store_true", help="progress bar on stderr")
    s.set_defaults(func=_cmd_demo)

    s = sub.add_parser("report", help="the client's monthly report (HTML + CSV)")
    s.add_argument("--db", default="reports/contacts.duckdb", help="contact-record database")
    s.add_argument("--tenant", required=True)
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--out", default="reports")
    s.add_argument(
        "--lang",
        choices=("en", "fi", "sv"),
        default=None,
        help="language of the report (default: the tenant's report.language)",
    )
    s.add_argument("--allow-empty", action="store_true", help="write a month without a contact too")
    s.set_defaults(func=_cmd_report)

    s = sub.add_parser("export", help="a tenant's contact records as CSV and Parquet")
    s.add_argument("--db", default="reports/contacts.duckdb")
    s.add_argument("--tenant", required=True)
    s.add_argument("--out", default="export")
    s.set_defaults(func=_cmd_export)

    from ccroute.web.cli import add_parsers as add_web_parsers

    add_web_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"ccroute: configuration error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
