// The map: MapLibre GL JS (a global from the maplibre package's script) with a local style:
// the shipped layers as GeoJSON sources, text drawn from the glyphs the server makes of the
// DejaVu fonts (``/app/glyphs``) and icons from its sprite (``/app/sprites``), nothing from
// elsewhere. Zoomed out (to CLUSTER_MAX_ZOOM), incidents and violations are drawn
// as the clusters of ``clusters.js``, each level a small document; from the next level on,
// each one is drawn with its uncertainty. Live changes reach the point sources by
// difference (``patchSource``).

import { CLUSTER_MAX_ZOOM, clusterLevels } from "./clusters.js";

export const CATEGORY_COLOURS = {
  explosion: "#d62728", projectile: "#ff7f0e", muzzle_flash: "#e377c2",
  illumination_flare: "#bcbd22", shots: "#8c564b", armed_clash: "#9467bd",
  shelling: "#b2182b", air_strike: "#1f77b4", drone: "#17becf", missile: "#08306b",
  movement: "#2ca02c", flight: "#7fbc41", mine: "#543005", weapon_presence: "#35978f",
  detection: "#80cdc1", track: "#999999", other: "#666666", explosive_remnant: "#8e0152",
  low_clarity: "#bababa",
};
const OTHER_COLOUR = "#444444";
const CLAUSE_PALETTE = ["#263238", "#e6550d", "#3182bd", "#31a354", "#756bb1", "#636363",
  "#fd8d3c", "#6baed6"];

// Radius (pixels) by confidence grade.
export const GRADE_RADIUS = { verified: 9, probable: 7, contested: 6, single_source: 4.5 };

// Metres a pixel covers at zoom 0 on the equator (512-pixel tiles).
const M_PER_PX_Z0 = 78271.517;

const EMPTY = { type: "FeatureCollection", features: [] };

// How far (screen pixels) the context layers' boundaries (countries, oblasts) may be
// simplified at the zoom they are drawn at (MapLibre's default, kept for the line of contact
// and the zones, which incidents are read against: 0.375). Every vertex is drawn again at
// each frame; on a software renderer the borders cost a good part of one.
const CONTEXT_TOLERANCE_PX = 3;
// Each incident and violation is drawn from this zoom on; below it, the clusters.
const POINTS_MIN_ZOOM = CLUSTER_MAX_ZOOM + 1;

// A cluster document's features of the level being drawn (a filter is evaluated at the
// zoom of the tile: the integer level).
const THIS_LEVEL = ["==", ["get", "z"], ["zoom"]];
const IS_CLUSTER = [">", ["get", "point_count"], 1];
const VIOLATION_CLUSTER_COLOUR = "#b71c1c";

function categoryColour() {
  const pairs = Object.entries(CATEGORY_COLOURS).flat();
  return ["match", ["get", "category"], ...pairs, OTHER_COLOUR];
}

function gradeRadius() {
  return ["match", ["get", "grade"], ...Object.entries(GRADE_RADIUS).flat(), 5];
}

// A radius in metres, as pixels at every zoom (exponential in the zoom, base 2).
function metresRadius() {
  return ["interpolate", ["exponential", 2], ["zoom"],
    0, ["get", "unc_px0"], 22, ["*", ["get", "unc_px0"], 2 ** 22]];
}

const ZONE_PALETTE = ["#6a3d9a", "#1f78b4", "#33a02c", "#ff7f00", "#b15928", "#e31a1c",
  "#a6cee3", "#fb9a99", "#cab2d6"];

// A colour for each zone of ``zones`` (the terms' zones document), in its order.
export function zoneColours(zones) {
  const out = {};
  for (const f of (zones && zones.features) || []) {
    const key = `${f.properties.terms}/${f.properties.zone}`;
    if (!(key in out)) out[key] = ZONE_PALETTE[Object.keys(out).length % ZONE_PALETTE.length];
  }
  return out;
}

function zoneColour(zones) {
  const pairs = Object.entries(zoneColours(zones)).flat();
  const key = ["concat", ["get", "terms"], "/", ["get", "zone"]];
  return pairs.length ? ["match", key, ...pairs, "#888888"] : "#888888";
}

// Draw ``zones`` (the terms' zones document, which may come after the map was made), each
// zone in its colour.
export function showZones(map, zones) {
  map.getSource("zones").setData(zones || EMPTY);
  map.setPaintProperty("zones-fill", "fill-color", zoneColour(zones));
  map.setPaintProperty("zones-line", "line-color", zoneColour(zones));
}

export function clauseColours(clauses) {
  const out = {};
  clauses.forEach((c, i) => { out[c] = CLAUSE_PALETTE[i % CLAUSE_PALETTE.length]; });
  return out;
}

