// The agent desktop: sign in, presence, offers with a countdown, work in hand per channel.
"use strict";

const PAUSES = ["lunch", "break", "training", "meeting", "admin"];
const CHANNEL_ORDER = ["voice", "callback", "chat", "social", "email", "web_form"];
const $ = (id) => document.getElementById(id);

const desk = {
  api: null, agent: null, stream: null, status: null, directory: null,
  offers: new Map(), work: new Map(), clockSkew: 0,
};

function key(tenant, contact) { return tenant + "\u241f" + contact; }

function save() {
  sessionStorage.setItem("ccroute.desk.work", JSON.stringify([...desk.work.entries()]));
}

function restore() {
  try { desk.work = new Map(JSON.parse(sessionStorage.getItem("ccroute.desk.work") || "[]")); }
  catch (e) { desk.work = new Map(); }
}

function tenantName(id) { return (desk.directory && desk.directory.tenants[id]) || id; }

function facts(rows) {
  const dl = el("dl", { class: "facts" });
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", {}, t(label)), el("dd", {}, value));
  }
  return dl;
}

function reasonText(reason) {
  if (!reason) return null;
  return `${reason.strategy} · ${reason.score} · ${reason.considered}`;
}

function contactRows(item) {
  const d = item.details || {};
  return [
    ["tenant", tenantName(item.tenant)],
    ["queue", item.queue],
    ["channel", t(item.channel)],
    ["language", d.language ? d.language.toUpperCase() : "—"],
    ["waited", fmtDuration(item.waited_ms)],
    ["reason", reasonText(item.reason)],
    ["customer", d.customer],
    ["tags", (d.tags || []).join(", ")],
  ];
}

// ----------------------------------------------------------------------------- offers

function currentOffer() {
  let best = null;
  for (const o of desk.offers.values()) if (!best || o.receivedAt < best.receivedAt) best = o;
  return best;
}

function renderOffer() {
  const o = currentOffer();
  $("offer").classList.toggle("hidden", !o);
  $("offer-empty").classList.toggle("hidden", !!o);
  if (!o) return;
  $("offer-channel").textContent = t(o.channel);
  $("offer-channel").className = "channel-badge " + o.channel;
  $("offer-tenant").textContent = tenantName(o.tenant);
  $("offer-queue").textContent = o.queue;
  const box = $("offer-facts");
  box.replaceWith(Object.assign(facts(contactRows(o).slice(2)), { id: "offer-facts" }));
  tickOffer();
}

function tickOffer() {
  const o = currentOffer();
  if (!o) return;
  const left = Math.max(0, o.windowMs - (Date.now() - o.receivedAt));
  $("offer-seconds").textContent = Math.ceil(left / 1000) + " " + t("seconds");
  const fill = $("offer-bar");
  fill.style.width = (100 * left / o.windowMs).toFixed(1) + "%";
  fill.classList.toggle("low", left < 5000);
}

function onOffer(msg) {
  const d = msg.offer;
  const details = msg.details || null;
  desk.offers.set(key(d.tenant, d.contact), {
    tenant: d.tenant, contact: d.contact, queue: d.queue, channel: d.channel,
    offer: d.offer, reason: d.reason, details,
    waited_ms: details ? Math.max(0, d.ts - details.arrived_at) : 0,
    windowMs: Math.max(1000, d.expires_at - d.ts), receivedAt: Date.now(),
  });
  renderOffer();
  renderStatus();
}

async function answerOffer(accept) {
  const o = currentOffer();
  if (!o) return;
  const path = `/v1/agents/${encodeURIComponent(desk.agent)}/${accept ? "accept" : "reject"}`;
  desk.offers.delete(key(o.tenant, o.contact));
  if (accept) {
    desk.work.set(key(o.tenant, o.contact), { ...o, phase: "offered", since: Date.now() });
    save();
  }
  renderOffer();
  renderWork();
  try {
    await desk.api.post(path, { tenant: o.tenant, contact: o.contact });
  } catch (e) {
    console.error(e);
  }
}

// ----------------------------------------------------------------------------- work

