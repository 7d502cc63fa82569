"""Print the requirements that pyproject.toml lists, for pip (``-r``), one per line.

pyproject.toml is the one list of dependencies; ``requirements.lock`` pins every package
(and every package those pull in) to the version CI was last green with. The Makefile
installs ``pip install -r <(this) -c requirements.lock``, so a fresh machine gets exactly
those versions, and a version bump is a reviewed change to the lock.

Usage: ``python tools/requirements.py [EXTRA ...]`` (runtime dependencies, plus the named
extras; an extra that names ``ccroute[...]`` pulls in those extras too). Needs only the
standard library, since it runs before anything is installed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SELF = re.compile(r"^ccroute\[([^\]]+)\]$")


def requirements(extras: list[str]) -> list[str]:
    """The runtime requirements followed by those of ``extras`` (self-references expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    out: list[str] = list(project["dependencies"])
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop(0)
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"pyproject.toml has no extra {extra!r} (have: {sorted(optional)})")
        seen.add(extra)
        for req in optional[extra]:
            m = _SELF.match(req.replace(" ", ""))
            if m:
                todo.extend(m.group(1).split(","))
            elif req not in out:
                out.append(req)
    return out


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1:])))
