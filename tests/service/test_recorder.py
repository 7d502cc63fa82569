"""The recorder: a live day on the service becomes the same contact records the simulator
writes and an offline replay writes -- row for row -- and a recorder killed with kill -9 at
any moment resumes without writing a contact twice or missing one.

A small help desk's day is simulated once (its input log, its records); the log is then
published into a real ``nats-server -js`` where ``ccroute serve`` routes it again.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import nats
import pytest

from ccroute.config import Config, load_config
from ccroute.record_store import RecordStore, records_from_log
from ccroute.reports import export_tenant, write_monthly_report
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.recorder import LogRecorder, RecorderSettings
from ccroute.service.subjects import Names
from ccroute.simulation.runner import run_scenario
from ccroute.simulation.scenario import scenario_from_text

from .conftest import REPO, fast_settings, run_service

DESK = """
[scenario]
name = "recorder desk"
start = 2025-05-05
days = 1
seed = 11

[engine.routing]
offer_timeout_seconds = 20
decline_cooldown_seconds = 30

[[engine.tenants]]
id = "acme"

[[engine.tenants]]
id = "globex"

[[engine.queues]]
id = "acme-voice"
tenant = "acme"
channels = ["voice", "callback"]
wrap_up_seconds = 60

[[engine.queues]]
id = "globex-chat"
tenant = "globex"
channels = ["chat"]
wrap_up_seconds = 30

[[engine.queues]]
id = "acme-email"
tenant = "acme"
channels = ["email"]
interruptible = true
wrap_up_seconds = 120

[hours.office]
mon = "08:00-16:00"

[profiles.office]
weights = [0, 0, 0, 0, 0, 0, 0, 0, 8, 10, 10, 9, 7, 8, 9, 8, 0, 0, 0, 0, 0, 0, 0, 0]

[shifts.day]
start = "07:45"
hours = 8.5
breaks = [{ after_minutes = 200, minutes = 30, reason = "lunch" }]

[[agents]]
group = "desk"
count = 6
languages = ["fi", "sv"]
capacity = { voice = 1, callback = 1, email = 1, chat = 2 }
shifts = ["day"]
miss_percent = 3
reject_percent = 3

[[traffic]]
queue = "acme-voice"
channel = "voice"
per_day = { mon = 260 }
profile = "office"
hours = "office"
languages = { fi = 80, sv = 20 }
callback_percent = 30
callback_queue = "acme-voice"
survey = { share = 0.3, nps_weights = [1, 1, 1, 1, 1, 2, 3, 5, 8, 9, 9] }

[[traffic]]
queue = "globex-chat"
channel = "chat"
per_day = { mon = 120 }
profile = "office"
hours = "office"
languages = { fi = 100 }