// Where the style's glyphs and icons are (absolute: MapLibre's workers resolve them).
const GLYPHS = "/app/glyphs/{fontstack}/{range}.pbf";
const SPRITE = "/app/sprites/sprite";
const FONT = ["DejaVu Sans"];
const BOLD = ["DejaVu Sans Bold"];

// A cluster's count as its label: 1,234 as "1.2k", 12,345 as "12k".
const COUNT_LABEL = ["case",
  [">=", ["get", "point_count"], 10000],
  ["concat", ["to-string", ["round", ["/", ["get", "point_count"], 1000]]], "k"],
  [">=", ["get", "point_count"], 1000],
  ["concat", ["to-string", ["/", ["round", ["/", ["get", "point_count"], 100]], 10]], "k"],
  ["to-string", ["get", "point_count"]]];

function style(layers) {
  return {
    version: 8,
    name: "truceguard (offline)",
    glyphs: window.location.origin + GLYPHS,
    sprite: window.location.origin + SPRITE,
    sources: {
      countries: { type: "geojson", data: layers.countries, tolerance: CONTEXT_TOLERANCE_PX },
      oblasts: { type: "geojson", data: layers.oblasts, tolerance: CONTEXT_TOLERANCE_PX },
      line_of_contact: { type: "geojson", data: layers.line_of_contact },
      places: { type: "geojson", data: layers.places },
      zones: { type: "geojson", data: layers.zones || EMPTY },
      incidents: { type: "geojson", data: EMPTY },
      "incident-clusters": { type: "geojson", data: EMPTY, maxzoom: CLUSTER_MAX_ZOOM },
      violations: { type: "geojson", data: EMPTY },
      "violation-clusters": { type: "geojson", data: EMPTY, maxzoom: CLUSTER_MAX_ZOOM },
      register: { type: "geojson", data: EMPTY },
      selected: { type: "geojson", data: EMPTY },
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#c9dbe8" } },
      { id: "countries", type: "fill", source: "countries",
        paint: { "fill-color": ["match", ["get", "iso"], "UKR", "#fbfaf5", "#ecebe4"] } },
      { id: "country-borders", type: "line", source: "countries",
        paint: { "line-color": "#8a8a80", "line-width": 1 } },
      { id: "oblasts", type: "line", source: "oblasts",
        paint: { "line-color": "#b8b6a8", "line-width": 0.6, "line-dasharray": [3, 2] } },
      { id: "zones-fill", type: "fill", source: "zones",
        paint: { "fill-color": zoneColour(layers.zones), "fill-opacity": 0.07 } },
      { id: "zones-line", type: "line", source: "zones",
        paint: { "line-color": zoneColour(layers.zones), "line-width": 1,
          "line-opacity": 0.8, "line-dasharray": [4, 2] } },
      { id: "places", type: "circle", source: "places", minzoom: 6,
        paint: { "circle-radius": 1.6, "circle-color": "#77756a" } },
      // Place names from zoom 8 (where they no longer hide each other and the line).
      { id: "place-labels", type: "symbol", source: "places", minzoom: 8,
        layout: { "text-field": ["get", "name"], "text-font": FONT, "text-size": 11,
          "text-anchor": "top", "text-offset": [0, 0.35], "text-max-width": 8 },
        paint: { "text-color": "#4d4b42", "text-halo-color": "#ffffff",
          "text-halo-width": 1.2 } },
      { id: "incident-clusters", type: "circle", source: "incident-clusters", filter: THIS_LEVEL,
        maxzoom: POINTS_MIN_ZOOM, paint: {
          "circle-color": ["case", IS_CLUSTER, "#37474f", categoryColour()],
          "circle-opacity": ["case", IS_CLUSTER, 0.55, 0.85],
          "circle-stroke-color": "#ffffff", "circle-stroke-width": ["case", IS_CLUSTER, 1, 0.8],
          "circle-radius": ["case", IS_CLUSTER, ["step", ["get", "point_count"], 7, 10, 10,
            100, 14, 1000, 19, 10000, 25], gradeRadius()] } },
      // Every incident's uncertainty circle, when asked for (``showUncertainty``): a circle
      // is shaded over its whole area, and thousands of wide ones cost seconds a frame on a
      // software renderer. The selected incident's is always drawn ("selected-uncertainty").
      { id: "incident-uncertainty", type: "circle", source: "incidents",
        minzoom: POINTS_MIN_ZOOM, layout: { visibility: "none" }, paint: { "circle-radius": metresRadius(),
          "circle-color": categoryColour(),
          "circle-opacity": 0.02, "circle-stroke-color": categoryColour(),
          "circle-stroke-width": 0.7, "circle-stroke-opacity": 0.3,
          "circle-pitch-alignment": "map" } },
      { id: "line-of-contact-casing", type: "line", source: "line_of_contact",
        paint: { "line-color": "#ffffff", "line-width": 5, "line-opacity": 0.9 } },
      { id: "line-of-contact", type: "line", source: "line_of_contact",
        paint: { "line-color": "#d50000", "line-width": 2.5 } },
      { id: "incidents", type: "circle", source: "incidents", minzoom: POINTS_MIN_ZOOM,
        paint: { "circle-radius": gradeRadius(), "circle-color": categoryColour(),
          "circle-opacity": 0.85, "circle-stroke-color": "#ffffff",
          "circle-stroke-width": 0.8 } },
      { id: "violation-clusters", type: "circle", source: "violation-clusters",
        filter: THIS_LEVEL, maxzoom: POINTS_MIN_ZOOM, paint: {
          "circle-radius": ["case", IS_CLUSTER, ["step", ["get", "point_count"], 9, 10, 12,
            100, 16, 1000, 21, 10000, 27], ["+", 4, ["*", 6, ["get", "p_location"]]]],
          "circle-color": "rgba(0,0,0,0)",
          "circle-stroke-width": ["case", IS_CLUSTER, 1.5, 1],
          "circle-stroke-color": ["case", IS_CLUSTER, VIOLATION_CLUSTER_COLOUR,
            ["coalesce", ["get", "clause_colour"], "#000000"]],
          "circle-stroke-opacity": ["case", IS_CLUSTER, 0.8,
            ["+", 0.3, ["*", 0.7, ["get", "p_location"]]]] } },
      { id: "violations", type: "circle", source: "violations", minzoom: POINTS_MIN_ZOOM,
        paint: { "circle-radius": ["+", 5, ["*", 9, ["get", "p_location"]]],
          "circle-color": "rgba(0,0,0,0)", "circle-stroke-width": 1.5,
          "circle-stroke-color": ["coalesce", ["get", "clause_colour"], "#000000"],
          "circle-stroke-opacity": ["+", 0.3, ["*", 0.7, ["get", "p_location"]]] } },
      { id: "selected-uncertainty", type: "circle", source: "selected",
        paint: { "circle-radius": metresRadius(), "circle-color": categoryColour(),
          "circle-opacity": 0.08, "circle-stroke-color": "#000000",
          "circle-stroke-width": 1.2, "circle-pitch-alignment": "map" } },
      { id: "selected", type: "circle", source: "selected",
        paint: { "circle-radius": ["+", 4, gradeRadius()], "circle-color": "rgba(0,0,0,0)",
          "circle-stroke-color": "#000000", "circle-stroke-width": 2.5 } },
      // A weapon system in violation: the register's icon, larger for more sightings of it.
      { id: "register", type: "symbol", source: "register",
        layout: { "icon-image": "register", "icon-allow-overlap": true,
          "icon-ignore-placement": true,
          "icon-size": ["+", 0.9, ["*", 0.12, ["min", 8, ["get", "count"]]]] } },
    ],
  };
}

