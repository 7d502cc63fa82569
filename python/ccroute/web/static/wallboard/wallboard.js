// The supervisor wallboard: queues, agents by state and the month's service level, live.
"use strict";

const $ = (id) => document.getElementById(id);
const wb = { api: null, board: null, receivedAt: 0, months: {}, stream: null };
const STATES = ["available", "busy", "paused", "not_responding", "offline"];

function slClass(value, target) {
  if (value === null || value === undefined) return "";
  if (value < target - 5) return "bad";
  if (value < target) return "near";
  return "good";
}

function pct(v) { return v === null || v === undefined ? "–" : Math.round(v) + " %"; }

function nowServer() {
  // Waits are shown live: the board's own clock plus the time since it arrived.
  return wb.board.now + (Date.now() - wb.receivedAt);
}

function agentState(a) {
  if (a.state === "available" && (a.offers > 0 || Object.values(a.load || {}).some((n) => n > 0))) return "busy";
  return a.state;
}

function queueTile(q) {
  const cls = ["queue"];
  if (q.below_target) cls.push(q.sl_today_percent < q.sl_target_percent - 5 ? "below" : "near");
  if (!q.open) cls.push("closed");
  const wait = q.oldest_arrived_at ? nowServer() - q.oldest_arrived_at : 0;
  return el("div", { class: cls.join(" "), "data-queue": q.queue },
    el("div", { class: "queue-name" }, el("span", {}, q.queue + (q.open ? "" : " · " + t("closedQueue"))),
      el("span", { class: "ch" }, q.channels.map(t).join(" · "))),
    el("div", { class: "queue-figs" },
      el("div", { class: "fig waiting" }, el("div", { class: "v", "data-waiting": q.queue }, q.waiting),
        el("div", { class: "l" }, t("waiting"))),
      el("div", { class: "fig wait" },
        el("div", { class: "v" + (wait > q.sl_threshold_seconds * 1000 ? " long" : ""), "data-since": q.oldest_arrived_at || "" },
          q.waiting ? fmtDuration(wait) : "0:00"),
        el("div", { class: "l" }, t("longestWait"))),
      el("div", { class: "fig sl" },
        el("div", { class: "v " + slClass(q.sl_today_percent, q.sl_target_percent) }, pct(q.sl_today_percent)),
        el("div", { class: "l" }, t("slToday")),
        el("div", { class: "t" }, `${t("target")} ${Math.round(q.sl_target_percent)} % / ${q.sl_threshold_seconds} s`)),
    ),
    el("div", { class: "t muted" }, `${t("agentsAvailable")}: `, el("strong", {}, q.agents_available)));
}

function agentsTable(agents) {
  const now = nowServer();
  const rows = agents.slice().sort((a, b) => STATES.indexOf(agentState(a)) - STATES.indexOf(agentState(b))
    || a.name.localeCompare(b.name));
  return el("table", { class: "agents" },
    el("thead", {}, el("tr", {}, el("th", {}, t("name")), el("th", {}, t("state")),
      el("th", {}, t("timeInState")), el("th", {}, t("load")))),
    el("tbody", {}, rows.map((a) => {
      const st = agentState(a);
      const load = Object.entries(a.load || {}).map(([ch, n]) => `${t(ch)} ${n}/${(a.capacity || {})[ch] || 0}`).join(", ");
      return el("tr", { "data-agent": a.agent },
        el("td", {}, a.name),
        el("td", {}, el("span", { class: "pill " + st }, t(st)), a.reason ? " " + t(a.reason) : ""),
        el("td", {}, a.since ? fmtDuration(now - a.since) : "–"),
        el("td", {}, load || "–"));
    })));
}

function monthStrip(tb) {
  const days = wb.months[tb.tenant];
  const box = el("div", { class: "month" }, el("div", { class: "strip-title" }, t("slMonth")));
  if (!days) return box;
  const today = new Date().toISOString().slice(0, 10);
  box.append(el("div", { class: "strip" }, days.map((d) => el("div", {
    class: "day " + (d.offered ? slClass(d.service_level_percent, tb.sl_target_percent) : "") + (d.date === today ? " today" : ""),
    title: `${d.date}: ${d.offered ? pct(d.service_level_percent) : t("noData")}`,
  }, el("span", {}, d.date.slice(8)), el("b", {}, d.offered ? Math.round(d.service_level_percent) : "")))));
  return box;
}

