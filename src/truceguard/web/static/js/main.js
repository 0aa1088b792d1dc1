// The dashboard: the map, the timeline, the list and the incident panel, all from the API.
// ``document.body.dataset.state`` is loading, ready or error; ``dataset.since`` and
// ``dataset.until`` on #period name the period shown (ISO, empty: open-ended).

import { Api, forgetToken, keepToken, takeToken } from "./api.js";
import { exportView } from "./export.js";
import {
  CATEGORY_COLOURS, boundsOf, clauseColours, incidentFeatures, makeMap, showLineAt,
  violationFeatures,
} from "./map.js";
import { showIncident } from "./panel.js";
import { Timeline, epoch, isoSeconds } from "./timeline.js";

const LAYER_NAMES = ["countries", "oblasts", "line_of_contact", "places"];
const LISTED = 500;
const $ = (id) => document.getElementById(id);

const state = {
  since: null, until: null, clause: "", incidents: [], violations: [], clauses: [],
  viewMarkings: [], panelMarkings: [], generation: 0, line: null,
};
let api = null;
let map = null;
let layers = null;
let timeline = null;
window.dashboard = { state };

function setStatus(text, isError = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

function fail(err) {
  document.body.dataset.state = "error";
  setStatus(`${err.message}${err.hint ? ` (${err.hint})` : ""}`, true);
  if (err.status === 401) {
    forgetToken();
    showLogin();
  }
}

function showLogin() {
  $("login").hidden = false;
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    keepToken($("login-token").value.trim());
    window.location.reload();
  });
}

function incidentParams() {
  return { since: state.since === null ? null : isoSeconds(state.since),
    until: state.until === null ? null : isoSeconds(state.until) };
}

function violationParams() {
  return { ...incidentParams(), clause: state.clause };
}

async function showMarking() {
  const marking = await api.narrowest([...state.viewMarkings, ...state.panelMarkings,
    ...LAYER_NAMES.map((n) => layers[n].marking)]);
  for (const id of ["marking-top", "marking-bottom"]) {
    const banner = $(id);
    banner.textContent = `marking: ${marking}`;
    banner.dataset.marking = marking;
    banner.classList.toggle("restricted", marking !== "PUBLIC");
  }
}

function nearestPlace(lon, lat) {
  let best = null, bestD = Infinity;
  const k = Math.cos(lat * Math.PI / 180);
  for (const f of layers.places.features) {
    const [x, y] = f.geometry.coordinates;
    const d = ((x - lon) * k) ** 2 + (y - lat) ** 2;
    if (d < bestD) { bestD = d; best = f; }
  }
  if (!best) return "";
  const km = Math.sqrt(bestD) * 111.2;
  return `${best.properties.name} (${best.properties.admin1}), ${km.toFixed(1)} km`;
}

async function select(id) {
  const incident = state.incidents.find((i) => i.incident_id === id);
  const near = incident ? nearestPlace(incident.lon, incident.lat) : "";
  const mine = state.violations.filter((v) => v.incident_id === id);
  document.body.dataset.state = "loading";
  try {
    state.panelMarkings = await showIncident(api, $("incident"), id, mine, near, closePanel);
    await showMarking();
    document.body.dataset.state = "ready";
  } catch (err) {
    fail(err);
  }
}

async function closePanel() {
  $("incident").hidden = true;
  state.panelMarkings = [];
  await showMarking();
}

function swatch(colour, ring) {
  const s = document.createElement("span");
  s.className = ring ? "swatch ring" : "swatch";
  if (ring) s.style.borderColor = colour; else s.style.background = colour;
  return s;
}

function row(colour, ring, text) {
  const div = document.createElement("div");
  div.append(swatch(colour, ring), document.createTextNode(text));
  return div;
}

function showLegend(colours) {
  const legend = $("legend");
  const h = document.createElement("h2");
  h.textContent = "Legend";
  legend.replaceChildren(h);
  const byCategory = new Map();
  for (const i of state.incidents) byCategory.set(i.category, (byCategory.get(i.category) || 0) + 1);
  for (const [c, n] of [...byCategory].sort((a, b) => b[1] - a[1])) {
    legend.append(row(CATEGORY_COLOURS[c] || "#444", false, `${c}: ${n}`));
  }
  const byClause = new Map();
  for (const v of state.violations) byClause.set(v.clause, (byClause.get(v.clause) || 0) + 1);
  for (const [c, n] of byClause) legend.append(row(colours[c], true, `violation of ${c}: ${n}`));
  const notes = document.createElement("div");
  notes.textContent = "dot size: confidence grade; faint circle: 95% position uncertainty; " +
    `ring size: p_location; red line: ${state.line || "no line of contact"}`;
  legend.append(notes);
}

