"""The ``ccroute`` command line, run as a user runs it: a separate process.

Also keeps the documentation honest: the worked example in docs/events.md and the
example configuration and error in docs/configuration.md are run here, so a change to the
engine that makes an example untrue fails a test instead of misleading a reader.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from ccroute.events import DECISION_TYPES, INPUT_TYPES, Decision

DOCS = Path(__file__).resolve().parent.parent / "docs"

CONFIG = """\
[routing]
offer_timeout_seconds = 20

[[tenants]]
id = "energia"

[[queues]]
id = "energia.service"
tenant = "energia"
channels = ["voice", "email"]
wrap_up_seconds = 30

[[agents]]
id = "aino"
languages = ["fi", "sv"]
capacity = { voice = 1, email = 2 }
"""

EVENTS = b"""\
{"type":"agent_logged_in","id":"e1","ts":1000,"agent":"aino"}
{"type":"contact_arrived","id":"e2","ts":2000,"tenant":"energia","contact":"c1","queue":"energia.service","channel":"voice","language":"sv"}
{"type":"contact_arrived","id":"e3","ts":3000,"tenant":"energia","contact":"c2","queue":"energia.service","channel":"email"}
{"type":"offer_accepted","id":"e4","ts":4000,"tenant":"energia","contact":"c1","agent":"aino"}
{"type":"offer_accepted","id":"e4","ts":4000,"tenant":"energia","contact":"c1","agent":"aino"}

