// The dashboard: the map, the timeline, the list and the incident panel, all from the API.
// ``document.body.dataset.state`` is loading, ready or error; ``dataset.since`` and
// ``dataset.until`` on #period name the period shown (ISO, empty: open-ended).
// ``dataset.live`` is on while the live events stream (``live.js``) is open; each change it
// brings is applied to the view by difference (``dataset.liveApplied`` counts them).
// A view is loaded in two parts (``GET /api/v1/map``): the incidents are drawn first (the
// first paint), then the violations, the register and the counts. ``window.dashboard`` holds
// the state, the map and its ``SlidingMotion`` (``motion``).

import { Api, forgetToken, keepToken, takeToken } from "./api.js";
import { authorise, basemapInfo, showBasemap } from "./basemap.js";
import { exportView } from "./export.js";
import { Areas } from "./areas.js";
import { follow } from "./live.js";
import {
  CATEGORY_COLOURS, clauseColours, fitIncidents, incidentClusters, incidentFeature,
  incidentFeatures, makeMap, patchSource, showClusterCounts, registerFeatures, showLineAt,
  showSelected, showUncertainty, showZones, violationClusters, violationFeature,
  violationFeatures, zoneColours,
} from "./map.js";
import { CLUSTER_MAX_ZOOM } from "./clusters.js";
import { SlidingMotion } from "./motion.js";
import { addOverlays, showRestrictions, WATCHED_COLOURS } from "./overlays.js";
import { showIncident } from "./panel.js";
import { PlanPanel } from "./plans.js";
import { Timeline, epoch, isoSeconds, isoText } from "./timeline.js";

const LAYER_NAMES = ["countries", "oblasts", "line_of_contact", "places"];
const LISTED = 500;
const DRAWN_WAIT_MS = 5000;  // the longest the violations wait for the incidents' first frame
const $ = (id) => document.getElementById(id);

const state = {
  since: null, until: null, clause: "", incidents: [], violations: [], clauses: [],
  started: false, register: [], viewMarkings: [], panelMarkings: [], generation: 0, line: null,
  restrictions: 0, restrictionsNote: "", planMarking: null, sprite: {}, liveReports: 0,
  liveApplied: 0,
};
let api = null;
let plans = null;
let map = null;
let layers = null;
let timeline = null;
let areas = null;
let zonesAnswer = null;  // the zones of the active terms, asked for once (after the first paint)
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
    ...LAYER_NAMES.map((n) => layers[n].marking), layers.zones.marking,
    ...(layers.basemap ? [layers.basemap.marking] : []),
    ...(state.planMarking ? [state.planMarking] : [])]);
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
  showSelected(map, incident || null);
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
  showSelected(map, null);
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

// A legend row with the map's icon ``name`` (its place in the sprite sheet).
function iconRow(name, text) {
  const icon = document.createElement("span");
  icon.className = "icon";
  const at = state.sprite[name];
  if (at) {
    icon.style.width = `${at.width}px`;
    icon.style.height = `${at.height}px`;
    icon.style.backgroundPosition = `-${at.x}px -${at.y}px`;
  }
  const div = document.createElement("div");
  div.append(icon, document.createTextNode(text));
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
  legend.append(iconRow("register",
    `weapons in violation (register): ${state.register.length} system(s)`));
  legend.append(iconRow("restriction",
    `restrictions of the monitors' movement: ${state.restrictions}`));
  if (state.planMarking) {
    legend.append(iconRow("site", "protected site within an air-defence battery's reach"));
    legend.append(iconRow("site-exposed", "protected site no battery reaches"));
    legend.append(iconRow("asset", "coalition asset (base, sensor)"));
    for (const [share, colour] of WATCHED_COLOURS) {
      legend.append(row(colour, false, `line watched: ${Math.round(share * 100)}%`));
    }
  }
  const zones = zoneColours(layers.zones);
  for (const [key, colour] of Object.entries(zones)) {
    const n = layers.zones.features.find((f) => `${f.properties.terms}/${f.properties.zone}`
      === key).properties.clauses.length;
    legend.append(row(colour, true, `zone ${key} (${n} clause${n === 1 ? "" : "s"})`));
  }
  const notes = document.createElement("div");
  notes.className = "notes";
  notes.textContent = "grey circles: clusters of incidents, dark red rings: clusters of " +
    `violations (click to zoom in; each one is drawn from zoom ${CLUSTER_MAX_ZOOM + 1}); ` +
    "dot size: confidence grade; faint circle: 95% position uncertainty (the selected " +
    "incident's; every incident's when ticked below); " +
    `ring size: p_location; red line: ${state.line || "no line of contact"}`;
  legend.append(notes);
}

