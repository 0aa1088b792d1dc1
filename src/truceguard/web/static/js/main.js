// The dashboard: the map, the timeline, the list and the incident panel, all from the API.
// ``document.body.dataset.state`` is loading, ready or error; ``dataset.since`` and
// ``dataset.until`` on #period name the period shown (ISO, empty: open-ended).
// ``dataset.live`` is on while the live events stream (``live.js``) is open; each change it
// brings is applied to the view by difference (``dataset.liveApplied`` counts them).

import { Api, forgetToken, keepToken, takeToken } from "./api.js";
import { exportView } from "./export.js";
import { Areas } from "./areas.js";
import { follow } from "./live.js";
import {
  CATEGORY_COLOURS, boundsOf, clauseColours, incidentFeature, incidentFeatures, makeMap,
  REGISTER_COLOUR, patchSource, registerFeatures, showLineAt, violationFeature,
  violationFeatures, zoneColours,
} from "./map.js";
import { showIncident } from "./panel.js";
import { Timeline, epoch, isoSeconds } from "./timeline.js";

const LAYER_NAMES = ["countries", "oblasts", "line_of_contact", "places"];
const LISTED = 500;
const $ = (id) => document.getElementById(id);

const state = {
  since: null, until: null, clause: "", incidents: [], violations: [], clauses: [],
  started: false, register: [], viewMarkings: [], panelMarkings: [], generation: 0, line: null,
  liveReports: 0,
  liveApplied: 0,
};
let api = null;
let map = null;
let layers = null;
let timeline = null;
let areas = null;
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
    ...LAYER_NAMES.map((n) => layers[n].marking), layers.zones.marking]);
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
    state.panelMarkings = await showIncident(api, $("incident"), id, mine, near, closePanel,
      () => select(id));
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
  legend.append(row(REGISTER_COLOUR, false,
    `weapons in violation (register): ${state.register.length} system(s)`));
  const zones = zoneColours(layers.zones);
  for (const [key, colour] of Object.entries(zones)) {
    const n = layers.zones.features.find((f) => `${f.properties.terms}/${f.properties.zone}`
      === key).properties.clauses.length;
    legend.append(row(colour, true, `zone ${key} (${n} clause${n === 1 ? "" : "s"})`));
  }
  const notes = document.createElement("div");
  notes.className = "notes";
  notes.textContent = "grey circles: clusters of incidents (zoom in); dot size: confidence " +
    "grade; faint circle: 95% position uncertainty; " +
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

// -- live changes, applied by difference -------------------------------------------------------
const changes = { incidents: [], gone: [], violations: [], markings: [], timer: null };

function inPeriod(item) {
  const t = epoch(item.t_start);
  return (state.since === null || t >= state.since) && (state.until === null || t <= state.until);
}

// One live event (``live.js``): kept until the next frame, then applied together.
function onLive(e) {
  const d = e.data;
  if (e.event === "incident") changes.incidents.push(d.item);
  else if (e.event === "incident_removed") changes.gone.push(d.incident_id);
  else if (e.event === "violation") changes.violations.push(d.item);
  else if (e.event === "observation") state.liveReports += 1;
  else return;
  changes.markings.push(d.marking);
  if (changes.timer === null) changes.timer = setTimeout(applyChanges, 50);
}

async function applyChanges() {
  changes.timer = null;
  const byId = new Map(state.incidents.map((i) => [i.incident_id, i]));
  const add = [], remove = [];
  for (const i of changes.incidents.splice(0)) {
    if (inPeriod(i)) {
      byId.set(i.incident_id, i);
      add.push(incidentFeature(i));
    } else if (byId.delete(i.incident_id)) remove.push(i.incident_id);
  }
  for (const id of changes.gone.splice(0)) if (byId.delete(id)) remove.push(id);
  const colours = clauseColours(state.clauses);
  const vById = new Map(state.violations.map((v) => [v.violation_id, v]));
  const vAdd = [];
  for (const v of changes.violations.splice(0)) {
    if (!inPeriod(v) || (state.clause && v.clause !== state.clause)) continue;
    if (!state.clauses.includes(v.clause)) addClause(v.clause);
    vById.set(v.violation_id, v);
    vAdd.push(violationFeature(v, colours));
  }
  state.viewMarkings.push(...changes.markings.splice(0));
  state.incidents = [...byId.values()];
  state.violations = [...vById.values()];
  patchSource(map, "incidents", add, remove);
  patchSource(map, "violations", vAdd, []);
  state.liveApplied += add.length + remove.length + vAdd.length;
  showCounts(colours);
  await showMarking();
  document.body.dataset.liveApplied = String(state.liveApplied);
}