// How many incidents each cluster holds, as text over it (violations' rings are drawn around
// them). Added once the incidents are drawn, with the violations: a tile with text waits for
// its glyphs, and the incidents' first paint need not.
export function showClusterCounts(map) {
  if (map.getLayer("incident-cluster-counts")) return;
  map.addLayer({ id: "incident-cluster-counts", type: "symbol", source: "incident-clusters",
    filter: ["all", THIS_LEVEL, IS_CLUSTER], maxzoom: POINTS_MIN_ZOOM,
    layout: { "text-field": COUNT_LABEL, "text-font": BOLD, "text-size": 10,
      "text-allow-overlap": true, "text-ignore-placement": true },
    paint: { "text-color": "#ffffff", "text-halo-color": "#263238",
      "text-halo-width": 0.8 } }, "violations");
}

// The weapons-in-violation register's systems (``/api/v1/register`` items) as points.
export function registerFeatures(systems) {
  return { type: "FeatureCollection", features: systems.map((e) => ({
    type: "Feature", id: e.system_id,
    geometry: { type: "Point", coordinates: [e.lon, e.lat] },
    properties: { system_id: e.system_id, weapon_class: e.weapon_class, count: e.count,
      clause: e.clause, side: e.side_label, n_sightings: e.n_sightings },
  })) };
}