[[traffic]]
queue = "acme-email"
per_day = { mon = 60 }
"""

TABLES = ("contacts", "agent_states", "agent_work")


@pytest.fixture(scope="module")
def desk_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Config, list[bytes]]:
    """The simulated day: its folder (records, config, log), config and input lines."""
    out = tmp_path_factory.mktemp("desk")
    ld = scenario_from_text(DESK, source="desk.toml")
    run = run_scenario(ld, out)
    assert run.events_path is not None and run.config_path is not None
    lines = [ln for ln in run.events_path.read_bytes().splitlines() if ln.strip()]
    return out, load_config(run.config_path), lines


def rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the record tables, in one order, and the as-of time."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        out["as_of"] = [(meta["as_of_ms"],)]
    finally:
        con.close()
    return out


async def publish_log(url: str, domain: str, lines: list[bytes]) -> int:
    """Publish the input log on its subjects, each with its id as ``Nats-Msg-Id``."""
    names = Names(domain)
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        futures = []
        for line in lines:
            ev = json.loads(line)
            subject = names.input_subject(ev["type"], ev.get("tenant"))
            futures.append(await js.publish_async(subject, line, headers={"Nats-Msg-Id": ev["id"]}))
            if len(futures) >= 2000:
                await asyncio.gather(*futures)
                futures = []
        acks = await asyncio.gather(*futures)
        return int(acks[-1].seq) if acks else 0
    finally:
        await nc.close()


async def test_live_records_equal_the_simulators_and_an_offline_replays_row_for_row(
    nats_server: EmbeddedNats, desk_run: tuple[Path, Config, list[bytes]], tmp_path: Path
) -> None:
    out, config, lines = desk_run
    replayed = tmp_path / "replayed.duckdb"
    records_from_log(config, lines).write_duckdb(replayed)
    live = tmp_path / "live.duckdb"
    async with run_service(config, fast_settings(nats_server.url, "desk")) as svc:
        await svc.wait_ready()
        nc = await nats.connect(nats_server.url)
        recorder = LogRecorder(
            nc,
            Names("desk"),
            config,
            RecordStore(live, config, domain="desk"),
            RecorderSettings(flush_seconds=0.2),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(stop))
        last = await publish_log(nats_server.url, "desk", lines)
        deadline = time.monotonic() + 120
        while recorder.position.input_seq < last and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        # The report and the export read the live database while the recorder follows.
        html, _ = write_monthly_report(live, "acme", "2025-05", tmp_path / "report")
        assert "acme" in html.read_text(encoding="utf-8")
        exported = export_tenant(live, "globex", tmp_path / "export")
        assert any(p.name == "globex-contacts.parquet" for p in exported)
        stop.set()
        await task
        await nc.close()
    assert recorder.position.input_seq == last == len(lines)
    assert recorder.skipped == {}
    simulated = rows(out / "contacts.duckdb")
    assert simulated["contacts"], "the day has contacts"
    assert rows(replayed) == simulated
    assert rows(live) == simulated


def _recorder_process(url: str, config_file: Path, db: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ccroute",
            "record",
            "--config",
            str(config_file),
            "--nats",
            url,
            "--domain",
            "desk",
            "--records",
            str(db),
            "--flush-seconds",
            "0.05",
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
    )


def _stored_input_seq(db: Path) -> int:
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return -1  # the recorder is committing
    try:
        got = con.execute("SELECT value FROM meta WHERE key = 'recorder_input_seq'").fetchone()
    except duckdb.Error:
        return -1
    finally:
        con.close()
    return int(got[0]) if got else 0


async def test_a_recorder_killed_with_kill_9_resumes_without_doubling_or_missing_a_contact(
    nats_server: EmbeddedNats, desk_run: tuple[Path, Config, list[bytes]], tmp_path: Path
) -> None:
    out, config, lines = desk_run
    config_file = out / "ccroute.toml"
    db = tmp_path / "live.duckdb"
    log = tmp_path / "recorder.log"
    rng = random.Random(5)
    kills = 0
    async with run_service(config, fast_settings(nats_server.url, "desk")) as svc:
        await svc.wait_ready()
        proc = _recorder_process(nats_server.url, config_file, db, log)
        try:
            step = len(lines) // 4 + 1
            for i in range(0, len(lines), step):
                await publish_log(nats_server.url, "desk", lines[i : i + step])
                # Kill it while it folds and commits (the commit period is 50 ms).
                await asyncio.sleep(rng.uniform(0.3, 1.5))
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                kills += 1
                proc = _recorder_process(nats_server.url, config_file, db, log)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and (
                _stored_input_seq(db) < len(lines)
                # The last one has started (its signal handlers are in place).
                or log.read_text().count("recorder_resumed") < kills + 1
            ):
                await asyncio.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    assert kills == 4
    got = rows(db)
    con = duckdb.connect(str(db), read_only=True)
    n, distinct = con.execute(
        "SELECT count(*), count(DISTINCT (tenant, contact)) FROM contacts"
    ).fetchone() or (0, 0)
    con.close()
    assert n == distinct, "a contact written twice"
    assert got == rows(out / "contacts.duckdb"), log.read_text()[-3000:]


DAY = "2025-05-05"
#: The figures every view must agree on (``ccroute.metrics.headline``).
SAME = (
    "arrived",
    "offered",
    "answered",
    "answered_within_threshold",
    "abandoned",
    "short_abandoned",
    "service_level_percent",
    "answered_percent",
    "abandon_rate_percent",
    "asa_seconds",
)


def _pick(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: figures[k] for k in SAME}


async def test_live_figures_replay_stats_demo_summary_and_report_give_the_same_numbers(
    nats_server: EmbeddedNats, desk_run: tuple[Path, Config, list[bytes]], tmp_path: Path
) -> None:
    """For the same log and the same day: the service's live tenant entries, the report
    (from the recorder's database), ``replay --stats`` and the demo summary."""
    from ccroute.metrics import cube_from_duckdb, headline
    from ccroute.simulation.summary import run_figures

    out, config, lines = desk_run
    live = tmp_path / "live.duckdb"
    async with run_service(config, fast_settings(nats_server.url, "desk")) as svc:
        await svc.wait_ready()
        nc = await nats.connect(nats_server.url)
        recorder = LogRecorder(nc, Names("desk"), config, RecordStore(live, config, domain="desk"))
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(stop))
        last = await publish_log(nats_server.url, "desk", lines)
        deadline = time.monotonic() + 120
        while recorder.position.input_seq < last and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await task
        assert svc.service.router is not None
        await svc.service.router.flush_projections()
        kv = await nc.jetstream().key_value(Names("desk").kv_bucket)
        live_days = {
            t.id: json.loads((await kv.get(Names.tenant_day_key(t.id, DAY))).value or b"{}")
            for t in config.tenants
        }
        await nc.close()

    events = out / "events.jsonl"
    replay = subprocess.run(
        [sys.executable, "-m", "ccroute", "replay", "-c", str(out / "ccroute.toml"),
         str(events), "--stats"],
        capture_output=True, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "python")},
    )  # fmt: skip
    replay_figures = json.loads(replay.stderr)["figures"]["by_tenant"]
    summary = {
        t.tenant: t.figures
        for t in run_figures(recorder.recorder, config, recorder.recorder.clock_ms).tenants
    }
    for tenant in config.tenants:
        cube, _ = cube_from_duckdb(live, tenant=tenant.id)
        day = cube.collect(period="day", tz=tenant.timezone, tenant=tenant.id)
        report_day = _pick(headline(day[(DAY, ())]))
        # The day is the whole log: nothing is answered or given up after midnight.
        report_all = _pick(headline(cube.figures(tenant=tenant.id)))
        assert report_all == report_day
        assert report_day["offered"] == report_day["answered"] + report_day["abandoned"] > 0
        assert _pick(live_days[tenant.id]) == report_day, tenant.id
        assert _pick(replay_figures[tenant.id]) == report_day, tenant.id
        assert _pick(headline(summary[tenant.id])) == report_day, tenant.id


