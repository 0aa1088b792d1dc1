// The field form: a monitor's report with the device's position, an optional photo and a
// bearing. Each report is kept on the device (IndexedDB) under an id made here, shown as
// waiting, and sent when there is a connection: first the report (POST /api/v1/capture, which
// stores a report sent twice only once), then its photo (the attachments route, which keeps a
// file once). A report leaves the device's queue only when both are done.

import { ApiError, answerOf } from "./api.js";

const TOKEN_KEY = "truceguard.capture.token";
const FORM_KEY = "truceguard.capture.form";
const SENT_KEY = "truceguard.capture.sent";
const DB_NAME = "truceguard-capture";
const STORE = "reports";
const CHOICES = { kind: "kinds", category: "categories", how_known: "how_known",
  weapon_class: "weapon_classes", direction: "directions",
  restriction_type: "restriction_types", hazard_type: "hazard_types" };
const DEFAULTS = { category: "shelling", how_known: "seen", weapon_class: "unknown" };
const KIND_FIELDS = { fire: ["direction"], restriction: ["restriction_type"],
  hazard: ["hazard_type"], sighting: ["storage_site"], harm: ["killed", "injured"] };
const NUMBERS = ["bearing_deg", "distance_min_km", "distance_max_km", "killed", "injured"];

const $ = (id) => document.getElementById(id);
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;
const state = { token: null, form: null, fix: null, syncing: false, again: false,
  retry: null, wait: RETRY_FIRST_MS / 2 };


// -- the queue on the device --------------------------------------------------------------
function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE,
      { keyPath: "client_id" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function inStore(mode, act) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

const queued = () => inStore("readonly", (s) => s.getAll());
const keep = (report) => inStore("readwrite", (s) => s.put(report));
const drop = (clientId) => inStore("readwrite", (s) => s.delete(clientId));

// -- the server ---------------------------------------------------------------------------
async function send(path, init) {
  const response = await fetch(path, { ...init, cache: "no-store",
    headers: { ...(init.headers || {}), Authorization: `Bearer ${state.token}` } });
  return answerOf(response);
}

// Send one queued report: the report unless the server answered for it already, then its
// photo; the queue keeps what is done after each step.
async function deliver(report) {
  if (!report.obs_id) {
    const answer = await send("/api/v1/capture", { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ client_id: report.client_id, marking: report.marking,
        feature: report.feature }) });
    report.obs_id = answer.obs_id;
    report.marking = answer.marking;
    await keep(report);
  }
  if (report.photo && !report.photo_sent) {
    await send(`/api/v1/observations/${report.obs_id}/attachments`, { method: "POST",
      headers: { "Content-Type": "application/octet-stream",
        "X-Filename": encodeURIComponent(report.photo_name) },
      body: report.photo });
    report.photo_sent = true;
    await keep(report);
  }
  const sent = JSON.parse(localStorage.getItem(SENT_KEY) || "[]");
  sent.unshift({ client_id: report.client_id, obs_id: report.obs_id, at: report.feature
    .properties.time, kind: report.feature.properties.kind, marking: report.marking });
  localStorage.setItem(SENT_KEY, JSON.stringify(sent.slice(0, 50)));
  await drop(report.client_id);
}

// Send everything waiting, one report at a time; a refusal marks that report. A failed
// connection stops the round; the next starts on the "online" event, on a new report, or
// after a wait that doubles from 1 s to 30 s while the device says it is online (it may say
// so before the network works).
async function syncAll() {
  if (state.syncing) {
    state.again = true;
    return;
  }
  clearTimeout(state.retry);
  state.syncing = true;
  let failed = false;
  try {
    do {
      state.again = false;
      for (const report of await queued()) {
        if (report.refused) continue;
        try {
          await deliver(report);
        } catch (err) {
          if (!(err instanceof ApiError) || err.status >= 500 || err.status === 429) {
            state.again = false;
            failed = true;
            break;  // no connection, or the server cannot take it now: try again later
          }
          if (err.status === 401) {
            showLogin(`the server refused the token: ${err.message}`);
            state.again = false;
            break;
          }
          report.refused = `${err.code}: ${err.message} (${err.hint})`;
          await keep(report);
        }
      }
    } while (state.again);
  } finally {
    state.syncing = false;
    await showQueue();
  }
  state.wait = failed ? Math.min(2 * state.wait, RETRY_MAX_MS) : RETRY_FIRST_MS / 2;
  if (failed && navigator.onLine) state.retry = setTimeout(syncAll, state.wait);
}

