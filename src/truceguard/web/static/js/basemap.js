// The basemap the server was started with (``truceguard serve --basemap FILE``, a PMTiles
// archive): ``GET /api/v1/basemap`` says what it is, and its tiles come one by one from
// ``/api/v1/basemap/tiles/{z}/{x}/{y}`` with the user's token (``authorise`` adds it to the
// map's requests). It is drawn over the land's plain fill and under every other layer:
// imagery or a raster map as it is; vector tiles as plain fills, lines and points of each
// layer the archive names, in muted colours (the archive carries no style). A server
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
    attribution: info.attribution,
  });
  const layers = vector ? vectorLayers(info.vector_layers) : [
    { id: "basemap", type: "raster", source: "basemap" }];
  for (const layer of layers) map.addLayer(layer, UNDER);
  // The land's fill would hide a raster under it; its borders stay on top.
  if (!vector) map.setPaintProperty("countries", "fill-opacity", 0);
  const said = [info.attribution, `basemap: ${info.name} (${info.marking})`]
    .filter(Boolean).join(" | ");
  // eslint-disable-next-line no-undef
  map.addControl(new maplibregl.AttributionControl({ compact: false,
    customAttribution: said }), "bottom-right");
}

// Plain layers for each vector layer the archive names: its polygons filled, its lines
// drawn, its points as dots.
function vectorLayers(named) {
  const out = [];
  for (const v of named || []) {
    const base = { source: "basemap", "source-layer": v.id };
    out.push(
      { ...base, id: `basemap-${v.id}-fill`, type: "fill",
        filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": "#dcd9cc", "fill-opacity": 0.6 } },
      { ...base, id: `basemap-${v.id}-line`, type: "line",
        filter: ["==", ["geometry-type"], "LineString"],
        paint: { "line-color": "#a8a596", "line-width": 0.6 } },
      { ...base, id: `basemap-${v.id}-point`, type: "circle",
        filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-color": "#8d8a7c", "circle-radius": 1.2 } });
  }
  return out;
}
