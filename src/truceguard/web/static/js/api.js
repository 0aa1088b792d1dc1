// The HTTP API, as this page uses it: every read carries the user's bearer token, lists are
// followed page by page, and every answer's marking is kept.

const TOKEN_KEY = "truceguard.token";
const PAGE = 1000;

export class ApiError extends Error {
  constructor(status, envelope) {
    const e = (envelope && envelope.error) || {};
    super(e.message || `the server answered ${status}`);
    this.status = status;
    this.code = e.code || "http";
    this.hint = e.hint || "";
  }
}

// The token handed to the page in the URL's fragment (#token=...; never sent to a server),
// kept for this tab only and taken out of the address bar.
export function takeToken() {
  const hash = new URLSearchParams(window.location.hash.slice(1));
  const given = hash.get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function keepToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// A query string from {name: value or [values]}; null, undefined and "" are left out.
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== null && v !== undefined && v !== "") q.append(name, String(v));
    }
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

// The JSON answer of ``response``; an ApiError when it is not ok.
export async function answerOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  async get(path, params) {
    const response = await fetch(path + query(params), {
      headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json" },
      cache: "no-store",
    });
    return answerOf(response);
  }

  // POST ``body`` as JSON; the answer, or an ApiError with the server's message and hint.
  async post(path, body) {
    const response = await fetch(path, {
      method: "POST", cache: "no-store", body: JSON.stringify(body),
      headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json",
        "Content-Type": "application/json" },
    });
    return answerOf(response);
  }

  // A file the API serves (an attachment) as a blob: URL the page may show (the bearer token
  // cannot go in an <img src>); the caller revokes it.
  async blobUrl(path, params) {
    const response = await fetch(path + query(params), {
      headers: { Authorization: `Bearer ${this.token}` }, cache: "no-store",
    });
    if (!response.ok) await answerOf(response);
    return URL.createObjectURL(await response.blob());
  }

  // Every item of a list (``{marking, items, next_cursor}`` pages) and the pages' markings.
  async all(path, params) {
    const items = [];
    const markings = new Set();
    let cursor = null;
    do {
      const page = await this.get(path, { ...params, limit: PAGE, cursor });
      items.push(...page.items);
      markings.add(page.marking);
      cursor = page.next_cursor;
    } while (cursor);
    return { items, markings };
  }

  // The most restrictive of ``markings``, as the API computes banners.
  async narrowest(markings) {
    const distinct = [...new Set(markings)].sort();
    if (distinct.length === 0) return "PUBLIC";
    if (distinct.length === 1) return distinct[0];
    const answer = await this.get("/api/v1/markings/narrowest", { marking: distinct });
    return answer.marking;
  }
}

// Split server-sent-event text into events: ``{event, id, data}`` (data parsed as JSON).
export function sseEvents(text) {
  const out = [];
  for (const block of text.split("\n\n")) {
    let event = "message", id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) out.push({ event, id, data: JSON.parse(data.join("\n")) });
  }
  return out;
}

// Read the live events (``/api/v1/events``) with the bearer token in the Authorization header
// (EventSource cannot send one): ``onEvent({event, id, data})`` for each; resolves when the
// stream ends, rejects with an ApiError when the server refuses it.
export async function readEvents(api, onEvent, signal) {
  const response = await fetch("/api/v1/events", {
    headers: { Authorization: `Bearer ${api.token}`, Accept: "text/event-stream" },
    cache: "no-store", signal,
  });
  if (!response.ok) await answerOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const end = buffer.lastIndexOf("\n\n");
    if (end < 0) continue;
    const complete = buffer.slice(0, end + 2);
    buffer = buffer.slice(end + 2);
    for (const e of sseEvents(complete)) onEvent(e);
  }
}