function showList() {
  const list = $("incident-list");
  const sorted = [...state.incidents].sort((a, b) => b.t - a.t);
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

// The monitors' restrictions of movement in the view; none drawn (and the reason shown) when
// the server refuses them, e.g. over its bound for one answer: the rest of the view stands.
async function restrictionsOfView() {
  try {
    const doc = await api.get("/api/v1/map/restrictions", incidentParams());
    state.restrictionsNote = "";
    return doc;
  } catch (err) {
    state.restrictionsNote = `restrictions not drawn: ${err.message}` +
      `${err.hint ? ` (${err.hint})` : ""}`;
    setStatus(state.restrictionsNote, true);
    return { type: "FeatureCollection", marking: "PUBLIC", features: [] };
  }
}

// The restrictions read again (a live report of one).
async function loadRestrictions() {
  const generation = state.generation;
  const doc = await restrictionsOfView();
  if (generation !== state.generation) return;  // a newer view reads its own
  showRestrictions(map, doc);
  state.restrictions = doc.features.length;
  state.viewMarkings.push(doc.marking);
  showLegend(clauseColours(state.clauses));
  await showMarking();
}

// -- live changes, applied by difference -------------------------------------------------------
const changes = { incidents: [], gone: [], violations: [], markings: [], timer: null,
  restrictions: false };

function inPeriod(item) {
  const { t } = item;
  return (state.since === null || t >= state.since) && (state.until === null || t <= state.until);
}

// One live event (``live.js``): kept until the next frame, then applied together.
function onLive(e) {
  const d = e.data;
  if (d.item) d.item.t = epoch(d.item.t_start);  // as the map's records have it
  if (e.event === "incident") changes.incidents.push(d.item);
  else if (e.event === "incident_removed") changes.gone.push(d.incident_id);
  else if (e.event === "violation") changes.violations.push(d.item);
  else if (e.event === "observation") {
    state.liveReports += 1;
    if (d.item && d.item.report_kind === "restriction") changes.restrictions = true;
  } else return;
  changes.markings.push(d.marking);
  if (changes.timer === null) changes.timer = setTimeout(applyChanges, 50);
}

async function applyChanges() {
  changes.timer = null;
  if (changes.restrictions) {  // the layer is read again (a report says little of itself)
    changes.restrictions = false;
    ask(loadRestrictions());
  }
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
  if (add.length || remove.length) {
    map.getSource("incident-clusters").setData(incidentClusters(state.incidents));
  }
  if (vAdd.length) {
    map.getSource("violation-clusters").setData(violationClusters(state.violations, colours));
  }
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

// A column of a part of GET /api/v1/map as a list (coded texts decoded).
function decoded(column) {
  return column.codes ? column.codes.map((k) => column.values[k]) : column;
}

// Records of GET /api/v1/map's columns: start times as epoch seconds (``t``) and, when
// read, as the list endpoints' ISO text (``t_start``: written for the few records listed,
// not for every one drawn).
class MapRecord {
  get t_start() { return isoText(this.t); }
}

class IncidentRecord extends MapRecord {
  constructor(incidentId, t, lon, lat, uncertaintyM, category, grade) {
    super();
    this.incident_id = incidentId; this.t = t; this.lon = lon; this.lat = lat;
    this.uncertainty_m = uncertaintyM; this.category = category; this.grade = grade;
  }
}

class ViolationRecord extends MapRecord {
  constructor(violationId, incidentId, t, lon, lat, clause, pLocation, status) {
    super();
    this.violation_id = violationId; this.incident_id = incidentId; this.t = t;
    this.lon = lon; this.lat = lat; this.clause = clause; this.p_location = pLocation;
    this.status = status;
  }
}

// The incidents of a part of GET /api/v1/map ({count, columns}) as records.
function incidentRecords({ count, columns: c }) {
  const category = decoded(c.category), grade = decoded(c.grade);
  const out = new Array(count);
  for (let k = 0; k < count; k++) {
    out[k] = new IncidentRecord(c.incident_id[k], c.t_start[k], c.lon[k], c.lat[k],
      c.uncertainty_m[k], category[k], grade[k]);
  }
  return out;
}

function violationRecords({ count, columns: c }) {
  const clause = decoded(c.clause), status = decoded(c.status);
  const out = new Array(count);
  for (let k = 0; k < count; k++) {
    out[k] = new ViolationRecord(c.violation_id[k], c.incident_id[k], c.t_start[k], c.lon[k],
      c.lat[k], clause[k], c.p_location[k], status[k]);
  }
  return out;
}

// Resolves when the map has drawn what it was given (its next ``idle``), or after ``ms``.
function drawn(ms) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); map.off("idle", done); resolve(); };
    const timer = setTimeout(done, ms);
    map.once("idle", done);
  });
}

// An answer asked for now and awaited later: its failure is reported where it is awaited.
function ask(promise) {
  promise.catch(() => {});
  return promise;
}