function renderWork() {
  const box = $("work");
  box.textContent = "";
  $("work-empty").classList.toggle("hidden", desk.work.size > 0);
  const byChannel = new Map();
  for (const item of desk.work.values()) {
    if (!byChannel.has(item.channel)) byChannel.set(item.channel, []);
    byChannel.get(item.channel).push(item);
  }
  const channels = [...byChannel.keys()].sort(
    (a, b) => CHANNEL_ORDER.indexOf(a) - CHANNEL_ORDER.indexOf(b));
  for (const ch of channels) {
    const group = el("div", { class: "channel-group" }, el("h3", {}, t(ch)));
    for (const item of byChannel.get(ch)) group.append(workItem(item));
    box.append(group);
  }
}

function workItem(item) {
  const k = key(item.tenant, item.contact);
  const phase = item.phase === "wrap_up" ? "wrapUp" : item.phase === "offered" ? "offered" : "active";
  const actions = el("div", { class: "actions" });
  if (item.phase === "wrap_up") {
    actions.append(el("button", { class: "btn primary", onclick: () => wrapUpDone(item) }, t("wrapUpDone")));
  } else if (item.channel === "callback") {
    for (const outcome of ["reached", "no_answer", "busy"]) {
      actions.append(el("button", { class: "btn", onclick: () => callbackResult(item, outcome) },
        t(outcome === "busy" ? "busy_line" : outcome)));
    }
    actions.append(el("button", { class: "btn primary", onclick: () => openComplete(item) }, t("complete")));
  } else {
    actions.append(
      el("button", { class: "btn primary", onclick: () => openComplete(item), "data-contact": item.contact }, t("complete")),
      el("button", { class: "btn", onclick: () => openTransfer(item) }, t("transfer")),
    );
  }
  return el("article", { class: "item", "data-key": k, "aria-label": item.contact },
    el("span", { class: "channel-badge " + item.channel }, t(item.channel)),
    el("div", {},
      el("span", { class: "title" }, tenantName(item.tenant) + " · " + item.contact),
      el("span", { class: "pill phase " + (item.phase === "wrap_up" ? "paused" : "busy") }, t(phase))),
    facts(contactRows(item).slice(1)),
    actions);
}

let completing = null;
function openComplete(item) {
  completing = item;
  $("complete-what").textContent = tenantName(item.tenant) + " · " + item.contact;
  $("complete-error").textContent = "";
  $("wrap-code").value = "";
  $("wrap-tags").value = "";
  $("complete-dialog").showModal();
  $("wrap-code").focus();
}

async function submitComplete(ev) {
  ev.preventDefault();
  if (ev.submitter && ev.submitter.value === "cancel") { $("complete-dialog").close(); return; }
  const item = completing;
  const tags = $("wrap-tags").value.split(",").map((s) => s.trim()).filter(Boolean);
  try {
    await desk.api.post(`/v1/agents/${encodeURIComponent(desk.agent)}/complete`, {
      tenant: item.tenant, contact: item.contact, wrap_up_code: $("wrap-code").value.trim(),
      tags, resolved: $("wrap-resolved").checked,
    });
    $("complete-dialog").close();
  } catch (e) {
    $("complete-error").textContent = e.message;
  }
}

let transferring = null;
function openTransfer(item) {
  transferring = item;
  $("transfer-what").textContent = tenantName(item.tenant) + " · " + item.contact;
  $("transfer-error").textContent = "";
  const qs = $("transfer-queue");
  qs.textContent = "";
  qs.append(el("option", { value: "" }, "—"));
  for (const q of (desk.directory ? desk.directory.queues : []))
    if (q.tenant === item.tenant && q.queue !== item.queue && q.channels.includes(item.channel))
      qs.append(el("option", { value: q.queue }, q.queue));
  const as = $("transfer-agent");
  as.textContent = "";
  as.append(el("option", { value: "" }, "—"));
  for (const a of (desk.directory ? desk.directory.agents : []))
    if (a.tenants.includes("*") || a.tenants.includes(item.tenant))
      as.append(el("option", { value: a.agent }, a.name));
  $("transfer-dialog").showModal();
  qs.focus();
}