async def _scrape(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    body = await reader.read()
    writer.close()
    return body.decode().split("\r\n\r\n", 1)[1]


def _samples(text: str, name: str) -> dict[str, float]:
    return {
        line.split(" ")[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{")
    }


@pytest.mark.parametrize("tenants", [False, True])
async def test_business_metrics_per_queue_only_behind_the_provider_switch(
    nats_server: EmbeddedNats,
    desk_run: tuple[Path, Config, list[bytes]],
    tmp_path: Path,
    tenants: bool,
) -> None:
    from dataclasses import replace

    from ccroute.metrics import cube_from_records, headline

    _, config, lines = desk_run
    settings = replace(
        fast_settings(nats_server.url, "desk"), metrics_port=0, metrics_tenants=tenants
    )
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
        last = await publish_log(nats_server.url, "desk", lines)
        router = svc.service.router
        assert router is not None
        deadline = time.monotonic() + 60
        while router.confirmed_seq < last and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert svc.service.metrics_server is not None
        text = await _scrape(svc.service.metrics_server.port)
        projections = router.projections
        await router.flush_projections()
        board = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "ccroute", "status", "--nats", nats_server.url,
             "--domain", "desk", "--tenant", "acme"],
            capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO / "python")},
        )  # fmt: skip
        unknown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "ccroute", "status", "--nats", nats_server.url,
             "--domain", "desk", "--tenant", "initech"],
            capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO / "python")},
        )  # fmt: skip
    # The day as the report counts it (the simulator's records of the same log).
    cube = cube_from_records(config, records_from_log(config, lines).records())
    agents = _samples(text, "ccroute_agents")
    if not tenants:
        assert 'tenant="' not in text and 'queue="' not in text
        sl = _samples(text, "ccroute_service_level_today_percent")
        expected = headline(cube.figures())["service_level_percent"]
        assert [round(v, 2) for v in sl.values()] == [expected]
        assert sum(agents.values()) == len(config.agents)
        return
    for q in config.queues:
        labels = f'domain="desk",queue="{q.id}",tenant="{q.tenant}"'
        sl = _samples(text, "ccroute_service_level_today_percent")
        offered = _samples(text, "ccroute_offered_today")
        fig = headline(cube.figures(tenant=q.tenant, queue=q.id))
        assert projections.queue_today((q.tenant, q.id))["date"] == DAY
        assert offered[f"ccroute_offered_today{{{labels}}}"] == fig["offered"]
        assert (
            round(sl[f"ccroute_service_level_today_percent{{{labels}}}"], 2)
            == (fig["service_level_percent"])
        )
        waiting = _samples(text, "ccroute_contacts_waiting")[
            f"ccroute_contacts_waiting{{{labels}}}"
        ]
        assert waiting == len(projections.waiting[(q.tenant, q.id)])
    for t in config.tenants:
        assert sum(v for k, v in agents.items() if f'tenant="{t.id}"' in k) == len(config.agents)
    # The terminal board shows the same day, per queue.
    assert board.returncode == 0, board.stderr
    text_board = board.stdout.decode()
    assert "globex" not in text_board
    voice = next(ln for ln in text_board.splitlines() if ln.strip().startswith("acme-voice"))
    fig = headline(cube.figures(tenant="acme", queue="acme-voice"))
    assert voice.split()[1:4] == [str(fig["offered"]), str(fig["answered"]), str(fig["abandoned"])]
    assert f"{fig['service_level_percent']:.1f}" == voice.split()[4]
    assert unknown.returncode == 2 and "tenants: acme, globex" in unknown.stdout.decode()


