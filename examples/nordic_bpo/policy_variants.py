"""The Nordic demo under variants of its routing policies, side by side.

Each variant is this folder's ccroute.toml with a few lines changed; the same simulated
customers and agents (same seed) meet each one for a week:

    python examples/nordic_bpo/policy_variants.py [variant ...] [--days 7]

It prints the demo's client table and policy table per variant (docs/simulation.md).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LUMO_STEPS = "partner_share_percent = 10\nsteps = [{ after_seconds = 45, partner = true }]"
LUMO = "skills = { energy = 3 }\npriority = 100"
LUMO_TEAMS = LUMO + '\nteams = ["Energia", "Kaksikieliset", "Kumppani"]'

#: name -> (what it shows, [(text in ccroute.toml, replacement)])
VARIANTS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "shipped": ("as shipped", []),
    "no_hours": ("no service hours: every line always open", [("[hours]", "")]),
    "no_overflow": (
        "no partner overflow (the partner's agents take anything, like the provider's)",
        [
            ('partner = "overflow"\n' + LUMO_STEPS, 'partner = "always"'),
            (
                'partner = "overflow"\nsteps = [{ after_seconds = 20, partner = true }]',
                'partner = "always"',
            ),
        ],
    ),
    "caps": (
        "Lumo calls waiting 3 minutes become callbacks",
        [
            (
                "callback_retry_seconds = 900\n",
                'callback_retry_seconds = 900\nmax_wait_seconds = 180\nwhen_full = "callback"\n',
            )
        ],
    ),
    "triggers": (
        "Lumo overflows on expected wait over 60 s or a poor last half hour, not by steps",
        [
            (
                LUMO_STEPS,
                "overflow_when_expected_wait_over = 60\noverflow_when_service_level_under = true",
            )
        ],
    ),
    "teams_only": ("Lumo calls only for its own teams", [(LUMO, LUMO_TEAMS)]),
    "borrow": (
        "as teams_only, borrowing the multichannel team while the shop's chat is healthy",
        [
            (
                LUMO,
                LUMO_TEAMS + '\nborrow = [{ team = "Monikanava", while_queue = "kide-chat", '
                "service_level_at_least = 85.0 }]",
            )
        ],
    ),
    "fair_share": (
        "the agency is guaranteed 30 % of recent offers",
        [
            (
                'id = "tukivirasto"\nname = "Tukivirasto"',
                'id = "tukivirasto"\nname = "Tukivirasto"\nfair_share_percent = 30',
            )
        ],
    ),
}


def variant_config(text: str, edits: list[tuple[str, str]]) -> str:
    for old, new in edits:
        if old == "[hours]":
            text = re.sub(r"\[queues\.hours\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text)
            continue
        if old not in text:
            raise SystemExit(f"ccroute.toml no longer contains {old!r}: update this variant")
        text = text.replace(old, new)
    return text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="*", help=f"any of {', '.join(VARIANTS)} (default: all)")
    p.add_argument("--days", type=int, default=7)
    args = p.parse_args()
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    config = (HERE / "ccroute.toml").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants or list(VARIANTS):
            what, edits = VARIANTS[name]
            d = Path(tmp) / name
            shutil.copytree(HERE, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
            (d / "ccroute.toml").write_text(variant_config(config, edits), encoding="utf-8")
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ccroute",
                    "demo",
                    "--days",
                    str(args.days),
                    "--scenario",
                    str(d / "scenario.toml"),
                    "--out",
                    str(d / "out"),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if run.returncode:
                print(run.stderr, file=sys.stderr)
                return run.returncode
            print(f"=== {name}: {what}")
            keep = ("client", "Kide", "Lumo", "Tuki", "all", "closed with")
            print("\n".join(x for x in run.stdout.splitlines() if x.startswith(keep)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