{"type":"contact_completed","id":"e5","ts":60000,"tenant":"energia","contact":"c1","agent":"aino"}
not json
{"type":"clock_tick","id":"e6","ts":200000}
"""


def ccroute(
    *args: str, cwd: Path | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ccroute", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def floor(tmp_path: Path) -> Path:
    (tmp_path / "ccroute.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "events.jsonl").write_bytes(EVENTS)
    return tmp_path


def test_help_lists_the_subcommands() -> None:
    run = ccroute("--help")
    assert run.returncode == 0, run.stderr
    out = run.stdout.decode()
    for command in ("schema", "replay", "serve", "record", "status", "staffing", "report"):
        assert command in out


def test_schema_prints_the_json_schema_of_inputs_and_decisions() -> None:
    run = ccroute("schema")
    assert run.returncode == 0, run.stderr
    schema = json.loads(run.stdout)
    assert {"input", "decision", "$defs", "version"} <= set(schema)
    for cls in (*INPUT_TYPES, *DECISION_TYPES):
        assert cls.__name__ in schema["$defs"]
    # Producers validate against this: the refs must resolve.
    for ref in re.findall(r'"\$ref": "#/\$defs/(\w+)"', run.stdout.decode()):
        assert ref in schema["$defs"]


def test_replay_is_deterministic_byte_for_byte(floor: Path) -> None:
    first = ccroute("replay", "--config", "ccroute.toml", "events.jsonl", cwd=floor)
    second = ccroute("replay", "--config", "ccroute.toml", "events.jsonl", cwd=floor)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    lines = first.stdout.splitlines()
    # One decision per line, each a valid Decision; the blank input line was skipped and
    # the bad line and the duplicate were answered, not fatal.
    decisions = [msgspec.json.decode(line, type=Decision) for line in lines]
    codes = [getattr(d, "code", None) for d in decisions]
    assert codes.count("duplicate_event") == 1
    assert codes.count("malformed") == 1
    assert [d.id for d in decisions] == [f"d{i}" for i in range(1, len(decisions) + 1)]


def test_replay_reads_standard_input(floor: Path) -> None:
    from_file = ccroute("replay", "-c", "ccroute.toml", "events.jsonl", cwd=floor)
    from_stdin = ccroute("replay", "-c", "ccroute.toml", "-", cwd=floor, stdin=EVENTS)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout


def test_replay_stats_go_to_stderr(floor: Path) -> None:
    run = ccroute("replay", "-c", "ccroute.toml", "events.jsonl", "--stats", cwd=floor)
    stats = json.loads(run.stderr)
    assert stats["inputs"] == 8  # the blank line is not an input
    assert stats["duplicates"] == 1
    assert stats["decisions"] == len(run.stdout.splitlines())


def test_config_error_names_file_and_key_and_exits_2(floor: Path) -> None:
    broken = CONFIG.replace("wrap_up_seconds = 30", 'wrap_up_seconds = "30"')
    (floor / "broken.toml").write_text(broken, encoding="utf-8")
    run = ccroute("replay", "--config", "broken.toml", "events.jsonl", cwd=floor)
    assert run.returncode == 2
    assert run.stdout == b""
    err = run.stderr.decode()
    assert "Traceback" not in err
    assert err.startswith(
        "ccroute: configuration error: broken.toml: "
        "queue 'energia.service' (queues[0].wrap_up_seconds): "
    )
    assert err.count("\n") == 1  # one line a person can read


def test_missing_config_file_is_a_config_error(floor: Path) -> None:
    run = ccroute("replay", "--config", "nowhere.toml", "events.jsonl", cwd=floor)
    assert run.returncode == 2
    assert run.stderr.decode() == "ccroute: configuration error: nowhere.toml: file not found\n"


# ------------------------------------------------------------------ docs stay true


def _block_after(text: str, marker: str) -> str:
    """The fenced code block that follows an HTML comment marker in a Markdown page."""
    m = re.search(re.escape(marker) + r"\s*```\w*\n(.*?)```", text, re.S)
    assert m, f"{marker} not found"
    return m.group(1)


def test_events_doc_examples_are_what_the_engine_does(tmp_path: Path) -> None:
    page = (DOCS / "events.md").read_text(encoding="utf-8")
    (tmp_path / "ccroute.toml").write_text(
        _block_after(page, "<!-- worked-example-config -->"), encoding="utf-8"
    )
    log = _block_after(page, "<!-- worked-example-log -->")
    (tmp_path / "events.jsonl").write_text(log, encoding="utf-8")
    run = ccroute("replay", "-c", "ccroute.toml", "events.jsonl", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    inputs = [json.loads(line) for line in log.splitlines() if line.strip()]
    decisions = [json.loads(line) for line in run.stdout.splitlines()]

    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", page, re.S)]
    input_tags = {c.__struct_config__.tag for c in INPUT_TYPES}
    decision_tags = {c.__struct_config__.tag for c in DECISION_TYPES}
    shown = set()
    for ex in examples:
        if ex["type"] in input_tags and "cause" not in ex:
            assert ex in inputs, f"input example not in the worked log: {ex}"
        else:
            assert ex in decisions, f"decision example not made by the engine: {ex}"
        shown.add(ex["type"])
    # One example for every input and every decision.
    assert shown == input_tags | decision_tags
    assert len(examples) == len(shown)


def test_configuration_doc_example_loads_and_its_error_is_real(tmp_path: Path) -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    example = _block_after(page, "<!-- example-config -->")
    (tmp_path / "ccroute.toml").write_text(example, encoding="utf-8")
    (tmp_path / "events.jsonl").write_text("", encoding="utf-8")
    run = ccroute("replay", "-c", "ccroute.toml", "events.jsonl", cwd=tmp_path)
    assert run.returncode == 0, run.stderr

    # The page shows the error for a typo in the third queue's tenant: make that typo.
    assert example.count('tenant = "kauppa"') == 1
    (tmp_path / "ccroute.toml").write_text(
        example.replace('tenant = "kauppa"', 'tenant = "kaupa"'), encoding="utf-8"
    )
    run = ccroute("replay", "--config", "ccroute.toml", "events.jsonl", cwd=tmp_path)
    console = _block_after(page, "<!-- example-error -->").splitlines()
    assert run.returncode == int(console[3]) == 2
    assert run.stderr.decode().rstrip("\n") == console[1]


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "nordic_bpo" / "ccroute.toml"


def test_hours_shows_the_lines_closed_over_midsummer_and_open_on_the_working_days() -> None:
    run = ccroute("hours", "--config", str(EXAMPLE), "--from", "2026-06-18", "--days", "3")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.decode().splitlines()
    voice = lines[lines.index(next(x for x in lines if x.startswith("lumo-voice"))) :][:4]
    assert "Europe/Helsinki" in voice[0] and "outside hours: callback" in voice[0]
    assert voice[1].split() == ["Thu", "2026-06-18", "08:00-18:00"]
    assert voice[2].split()[:3] == ["Fri", "2026-06-19", "closed"]
    assert voice[2].endswith("holiday: Midsummer Eve")
    assert voice[3].endswith("holiday: Midsummer Day")
    # The agency keeps shorter hours: 9 to 15.
    assert any(x.split()[1:] == ["2026-06-18", "09:00-15:00"] for x in lines[4:])


def test_hours_names_an_unknown_queue_and_exits_2() -> None:
    run = ccroute("hours", "--config", str(EXAMPLE), "--queue", "nope", "--days", "1")
    assert run.returncode == 2
    assert b"no queue 'nope'" in run.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CCROUTE_STOP_GRACE_SECONDS", "soon"), ("CCROUTE_NATS_NICE", "-5")],
)
def test_serve_names_a_variable_it_cannot_use_and_exits_2(
    floor: Path, variable: str, value: str
) -> None:
    """Checked before anything starts: no embedded server, no traceback."""
    serve = ["serve", "-c", str(floor / "ccroute.toml"), "--insecure-dev"]
    run = subprocess.run(
        [sys.executable, "-m", "ccroute", *serve, "--data-dir", str(floor / "data")],
        env={**os.environ, variable: value},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.decode().startswith(f"ccroute serve: {variable} must be")
    assert b"Traceback" not in run.stderr
    assert not (floor / "data" / "nats").exists()