async function submitTransfer(ev) {
  ev.preventDefault();
  if (ev.submitter && ev.submitter.value === "cancel") { $("transfer-dialog").close(); return; }
  const item = transferring;
  const body = { tenant: item.tenant, contact: item.contact };
  if ($("transfer-queue").value) body.to_queue = $("transfer-queue").value;
  else if ($("transfer-agent").value) body.to_agent = $("transfer-agent").value;
  try {
    await desk.api.post(`/v1/agents/${encodeURIComponent(desk.agent)}/transfer`, body);
    $("transfer-dialog").close();
  } catch (e) {
    $("transfer-error").textContent = e.message;
  }
}

async function wrapUpDone(item) {
  await desk.api.post(`/v1/agents/${encodeURIComponent(desk.agent)}/wrap-up-done`,
    { tenant: item.tenant, contact: item.contact }).catch(console.error);
}

async function callbackResult(item, outcome) {
  await desk.api.post(`/v1/agents/${encodeURIComponent(desk.agent)}/callback-result`,
    { tenant: item.tenant, contact: item.contact, outcome }).catch(console.error);
}

// ----------------------------------------------------------------------------- decisions

function onDecision(d) {
  const k = d.tenant ? key(d.tenant, d.contact) : null;
  switch (d.type) {
    case "offer_expired":
    case "offer_revoked":
      desk.offers.delete(k);
      if (desk.work.get(k) && desk.work.get(k).phase === "offered") desk.work.delete(k);
      break;
    case "contact_assigned": {
      const prev = desk.work.get(k) || desk.offers.get(k) || {};
      desk.offers.delete(k);
      desk.work.set(k, { ...prev, tenant: d.tenant, contact: d.contact, queue: d.queue,
        channel: d.channel, waited_ms: d.wait_ms, phase: "active", since: Date.now() });
      break;
    }
    case "wrap_up_started":
      if (desk.work.has(k)) desk.work.get(k).phase = "wrap_up";
      break;
    case "wrap_up_ended":
      desk.work.delete(k);
      break;
    case "contact_closed":
    case "contact_handed_over":
      desk.work.delete(k);
      desk.offers.delete(k);
      break;
    case "work_interrupted":
      if (desk.work.has(k)) desk.work.get(k).phase = "interrupted";
      break;
    case "work_resumed":
      if (desk.work.has(k)) desk.work.get(k).phase = "active";
      break;
    case "agent_state_set":
      // Shown at once; the projection's status (load, capacity) follows shortly.
      if (desk.status) {
        onStatus({ ...desk.status, state: d.state, reason: d.reason || null, since: d.ts,
          time_in_state_ms: 0 });
      }
      break;
    default:
      break;
  }
  save();
  renderOffer();
  renderWork();
  renderStatus();
}

// ----------------------------------------------------------------------------- presence

// The items held per channel, counted from what this desktop was sent: work in hand (wrap-up
// included) and open offers (the engine counts an offer against capacity when it is made).
function currentLoad() {
  const load = {};
  for (const item of [...desk.work.values(), ...desk.offers.values()]) {
    load[item.channel] = (load[item.channel] || 0) + 1;
  }
  return load;
}

function displayState(s) {
  if (!s) return "offline";
  if (s.state === "available" && Object.values(currentLoad()).some((n) => n > 0)) return "busy";
  return s.state;
}

function renderStatus() {
  const s = desk.status;
  if (!s) return;
  const shown = displayState(s);
  $("state-pill").textContent = t(shown);
  $("state-pill").className = "pill " + shown;
  $("state-reason").textContent = s.reason ? t(s.reason) : "";
  const sel = $("presence");
  sel.value = s.state === "paused" ? "paused:" + (s.reason || "break") : s.state;
  const load = $("load");
  load.textContent = "";
  for (const ch of CHANNEL_ORDER) {
    const cap = (s.capacity || {})[ch];
    if (!cap) continue;
    const n = currentLoad()[ch] || 0;
    load.append(el("div", { class: "load-row" },
      el("span", {}, t(ch)),
      el("div", { class: "load-track" }, el("div", { class: "load-fill", style: `width:${100 * n / cap}%` })),
      el("span", { class: "muted" }, `${n}/${cap}`)));
  }
  tickStatus();
}

function tickStatus() {
  const s = desk.status;
  if (!s || !s.since) { $("state-time").textContent = "0:00"; return; }
  $("state-time").textContent = fmtDuration(Date.now() - desk.statusAt + s.time_in_state_ms);
}