// The view's incidents per area and day: a row per area (its total, its days with
// incidents, its busiest day).
function showAreas() {
  const table = $("area-counts");
  const rows = areas.count(state.incidents).map(({ area, total, days }) => {
    const [busiest, most] = [...days].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
    const tr = document.createElement("tr");
    tr.dataset.area = area;
    for (const text of [area, String(total), String(days.size), `${busiest} (${most})`]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
}

function showCounts(colours) {
  $("count-incidents").textContent = String(state.incidents.length);
  $("count-violations").textContent = String(state.violations.length);
  showLegend(colours);
  showAreas();
  showList();
}

// Records from the columns of GET /api/v1/map ({columns, rows}).
function records({ columns, rows }) {
  return rows.map((r) => Object.fromEntries(columns.map((c, k) => [c, r[k]])));
}

async function refresh(label) {
  const generation = ++state.generation;
  document.body.dataset.state = "loading";
  setStatus("loading...");
  try {
    const [view, reg] = await Promise.all([
      api.get("/api/v1/map", violationParams()),
      Promise.all(layers.zones.terms.map((terms) =>
        api.all("/api/v1/register", { ...incidentParams(), terms })))]);
    if (generation !== state.generation) return;  // a newer filter is being loaded
    state.incidents = records(view.incidents);
    state.violations = records(view.violations);
    state.register = reg.flatMap((r) => r.items);
    state.viewMarkings = [view.marking, ...reg.flatMap((r) => [...r.markings])];
    map.getSource("register").setData(registerFeatures(state.register));
    const colours = clauseColours(state.clauses);
    map.getSource("incidents").setData(incidentFeatures(state.incidents));
    map.getSource("violations").setData(violationFeatures(state.violations, colours));
    state.line = showLineAt(map, layers.line_of_contact, state.until ?? timeline.end());
    showPeriod(label);
    showCounts(colours);
    await showMarking();
    if (generation !== state.generation) return;
    setStatus("");
    document.body.dataset.generation = String(generation);
    if (state.started) document.body.dataset.state = "ready";
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

function addClause(clause) {
  state.clauses = [...state.clauses, clause].sort();
  const o = document.createElement("option");
  o.value = clause;
  o.textContent = clause;
  $("clause").append(o);
}

function fillClauses() {
  const known = state.clauses;
  state.clauses = [];
  for (const c of known) addClause(c);
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
    layers.zones = await api.get("/api/v1/zones");
    areas = new Areas(layers.oblasts);
    map = makeMap($("map"), layers);
    window.dashboard.map = map;
    await new Promise((resolve) => map.once("load", resolve));
    timeline = new Timeline($("histogram"), $("brush-from"), $("brush-to"), ({ since, until }) => {
      state.since = since;
      state.until = until;
      refresh();
    });
    await refresh();  // everything, the first time: the extent, the clauses, the timeline
    state.clauses = [...new Set(state.violations.map((v) => v.clause))].sort();
    fillClauses();
    const bounds = boundsOf(state.incidents);
    if (bounds) map.fitBounds(bounds, { padding: 40, duration: 0, maxZoom: 9 });
    timeline.setData(state.incidents);
    state.line = showLineAt(map, layers.line_of_contact, timeline.end());
    showCounts(clauseColours(state.clauses));
    wireControls();
    state.started = true;
    document.body.dataset.state = "ready";
  } catch (err) {
    fail(err);
    return;
  }
  follow(api, onLive, {
    opened: () => { document.body.dataset.live = "on"; },
    closed: (why) => {
      document.body.dataset.live = "off";
      if (why) setStatus(why, true);
    },
    missed: () => refresh(),  // after a gap, the view is listed anew
    refused: fail,
  });
}

window.dashboard.epoch = epoch;
window.dashboard.select = (id) => select(id);
start();