// -- the form -----------------------------------------------------------------------------
function fill(select, words, chosen) {
  select.replaceChildren(...words.map((w) => {
    const o = document.createElement("option");
    o.value = w;
    o.textContent = w.replace(/_/g, " ");
    o.selected = w === chosen;
    return o;
  }));
}

function showKindFields() {
  const kind = $("kind").value;
  for (const label of document.querySelectorAll("label[data-kinds]")) {
    label.hidden = !label.dataset.kinds.split(" ").includes(kind);
  }
}

function showForm(form) {
  for (const [id, key] of Object.entries(CHOICES)) fill($(id), form[key], DEFAULTS[id]);
  $("who").textContent = `${form.user} (${form.nation}, ${form.role})`;
  $("marking").value = form.marking;
  $("marking").placeholder = form.marking;
  const option = document.createElement("option");
  option.value = form.marking;
  $("markings").replaceChildren(option);
  const banner = $("marking-banner");
  banner.textContent = `marking: ${form.marking}`;
  banner.classList.toggle("restricted", form.marking !== "PUBLIC");
  showKindFields();
  $("login").hidden = true;
  $("report").hidden = false;
  $("queue").hidden = false;
}

function showLogin(message) {
  $("login").hidden = false;
  setStatus(message || "", Boolean(message));
}

function setStatus(text, error) {
  $("form-status").textContent = text;
  $("form-status").classList.toggle("error", Boolean(error));
}

function showPosition() {
  const p = $("position");
  if (!state.fix) return;
  const { latitude, longitude, accuracy } = state.fix;
  p.dataset.lat = String(latitude);
  p.dataset.lon = String(longitude);
  p.textContent = `${latitude.toFixed(5)}, ${longitude.toFixed(5)} (±${Math.round(accuracy)} m)`;
}

function watchPosition() {
  if (!navigator.geolocation) {
    $("position").textContent = "this device gives no position";
    return;
  }
  navigator.geolocation.watchPosition((pos) => {
    state.fix = pos.coords;
    showPosition();
  }, (err) => {
    $("position").textContent = `no position: ${err.message}`;
  }, { enableHighAccuracy: true, maximumAge: 10000 });
}

function numberOf(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number(text);
}

// The report as the GeoJSON Feature the server reads: at the device's position, which is
// also the observer's.
function feature() {
  const { latitude, longitude, accuracy } = state.fix;
  const kind = $("kind").value;
  const props = { time: new Date().toISOString().replace(/\.\d+Z$/, "Z"), kind,
    category: $("category").value, how_known: $("how_known").value,
    weapon_class: $("weapon_class").value, count: Number($("count").value || "1"),
    text: $("text").value.trim(), observer_lat: latitude, observer_lon: longitude,
    observer_uncertainty_m: Math.round(accuracy), uncertainty_m: Math.round(accuracy) };
  for (const id of NUMBERS) {
    const own = KIND_FIELDS[kind] || [];
    const belongs = !["killed", "injured"].includes(id) || own.includes(id);
    if (belongs && numberOf(id) !== null) props[id] = numberOf(id);
  }
  for (const id of KIND_FIELDS[kind] || []) {
    if (NUMBERS.includes(id)) continue;
    const value = $(id).value.trim();
    if (value) props[id] = value;
  }
  if (props.distance_max_km) {
    props.uncertainty_m = Math.max(props.uncertainty_m, Math.round(props.distance_max_km * 1000));
  }
  return { type: "Feature", geometry: { type: "Point", coordinates: [longitude, latitude] },
    properties: props };
}

