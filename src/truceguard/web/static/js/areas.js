// Counts per area and day: each incident is placed in the oblast (shipped ADM1 boundaries)
// that holds its position, once (cached by incident id), and the view's incidents are
// counted per area and, within each, per day.

function ringHolds(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function polygonHolds(rings, x, y) {
  if (!ringHolds(rings[0], x, y)) return false;
  for (let k = 1; k < rings.length; k++) if (ringHolds(rings[k], x, y)) return false;
  return true;
}

function boxOf(rings) {
  let w = 180, s = 90, e = -180, n = -90;
  for (const [x, y] of rings[0]) {
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
        this.polygons.push({ name: f.properties.name, rings, box: boxOf(rings) });
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

  // [{area, total, days: Map(day "YYYY-MM-DD" -> count)}], the busiest area first.
  count(incidents) {
    const by = new Map();
    for (const i of incidents) {
      const area = this.areaOf(i) || "outside the oblasts";
      if (!by.has(area)) by.set(area, { area, total: 0, days: new Map() });
      const row = by.get(area);
      row.total += 1;
      const day = i.t_start.slice(0, 10);
      row.days.set(day, (row.days.get(day) || 0) + 1);
    }
    return [...by.values()].sort((a, b) => b.total - a.total || a.area.localeCompare(b.area));
  }
}
