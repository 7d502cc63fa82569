"""The monthly report as the client's service manager reads it: the headline adds up,
each channel class's promise comes first, the follow-up list says why a contact is on
it, the agent table is the client's choice, and the labels speak the client's language.

The month is the synthetic one of ``tests/report_sample.py`` (no engine needed).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from tests.report_sample import sample_config, sample_feed

from ccroute.events import SurveyAnswered
from ccroute.records import ContactRecorder
from ccroute.reports.monthly import SECTIONS, build_monthly, render_html, write_monthly_report
from ccroute.reports.monthly.headline import header
from ccroute.reports.monthly.labels import LANGUAGES, Labels
from ccroute.reports.monthly.page import Page

MONTH = "2025-03"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "contacts.duckdb"
    cfg = sample_config()
    rec = ContactRecorder(cfg)
    for inp, decisions in sample_feed(cfg, MONTH, days=5, volume=0.4, seed=3):
        rec.observe(inp, decisions)
    rec.write_duckdb(path)
    return path


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_contacts_tile_is_the_sum_of_its_named_parts(db: Path) -> None:
    for tenant in ("nordbank", "kotiposti"):
        d = build_monthly(db, tenant, MONTH)
        html = render_html(d)
        line = re.search(r"<div class='parts'>(.*?)</div>", html, re.S)
        assert line is not None
        numbers = [_number(x) for x in re.findall(r"<b>([\d,]+)</b>", line.group(1))]
        total, parts = numbers[0], numbers[1:]
        assert total == sum(parts) == d.total.arrived
        # Every part says what it is: "answered", "abandoned", "closed outside ...".
        named = re.sub(r"<[^>]+>", " ", line.group(1))
        assert named.count("answered") == 1 and "abandoned" in named


def test_service_level_per_channel_class_comes_before_the_blend(db: Path) -> None:
    d = build_monthly(db, "nordbank", MONTH)
    html = render_html(d)
    tiles = re.findall(r"<div class='label'>(Service level: [^<]*)</div>", html)
    assert tiles == [
        "Service level: Phone",
        "Service level: Chat",
        "Service level: E-mail and forms",
        "Service level: all channels",
    ]
    phone = d.by_class["phone"]
    assert phone.offered == sum(
        d.by_channel[c].offered for c in ("voice", "callback") if c in d.by_channel
    )


def test_follow_up_rows_show_the_rating_that_flagged_them_in_time_order(db: Path) -> None:
    d = build_monthly(db, "nordbank", MONTH)
    assert d.follow_up, "the sample month has low ratings"
    arrivals = [f.record.arrived_ms for f in d.follow_up]
    assert arrivals == sorted(arrivals)
    for f in d.follow_up:
        r = f.record
        for low in f.low:
            kind, value = low.split()
            if kind == "CSAT":
                assert r.csat is not None and r.csat <= 2 and value == f"{r.csat}/5"
            else:
                assert r.nps is not None and r.nps <= 3 and value == str(r.nps)
        # A good CSAT never shows as the flag of a row flagged by NPS.
        if r.csat is not None and r.csat > 2:
            assert f"CSAT {r.csat}/5" in f.other
    html = render_html(d)
    section = html.split("<h2>Contacts to follow up</h2>", 1)[1].split("</section>", 1)[0]
    flags = re.findall(r"<span class='flag'>([^<]*)</span>", section)
    assert flags and all(x.startswith(("CSAT 1/5", "CSAT 2/5", "NPS ")) for x in flags)


def test_the_agent_table_is_short_natural_and_complete_in_the_csv(db: Path, tmp_path: Path) -> None:
    html_path, _ = write_monthly_report(db, "nordbank", MONTH, tmp_path)
    html = html_path.read_text(encoding="utf-8")
    section = html.split("<h2>Agents: handle time per channel</h2>", 1)[1].split("</section>")[0]
    d = build_monthly(db, "nordbank", MONTH)
    assert len(d.by_agent) > 6  # the sample asks for 6 rows: 3 top, 3 bottom
    assert "agents between, in the agents CSV" in section
    with (tmp_path / "nordbank-2025-03-agents.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["channel"] == "all"]
    assert {r["agent"] for r in rows} == set(d.by_agent)
    shown = re.findall(r"<tr><td>([^<]+?)(?: <span|</td>)", section)
    assert len(shown) == 6
    handled = {r["name"]: int(r["handled"]) for r in rows}
    top, bottom = shown[:3], shown[3:]
    assert min(handled[n] for n in top) >= max(handled[n] for n in bottom)


def test_a_client_without_surveys_sees_no_answers_once_and_no_rating_sections(
    tmp_path: Path,
) -> None:
    # The same month for a client who runs no customer surveys.
    path = tmp_path / "contacts.duckdb"
    cfg = sample_config()
    rec = ContactRecorder(cfg)
    for inp, decisions in sample_feed(cfg, MONTH, days=2, volume=0.2, seed=3):
        if not isinstance(inp, SurveyAnswered):
            rec.observe(inp, decisions)
    rec.write_duckdb(path)
    d = build_monthly(path, "kotiposti", MONTH)
    assert d.total.csat_responses == d.total.nps_responses == 0 and d.total.answered
    html = render_html(d)
    assert html.count("no answers") == 1
    for gone in ("Customer experience", "Contacts to follow up", "Net Promoter Score"):
        assert gone not in html


@pytest.mark.parametrize("lang", [x for x in LANGUAGES if x != "en"])
def test_every_label_has_a_translation(db: Path, lang: str) -> None:
    for tenant in ("nordbank", "kotiposti"):
        d = build_monthly(db, tenant, MONTH)
        tr = Labels(lang)
        page = Page(d, tr)
        header(page)
        for s in SECTIONS:
            s(page)
        assert tr.missing == set(), f"{lang}: no translation for {sorted(tr.missing)}"


def test_the_report_speaks_the_clients_language(db: Path, tmp_path: Path) -> None:
    fi = render_html(build_monthly(db, "nordbank", MONTH), "fi")
    assert "<html lang='fi'>" in fi and "Maaliskuu 2025" in fi
    assert "<h2>Palvelutaso päivittäin</h2>" in fi and "Service level per day" not in fi
    sv = render_html(build_monthly(db, "nordbank", MONTH), "sv")
    assert "<h2>Servicenivå per dag</h2>" in sv and "mars 2025" in sv


def test_tags_carry_the_clients_names_and_no_other_vendor_is_named(db: Path) -> None:
    html = render_html(build_monthly(db, "nordbank", MONTH))
    topics = html.split("<h2>Topics and outcomes</h2>", 1)[1].split("</section>", 1)[0]
    assert ">Cards<" in topics and ">card<" not in topics
    assert "DialOk" not in html


def test_time_to_call_back_is_split_into_requests_made_in_and_out_of_hours(db: Path) -> None:
    d = build_monthly(db, "nordbank", MONTH)
    w = d.callback_waits
    assert w.in_hours + w.out_of_hours > 0
    html = render_html(d)
    section = html.split("<h2>Callbacks</h2>", 1)[1].split("</section>", 1)[0]
    if w.in_hours:
        assert f"asked in service hours ({w.in_hours} requests)" in section
    if w.out_of_hours:
        assert f"asked while closed ({w.out_of_hours} requests" in section
        # A request made while closed waits for the morning: longer than one made in hours.
        assert w.in_hours_s is None or w.out_of_hours_s is not None


def test_every_translation_is_of_a_label_the_report_uses() -> None:
    """A label reworded in a section must be reworded in the translations too."""
    import ast

    from ccroute.metrics import SL_FORMULAS
    from ccroute.reports.monthly import labels
    from ccroute.reports.monthly.headline import _CLASS_TITLES
    from ccroute.reports.monthly.translations import FI, SV

    used: set[str] = set()
    for path in Path(labels.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "tr"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                used.add(node.args[0].value)
    used |= set(labels._REASONS.values()) | set(labels._CLOSED.values()) | {"closed by the rules"}
    used |= set(_CLASS_TITLES.values())
    used |= {x for info in SL_FORMULAS.values() for x in (info.label, info.definition)}
    assert set(FI) == set(SV) == used
