"""Errors that help: what a newcomer types wrong, and what ``ccroute`` answers. Each
runs the command as a separate process, as a person would."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.test_cli import ccroute

from ccroute import __version__
from ccroute.events import SCHEMA_VERSION

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONFIG = EXAMPLES / "nordic_bpo" / "ccroute.toml"
SCENARIO = EXAMPLES / "nordic_bpo" / "scenario.toml"


def _err(run: object) -> str:
    text: str = run.stderr.decode()  # type: ignore[attr-defined]
    assert "Traceback" not in text
    return text


def test_version_names_the_package_and_the_event_schema() -> None:
    run = ccroute("--version")
    assert run.returncode == 0
    assert run.stdout.decode() == f"ccroute {__version__} (event schema v{SCHEMA_VERSION})\n"


def test_check_says_which_file_is_a_configuration_and_which_a_scenario() -> None:
    run = ccroute("check", str(CONFIG), str(SCENARIO))
    assert run.returncode == 0, run.stderr
    config_line, scenario_line = run.stdout.decode().splitlines()
    assert config_line == (
        f"{CONFIG}: a routing engine configuration, valid: 3 tenants, 5 queues, 6 agents"
    )
    assert scenario_line.startswith(f"{SCENARIO}: a simulation scenario, valid: ")
    assert "'Revontuli Contact Oy, May 2025', 31 days from 2025-05-01" in scenario_line


def test_check_of_a_file_that_is_neither_says_so(tmp_path: Path) -> None:
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "x"\n', encoding="utf-8")
    run = ccroute("check", str(other))
    assert run.returncode == 2
    assert "neither an engine configuration" in _err(run)


def test_a_typo_in_a_queue_key_is_answered_with_the_right_key_and_the_queue_id(
    tmp_path: Path,
) -> None:
    text = CONFIG.read_text(encoding="utf-8")
    assert text.count("wrap_up_seconds = 180") == 1  # lumo-voice, the first queue
    broken = tmp_path / "ccroute.toml"
    broken.write_text(text.replace("wrap_up_seconds = 180", "wrapup_seconds = 180"))
    run = ccroute("check", str(broken))
    assert run.returncode == 2
    assert _err(run) == (
        f"ccroute check: {broken}: queue 'lumo-voice' (queues[0].wrapup_seconds): "
        "unknown key 'wrapup_seconds'; did you mean 'wrap_up_seconds'?\n"
    )


def test_a_typo_in_a_scenario_key_is_answered_with_the_right_key(tmp_path: Path) -> None:
    text = SCENARIO.read_text(encoding="utf-8")
    broken = tmp_path / "scenario.toml"
    broken.write_text(text.replace("tick_seconds = 60", "tick_second = 60"))
    (tmp_path / "ccroute.toml").write_text(CONFIG.read_text(encoding="utf-8"))
    run = ccroute("simulate", str(broken), "--out", str(tmp_path / "sim"))
    assert run.returncode == 2
    assert "scenario.tick_second: unknown key 'tick_second'; did you mean 'tick_seconds'?" in (
        _err(run)
    )


def test_simulate_given_an_engine_configuration_says_it_is_not_a_scenario(tmp_path: Path) -> None:
    run = ccroute("simulate", str(CONFIG), "--out", str(tmp_path / "sim"))
    assert run.returncode == 2
    assert "this is a routing engine configuration, not a scenario file" in _err(run)
    assert not (tmp_path / "sim").exists()


def test_hours_from_a_date_that_does_not_exist_is_an_error_not_a_traceback() -> None:
    run = ccroute("hours", "--config", str(CONFIG), "--from", "2026-13-01")
    assert run.returncode == 2
    assert _err(run).startswith("ccroute hours: --from '2026-13-01': not a date YYYY-MM-DD")


def test_hours_of_a_queue_without_hours_says_that_queue_is_always_open() -> None:
    run = ccroute("hours", "--config", str(CONFIG), "--queue", "lumo-email")
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode() == "lumo-email has no service hours: it is always open\n"


@pytest.mark.parametrize("command", ["hours", "simulate", "demo"])
def test_zero_days_is_refused(command: str, tmp_path: Path) -> None:
    args = {
        "hours": ["--config", str(CONFIG)],
        "simulate": [str(SCENARIO), "--out", str(tmp_path)],
        "demo": ["--out", str(tmp_path)],
    }[command]
    run = ccroute(command, *args, "--days", "0")
    assert run.returncode == 2
    assert "argument --days: 0 is not at least 1" in _err(run)