function tenantBlock(tb) {
  const counts = {};
  for (const a of tb.agents) counts[agentState(a)] = (counts[agentState(a)] || 0) + 1;
  const td = tb.today || {};
  return el("section", { class: "tenant", "data-tenant": tb.tenant },
    el("div", { class: "tenant-head" }, el("h2", {}, tb.name),
      el("div", { class: "today" },
        el("span", {}, t("offeredToday"), el("strong", {}, td.offered || 0)),
        el("span", {}, t("answered"), el("strong", {}, td.answered || 0)),
        el("span", {}, t("abandoned"), el("strong", {}, td.abandoned || 0)),
        el("span", {}, t("slToday"), el("strong", { class: slClass(td.service_level_percent, tb.sl_target_percent) }, pct(td.service_level_percent))))),
    el("div", { class: "queues" }, tb.queues.map(queueTile)),
    el("div", { class: "lower" },
      el("div", {},
        el("div", { class: "states", "data-states": tb.tenant },
          STATES.filter((s) => s !== "not_responding" || counts[s])
            .map((s) => el("span", { class: "pill " + s, "data-state": s }, `${t(s)} ${counts[s] || 0}`))),
        agentsTable(tb.agents)),
      monthStrip(tb)));
}

function render() {
  if (!wb.board) return;
  const box = $("board");
  box.textContent = "";
  for (const tb of wb.board.tenants) box.append(tenantBlock(tb));
  $("scope").textContent = wb.board.tenants.length > 1 ? t("allTenants")
    : (wb.board.tenants[0] ? wb.board.tenants[0].name : "");
}

function tick() {
  $("clock").textContent = new Date().toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (!wb.board) return;
  // Longest waits move every second without a new board.
  document.querySelectorAll("[data-since]").forEach((n) => {
    const since = Number(n.dataset.since);
    if (since) n.textContent = fmtDuration(nowServer() - since);
  });
}

async function loadMonths() {
  if (!wb.board) return;
  const month = new Date().toISOString().slice(0, 7);
  for (const tb of wb.board.tenants) {
    try { wb.months[tb.tenant] = await wb.api.get(`/v1/tenants/${encodeURIComponent(tb.tenant)}/days?month=${month}`); }
    catch (e) { console.error(e); }
  }
  render();
}

function start(token) {
  wb.api = new Api(token);
  const params = new URLSearchParams(location.search);
  const q = params.getAll("tenant").map((x) => "tenant=" + encodeURIComponent(x)).join("&");
  let first = true;
  wb.stream = wb.api.stream("/v1/board/stream" + (q ? "?" + q : ""), (ev, data) => {
    if (ev === "problem") {
      sessionStorage.removeItem("ccroute.board");
      $("signin").classList.remove("hidden");
      $("board").classList.add("hidden");
      $("signin-error").textContent = data.detail || "refused";
      return;
    }
    if (ev !== "board") return;
    wb.board = data;
    wb.receivedAt = Date.now();
    sessionStorage.setItem("ccroute.board", token);
    $("signin").classList.add("hidden");
    $("board").classList.remove("hidden");
    $("signout").classList.remove("hidden");
    render();
    if (first) { first = false; loadMonths(); }
  }, (up) => {
    $("live").classList.toggle("on", up);
    $("live-text").textContent = up ? t("live") : t("reconnecting");
  });
}

document.addEventListener("DOMContentLoaded", () => {
  applyLabels();
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    $("signin-error").textContent = "";
    start($("token").value.trim());
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem("ccroute.board");
    location.reload();
  });
  setInterval(tick, 1000);
  setInterval(loadMonths, 60000);
  tick();
  const token = tokenFromFragment() || sessionStorage.getItem("ccroute.board");
  if (token) start(token);
  else $("token").focus();
});
