"""``ccroute status``: today's figures per tenant and queue, read from the projections.

Reads the domain's KV bucket (``tenant.<t>.today`` and ``queue.<t>.<q>``, see
:mod:`ccroute.service.projections`) -- no engine, no records database -- and prints one
board; ``--watch`` redraws it every few seconds. The figures are those of the monthly
report for the same day (:mod:`ccroute.metrics` defines both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from ccroute.service.kv_entries import read_entries
from ccroute.service.subjects import Names

__all__ = ["cli_status", "read_board", "render_board"]


def _n(v: object, fmt: str = "{:.0f}") -> str:
    return "-" if v is None else fmt.format(v)


async def read_board(nc: Any, names: Names) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tenant entries of today, queue entries) from the KV bucket."""
    js = nc.jetstream()
    # A tenant id is one token of the key (subjects.encode_token), so this filter reads
    # today's entries only, not every past day's.
    tenants = await read_entries(js, names.kv_bucket, "tenant.*.today")
    queues = await read_entries(js, names.kv_bucket, "queue.>")
    return (
        [json.loads(v) for _, v in sorted(tenants.items()) if v],
        [json.loads(v) for _, v in sorted(queues.items()) if v],
    )


def render_board(
    tenants: list[dict[str, Any]], queues: list[dict[str, Any]], *, tenant: str | None = None
) -> str:
    """The board as text: one block per tenant, its queues under it."""
    header = (
        f"{'':24} {'offered':>8} {'answered':>8} {'abandon':>7} {'SL %':>6} {'ASA s':>6}"
        f" {'waiting':>7} {'oldest s':>8} {'free':>5} {'expired':>7}"
    )
    lines = []
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for q in queues:
        by_tenant.setdefault(q["tenant"], []).append(q)
    shown = [t for t in tenants if tenant is None or t["tenant"] == tenant]
    if not shown:
        known = ", ".join(t["tenant"] for t in tenants) or "none yet"
        return (
            f"no figures for tenant {tenant!r}; tenants: {known}"
            if tenant
            else ("no figures yet (the service writes them once contacts arrive)")
        )
    for t in shown:
        qs = by_tenant.get(t["tenant"], [])
        waiting = sum(q["waiting"] for q in qs)
        lines.append(f"{t['tenant']}  (today {t['date']}, as of engine clock {t['as_of']})")
        lines.append(header)
        lines.append(
            f"{'all queues':24} {t['offered']:>8} {t['answered']:>8} {t['abandoned']:>7}"
            # No ASA across queues: an e-mail's hours would drown a caller's seconds.
            f" {_n(t['service_level_percent'], '{:.1f}'):>6} {'':>6}"
            f" {waiting:>7} {'':>8} {'':>5} {t.get('offers_expired', 0):>7}"
        )
        for q in qs:
            d = q.get("today") or {}
            name = q["queue"] + ("" if q.get("open", True) else " (closed)")
            lines.append(
                f"  {name:22} {d.get('offered', 0):>8} {d.get('answered', 0):>8}"
                f" {d.get('abandoned', 0):>7} {_n(d.get('service_level_percent'), '{:.1f}'):>6}"
                f" {_n(d.get('asa_seconds')):>6} {q['waiting']:>7}"
                f" {_n(q['oldest_wait_ms'] / 1000.0):>8} {q['agents_available']:>5}"
                f" {d.get('offers_expired', 0):>7}"
            )
        lines.append("")
    lines.append(
        "offered = answered + abandoned; SL: answered within the queue's threshold / offered;"
        " ASA per queue;\nfree: agents available for the queue; expired: offers that rang out"
    )
    return "\n".join(lines)


async def _status(args: argparse.Namespace) -> int:
    from ccroute.service.connection import connect

    names = Names(args.domain)
    nc = await connect(
        args.nats or ["nats://127.0.0.1:4222"], creds=args.creds, name="ccroute-status"
    )
    try:
        while True:
            try:
                tenants, queues = await read_board(nc, names)
            except Exception as exc:
                print(f"ccroute status: cannot read {names.kv_bucket}: {exc}", file=sys.stderr)
                return 2
            board = render_board(tenants, queues, tenant=args.tenant)
            if args.watch:
                sys.stdout.write("\x1b[H\x1b[2J")  # home and clear: redraw in place
            print(board, flush=True)
            if not args.watch:
                found = args.tenant is None or any(t["tenant"] == args.tenant for t in tenants)
                return 0 if found else 2
            await asyncio.sleep(args.watch)
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


def cli_status(args: argparse.Namespace) -> int:
    """Print today's board (``--watch SECONDS``: redraw until interrupted)."""
    try:
        return asyncio.run(_status(args))
    except KeyboardInterrupt:
        return 0
