// Clusters of points for every zoom level up to CLUSTER_MAX_ZOOM, as one small GeoJSON
// document the map draws instead of the points themselves when zoomed out.
//
// At zoom ``z`` the world is 512 * 2^z pixels wide (Web Mercator); it is cut into square
// cells of CELL_PX pixels and the points of a cell become one cluster, placed at their
// mean (in Mercator coordinates) and counted. A cell at zoom z is exactly four cells at
// z + 1 (floor(floor(a) / 2) = floor(a / 2)), so each level is summed from the one below
// it: the points are read once, whatever the number of levels. A cell holding a single
// point is that point, with its own properties (drawn and clicked as itself).
//
// A fixed grid rather than a distance rule: a dense group that straddles a cell edge shows
// as two or four clusters side by side, never as fewer points than it has; every point is
// counted in exactly one cluster at each level.

export const CLUSTER_MAX_ZOOM = 9;
export const CELL_PX = 48;
const ROW = 1 << 14;  // cells per row at CLUSTER_MAX_ZOOM: 512 * 2^9 / 48 < 2^14

const mercatorX = (lon) => (lon + 180) / 360;
const mercatorY = (lat) => {
  const s = Math.sin(Math.max(-85.05, Math.min(85.05, lat)) * Math.PI / 180);
  return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
};
const lonOf = (x) => x * 360 - 180;
const latOf = (y) => (Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180) / Math.PI;

// A level: per cell its key (column * ROW + row), count, sums of x and y, and the index of
// one of its points (its point, when it holds one alone). ``merged`` gives the level that
// merges the cells of ``level`` whose ``keyOf(key)`` is the same.
function merged(level, keyOf) {
  const index = new Map();
  const out = { keys: [], count: [], sx: [], sy: [], first: [] };
  for (let c = 0; c < level.keys.length; c++) {
    const key = keyOf(level.keys[c]);
    let p = index.get(key);
    if (p === undefined) {
      p = out.keys.length;
      index.set(key, p);
      out.keys.push(key); out.count.push(0); out.sx.push(0); out.sy.push(0);
      out.first.push(level.first[c]);
    }
    out.count[p] += level.count[c]; out.sx[p] += level.sx[c]; out.sy[p] += level.sy[c];
  }
  return out;
}

// The cells of CLUSTER_MAX_ZOOM from ``items`` (each with ``lon`` and ``lat``): each point
// a cell of one, keyed by the cell it falls in, then merged.
function finest(items) {
  const cells = (512 * 2 ** CLUSTER_MAX_ZOOM) / CELL_PX;
  const n = items.length;
  const points = { keys: new Array(n), count: new Array(n).fill(1), sx: new Array(n),
    sy: new Array(n), first: new Array(n) };
  for (let k = 0; k < n; k++) {
    const x = mercatorX(items[k].lon), y = mercatorY(items[k].lat);
    points.keys[k] = Math.floor(x * cells) * ROW + Math.floor(y * cells);
    points.sx[k] = x; points.sy[k] = y; points.first[k] = k;
  }
  return merged(points, (key) => key);
}

// The level above: each cell the sum of its four children.
const parent = (key) => Math.floor(Math.floor(key / ROW) / 2) * ROW + Math.floor((key % ROW) / 2);

// The clusters of ``items`` at zooms 0 to CLUSTER_MAX_ZOOM as a FeatureCollection: each
// feature has ``z`` (its zoom level) and ``point_count``; a cell of one point has, besides,
// the properties ``single(item)`` gives.
export function clusterLevels(items, single) {
  const features = [];
  if (!items.length) return { type: "FeatureCollection", features };
  let cells = finest(items);
  for (let z = CLUSTER_MAX_ZOOM; z >= 0; z--) {
    if (z < CLUSTER_MAX_ZOOM) cells = merged(cells, parent);
    for (let c = 0; c < cells.keys.length; c++) {
      const n = cells.count[c];
      const item = n === 1 ? items[cells.first[c]] : null;
      const coordinates = item ? [item.lon, item.lat]
        : [lonOf(cells.sx[c] / n), latOf(cells.sy[c] / n)];
      features.push({ type: "Feature", geometry: { type: "Point", coordinates },
        properties: item ? { ...single(item), z, point_count: 1 } : { z, point_count: n } });
    }
  }
  return { type: "FeatureCollection", features };
}