// Load the view: its incidents (``incidents``: their answer when already asked for), drawn
// as soon as they come; meanwhile its violations and the register (of the terms the answer
// names) are asked for, and drawn once the incidents are, with the zones the first time.
// The first time also sets the extent, the clauses and the timeline.
async function refresh(label, incidents = null) {
  const generation = ++state.generation;
  const current = () => generation === state.generation;  // else a newer filter is loading
  document.body.dataset.state = "loading";
  setStatus("loading...");
  try {
    const part = await (incidents || api.get("/api/v1/map",
      { ...incidentParams(), part: "incidents" }));
    if (!current()) return;
    state.incidents = incidentRecords(part.incidents);
    if (!state.started) fitIncidents(map, state.incidents);
    // What is seen first, the clusters (a few thousand features whatever the number of
    // incidents), then each incident for the closer zooms.
    const painted = drawn(DRAWN_WAIT_MS);
    map.getSource("incident-clusters").setData(incidentClusters(state.incidents));
    await painted;
    // The rest is asked for once the clusters are drawn: the server's work for it would
    // otherwise take the processor from the first paint.
    zonesAnswer = zonesAnswer || ask(api.get("/api/v1/zones"));
    const rest = ask(Promise.all([
      api.get("/api/v1/map", { ...violationParams(), part: "violations" }),
      Promise.all(part.terms.map((terms) =>
        api.all("/api/v1/register", { ...incidentParams(), terms }))),
      zonesAnswer, restrictionsOfView()]));
    map.getSource("incidents").setData(incidentFeatures(state.incidents));
    const [view, reg, zones, restrictions] = await rest;
    showClusterCounts(map);  // with the rest: text waits for its glyphs, the incidents need not
    if (!current()) return;
    if (layers.zones !== zones) {
      layers.zones = zones;
      showZones(map, zones);
    }
    state.violations = violationRecords(view.violations);
    state.register = reg.flatMap((r) => r.items);
    state.restrictions = restrictions.features.length;
    state.viewMarkings = [part.marking, view.marking, ...reg.flatMap((r) => [...r.markings]),
      restrictions.marking];
    if (!state.started) {
      state.clauses = [...new Set(state.violations.map((v) => v.clause))].sort();
      fillClauses();
      timeline.setData(state.incidents);
    }
    const colours = clauseColours(state.clauses);
    map.getSource("violation-clusters").setData(violationClusters(state.violations, colours));
    map.getSource("violations").setData(violationFeatures(state.violations, colours));
    map.getSource("register").setData(registerFeatures(state.register));
    showRestrictions(map, restrictions);
    state.line = showLineAt(map, layers.line_of_contact, state.until ?? timeline.end());
    showPeriod(label);
    showCounts(colours);
    await showMarking();
    if (!current()) return;
    setStatus(state.restrictionsNote, Boolean(state.restrictionsNote));
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
  $("show-uncertainty").addEventListener("change", (e) => showUncertainty(map, e.target.checked));
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
  for (const id of ["incidents", "incident-uncertainty", "incident-clusters"]) {
    map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
  }
  map.on("click", "incidents", (e) => select(e.features[0].properties.incident_id));
  // A lone incident opens; a cluster is zoomed into (two levels: its cell in quarters twice).
  map.on("click", "incident-clusters", (e) => {
    const f = e.features[0];
    if (f.properties.point_count === 1) select(f.properties.incident_id);
    else {
      map.easeTo({ center: f.geometry.coordinates,
        zoom: Math.min(f.properties.z + 2, CLUSTER_MAX_ZOOM + 1) });
    }
  });
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

// Resolves once the map library's script (deferred, after this module) has run.
function mapLibrary() {
  if (window.maplibregl) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = $("maplibre-gl");
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => reject(new Error("the map library did not load")));
  });
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
    // The view's incidents (no filter yet) and the shipped layers (the map needs them) are
    // asked for together; the zones of the active terms after the incidents are drawn (a
    // server takes seconds to build them the first time), with the violations
    // (``refresh``).
    const incidents = ask(api.get("/api/v1/map", { part: "incidents" }));
    const basemap = basemapInfo(api);
    const sprite = ask(fetch("/app/sprites/sprite.json").then((r) => r.json()));
    const docs = await Promise.all(LAYER_NAMES.map((n) => api.get(`/api/v1/layers/${n}`)));
    layers = Object.fromEntries(LAYER_NAMES.map((n, k) => [n, docs[k]]));
    layers.zones = null;
    areas = new Areas(layers.oblasts);
    await mapLibrary();
    map = makeMap($("map"), layers, authorise(token));
    window.dashboard.map = map;
    window.dashboard.motion = new SlidingMotion(map);
    // The style's sources exist once it is loaded: the incidents are drawn then, not after
    // the map's "load" (which waits for every tile of the shipped layers).
    await new Promise((resolve) => map.once("style.load", resolve));
    layers.basemap = await basemap;
    if (layers.basemap) showBasemap(map, layers.basemap);
    addOverlays(map);
    state.sprite = await sprite;
    timeline = new Timeline($("histogram"), $("brush-from"), $("brush-to"), ({ since, until }) => {
      state.since = since;
      state.until = until;
      refresh();
    });
    await refresh(undefined, incidents);  // the first time: the extent, the clauses, the timeline
    if (document.body.dataset.state === "error") return;
    wireControls();
    plans = new PlanPanel(api, map, { section: $("plan"), run: $("plan-run"),
      variant: $("plan-variant"), summary: $("plan-summary") }, async (marking) => {
      state.planMarking = marking;
      showLegend(clauseColours(state.clauses));
      await showMarking();
    });
    await plans.load();
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
