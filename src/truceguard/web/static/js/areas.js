// Counts per area and day: each incident is placed in the oblast (shipped ADM1 boundaries)
// that holds its position, once (cached by incident id), and the view's incidents are
// counted per area and, within each, per day.

import { isoDay } from "./timeline.js";

// A ring's edges sorted into BANDS bands of latitude (an edge in every band its span
// meets), so that a point is tested against the edges of its own band only: the same
// crossings as against every edge, since an edge that a horizontal ray at ``y`` can cross
// spans ``y``.
const BANDS = 64;

function bandedRing(ring) {
  let s = Infinity, n = -Infinity;
  for (const [, y] of ring) { s = Math.min(s, y); n = Math.max(n, y); }
  const h = (n - s) / BANDS || 1;
  const lists = Array.from({ length: BANDS }, () => []);
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    const lo = Math.max(0, Math.floor((Math.min(yi, yj) - s) / h));
    const hi = Math.min(BANDS - 1, Math.floor((Math.max(yi, yj) - s) / h));
    for (let b = lo; b <= hi; b++) lists[b].push(xi, yi, xj, yj);
  }
  return { s, n, h, bands: lists.map((l) => Float64Array.from(l)) };
}

// Even-odd rule: a horizontal ray from (x, y) crosses the ring an odd number of times.
function ringHolds(ring, x, y) {
  if (y < ring.s || y > ring.n) return false;
  const edges = ring.bands[Math.min(BANDS - 1, Math.floor((y - ring.s) / ring.h))];
  let inside = false;
  for (let k = 0; k < edges.length; k += 4) {
    const xi = edges[k], yi = edges[k + 1], xj = edges[k + 2], yj = edges[k + 3];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function polygonHolds(rings, x, y) {
  if (!ringHolds(rings[0], x, y)) return false;
  for (let k = 1; k < rings.length; k++) if (ringHolds(rings[k], x, y)) return false;
  return true;
}

function boxOf(ring) {
  let w = 180, s = 90, e = -180, n = -90;
  for (const [x, y] of ring) {
    w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
  }
  return [w, s, e, n];
}

export class Areas {
  // ``layer``: a GeoJSON FeatureCollection of (Multi)Polygons with a ``name`` property.
  constructor(layer) {
    this.polygons = [];
    for (const f of layer.features) {
      const g = f.geometry;
      const parts = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon"
        ? g.coordinates : [];
      for (const rings of parts) {
        this.polygons.push({ name: f.properties.name, rings: rings.map(bandedRing),
          box: boxOf(rings[0]) });
      }
    }
    this.cache = new Map();
  }

  // The name of the area holding (lon, lat); "" outside every area.
  at(lon, lat) {
    for (const p of this.polygons) {
      const [w, s, e, n] = p.box;
      if (lon < w || lon > e || lat < s || lat > n) continue;
      if (polygonHolds(p.rings, lon, lat)) return p.name;
    }
    return "";
  }

  areaOf(incident) {
    let name = this.cache.get(incident.incident_id);
    if (name === undefined) {
      name = this.at(incident.lon, incident.lat);
      this.cache.set(incident.incident_id, name);
    }
    return name;
  }

  // [{area, total, days: Map(day "YYYY-MM-DD" -> count)}] of ``incidents`` (each with its
  // start time in epoch seconds, ``t``), the busiest area first.
  count(incidents) {
    const by = new Map();
    for (const i of incidents) {
      const area = this.areaOf(i) || "outside the oblasts";
      if (!by.has(area)) by.set(area, { area, total: 0, days: new Map() });
      const row = by.get(area);
      row.total += 1;
      const day = isoDay(i.t);
      row.days.set(day, (row.days.get(day) || 0) + 1);
    }
    return [...by.values()].sort((a, b) => b.total - a.total || a.area.localeCompare(b.area));
  }
}
