// The incident panel: the incident as the user sees it, its reports (each observation's raw
// payload and provenance, marking, photos), the status history of its violations and the
// analyst's decisions on them (verify, publish, return, discount, with a reason; the server
// enforces the two-person sign-off and its refusal is shown). Every text from the API is set
// as text, never as HTML.

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function facts(pairs) {
  const dl = el("dl");
  for (const [term, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", { text: term }), el("dd", { text: String(value) }));
  }
  return dl;
}

function markingLine(marking) {
  return el("div", { class: marking === "PUBLIC" ? "marking public" : "marking",
    "data-marking": marking, text: `marking: ${marking}` });
}

function report(o) {
  const where = o.source_file ? `${o.source_file}${o.source_line ? `:${o.source_line}` : ""}`
    : "";
  const box = el("div", { class: "report", "data-obs-id": o.obs_id });
  box.append(
    el("h3", { text: `${o.source}: ${o.category} (${o.how_known})` }),
    markingLine(o.releasability),
    facts([["time", `${o.t_start} .. ${o.t_end}`], ["position",
      `${o.lat.toFixed(5)}, ${o.lon.toFixed(5)}` +
      (o.uncertainty_m ? ` ±${Math.round(o.uncertainty_m)} m` : "")],
    ["weapon", o.weapon_class], ["origin", o.origin], ["source ref", o.source_ref],
    ["file", where], ["raw sha256", o.raw_sha256], ["text", o.text],
    ["report", o.report ? JSON.stringify(o.report) : ""]]),
    el("div", { text: "raw payload, verbatim:" }),
    el("pre", { class: "raw", text: o.raw }),
  );
  return box;
}

const DECISIONS = [["verified", "verify"], ["published", "publish (second analyst)"],
  ["returned", "return for review"], ["discounted", "discount"]];

// The analyst's decision on violation ``v``: a choice, a reason and a button; the server's
// refusal (its message and hint) is shown in the form; ``onDecided`` runs after a decision.
function decisionForm(api, v, onDecided) {
  const form = el("form", { class: "decide", "data-violation-id": v.violation_id });
  const choice = el("select", { name: "status", "aria-label": "decision" });
  for (const [value, label] of DECISIONS) choice.append(el("option", { value, text: label }));
  const why = el("input", { name: "why", type: "text", placeholder: "reason",
    "aria-label": "reason", maxlength: "2000" });
  const said = el("div", { class: "said", role: "alert" });
  form.append(choice, why, el("button", { type: "submit", text: "decide" }), said);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    said.textContent = "";
    form.dataset.state = "sending";
    try {
      await api.post(`/api/v1/violations/${v.violation_id}/status`,
        { status: choice.value, why: why.value });
      form.dataset.state = "done";
      await onDecided();
    } catch (err) {
      said.textContent = `${err.message}${err.hint ? ` (${err.hint})` : ""}`;
      said.classList.add("error");
      form.dataset.state = "refused";
    }
  });
  return form;
}

// An observation's photos, fetched with the bearer token and shown from blob: URLs (an
// <img src> cannot carry the token); other files are listed by type and size.
async function evidence(api, o) {
  let answer;
  try {
    answer = await api.get(`/api/v1/observations/${o.obs_id}/attachments`);
  } catch (err) {  // an observer reads evidence of their own reports only
    return el("div", { class: "said", text: `evidence: ${err.message}` });
  }
  if (!answer.items.length) return null;
  const box = el("div", { class: "evidence" });
  for (const a of answer.items) {
    if (a.media_type.startsWith("image/")) {
      const url = await api.blobUrl(`/api/v1/attachments/${a.sha256}`, { obs_id: o.obs_id });
      box.append(el("img", { src: url, alt: `photo ${a.sha256.slice(0, 12)}`,
        "data-sha256": a.sha256, class: "photo" }));
    } else {
      box.append(el("div", { text: `${a.media_type}, ${a.size} bytes, ${a.sha256}` }));
    }
  }
  return box;
}

function trail(answer, api, onDecided) {
  const v = answer.item;
  const box = el("div", { class: "violation", "data-violation-id": v.violation_id });
  box.append(
    el("h3", { text: `${v.clause}: ${v.status}` }), markingLine(answer.marking),
    facts([["p_location", v.p_location], ["where", v.location_text], ["zone", v.zone],
      ["severity", v.severity]]),
  );
  const list = el("ol", { class: "trail" });
  for (const s of answer.trail) {
    list.append(el("li", { text: `${s.at} ${s.status} by ${s.who}${s.why ? `: ${s.why}` : ""}` }));
  }
  if (!answer.trail.length) list.append(el("li", { text: "no decision yet (new)" }));
  box.append(list);
  box.append(decisionForm(api, v, onDecided));
  return box;
}

// Fill ``section`` with incident ``id``; ``violations`` are the view's violations of it.
// Returns the markings of what the panel shows.
export async function showIncident(api, section, id, violations, nearest, onClose,
  onDecided) {
  const answer = await api.get(`/api/v1/incidents/${id}`);
  const details = await Promise.all(violations.map(
    (v) => api.get(`/api/v1/violations/${v.violation_id}`)));
  const i = answer.item;
  for (const img of section.querySelectorAll("img.photo")) URL.revokeObjectURL(img.src);
  section.replaceChildren();
  const close = el("button", { type: "button", class: "close", text: "close" });
  close.addEventListener("click", onClose);
  section.append(
    close, el("h2", { text: `Incident: ${i.category}` }), markingLine(answer.marking),
    facts([["id", i.incident_id], ["time", `${i.t_start} .. ${i.t_end}`],
      ["position", `${i.lat.toFixed(5)}, ${i.lon.toFixed(5)} ±${Math.round(i.uncertainty_m)} m`],
      ["near", nearest], ["confidence", `${i.grade}: ${i.grade_reason}`],
      ["weapon", i.weapon_class], ["reports", i.n_observations],
      ["independent sources", i.n_sources]]),
    el("h2", { text: `Reports (${answer.observations.length})` }),
  );
  const photos = await Promise.all(answer.observations.map((o) => evidence(api, o)));
  answer.observations.forEach((o, k) => {
    const box = report(o);
    if (photos[k]) box.append(photos[k]);
    section.append(box);
  });
  section.append(el("h2", { text: `Violations and their status history (${details.length})` }));
  for (const d of details) section.append(trail(d, api, onDecided));
  section.hidden = false;
  section.dataset.incidentId = String(id);
  return [answer.marking, ...answer.observations.map((o) => o.releasability),
    ...details.map((d) => d.marking)];
}
