"""Write an engine configuration back as TOML.

``ccroute simulate`` saves the configuration it ran (the scenario's agent groups
expanded) beside the event log, so ``ccroute replay --config DIR/ccroute.toml
DIR/events.jsonl`` reproduces every decision. The standard library reads TOML but does
not write it; the configuration's shape is small enough for this writer.
"""

from __future__ import annotations

import json
import re

import msgspec

from ccroute.config import Config

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        # JSON string escapes are valid TOML basic-string escapes.
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        items = [f"{_key(k)} = {_value(x)}" for k, x in v.items() if x is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _table(out: list[str], header: str, data: dict[str, object]) -> None:
    out.append(header)
    for k, v in data.items():
        if v is not None:
            out.append(f"{_key(k)} = {_value(v)}")
    out.append("")


def config_to_toml(cfg: Config, *, comment: str = "") -> str:
    """The configuration as TOML that :func:`ccroute.config.load_config` reads back equal."""
    raw = msgspec.to_builtins(cfg)
    out: list[str] = [f"# {line}" for line in comment.splitlines()]
    if out:
        out.append("")
    _table(out, "[routing]", raw["routing"])
    for section in ("tenants", "queues", "agents"):
        for item in raw[section]:
            _table(out, f"[[{section}]]", item)
    return "\n".join(out)
