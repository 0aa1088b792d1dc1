// Two overlays of the map beyond incidents and violations, each read from the API with the
// user's token: the monitors' reports of restricted freedom of movement in the view
// (``GET /api/v1/map/restrictions``, the same period as the incidents) and a plan run's
// protected sites, coalition assets and coverage of the line (``GET /api/v1/plans/{id}/map``,
// the run chosen in the side panel). A click on one of their symbols shows what it is, built
// as text (never as HTML from the answer).

const EMPTY = { type: "FeatureCollection", features: [] };
const FONT = ["DejaVu Sans"];
const OF_PLAN = (layer) => ["==", ["get", "layer"], layer];

// The share of the line watched, from red (none) through yellow to green (all).
export const WATCHED_COLOURS = [[0, "#b2182b"], [0.5, "#fee08b"], [1, "#1a9850"]];

// The overlays' sources and layers, added to ``map`` once its style is loaded: the coverage
// as a band under the line of contact, the symbols above everything but the selection (their
// icons always drawn, never hiding a place's name).
export function addOverlays(map) {
  map.addSource("restrictions", { type: "geojson", data: EMPTY });
  map.addSource("plan", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "plan-coverage", type: "line", source: "plan",
    filter: OF_PLAN("coverage"), layout: { "line-cap": "round" },
    paint: { "line-width": 10, "line-opacity": 0.8,
      "line-color": ["interpolate", ["linear"], ["get", "watched_share"],
        ...WATCHED_COLOURS.flat()] } }, "line-of-contact-casing");
  map.addLayer({ id: "plan-assets", type: "symbol", source: "plan", filter: OF_PLAN("asset"),
    layout: { "icon-image": "asset", "icon-allow-overlap": true,
      "icon-ignore-placement": true } });
  map.addLayer({ id: "plan-sites", type: "symbol", source: "plan", filter: OF_PLAN("site"),
    layout: { "icon-image": ["case", ["get", "covered"], "site", "site-exposed"],
      "icon-allow-overlap": true, "text-field": ["get", "name"], "text-font": FONT,
      "text-size": 10, "text-anchor": "top", "text-offset": [0, 0.9], "text-optional": true },
    paint: { "text-color": "#0d47a1", "text-halo-color": "#ffffff", "text-halo-width": 1.2 } });
  map.addLayer({ id: "restrictions", type: "symbol", source: "restrictions",
    layout: { "icon-image": "restriction", "icon-allow-overlap": true,
      "icon-ignore-placement": true } });
  for (const id of ["plan-sites", "plan-assets", "restrictions"]) {
    map.on("click", id, (e) => popup(map, e.lngLat, describe(e.features[0].properties)));
    map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
  }
}

export function showRestrictions(map, doc) {
  map.getSource("restrictions").setData(doc || EMPTY);
}

export function showPlan(map, doc) {
  map.getSource("plan").setData(doc || EMPTY);
}

// What a plan run's map holds, in a few lines for the side panel.
export function planSummary(doc) {
  const of = (layer) => doc.features.filter((f) => f.properties.layer === layer);
  const sites = of("site"), assets = of("asset"), stretches = of("coverage");
  const covered = sites.filter((f) => f.properties.covered).length;
  const usDependent = assets.filter((f) => f.properties.us_dependent).length;
  const km = stretches.reduce((s, f) => s + f.properties.length_km, 0);
  const watched = stretches.reduce((s, f) => s + f.properties.length_km *
    f.properties.watched_share, 0);
  const lines = [`${doc.scenario}, variant ${doc.variant} (${doc.marking})`,
    `protected sites covered by air defence: ${covered} of ${sites.length}`,
    `coalition assets: ${assets.length} (${usDependent} depend on the US)`,
    `line watched, length-weighted: ${km ? (100 * watched / km).toFixed(1) : "-"}% of ` +
      `${km.toFixed(0)} km`];
  for (const [key, h] of Object.entries(doc.headlines || {})) {  // each with its label
    if (h.value === null || h.value === undefined) continue;
    const ci = h.low !== null && h.low !== undefined ? ` (95%: ${pct(h.low)}-${pct(h.high)})`
      : "";
    lines.push(`${h.label || key}: ${pct(h.value)}${ci}`);
  }
  return lines;
}

function pct(x) {
  return `${(100 * x).toFixed(1)}%`;
}

// The lines a symbol's popup shows: its properties (MapLibre hands nested values as JSON
// text), the layer first.
export function describe(props) {
  const skip = new Set(["layer"]);
  const out = [String(props.layer || "")];
  for (const [k, v] of Object.entries(props)) {
    if (skip.has(k) || v === null || v === undefined || v === "") continue;
    out.push(`${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  }
  return out;
}

function popup(map, where, lines) {
  const div = document.createElement("div");
  div.className = "overlay-popup";
  const h = document.createElement("strong");
  h.textContent = lines[0];
  div.append(h);
  for (const line of lines.slice(1)) {
    const p = document.createElement("div");
    p.textContent = line;
    div.append(p);
  }
  // eslint-disable-next-line no-undef
  new maplibregl.Popup({ maxWidth: "340px" }).setLngLat(where).setDOMContent(div).addTo(map);
}