// The map, first showing every line of contact (the view the incidents are expected in:
// drawn once, not again when they come unless they need another, ``fitIncidents``);
// ``transformRequest`` (``basemap.authorise``) gives the API's tile requests their token.
export function makeMap(container, layers, transformRequest) {
  const lines = boundsOf(layers.line_of_contact.features.flatMap((f) => coordinatesOf(f.geometry))
    .map(([lon, lat]) => ({ lon, lat })));
  // eslint-disable-next-line no-undef
  const map = new maplibregl.Map({
    container, style: style(layers),
    ...(lines ? { bounds: lines, fitBoundsOptions: { padding: 40, maxZoom: 9 } }
      : { center: [37.8, 48.3], zoom: 6 }),
    attributionControl: false, maxPitch: 0, dragRotate: false, transformRequest,
  });
  // eslint-disable-next-line no-undef
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  return map;
}

function coordinatesOf(geometry) {
  if (geometry.type === "LineString") return geometry.coordinates;
  if (geometry.type === "MultiLineString") return geometry.coordinates.flat();
  return [];
}

// Show ``incidents`` whole: the view moves only when some are outside it or when they would
// fill less than half of it (a zoom level or more closer).
export function fitIncidents(map, incidents) {
  const bounds = boundsOf(incidents);
  if (!bounds) return;
  const camera = map.cameraForBounds(bounds, { padding: 40, maxZoom: 9 });
  const view = map.getBounds();
  const inside = view.contains(bounds[0]) && view.contains(bounds[1]);
  if (camera && (!inside || camera.zoom >= map.getZoom() + 1)) map.jumpTo(camera);
}

// An incident as the map draws it; its id is the incident's (53 bits: exact in JavaScript),
// so that a source can be updated by difference.
export function incidentFeature(i) {
  return {
    type: "Feature", id: i.incident_id,
    geometry: { type: "Point", coordinates: [i.lon, i.lat] },
    properties: { incident_id: i.incident_id, category: i.category, grade: i.grade,
      unc_px0: (i.uncertainty_m || 0) / (M_PER_PX_Z0 * Math.cos(i.lat * Math.PI / 180)) },
  };
}

// Draw every incident's uncertainty circle (``on``) or only the selected one's.
export function showUncertainty(map, on) {
  map.setLayoutProperty("incident-uncertainty", "visibility", on ? "visible" : "none");
}

// Mark ``incident`` (null: none) as the one selected: a ring and its uncertainty circle.
export function showSelected(map, incident) {
  map.getSource("selected").setData(incident ? { type: "FeatureCollection",
    features: [incidentFeature(incident)] } : EMPTY);
}

export function incidentFeatures(incidents) {
  return { type: "FeatureCollection", features: incidents.map(incidentFeature) };
}

// The clusters of ``incidents`` at every level (``clusters.js``); a lone one is itself.
export function incidentClusters(incidents) {
  return clusterLevels(incidents, (i) => ({ incident_id: i.incident_id, category: i.category,
    grade: i.grade }));
}

export function violationFeature(v, colours) {
  return {
    type: "Feature", id: v.violation_id,
    geometry: { type: "Point", coordinates: [v.lon, v.lat] },
    properties: { violation_id: v.violation_id, incident_id: v.incident_id, clause: v.clause,
      p_location: v.p_location, clause_colour: colours[v.clause] || "#000000" },
  };
}

export function violationFeatures(violations, colours) {
  return { type: "FeatureCollection",
    features: violations.map((v) => violationFeature(v, colours)) };
}

export function violationClusters(violations, colours) {
  return clusterLevels(violations, (v) => violationFeature(v, colours).properties);
}

// Change source ``name`` by difference: ``add`` features (added, or replacing those of the
// same id) and ``remove`` ids. Only the difference goes to MapLibre's worker
// (GeoJSONSource.updateData), never the whole layer again.
export function patchSource(map, name, add, remove) {
  if (!add.length && !remove.length) return;
  map.getSource(name).updateData({ add, remove });
}

// Show the one line of contact in force at ``until`` (epoch seconds; now when null): the
// latest whose validity began by then, else the earliest.
export function showLineAt(map, lines, until) {
  const day = new Date((until ?? Date.now() / 1000) * 1000).toISOString().slice(0, 10);
  const sorted = [...lines.features].sort((a, b) =>
    a.properties.valid_from.localeCompare(b.properties.valid_from));
  let shown = sorted[0];
  for (const f of sorted) if (f.properties.valid_from <= day) shown = f;
  if (!shown) return null;
  for (const id of ["line-of-contact-casing", "line-of-contact"]) {
    map.setFilter(id, ["==", ["get", "name"], shown.properties.name]);
  }
  return shown.properties.name;
}

// The bounds of ``items`` (with lon and lat), or null for none.
export function boundsOf(items) {
  if (!items.length) return null;
  let w = 180, s = 90, e = -180, n = -90;
  for (const i of items) {
    w = Math.min(w, i.lon); e = Math.max(e, i.lon);
    s = Math.min(s, i.lat); n = Math.max(n, i.lat);
  }
  return [[w, s], [e, n]];
}
