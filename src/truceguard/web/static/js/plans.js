// The side panel's choice of a plan run (``GET /api/v1/plans``: the latest runs this user may
// read) and of its variant, drawn on the map (``overlays.showPlan``) with a summary. Shown to
// analysts only (an observer reads no plan run: the list answers 403 and the panel stays
// hidden).

import { planSummary, showPlan } from "./overlays.js";

export class PlanPanel {
  // ``onMarking(marking or null)`` is told the marking of the run drawn (null: none drawn).
  constructor(api, map, els, onMarking) {
    this.api = api;
    this.map = map;
    this.els = els;  // {section, run, variant, summary}
    this.onMarking = onMarking;
    this.doc = null;
    const draw = (variant) => this.draw(els.run.value, variant).catch((err) => {
      const li = document.createElement("li");
      li.className = "error";
      li.textContent = `${err.message}${err.hint ? ` (${err.hint})` : ""}`;
      els.summary.replaceChildren(li);
    });
    els.run.addEventListener("change", () => draw(null));
    els.variant.addEventListener("change", () => draw(els.variant.value));
  }

  // List the runs; the panel shows when there is something to choose from.
  async load() {
    let list;
    try {
      list = await this.api.get("/api/v1/plans");
    } catch (err) {
      if (err.status === 403) return;  // observers: no plan runs
      throw err;
    }
    const options = list.items.filter((r) => r.state === "done").map((r) => {
      const o = document.createElement("option");
      o.value = r.run_id;
      const what = r.request.scenario || "plan";
      o.textContent = `${what}, ${r.at.slice(0, 16).replace("T", " ")} by ${r.who}`;
      return o;
    });
    const none = document.createElement("option");
    none.value = "";
    none.textContent = options.length ? "none" : "no finished run";
    this.els.run.replaceChildren(none, ...options);
    this.els.variant.parentElement.hidden = true;  // until a run is drawn
    this.els.section.hidden = false;
  }

  async draw(runId, variant) {
    const els = this.els;
    if (!runId) {
      this.doc = null;
      showPlan(this.map, null);
      els.variant.replaceChildren();
      els.variant.parentElement.hidden = true;
      els.summary.replaceChildren();
      this.onMarking(null);
      return;
    }
    const doc = await this.api.get(`/api/v1/plans/${encodeURIComponent(runId)}/map`,
      variant ? { variant } : {});
    if (els.run.value !== runId) return;  // another run was chosen meanwhile
    this.doc = doc;
    showPlan(this.map, doc);
    els.variant.parentElement.hidden = false;
    els.variant.replaceChildren(...doc.variants.map((v) => {
      const o = document.createElement("option");
      o.value = v;
      o.textContent = v;
      o.selected = v === doc.variant;
      return o;
    }));
    els.summary.replaceChildren(...planSummary(doc).map((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    }));
    this.onMarking(doc.marking);
  }
}
