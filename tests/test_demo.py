"""``ccroute demo``: the shipped month at a Nordic outsourcing provider, with reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ccroute.cli import main
from ccroute.demo import default_scenario, months_of

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "python" / "ccroute" / "simulation" / "scenarios" / "nordic_bpo"
EXAMPLE = ROOT / "examples" / "nordic_bpo"


@pytest.mark.parametrize("name", ["scenario.toml", "ccroute.toml"])
def test_the_packaged_scenario_is_the_example_people_read(name: str) -> None:
    assert (PACKAGED / name).read_bytes() == (EXAMPLE / name).read_bytes()


def test_the_demo_finds_its_scenario_in_the_installed_package() -> None:
    path = default_scenario()
    assert path.name == "scenario.toml" and (path.parent / "ccroute.toml").is_file()


def test_a_short_demo_writes_every_clients_report_and_compares_silos(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path), "--days", "1", "--compare-silos"]) == 0
    out = capsys.readouterr().out
    for tenant, name in [
        ("lumo-energia", "Lumo Energia Oy"),
        ("kide-shop", "Kide Shop Oy"),
        ("tukivirasto", "Tukivirasto"),
    ]:
        html = tmp_path / f"{tenant}-2025-05.html"
        assert html.is_file() and name in html.read_text(encoding="utf-8")
        assert (tmp_path / f"{tenant}-2025-05.csv").is_file()
        assert name in out
    assert (tmp_path / "contacts.duckdb").is_file()
    assert "SL silos" in out and "agent occupancy" in out


def test_a_run_over_a_month_end_reports_both_months() -> None:
    assert months_of(dt.date(2025, 5, 30), 3) == ["2025-05", "2025-06"]
    assert months_of(dt.date(2025, 5, 1), 31) == ["2025-05"]


def test_the_shipped_month_shows_service_hours_and_callbacks() -> None:
    from ccroute.simulation import load_scenario, simulate

    # 1 May is a public holiday (Vappu): both phone lines stay shut, 2 May they open.
    res = simulate(load_scenario(default_scenario()), days=2)
    assert res.rejected == 0, res.rejections
    # Callers out of hours at the energy line get a callback, the agency's hear the hours.
    assert res.callbacks_requested > 50 and res.closed_by_policy > 50
    assert res.callback_dials >= res.callbacks_reached > 0


def test_every_policy_variant_of_the_example_still_applies_and_validates() -> None:
    # The variants script edits the example's text: a changed example must not silently
    # leave a variant equal to the shipped configuration.
    import importlib.util
    import tomllib

    from ccroute.config import config_from_dict

    spec = importlib.util.spec_from_file_location("variants", EXAMPLE / "policy_variants.py")
    assert spec is not None and spec.loader is not None
    variants = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(variants)
    shipped = (EXAMPLE / "ccroute.toml").read_text(encoding="utf-8")
    for name, (_, edits) in variants.VARIANTS.items():
        text = variants.variant_config(shipped, edits)
        assert (text == shipped) == (name == "shipped"), name
        config_from_dict(tomllib.loads(text), source=name)
