"""The client's monthly report and the data export: self-contained, per tenant only."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from tests.report_sample import sample_config, sample_feed, sample_forecast, write_forecast

from ccroute.cli import main
from ccroute.metrics import SL_FORMULAS
from ccroute.records import CONTACT_COLUMNS, ContactRecorder
from ccroute.reports import CSV_COLUMNS, ReportError, export_tenant, write_monthly_report

MONTH = "2025-03"
DAYS = 4


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tenants' contacts over four days of March, with a forecast."""
    path = tmp_path_factory.mktemp("db") / "contacts.duckdb"
    cfg = sample_config()
    rec = ContactRecorder(cfg)
    for inp, decisions in sample_feed(cfg, MONTH, days=DAYS, volume=0.4, seed=11):
        rec.observe(inp, decisions)
    rec.write_duckdb(path)
    write_forecast(path, sample_forecast(cfg, MONTH, days=DAYS))
    return path


@pytest.fixture(scope="module")
def report(db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("report")
    html_path, csv_path = write_monthly_report(db, "nordbank", MONTH, out)
    assert html_path == out / "nordbank-2025-03.html" and csv_path == out / "nordbank-2025-03.csv"
    with csv_path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return html_path.read_text(encoding="utf-8"), rows


def _other_tenant_markers(db: Path) -> set[str]:
    """Strings that only the other tenant's data contains: contact ids, queues, pages."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        ids = {
            r[0]
            for r in con.execute("SELECT contact FROM contacts WHERE tenant='kotiposti'").fetchall()
        }
        pages = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT page FROM contacts WHERE tenant='kotiposti' AND page IS NOT NULL "
                "AND page NOT IN (SELECT page FROM contacts WHERE tenant='nordbank' "
                "AND page IS NOT NULL)"
            ).fetchall()
        }
    finally:
        con.close()
    assert ids and pages
    return ids | pages | {"kp-voice", "kp-chat", "Kotiposti", "kotiposti"}


# --------------------------------------------------------------------------- HTML


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in {"meta", "br"}:  # the void elements the report uses
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> after {self.stack[-3:]}"
        self.stack.pop()


def test_the_report_is_one_self_contained_page(report: tuple[str, list[dict[str, str]]]) -> None:
    html, _ = report
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", html)
    assert "url(" not in html and "@import" not in html and " src=" not in html
    checker = _Checker()
    checker.feed(html)
    assert checker.stack == []
    assert checker.tags.count("svg") >= 10
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>")
    for section in (
        "Service level per day",
        "Contacts",
        "Speed of answer and handle time",
        "Channel mix",
        "Topics and outcomes",
        "Contacts to follow up",
        "Customer experience",
        "Where chats started",
        "Callbacks",
        "The overflow partner",
        "Service hours, limits and overflow",
        "Agents: handle time per channel",
        "Forecast and actual volume",
        "How the service level is counted",
    ):
        assert f"<h2>{section}</h2>" in html
    for info in SL_FORMULAS.values():
        assert info.label.replace("'", "&#x27;") in html
    assert "Nordbank Oy — March 2025" in html


def test_a_tenants_report_holds_nothing_of_another_tenant(
    db: Path, report: tuple[str, list[dict[str, str]]]
) -> None:
    html, rows = report
    text = html + json.dumps(rows)
    for marker in _other_tenant_markers(db):
        assert marker not in text, marker
    assert {r["tenant"] for r in rows} == {"nordbank"}


def _db_count(db: Path, tenant: str, where: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            f"SELECT count(*) FROM contacts WHERE tenant = ? AND {where}", [tenant]
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def test_callbacks_and_policies_are_reported_as_the_records_say(
    db: Path, report: tuple[str, list[dict[str, str]]]
) -> None:
    html, rows = report
    total = next(r for r in rows if r["period"] == MONTH and r["channel"] == "all")
    requested = _db_count(db, "nordbank", "callback_requested_at IS NOT NULL")
    unreached = _db_count(db, "nordbank", "outcome = 'callback_unreached'")
    closed = _db_count(db, "nordbank", "closed_reason = 'outside_hours'")
    tickets = _db_count(db, "nordbank", "ticket")
    assert requested and unreached and closed and tickets
    assert int(total["callbacks_requested"]) == requested
    assert int(total["callbacks_unreached"]) == unreached
    assert int(total["closed_by_policy"]) == int(total["closed_outside_hours"]) == closed
    assert int(total["moved"]) == int(total["ticketed"]) == tickets
    # Every callback reached was dialled; failed dials were retried or given up.
    assert int(total["callbacks_made"]) > int(total["callbacks_reached"]) >= 1
    overflow = sum(int(total[f"overflow_{r}"]) for r in ("step", "long_line"))
    assert int(total["overflowed"]) == overflow > 0
    section = html[html.index("<h2>Service hours, limits and overflow</h2>") :]
    assert f"<b>{closed}</b><span>contacts closed with an announcement" in section
    assert "outside the service hours" in section and "long line on arrival" in section
    assert f"<b>{requested}</b><span>callback requests</span>" in html
    # Per day, the columns add up to the month.
    days = [r for r in rows if r["period"] != MONTH and r["channel"] == "all"]
    for col in ("callbacks_requested", "callbacks_made", "closed_by_policy", "moved", "overflowed"):
        assert sum(int(r[col]) for r in days) == int(total[col]), col


def test_a_tenant_without_callbacks_or_closures_sees_none(db: Path, tmp_path: Path) -> None:
    html_path, csv_path = write_monthly_report(db, "kotiposti", MONTH, tmp_path)
    with csv_path.open(encoding="utf-8") as fh:
        total = next(csv.DictReader(fh))
    # The other tenant's callbacks and closed calls are not this tenant's figures.
    for col in ("callbacks_requested", "callbacks_made", "closed_by_policy", "moved"):
        assert total[col] == "0", col
    html = html_path.read_text(encoding="utf-8")
    # Sections a client does not use are left out, not filled with zeros.
    assert "<h2>Callbacks</h2>" not in html
    # Nor does a client who did not ask for it get a table of agents' names.
    assert "<h2>Agents: handle time per channel</h2>" not in html
    assert not (tmp_path / "kotiposti-2025-03-agents.csv").exists()


def test_days_below_target_are_listed(report: tuple[str, list[dict[str, str]]]) -> None:
    html, rows = report
    below = [
        r["period"]
        for r in rows
        if r["channel"] == "all"
        and r["period"] != MONTH
        and r["service_level_pct"]
        and float(r["service_level_pct"]) < float(r["target_pct"])
    ]
    assert below, "the sample's peak day should miss its target"
    table = html.split("<h3>Days below target</h3>", 1)[1].split("</table>", 1)[0]
    for day in below:
        d = dt.date.fromisoformat(day)
        assert f"{d.strftime('%a')} {d.day} {d.strftime('%b')}" in table


def test_the_csv_has_the_documented_columns_and_rows(
    report: tuple[str, list[dict[str, str]]],
) -> None:
    _, rows = report
    assert tuple(rows[0]) == CSV_COLUMNS
    month = [r for r in rows if r["period"] == MONTH]
    assert month[0]["channel"] == "all"
    assert {r["channel"] for r in month} >= {"all", "voice", "chat", "email"}
    days = {r["period"] for r in rows if r["period"] != MONTH}
    # Contacts arrive on the first four days; e-mails are answered on the fifth too.
    assert (
        {f"2025-03-0{d}" for d in range(1, DAYS + 1)}
        <= days
        <= {f"2025-03-0{d}" for d in range(1, DAYS + 2)}
    )
    total = month[0]
    assert int(total["offered"]) == int(total["answered"]) + int(total["abandoned"])
    per_day = sum(int(r["arrived"]) for r in rows if r["channel"] == "all" and r["period"] != MONTH)
    assert per_day == int(total["arrived"])
    assert total["sl_formula"] == "answered_within_t_over_offered"
    assert total["service_level_pct"] == total["sl_answered_within_t_over_offered_pct"]


def test_without_a_forecast_the_report_says_so(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "nofc.duckdb"
    copy.write_bytes(db.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("DROP TABLE forecast")
    con.close()
    html_path, _ = write_monthly_report(copy, "kotiposti", MONTH, tmp_path)
    html = html_path.read_text(encoding="utf-8")
    assert "No volume forecast was stored for this month" in html
    assert "Kotiposti Ab" in html and "Nordbank" not in html


def test_a_month_without_contacts_says_which_months_have_some(db: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ReportError, match=r"no contact of 'nordbank' in 2025-05; months with contacts: 2025-03$"
    ):
        write_monthly_report(db, "nordbank", "2025-05", tmp_path)
    assert main(["report", "--db", str(db), "--tenant", "nordbank", "--month", "2025-05",
                 "--out", str(tmp_path)]) == 2  # fmt: skip


def test_a_month_without_contacts_still_renders_when_asked(db: Path, tmp_path: Path) -> None:
    html_path, csv_path = write_monthly_report(
        db, "nordbank", "2025-05", tmp_path, allow_empty=True
    )
    html = html_path.read_text(encoding="utf-8")
    assert "May 2025" in html and "No contacts this month." in html
    assert csv_path.read_text(encoding="utf-8").count("\n") >= 2


@pytest.mark.parametrize(
    ("tenant", "month", "message"),
    [
        ("nordbank", "2025-13", "YYYY-MM"),
        ("nordbank", "March", "YYYY-MM"),
        ("initech", "2025-03", "unknown tenant 'initech'; tenants here: kotiposti, nordbank"),
    ],
)
def test_bad_arguments_raise_a_clear_error(
    db: Path, tmp_path: Path, tenant: str, month: str, message: str
) -> None:
    with pytest.raises(ReportError, match=re.escape(message)):
        write_monthly_report(db, tenant, month, tmp_path)


# --------------------------------------------------------------------------- export


def test_export_writes_only_the_tenants_rows(db: Path, tmp_path: Path) -> None:
    paths = export_tenant(db, "nordbank", tmp_path)
    names = sorted(p.name for p in paths)
    assert names == [
        "nordbank-agent-work.csv",
        "nordbank-agent-work.parquet",
        "nordbank-config.json",
        "nordbank-contacts.csv",
        "nordbank-contacts.parquet",
    ]
    contacts = pq.read_table(tmp_path / "nordbank-contacts.parquet")
    assert tuple(contacts.column_names) == CONTACT_COLUMNS
    assert set(contacts["tenant"].to_pylist()) == {"nordbank"}
    assert str(contacts.schema.field("arrived_at").type) == "timestamp[ms, tz=UTC]"
    work = pq.read_table(tmp_path / "nordbank-agent-work.parquet")
    assert set(work["tenant"].to_pylist()) == {"nordbank"} and work.num_rows > 0
    with (tmp_path / "nordbank-contacts.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == contacts.num_rows and {r["tenant"] for r in rows} == {"nordbank"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rows[0]["arrived_at"])
    assert isinstance(json.loads(rows[0]["tags"]), list)
    cfg = json.loads((tmp_path / "nordbank-config.json").read_text(encoding="utf-8"))
    assert cfg["tenant"]["id"] == "nordbank"
    assert {q["tenant"] for q in cfg["queues"]} == {"nordbank"}
    everything = "".join(p.read_text(encoding="utf-8") for p in paths if p.suffix != ".parquet")
    everything += json.dumps(contacts.to_pylist(), default=str)
    everything += json.dumps(work.to_pylist(), default=str)
    for marker in _other_tenant_markers(db):
        assert marker not in everything, marker


# --------------------------------------------------------------------------- CLI


def test_cli_report_and_export(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    argv = ["report", "--db", str(db), "--tenant", "kotiposti", "--month", MONTH, "--out", str(out)]
    assert main(argv) == 0
    assert (out / "kotiposti-2025-03.html").is_file()
    assert main(["export", "--db", str(db), "--tenant", "kotiposti", "--out", str(out)]) == 0
    assert (out / "kotiposti-contacts.parquet").is_file()
    assert "kotiposti-contacts.csv" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "--tenant", "nordbank", "--month", "2025-3"], "month must be YYYY-MM"),
        (["report", "--tenant", "nobody", "--month", "2025-03"], "unknown tenant 'nobody'"),
        (["export", "--tenant", "nobody"], "unknown tenant 'nobody'"),
    ],
)
def test_cli_errors_exit_2_with_a_message(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main([*argv, "--db", str(db), "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("cmd", [["report", "--month", "2025-03"], ["export"]])
def test_cli_missing_database_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cmd: list[str]
) -> None:
    missing = tmp_path / "none.duckdb"
    argv = [cmd[0], "--db", str(missing), "--tenant", "t", *cmd[1:], "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "no such database" in capsys.readouterr().err
    assert not missing.exists()


def test_not_a_database_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "x.duckdb"
    bogus.write_text("hello")
    assert main(["export", "--db", str(bogus), "--tenant", "t", "--out", str(tmp_path)]) == 2
    assert "ccroute export:" in capsys.readouterr().err
