"""``ccroute check FILE...``: is each file a valid engine configuration or simulation
scenario? Says which it is and what it holds, or the first error, without routing
anything."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from ccroute.config import Config, ConfigError, load_config
from ccroute.simulation.scenario import ENGINE_TABLES, load_scenario

__all__ = ["check_file", "cli_check"]


def _holds(cfg: Config) -> str:
    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    return (
        f"{n(len(cfg.tenants), 'tenant')}, {n(len(cfg.queues), 'queue')}, "
        f"{n(len(cfg.agents), 'agent')}"
    )


def check_file(path: str | Path) -> str:
    """One line naming what ``path`` is, if valid; raises :class:`ConfigError` if not."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    if "scenario" in raw:
        ld = load_scenario(p)
        info = ld.info
        engine = f"engine {info.engine!r}" if info.engine else "engine inline"
        return (
            f"{p}: a simulation scenario, valid: {info.name!r}, {info.days} days from "
            f"{info.start}, {len(ld.scenario.traffic)} traffic streams, "
            f"{len(ld.scenario.agents)} agent groups; {engine}: {_holds(ld.engine)}"
        )
    if ENGINE_TABLES & raw.keys():
        cfg = load_config(p)
        return f"{p}: a routing engine configuration, valid: {_holds(cfg)}"
    raise ConfigError(
        f"{p}: neither an engine configuration ([[tenants]], [[queues]], [[agents]], "
        "docs/configuration.md) nor a simulation scenario ([scenario], docs/simulation.md)"
    )


def cli_check(args: argparse.Namespace) -> int:
    """Check every file; 0 if all are valid, else 2 (each error on its own line)."""
    status = 0
    for path in args.files:
        try:
            print(check_file(path))
        except ConfigError as exc:
            print(f"ccroute check: {exc}", file=sys.stderr)
            status = 2
    return status
