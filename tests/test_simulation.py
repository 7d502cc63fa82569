"""The simulator: a contact centre's days played through the real engine.

Small scenarios written here in TOML: a day at a two-queue help desk, a pooled phone
queue to hold against Erlang C, and broken files whose errors must name the key.
"""

from __future__ import annotations

import io
import statistics
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from ccroute.config import config_from_dict, load_config
from ccroute.engine import Engine
from ccroute.events import InputRejected, decode_input
from ccroute.records import ContactRecorder
from ccroute.simulation import ScenarioError, load_scenario, simulate
from ccroute.simulation.engine_toml import config_to_toml
from ccroute.simulation.runner import run_scenario
from ccroute.simulation.scenario import LoadedScenario, scenario_from_text
from ccroute.simulation.silos import TEAMS, silo_config
from ccroute.simulation.staff import check_coverage, simulated_config
from ccroute.staffing import evaluate

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# A Monday and Tuesday at a small help desk: calls 8-16 in Finnish and Swedish (with
# callback requests), e-mail day and night; two shifts with breaks; agents who now and
# then decline or miss an offer.
HELP_DESK = """
[scenario]
name = "help desk"
start = 2025-05-05
days = 2
seed = 7

[engine.routing]
offer_timeout_seconds = 20
decline_cooldown_seconds = 30

[[engine.tenants]]
id = "acme"

[[engine.queues]]
id = "acme-voice"
tenant = "acme"
channels = ["voice", "callback"]
wrap_up_seconds = 60

[[engine.queues]]
id = "acme-email"
tenant = "acme"
channels = ["email"]
interruptible = true
wrap_up_seconds = 120

[hours.office]
mon = "08:00-16:00"
tue = "08:00-16:00"

[profiles.office]
weights = [0, 0, 0, 0, 0, 0, 0, 0, 8, 10, 10, 9, 7, 8, 9, 8, 0, 0, 0, 0, 0, 0, 0, 0]

[shifts.early]
start = "07:45"
hours = 8
breaks = [
  { after_minutes = 0, minutes = 10, reason = "briefing" },
  { after_minutes = 240, minutes = 30, reason = "lunch" },
]

[shifts.late]
start = "09:00"
hours = 8.5
breaks = [{ after_minutes = 180, minutes = 30, reason = "lunch" }]

[[agents]]
group = "desk"
count = 7
languages = ["fi", "sv"]
capacity = { voice = 1, callback = 1, email = 1 }
shifts = ["early", "late"]
miss_percent = 2
reject_percent = 2

[[traffic]]
queue = "acme-voice"
channel = "voice"
per_day = { mon = 420, tue = 380 }
profile = "office"
hours = "office"
languages = { fi = 80, sv = 20 }
topics = { billing = 2, moving = 1 }
callback_percent = 30
callback_queue = "acme-voice"
survey = { share = 0.3, nps_weights = [1, 1, 1, 1, 1, 2, 3, 5, 8, 9, 9], \
wait_penalty_seconds = 120 }

[[traffic]]
queue = "acme-email"
per_day = { mon = 90, tue = 90, wed = 90 }
"""


def help_desk(**replace: str) -> LoadedScenario:
    text = HELP_DESK
    for old, new in replace.items():
        text = text.replace(old, new)
    return scenario_from_text(text, source="help-desk.toml")