async function capture(event) {
  event.preventDefault();
  if (!state.fix) {
    setStatus("no position yet: wait for the device's position", true);
    return;
  }
  const file = $("photo").files[0] || null;
  const report = { client_id: crypto.randomUUID(), marking: $("marking").value.trim() || null,
    feature: feature(), photo: file ? new Blob([await file.arrayBuffer()],
      { type: file.type }) : null, photo_name: file ? file.name : null, photo_sent: false,
    obs_id: null, refused: null };
  await keep(report);
  $("report").reset();
  $("marking").value = state.form.marking;
  showKindFields();
  setStatus(`saved on this device (${report.client_id.slice(0, 8)})`);
  await showQueue();
  if (navigator.onLine) syncAll();
}

function item(report) {
  const li = document.createElement("li");
  const p = report.feature.properties;
  li.dataset.clientId = report.client_id;
  li.dataset.state = report.refused ? "refused" : report.obs_id ? "photo" : "waiting";
  const what = `${p.time} ${p.kind}, ${p.category.replace(/_/g, " ")}`;
  const photo = report.photo ? (report.photo_sent ? ", photo sent" : ", with photo") : "";
  li.textContent = `${what}${photo} [${report.marking || state.form.marking}] `;
  const id = document.createElement("span");
  id.className = "id";
  id.textContent = report.client_id;
  li.append(id);
  if (report.refused) {
    const why = document.createElement("div");
    why.className = "refused";
    why.textContent = `refused: ${report.refused}`;
    li.append(why);
  }
  return li;
}

async function showQueue() {
  const waiting = await queued();
  waiting.sort((a, b) => a.feature.properties.time.localeCompare(b.feature.properties.time));
  $("pending-count").textContent = String(waiting.length);
  $("pending").replaceChildren(...waiting.map(item));
  const sent = JSON.parse(localStorage.getItem(SENT_KEY) || "[]");
  $("sent").replaceChildren(...sent.map((s) => {
    const li = document.createElement("li");
    li.dataset.clientId = s.client_id;
    li.dataset.obsId = s.obs_id;
    li.textContent = `${s.at} ${s.kind} [${s.marking}] as ${s.obs_id}`;
    return li;
  }));
  document.body.dataset.pending = String(waiting.length);
}

function showConnection() {
  const c = $("connection");
  c.dataset.online = navigator.onLine ? "yes" : "no";
  c.textContent = navigator.onLine ? "online" : "offline: reports wait on this device";
}

// -- start --------------------------------------------------------------------------------
function takeToken() {
  const hash = new URLSearchParams(window.location.hash.slice(1));
  const given = hash.get("token");
  if (given) {
    localStorage.setItem(TOKEN_KEY, given);
    history.replaceState(null, "", window.location.pathname);
  }
  return localStorage.getItem(TOKEN_KEY);
}

async function loadForm() {
  try {
    const form = await send("/api/v1/capture/form", { method: "GET" });
    localStorage.setItem(FORM_KEY, JSON.stringify(form));
    return form;
  } catch (err) {
    if (err instanceof ApiError) {
      if (err.status === 401) localStorage.removeItem(FORM_KEY);
      throw err;
    }
    const kept = localStorage.getItem(FORM_KEY);  // offline: the form as last loaded
    if (kept) return JSON.parse(kept);
    throw new Error("no connection, and this device has not loaded the form yet");
  }
}

async function start() {
  state.token = takeToken();
  showConnection();
  if (!state.token) {
    showLogin();
    document.body.dataset.state = "login";
    return;
  }
  try {
    state.form = await loadForm();
  } catch (err) {
    showLogin(err.message);
    document.body.dataset.state = "login";
    return;
  }
  showForm(state.form);
  await showQueue();
  document.body.dataset.state = "ready";
  if (navigator.onLine) syncAll();
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("login-token").value.trim());
  start();
});
$("kind").addEventListener("change", showKindFields);
$("report").addEventListener("submit", capture);
$("sync").addEventListener("click", () => syncAll());
window.addEventListener("online", () => { showConnection(); syncAll(); });
window.addEventListener("offline", showConnection);
window.capture = { syncAll, queued, state };
watchPosition();
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/capture/sw.js", { scope: "/capture" }).then(() => {
    const ready = () => { document.body.dataset.offlineReady = "yes"; };
    if (navigator.serviceWorker.controller) ready();
    else navigator.serviceWorker.addEventListener("controllerchange", ready);
  }).catch((err) => setStatus(`this page cannot work offline: ${err.message}`, true));
}
start();
