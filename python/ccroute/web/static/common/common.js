// Shared by the desktop and the wallboard: labels in three languages, the API, SSE over fetch.
"use strict";

const LABELS = {
  en: {
    desktop: "Agent desktop", wallboard: "Wallboard", signIn: "Sign in", signOut: "Sign out",
    agentId: "Agent id", token: "Access token", tokenHelp: "Your supervisor gives you a token (ccroute token issue).",
    available: "Available", paused: "Paused", offline: "Offline", busy: "Busy",
    not_responding: "Not responding", missed_offers: "missed offers",
    presence: "Presence", pauseReason: "Pause reason",
    lunch: "Lunch", break: "Break", training: "Training", meeting: "Meeting", admin: "Back office",
    incoming: "Incoming offer", noOffer: "No offer right now. Waiting for the next contact…",
    accept: "Accept", reject: "Reject", expiresIn: "Expires in", seconds: "s",
    currentWork: "Current work", noWork: "No contacts in hand.",
    tenant: "Client", queue: "Queue", channel: "Channel", language: "Language", waited: "Waited",
    reason: "Routing", customer: "Customer", tags: "Tags", priority: "Priority",
    complete: "Complete", wrapUpCode: "Wrap-up code", resolved: "Resolved", save: "Save",
    cancel: "Cancel", transfer: "Transfer", toQueue: "To queue", toAgent: "To agent",
    wrapUp: "Wrap-up", wrapUpDone: "Wrap-up done", active: "In progress", offered: "Offered",
    callbackResult: "Callback result", reached: "Reached", no_answer: "No answer", busy_line: "Busy",
    status: "Status", timeInState: "Time in state", load: "Load",
    voice: "Voice", chat: "Chat", email: "Email", web_form: "Web form", social: "Social",
    callback: "Callback",
    waiting: "Waiting", longestWait: "Longest wait", slToday: "Service level today",
    target: "target", agentsAvailable: "Agents available", agents: "Agents", queues: "Queues",
    slMonth: "Service level, day by day", offeredToday: "Offered", answered: "Answered",
    abandoned: "Abandoned", closedQueue: "closed", allTenants: "All clients", live: "Live",
    reconnecting: "Reconnecting…", name: "Name", state: "State", noData: "no contacts",
    keyboardHelp: "Keys: A accept · R reject · 1 available · 2 pause",
    transferTo: "Transfer to", handoff: "Hand-off point", lastUpdate: "Updated",
  },
  fi: {
    desktop: "Agenttinäkymä", wallboard: "Seinätaulu", signIn: "Kirjaudu", signOut: "Kirjaudu ulos",
    agentId: "Agenttitunnus", token: "Käyttöavain", tokenHelp: "Saat avaimen esihenkilöltä (ccroute token issue).",
    available: "Vapaa", paused: "Tauolla", offline: "Poissa", busy: "Varattu",
    not_responding: "Ei vastaa", missed_offers: "ohitetut tarjoukset",
    presence: "Tila", pauseReason: "Tauon syy",
    lunch: "Lounas", break: "Tauko", training: "Koulutus", meeting: "Palaveri", admin: "Taustatyö",
    incoming: "Saapuva tarjous", noOffer: "Ei tarjousta. Odotetaan seuraavaa yhteydenottoa…",
    accept: "Hyväksy", reject: "Hylkää", expiresIn: "Vanhenee", seconds: "s",
    currentWork: "Työn alla", noWork: "Ei yhteydenottoja työn alla.",
    tenant: "Asiakas", queue: "Jono", channel: "Kanava", language: "Kieli", waited: "Odotti",
    reason: "Reititys", customer: "Asiakas", tags: "Tunnisteet", priority: "Prioriteetti",
    complete: "Valmis", wrapUpCode: "Jälkikirjauskoodi", resolved: "Ratkaistu", save: "Tallenna",
    cancel: "Peruuta", transfer: "Siirrä", toQueue: "Jonoon", toAgent: "Agentille",
    wrapUp: "Jälkityö", wrapUpDone: "Jälkityö valmis", active: "Käynnissä", offered: "Tarjottu",
    callbackResult: "Takaisinsoiton tulos", reached: "Tavoitettu", no_answer: "Ei vastausta", busy_line: "Varattu",
    status: "Tila", timeInState: "Tilassa", load: "Kuorma",
    voice: "Puhelu", chat: "Chat", email: "Sähköposti", web_form: "Verkkolomake", social: "Some",
    callback: "Takaisinsoitto",
    waiting: "Jonossa", longestWait: "Pisin odotus", slToday: "Palvelutaso tänään",
    target: "tavoite", agentsAvailable: "Vapaita agentteja", agents: "Agentit", queues: "Jonot",
    slMonth: "Palvelutaso päivittäin", offeredToday: "Tarjottu", answered: "Vastattu",
    abandoned: "Luovuttaneet", closedQueue: "suljettu", allTenants: "Kaikki asiakkaat", live: "Ajantasainen",
    reconnecting: "Yhdistetään uudelleen…", name: "Nimi", state: "Tila", noData: "ei yhteydenottoja",
    keyboardHelp: "Näppäimet: A hyväksy · R hylkää · 1 vapaa · 2 tauko",
    transferTo: "Siirrä", handoff: "Luovutuspiste", lastUpdate: "Päivitetty",
  },
  sv: {
    desktop: "Agentvy", wallboard: "Väggtavla", signIn: "Logga in", signOut: "Logga ut",
    agentId: "Agent-id", token: "Åtkomstnyckel", tokenHelp: "Du får nyckeln av din chef (ccroute token issue).",
    available: "Ledig", paused: "Paus", offline: "Frånvarande", busy: "Upptagen",
    not_responding: "Svarar inte", missed_offers: "missade erbjudanden",
    presence: "Status", pauseReason: "Orsak till paus",
    lunch: "Lunch", break: "Rast", training: "Utbildning", meeting: "Möte", admin: "Backoffice",
    incoming: "Inkommande erbjudande", noOffer: "Inget erbjudande just nu. Väntar på nästa kontakt…",
    accept: "Acceptera", reject: "Avböj", expiresIn: "Går ut om", seconds: "s",
    currentWork: "Pågående arbete", noWork: "Inga kontakter just nu.",
    tenant: "Kund", queue: "Kö", channel: "Kanal", language: "Språk", waited: "Väntade",
    reason: "Routning", customer: "Kund", tags: "Taggar", priority: "Prioritet",
    complete: "Avsluta", wrapUpCode: "Efterarbetskod", resolved: "Löst", save: "Spara",
    cancel: "Avbryt", transfer: "Överför", toQueue: "Till kö", toAgent: "Till agent",
    wrapUp: "Efterarbete", wrapUpDone: "Efterarbete klart", active: "Pågår", offered: "Erbjuden",
    callbackResult: "Resultat av återuppringning", reached: "Nådd", no_answer: "Inget svar", busy_line: "Upptaget",
    status: "Status", timeInState: "Tid i status", load: "Belastning",
    voice: "Samtal", chat: "Chatt", email: "E-post", web_form: "Webbformulär", social: "Sociala medier",
    callback: "Återuppringning",
    waiting: "I kö", longestWait: "Längsta väntan", slToday: "Servicenivå i dag",
    target: "mål", agentsAvailable: "Lediga agenter", agents: "Agenter", queues: "Köer",
    slMonth: "Servicenivå dag för dag", offeredToday: "Erbjudna", answered: "Besvarade",
    abandoned: "Avbrutna", closedQueue: "stängd", allTenants: "Alla kunder", live: "Live",
    reconnecting: "Återansluter…", name: "Namn", state: "Status", noData: "inga kontakter",
    keyboardHelp: "Tangenter: A acceptera · R avböj · 1 ledig · 2 paus",
    transferTo: "Överför till", handoff: "Överlämningspunkt", lastUpdate: "Uppdaterad",
  },
};

function pickLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked && LABELS[asked]) return asked;
  for (const l of navigator.languages || [navigator.language || "en"]) {
    const short = String(l).slice(0, 2).toLowerCase();
    if (LABELS[short]) return short;
  }
  return "en";
}

const LANG = pickLang();
document.documentElement.lang = LANG;

function t(key) {
  return (LABELS[LANG] && LABELS[LANG][key]) || LABELS.en[key] || key;
}

// Every element with data-t gets its label; data-t-placeholder its placeholder.
function applyLabels(root) {
  (root || document).querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  (root || document).querySelectorAll("[data-t-placeholder]").forEach((el) => {
    el.placeholder = t(el.dataset.tPlaceholder);
  });
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) ms = 0;
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0");
  return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
}

class Api {
  constructor(token) { this.token = token; }
  headers(json) {
    const h = { Authorization: "Bearer " + this.token };
    if (json) h["Content-Type"] = "application/json";
    return h;
  }
  async get(path) {
    const r = await fetch(path, { headers: this.headers(false) });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw Object.assign(new Error(body.detail || r.statusText), { problem: body, status: r.status });
    return body;
  }
  async post(path, data) {
    const r = await fetch(path, { method: "POST", headers: this.headers(true), body: JSON.stringify(data || {}) });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw Object.assign(new Error(body.detail || r.statusText), { problem: body, status: r.status });
    return body;
  }
  // Server-Sent Events read with fetch (EventSource cannot send the Authorization header).
  // Reconnects after a drop; onState(true/false) says whether the stream is up.
  stream(path, onEvent, onState) {
    let stopped = false;
    let ctrl = null;
    const run = async () => {
      while (!stopped) {
        ctrl = new AbortController();
        try {
          const r = await fetch(path, { headers: this.headers(false), signal: ctrl.signal });
          if (r.status === 401 || r.status === 403) {
            const body = await r.json().catch(() => ({}));
            onEvent("problem", body);
            onState(false);
            return;
          }
          if (!r.ok || !r.body) throw new Error("stream " + r.status);
          onState(true);
          const reader = r.body.getReader();
          const dec = new TextDecoder();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const frame = buf.slice(0, i);
              buf = buf.slice(i + 2);
              let ev = "message";
              const data = [];
              for (const line of frame.split("\n")) {
                if (line.startsWith("event: ")) ev = line.slice(7);
                else if (line.startsWith("data: ")) data.push(line.slice(6));
              }
              if (data.length) {
                try { onEvent(ev, JSON.parse(data.join("\n"))); } catch (e) { console.error(e); }
              }
            }
          }
        } catch (e) {
          if (stopped) return;
        }
        onState(false);
        await new Promise((res) => setTimeout(res, 1000));
      }
    };
    run();
    return { stop() { stopped = true; if (ctrl) ctrl.abort(); } };
  }
}

// A token may come in the URL fragment (never sent to the server): #token=...
function tokenFromFragment() {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m) {
    history.replaceState(null, "", location.pathname + location.search);
    return decodeURIComponent(m[1]);
  }
  return null;
}