def event_log(ld: LoadedScenario, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    simulate(ld, log=buf, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue()


# --------------------------------------------------------------------- determinism


def test_the_same_seed_gives_the_same_event_log_byte_for_byte() -> None:
    first = event_log(help_desk())
    assert first == event_log(help_desk())
    assert first != event_log(help_desk(), seed=8)


def test_batches_are_exact_the_log_equals_one_event_per_engine_call() -> None:
    assert event_log(help_desk(), batch=True) == event_log(help_desk(), batch=False)


# --------------------------------------------------------------- a day at the desk


@pytest.fixture(scope="module")
def desk_day() -> tuple[LoadedScenario, bytes, ContactRecorder]:
    ld = help_desk()
    rec = ContactRecorder(simulated_config(ld))
    buf = io.BytesIO()
    res = simulate(ld, log=buf, observe=rec.observe)
    assert res.rejected == 0, res.rejections
    return ld, buf.getvalue(), rec


def test_every_contact_is_answered_or_abandoned_or_still_open_only_at_the_end(
    desk_day: tuple[LoadedScenario, bytes, ContactRecorder],
) -> None:
    _, _, rec = desk_day
    records = rec.records()
    outcomes = Counter(r.outcome for r in records)
    assert outcomes["completed"] > 500 and outcomes["abandoned"] > 0
    last_logout = max(a.start_ms for a in rec.agent_activity() if a.state == "offline")
    for r in records:
        if r.outcome == "completed":
            assert r.answered_ms is not None and r.agent is not None
            assert r.completed_ms is not None and r.closed_ms is not None
            assert r.arrived_ms <= r.answered_ms <= r.completed_ms <= r.closed_ms
        elif r.outcome == "abandoned":
            assert r.answered_ms is None and r.abandoned_ms is not None
            assert r.channel == "voice"  # only callers hang up; e-mails and callbacks wait
        else:
            # Still open: e-mail that came in after the last agent went home, and waits.
            assert r.channel == "email" and r.answered_ms is None
            assert r.arrived_ms > last_logout - 3_600_000


def test_callers_who_give_up_may_leave_a_callback_request(
    desk_day: tuple[LoadedScenario, bytes, ContactRecorder],
) -> None:
    _, _, rec = desk_day
    by_id = {r.contact: r for r in rec.records()}
    callbacks = [r for r in by_id.values() if r.channel == "callback"]
    assert callbacks
    for cb in callbacks:
        caller = by_id[cb.contact.removesuffix("-cb")]
        assert caller.outcome == "abandoned" and caller.abandoned_ms is not None
        assert cb.arrived_ms > caller.abandoned_ms


def test_agents_log_in_for_their_shifts_and_mark_their_breaks(
    desk_day: tuple[LoadedScenario, bytes, ContactRecorder],
) -> None:
    _, _, rec = desk_day
    reasons = Counter(a.reason for a in rec.agent_activity() if a.state == "paused")
    assert reasons["briefing"] > 0 and reasons["lunch"] > 0
    # Every agent ends the day logged out, after finishing the contact in hand.
    for agent in rec.agents():
        assert rec.agent_activity(agent)[-1].state == "offline"


def test_surveys_follow_completed_contacts_and_long_waits_rate_lower(
    desk_day: tuple[LoadedScenario, bytes, ContactRecorder],
) -> None:
    _, _, rec = desk_day
    rated = [r for r in rec.records() if r.csat is not None]
    assert len(rated) > 50
    assert all(r.outcome == "completed" and r.survey_ms > r.closed_ms for r in rated)  # type: ignore[operator]
    assert all(r.nps is not None for r in rated if r.channel == "voice")
    quick = [r.csat for r in rated if (r.wait_ms or 0) < 20_000]
    slow = [r.csat for r in rated if (r.wait_ms or 0) > 240_000]
    assert quick and slow
    assert statistics.mean(slow) < statistics.mean(quick)  # type: ignore[type-var]


def test_no_call_arrives_outside_service_hours(
    desk_day: tuple[LoadedScenario, bytes, ContactRecorder],
) -> None:
    _, _, rec = desk_day
    for r in rec.records():
        if r.channel == "voice":
            local = r.arrived_ms // 1000 + 3 * 3600  # Helsinki is UTC+3 in May
            assert 8 * 3600 <= local % 86400 < 16 * 3600


def test_the_log_replays_through_ccroute_replay_with_the_config_the_run_wrote(
    desk_day: tuple[LoadedScenario, bytes, ContactRecorder], tmp_path: Path
) -> None:
    ld, log, _ = desk_day
    cfg_path = tmp_path / "ccroute.toml"
    cfg_path.write_text(config_to_toml(simulated_config(ld)), encoding="utf-8")
    assert load_config(cfg_path) == simulated_config(ld)
    decisions = Engine.from_toml(cfg_path).replay_jsonl(log)
    assert b'"input_rejected"' not in decisions
    assert decisions.count(b'"type":"contact_closed"') > 500


# ------------------------------------------------------------- Erlang C agreement

ERLANG_AGENTS, ERLANG_TRAFFIC, TALK_S, RING_S, THRESHOLD_S = 16, 13.0, 180.0, 2.0, 20
_CALLS_PER_DAY = ERLANG_TRAFFIC / (TALK_S + RING_S) * 3600 * 10
_WEEK = ", ".join(f"{day} = {_CALLS_PER_DAY}" for day in ("mon", "tue", "wed", "thu", "fri"))

POOLED_VOICE = f"""
[scenario]
name = "one pooled phone queue"
start = 2025-05-05
days = 5
seed = 3
tick_seconds = 0

[engine.routing]
offer_timeout_seconds = 30

[[engine.tenants]]
id = "t"

[[engine.queues]]
id = "phones"
tenant = "t"
channels = ["voice"]
service_level = {{ threshold_seconds = {THRESHOLD_S}, target_percent = 80.0 }}

[hours.day]
mon = "08:00-18:00"
tue = "08:00-18:00"
wed = "08:00-18:00"
thu = "08:00-18:00"
fri = "08:00-18:00"

[shifts.long]
start = "07:00"
hours = 12

[[agents]]
group = "agent"
count = {ERLANG_AGENTS}
capacity = {{ voice = 1 }}
shifts = ["long"]
login_jitter_seconds = 0
speed_spread = 0
reject_percent = 0
miss_percent = 0

[[traffic]]
queue = "phones"
per_day = {{ {_WEEK} }}
hours = "day"
noise = 0
handle_time = {{ distribution = "exponential", mean_seconds = {TALK_S} }}
patience = {{ distribution = "never" }}
answer_delay = {{ distribution = "fixed", mean_seconds = {RING_S} }}
"""


def test_a_pooled_phone_queue_meets_the_erlang_c_service_level() -> None:
    ld = scenario_from_text(POOLED_VOICE)
    rec = ContactRecorder(simulated_config(ld))
    res = simulate(ld, observe=rec.observe)
    assert res.rejected == 0 and res.abandoned == 0
    answered = [r for r in rec.records() if r.answered_ms is not None]
    assert len(answered) > 10_000
    # Hourly batch means: hours are nearly independent at this load (the queue forgets
    # its past within minutes), so they give an honest confidence band for the mean.
    hours: dict[int, list[bool]] = {}
    for r in answered:
        assert r.wait_ms is not None
        hours.setdefault(r.arrived_ms // 3_600_000, []).append(r.wait_ms <= THRESHOLD_S * 1000)
    means = [sum(v) / len(v) for v in hours.values()]
    mean = statistics.mean(means)
    half_width = 2.7 * statistics.stdev(means) / len(means) ** 0.5  # 99 %, 49 d.f.
    # The agent is reserved while the phone rings and the wait includes the ring, so the
    # engine's "answered within T" is Erlang C's "queued at most T - ring".
    predicted = evaluate(
        ERLANG_TRAFFIC, ERLANG_AGENTS, TALK_S + RING_S, THRESHOLD_S - RING_S
    ).service_level
    assert mean - half_width <= predicted <= mean + half_width
    assert half_width < 0.08  # and the band says something


# ------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('profile = "office"', 'profile = "ofice"', "traffic[0].profile"),
        ("count = 7", 'count = "seven"', "agents[0].count"),
        ('mon = "08:00-16:00"', 'mon = "16:00-08:00"', "hours.office.mon"),
        (
            'tenant = "acme"\nchannels = ["email"]',
            'tenant = "acne"\nchannels = ["email"]',
            "queue 'acme-email' (engine.queues[1].tenant)",
        ),
        ('shifts = ["early", "late"]', 'shifts = ["early", "night"]', "agents[0].shifts"),
        (
            'callback_queue = "acme-voice"',
            'callback_queue = "acme-email"',
            "traffic[0].callback_queue",
        ),
        ("weights = [0, 0, 0, 0, 0, 0, 0, 0, 8,", "weights = [8,", "profiles.office.weights"),
        ("reject_percent = 2", "reject_percent = 200", "agents[0].reject_percent"),
        ("[shifts.late]", "[shifts.late]\nlength = 8", "shifts.late"),
    ],
)
def test_scenario_errors_name_the_file_and_the_key(old: str, new: str, key: str) -> None:
    with pytest.raises(ScenarioError) as err:
        help_desk(**{old: new})
    assert str(err.value).startswith(f"help-desk.toml: {key}")


def test_a_language_nobody_speaks_is_caught_before_simulating() -> None:
    ld = help_desk(**{'languages = ["fi", "sv"]': 'languages = ["fi"]'})
    with pytest.raises(ScenarioError, match=r"traffic\[0\]: no agent group can take voice .* 'sv'"):
        check_coverage(ld, simulated_config(ld))


def test_a_missing_engine_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[scenario]\nname = "x"\nstart = 2025-05-05\nengine = "nope.toml"\n')
    with pytest.raises(ScenarioError, match=r"s.toml: scenario.engine: .*'nope.toml' not found"):
        load_scenario(path)


# ---------------------------------------------------------------- the examples


@pytest.mark.parametrize("name", ["nordic_bpo", "energy_company", "web_shop", "public_agency"])
def test_every_example_scenario_is_valid_and_staffed_for_its_traffic(name: str) -> None:
    ld = load_scenario(EXAMPLES / name / "scenario.toml")
    cfg = simulated_config(ld)
    check_coverage(ld, cfg)
    assert ld.info.days >= 28
    assert {q.tenant for q in cfg.queues} == {t.id for t in cfg.tenants}


def test_the_nordic_provider_has_about_200_blended_agents_and_an_overflow_partner() -> None:
    cfg = simulated_config(load_scenario(EXAMPLES / "nordic_bpo" / "scenario.toml"))
    assert 190 <= len(cfg.agents) <= 210
    serving = Counter(len(a.tenants) if "*" not in a.tenants else 3 for a in cfg.agents)
    assert serving[2] + serving[3] >= 40  # serve several clients
    assert any(a.partner for a in cfg.agents) and sum(bool(a.partner) for a in cfg.agents) < 20


def test_the_example_event_log_replays_without_a_rejection() -> None:
    engine = Engine.from_toml(EXAMPLES / "nordic_bpo" / "ccroute.toml")
    lines = (EXAMPLES / "nordic_bpo" / "events.jsonl").read_bytes().splitlines()
    assert 30 <= len(lines) <= 80
    kinds = Counter(type(decode_input(line)).__name__ for line in lines)
    for kind in (
        "AgentLoggedIn",
        "ContactArrived",
        "OfferAccepted",
        "OfferRejected",
        "ContactCompleted",
        "WrapUpFinished",
        "ContactAbandoned",
        "SurveyAnswered",
        "ClockTick",
        "AgentStateChanged",
    ):
        assert kinds[kind] > 0, kind
    channels = {decode_input(line).channel for line in lines if b"contact_arrived" in line}  # type: ignore[union-attr]
    assert len(channels) >= 3
    for line in lines:
        for d in engine.apply(decode_input(line)):
            assert not isinstance(d, InputRejected), d


# ----------------------------------------------------------- files and silos


def test_simulate_writes_the_log_the_database_the_forecast_and_the_config(tmp_path: Path) -> None:
    import duckdb

    run = run_scenario(help_desk(), tmp_path, days=1)
    assert run.events_path and run.events_path.stat().st_size > 0
    assert run.config_path and load_config(run.config_path) == run.result.config
    con = duckdb.connect(str(run.db_path), read_only=True)
    try:
        n_contacts = con.execute("SELECT count(*) FROM contacts").fetchone()
        forecast = con.execute(
            "SELECT tenant, sum(offered_forecast), max(agents_forecast) FROM forecast GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    assert n_contacts is not None and n_contacts[0] == run.result.arrived + run.result.callbacks
    ((tenant, offered, agents),) = forecast
    assert tenant == "acme" and 420 + 90 - 60 < offered < 420 + 90 + 60 and agents > 1


def test_silos_keep_the_headcount_and_give_each_agent_one_team() -> None:
    ld = load_scenario(EXAMPLES / "nordic_bpo" / "scenario.toml")
    blended = simulated_config(ld)
    silos = silo_config(ld, blended)
    assert [a.id for a in silos.agents] == [a.id for a in blended.agents]
    team_of = {ch: team for team, chans in TEAMS.items() for ch in chans}
    for a in silos.agents:
        assert len({team_of[c] for c, n in a.capacity.items() if n > 0}) == 1
    teams = Counter(team_of[next(iter(a.capacity))] for a in silos.agents)
    assert teams["phone"] > teams["written"] > 0 and teams["chat"] > 0


def test_an_inline_engine_and_a_referenced_one_are_the_same_configuration(
    tmp_path: Path,
) -> None:
    inline = help_desk()
    engine_part = tomllib.loads(HELP_DESK)["engine"]
    (tmp_path / "engine.toml").write_text(
        config_to_toml(config_from_dict(engine_part)), encoding="utf-8"
    )
    body = HELP_DESK[HELP_DESK.index("[hours.office]") :]
    head = '[scenario]\nname = "help desk"\nstart = 2025-05-05\ndays = 2\nseed = 7\n'
    (tmp_path / "s.toml").write_text(head + 'engine = "engine.toml"\n\n' + body)
    referenced = load_scenario(tmp_path / "s.toml")
    assert referenced.engine == inline.engine
    assert event_log(referenced) == event_log(inline)


def test_traffic_can_follow_the_clients_forecast_file(tmp_path: Path) -> None:
    # As a Finnish spreadsheet saves it: semicolons and decimal commas, hourly rows.
    rows = [f"2025-05-05T{h:02d}:00;{n}" for h, n in [(9, "120,5"), (10, "160"), (11, "80")]]
    (tmp_path / "volumes.csv").write_text("interval_start;offered\n" + "\n".join(rows) + "\n")
    engine_part = HELP_DESK[HELP_DESK.index("[engine.routing]") : HELP_DESK.index("[hours.office]")]
    shifts = HELP_DESK[HELP_DESK.index("[shifts.early]") : HELP_DESK.index("[[traffic]]")]
    (tmp_path / "s.toml").write_text(
        '[scenario]\nname = "forecast"\nstart = 2025-05-05\ndays = 1\nseed = 4\n\n'
        + engine_part
        + shifts
        + '[[traffic]]\nqueue = "acme-voice"\nforecast = "volumes.csv"\nnoise = 0\n'
    )
    ld = load_scenario(tmp_path / "s.toml")
    rec = ContactRecorder(simulated_config(ld))
    res = simulate(ld, observe=rec.observe)
    assert 360.5 - 60 < res.arrived < 360.5 + 60
    hours = Counter((r.arrived_ms // 1000 + 3 * 3600) % 86400 // 3600 for r in rec.records())
    assert set(hours) <= {9, 10, 11} and hours[10] > hours[11]
