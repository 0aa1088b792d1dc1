// The basemap the server was started with (``truceguard serve --basemap FILE``, a PMTiles
// archive): ``GET /api/v1/basemap`` says what it is, and its tiles come one by one from
// ``/api/v1/basemap/tiles/{z}/{x}/{y}`` with the user's token (``authorise`` adds it to the
// map's requests). It is drawn over the land's plain fill and under every other layer:
// imagery or a raster map as it is; vector tiles as fills, lines, names and points of each
// layer the archive names, in muted colours chosen by the layer's name (the archive carries
// no style). A server
// without one answers 404 and the map is drawn as before.

const UNDER = "country-borders";  // the basemap goes just under this layer

// MapLibre's ``transformRequest``: requests for this server's API carry the bearer token
// (tile requests cannot set headers otherwise); nothing else is changed.
export function authorise(token) {
  const api = `${window.location.origin}/api/`;
  return (url) => (url.startsWith(api)
    ? { url, headers: { Authorization: `Bearer ${token}` } } : undefined);
}

// The basemap's description, or null when the server has none (or none this user may see).
export async function basemapInfo(api) {
  try {
    return await api.get("/api/v1/basemap");
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

// Draw the basemap ``info`` describes on ``map`` (its style loaded), with its attribution.
export function showBasemap(map, info) {
  const vector = info.tile_type === "mvt";
  map.addSource("basemap", {
    type: vector ? "vector" : "raster",
    tiles: [window.location.origin + info.tiles],
    minzoom: info.min_zoom, maxzoom: info.max_zoom, bounds: info.bounds,
    ...(vector ? {} : { tileSize: 256 }),
  });
  const layers = vector ? vectorLayers(info.vector_layers) : [
    { id: "basemap", type: "raster", source: "basemap" }];
  for (const layer of layers) map.addLayer(layer, UNDER);
  // The land's fill would hide a raster under it; its borders stay on top.
  if (!vector) map.setPaintProperty("countries", "fill-opacity", 0);
  // MapLibre writes attributions as HTML: the archive's is reduced to its text and escaped
  // (an archive's metadata is no one's to put links or forms on the page).
  const said = escapeHtml([plainText(info.attribution),
    `basemap: ${info.name} (${info.marking})`].filter(Boolean).join(" | "));
  // eslint-disable-next-line no-undef
  map.addControl(new maplibregl.AttributionControl({ compact: false,
    customAttribution: said }), "bottom-right");
}

// The text of ``html`` (parsed inert: nothing in it runs or loads).
function plainText(html) {
  return new DOMParser().parseFromString(String(html || ""), "text/html").body.textContent || "";
}

function escapeHtml(text) {
  const as = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  return text.replace(/[&<>"']/g, (c) => as[c]);
}

// What each vector layer looks like, by what its name says it holds (the names of the usual
// OpenStreetMap schemas: Protomaps' earth, water, roads, buildings, places; OpenMapTiles'
// water, transportation, building, place ...); the first that matches.
const LOOKS = [
  [/water|ocean|sea|lake|river/, { fill: "#aacbe0", line: "#8fb8d6" }],
  [/road|transport|street|highway|rail|transit/, { line: "#b9b4a4" }],
  [/building/, { fill: "#d9d3c7", line: "#c9c2b3", minzoom: 13 }],
  [/boundar|admin/, { line: "#9a8f99", dash: [3, 2] }],
  [/earth|land|park|natur|green|wood|forest/, { fill: "#eef0e4", line: "#d6dac6" }],
  [/./, { fill: "#dcd9cc", line: "#a8a596" }],
];
const NAME = ["coalesce", ["get", "name:en"], ["get", "name"]];

// Layers for each vector layer the archive names: its polygons filled and outlined, its
// lines drawn, in colours by what it holds; its points named where they have a name (local
// scripts included: the glyphs cover Cyrillic), else drawn as dots.
function vectorLayers(named) {
  const out = [];
  for (const v of named || []) {
    const look = (LOOKS.find(([re]) => re.test(String(v.id).toLowerCase())) || LOOKS.at(-1))[1];
    const base = { source: "basemap", "source-layer": v.id,
      ...(look.minzoom ? { minzoom: look.minzoom } : {}) };
    if (look.fill) {
      out.push({ ...base, id: `basemap-${v.id}-fill`, type: "fill",
        filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": look.fill, "fill-outline-color": look.line } });
    }
    out.push({ ...base, id: `basemap-${v.id}-line`, type: "line",
      filter: ["==", ["geometry-type"], "LineString"],
      paint: { "line-color": look.line, "line-width": 0.8,
        ...(look.dash ? { "line-dasharray": look.dash } : {}) } });
    out.push({ ...base, id: `basemap-${v.id}-label`, type: "symbol",
      filter: ["all", ["==", ["geometry-type"], "Point"], ["has", "name"]],
      layout: { "text-field": NAME, "text-font": ["DejaVu Sans"], "text-size": 10,
        "text-max-width": 8 },
      paint: { "text-color": "#5d5a50", "text-halo-color": "#ffffff",
        "text-halo-width": 1 } });
    out.push({ ...base, id: `basemap-${v.id}-point`, type: "circle",
      filter: ["all", ["==", ["geometry-type"], "Point"], ["!", ["has", "name"]]],
      paint: { "circle-color": "#8d8a7c", "circle-radius": 1.2 } });
  }
  return out;
}