function showList() {
  const list = $("incident-list");
  const sorted = [...state.incidents].sort((a, b) => b.t_start.localeCompare(a.t_start));
  const items = sorted.slice(0, LISTED).map((i) => {
    const li = document.createElement("li");
    li.dataset.incidentId = String(i.incident_id);
    li.append(swatch(CATEGORY_COLOURS[i.category] || "#444", false),
      document.createTextNode(`${i.t_start.slice(0, 16)} ${i.category} (${i.grade})`));
    li.addEventListener("click", () => select(i.incident_id));
    return li;
  });
  list.replaceChildren(...items);
  if (sorted.length > LISTED) {
    const more = document.createElement("li");
    more.textContent = `and ${sorted.length - LISTED} more (narrow the period)`;
    list.append(more);
  }
}

function showPeriod(label) {
  const p = $("period");
  const { since, until } = incidentParams();
  p.dataset.since = since || "";
  p.dataset.until = until || "";
  p.textContent = label || `${since || "the first record"} .. ${until || "the last record"}`;
}

async function refresh(label) {
  const generation = ++state.generation;
  document.body.dataset.state = "loading";
  setStatus("loading...");
  try {
    const [inc, vio] = await Promise.all([
      api.all("/api/v1/incidents", incidentParams()),
      api.all("/api/v1/violations", violationParams())]);
    if (generation !== state.generation) return;  // a newer filter is being loaded
    state.incidents = inc.items;
    state.violations = vio.items;
    state.viewMarkings = [...inc.markings, ...vio.markings];
    const colours = clauseColours(state.clauses);
    map.getSource("incidents").setData(incidentFeatures(state.incidents));
    map.getSource("violations").setData(violationFeatures(state.violations, colours));
    state.line = showLineAt(map, layers.line_of_contact, state.until ?? timeline.end());
    $("count-incidents").textContent = String(state.incidents.length);
    $("count-violations").textContent = String(state.violations.length);
    showPeriod(label);
    showLegend(colours);
    showList();
    await showMarking();
    if (generation !== state.generation) return;
    setStatus("");
    document.body.dataset.generation = String(generation);
    document.body.dataset.state = "ready";
  } catch (err) {
    fail(err);
  }
}

function wireControls() {
  $("clause").addEventListener("change", (e) => { state.clause = e.target.value; refresh(); });
  $("last-24h").addEventListener("click", () => {
    const now = Math.floor(Date.now() / 1000);
    state.since = now - 86400;
    state.until = now;
    timeline.reset();
    refresh("the last 24 h");
  });
  $("all-time").addEventListener("click", () => {
    state.since = null;
    state.until = null;
    timeline.reset();
    refresh();
  });
  for (const a of document.querySelectorAll(".exports a")) {
    a.addEventListener("click", async (e) => {
      e.preventDefault();
      const { kind, format } = a.dataset;
      const p = kind === "incidents" ? incidentParams() : violationParams();
      const name = `${kind}_${p.since || "start"}_${p.until || "end"}`.replace(/:/g, "");
      try {
        const n = await exportView(api, kind, format, p, name);
        setStatus(`exported ${n} ${kind} as ${format}`);
      } catch (err) {
        fail(err);
      }
    });
  }
  for (const id of ["incidents", "incident-uncertainty"]) {
    map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
  }
  map.on("click", "incidents", (e) => select(e.features[0].properties.incident_id));
  map.on("click", "places", (e) => {
    const p = e.features[0].properties;
    setStatus(`place: ${p.name} (${p.admin1})`);
  });
}

function fillClauses() {
  const select = $("clause");
  for (const c of state.clauses) {
    const o = document.createElement("option");
    o.value = c;
    o.textContent = c;
    select.append(o);
  }
}

async function start() {
  const token = takeToken();
  if (!token) {
    document.body.dataset.state = "error";
    setStatus("sign in with your API token");
    showLogin();
    return;
  }
  api = new Api(token);
  try {
    const docs = await Promise.all(LAYER_NAMES.map((n) => api.get(`/api/v1/layers/${n}`)));
    layers = Object.fromEntries(LAYER_NAMES.map((n, k) => [n, docs[k]]));
    const [everything, violations] = await Promise.all([
      api.all("/api/v1/incidents", {}), api.all("/api/v1/violations", {})]);
    state.clauses = [...new Set(violations.items.map((v) => v.clause))].sort();
    fillClauses();
    map = makeMap($("map"), layers);
    window.dashboard.map = map;
    await new Promise((resolve) => map.once("load", resolve));
    const bounds = boundsOf(everything.items);
    if (bounds) map.fitBounds(bounds, { padding: 40, duration: 0, maxZoom: 9 });
    timeline = new Timeline($("histogram"), $("brush-from"), $("brush-to"), ({ since, until }) => {
      state.since = since;
      state.until = until;
      refresh();
    });
    timeline.setData(everything.items);
    wireControls();
    await refresh();
  } catch (err) {
    fail(err);
  }
}

window.dashboard.epoch = epoch;
start();