function fillPresence() {
  const sel = $("presence");
  sel.textContent = "";
  sel.append(el("option", { value: "available" }, t("available")));
  for (const p of PAUSES) sel.append(el("option", { value: "paused:" + p }, t("paused") + " · " + t(p)));
  sel.append(el("option", { value: "offline" }, t("offline")));
}

async function setPresence(value) {
  const [state, reason] = value.split(":");
  await desk.api.post(`/v1/agents/${encodeURIComponent(desk.agent)}/state`,
    reason ? { state, reason } : { state }).catch(console.error);
}

// ----------------------------------------------------------------------------- session

async function start(agent, token, doLogin) {
  desk.api = new Api(token);
  desk.agent = agent;
  const status = await desk.api.get(`/v1/agents/${encodeURIComponent(agent)}`);
  desk.directory = await desk.api.get(`/v1/agents/${encodeURIComponent(agent)}/directory`);
  sessionStorage.setItem("ccroute.desk", JSON.stringify({ agent, token }));
  restore();
  $("signin").classList.add("hidden");
  $("desk").classList.remove("hidden");
  for (const id of ["who", "presence-box", "signout"]) $(id).classList.remove("hidden");
  const me = desk.directory.agents.find((a) => a.agent === agent);
  $("agent-name").textContent = status.name || (me && me.name) || agent;
  onStatus(status);
  desk.stream = desk.api.stream(`/v1/agents/${encodeURIComponent(agent)}/stream`, (ev, data) => {
    if (ev === "status") onStatus(data);
    else if (ev === "offer") onOffer(data);
    else if (ev === "decision") onDecision(data);
  }, (up) => $("live").classList.toggle("on", up));
  if (doLogin && status.state === "offline") {
    await desk.api.post(`/v1/agents/${encodeURIComponent(agent)}/login`, { state: "available" });
  }
  renderOffer();
  renderWork();
  document.activeElement.blur();
}

function onStatus(s) {
  desk.status = s;
  desk.statusAt = Date.now();
  renderStatus();
}

async function signOut() {
  try { await desk.api.post(`/v1/agents/${encodeURIComponent(desk.agent)}/logout`, {}); }
  catch (e) { console.error(e); }
  if (desk.stream) desk.stream.stop();
  sessionStorage.removeItem("ccroute.desk");
  sessionStorage.removeItem("ccroute.desk.work");
  location.reload();
}

function onKey(ev) {
  if (ev.target.closest && ev.target.closest("input, select, textarea, dialog")) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const k = ev.key.toLowerCase();
  if (k === "a" && currentOffer()) { ev.preventDefault(); answerOffer(true); }
  else if (k === "r" && currentOffer()) { ev.preventDefault(); answerOffer(false); }
  else if (k === "1") { ev.preventDefault(); setPresence("available"); }
  else if (k === "2") { ev.preventDefault(); setPresence("paused:break"); }
}

document.addEventListener("DOMContentLoaded", () => {
  applyLabels();
  fillPresence();
  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("signin-error").textContent = "";
    try {
      await start($("agent-id").value.trim(), $("token").value.trim(), true);
    } catch (e) {
      $("signin-error").textContent = e.message;
    }
  });
  $("accept").addEventListener("click", () => answerOffer(true));
  $("reject").addEventListener("click", () => answerOffer(false));
  $("presence").addEventListener("change", (ev) => setPresence(ev.target.value));
  $("signout").addEventListener("click", signOut);
  $("complete-form").addEventListener("submit", submitComplete);
  $("transfer-form").addEventListener("submit", submitTransfer);
  document.addEventListener("keydown", onKey);
  setInterval(() => { tickOffer(); tickStatus(); }, 250);
  const fromUrl = tokenFromFragment();
  const saved = JSON.parse(sessionStorage.getItem("ccroute.desk") || "null");
  const agentParam = new URLSearchParams(location.search).get("agent");
  if (fromUrl && agentParam) {
    $("agent-id").value = agentParam;
    $("token").value = fromUrl;
  } else if (saved) {
    start(saved.agent, saved.token, false).catch(() => sessionStorage.removeItem("ccroute.desk"));
  } else if (agentParam) {
    $("agent-id").value = agentParam;
  }
  $("agent-id").focus();
});