def _pids_of_recorders(parent: int) -> list[int]:
    """The ``ccroute record`` children of a process (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"record" in cmd:
            out.append(int(stat.parent.name))
    return out


async def test_serve_runs_the_recorder_as_its_child_and_it_ends_with_it(
    nats_server: EmbeddedNats, desk_run: tuple[Path, Config, list[bytes]], tmp_path: Path
) -> None:
    from .conftest import serve_subprocess, stop_subprocess

    out, _, lines = desk_run
    db = tmp_path / "ccroute-data" / "contacts.duckdb"
    proc = serve_subprocess(out / "ccroute.toml", nats_server.url, "desk", log=tmp_path / "s.log")
    try:
        nc = await nats.connect(nats_server.url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the service creates the streams
            try:
                await nc.jetstream().stream_info(Names("desk").decision_stream)
                break
            except Exception:
                await asyncio.sleep(0.1)
        await nc.close()
        await publish_log(nats_server.url, "desk", lines)
        deadline = time.monotonic() + 120
        while _stored_input_seq(db) < len(lines) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        children = _pids_of_recorders(proc.pid)
        assert len(children) == 1, (tmp_path / "s.log").read_text()[-2000:]
        # kill -9 of the service: its recorder sees its pipe close and ends too.
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 20
        while Path(f"/proc/{children[0]}").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert (
            not Path(f"/proc/{children[0]}/cmdline").exists()
            or not Path(f"/proc/{children[0]}/cmdline").read_bytes()
        )
    finally:
        stop_subprocess(proc)
    assert rows(db) == rows(out / "contacts.duckdb")


async def test_what_the_recorder_cannot_fold_is_counted_logged_once_and_skipped(
    nats_server: EmbeddedNats,
    desk_run: tuple[Path, Config, list[bytes]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, config, lines = desk_run
    names = Names("desk")
    db = tmp_path / "live.duckdb"
    head, tail = lines[:200], lines[200:400]
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    recorder = LogRecorder(nc, names, config, RecordStore(db, config, domain="desk"))
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        async with run_service(config, fast_settings(nats_server.url, "desk")) as svc:
            await svc.wait_ready()
            task = asyncio.create_task(recorder.run(stop))
            first = await publish_log(nats_server.url, "desk", head)
            while recorder.folded.input_seq < first:
                await asyncio.sleep(0.05)
        # A rogue publisher on the decision stream: a decision of an input already folded
        # (out of order, twice), and one naming no input at all. It writes while no writer
        # runs: a writer's fenced publishes are refused by foreign messages appended
        # behind its back (see test_service_fencing.py), which is not what this tests.
        late = (
            b'{"type":"offer_expired","id":"x1","ts":1,"cause":"?","tenant":"acme",'
            b'"contact":"c-late","queue":"acme-voice","channel":"voice","agent":"a"}'
        )
        subject = names.decision_subject("offer_expired", "acme", "a")
        await js.publish(subject, late, headers={"Nats-Msg-Id": "desk:3:99"})
        await js.publish(subject, late, headers={"Nats-Msg-Id": "desk:4:99"})
        await js.publish(subject, late, headers={"Nats-Msg-Id": "not-ours"})
        async with run_service(config, fast_settings(nats_server.url, "desk")) as svc:
            await svc.wait_ready()
            last = await publish_log(nats_server.url, "desk", tail)
            deadline = time.monotonic() + 60
            while recorder.position.input_seq < last and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        if task is not None:
            await task
        await nc.close()
    assert recorder.skipped["decision_out_of_order"] == 2
    assert recorder.skipped["decision_without_input"] == 1
    assert recorder.position.input_seq == last == 400  # it went on past them
    logged = [r.getMessage() for r in caplog.records if "recorder_skipped" in r.getMessage()]
    assert len([m for m in logged if "decision_out_of_order" in m]) == 1  # once per kind
    assert any("seq=" in m for m in logged)
    # What it stored is exactly what the day's first 400 inputs make.
    expected = tmp_path / "expected.duckdb"
    records_from_log(config, lines[:400]).write_duckdb(expected)
    assert rows(db) == rows(expected)
