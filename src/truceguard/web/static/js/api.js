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

export class Api {
  constructor(token) {
    this.token = token;
  }

  async get(path, params) {
    const response = await fetch(path + query(params), {
      headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json" },
      cache: "no-store",
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
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
