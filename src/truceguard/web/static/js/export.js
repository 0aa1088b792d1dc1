// Export exactly the filtered view: the list endpoints are asked again with the view's
// filter, every field of every record is kept, and the file states its marking.

const MARKING_PREFIX = "# marking: ";

function cell(value) {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(items, marking) {
  const columns = [];
  for (const item of items) {
    for (const key of Object.keys(item)) if (!columns.includes(key)) columns.push(key);
  }
  const lines = [MARKING_PREFIX + marking, columns.map(cell).join(",")];
  for (const item of items) lines.push(columns.map((c) => cell(item[c])).join(","));
  return lines.join("\n") + "\n";
}

export function toGeoJson(items, marking, idField) {
  return JSON.stringify({
    type: "FeatureCollection", marking,
    features: items.map((item) => ({
      type: "Feature", id: item[idField],
      geometry: { type: "Point", coordinates: [item.lon, item.lat] },
      properties: item,
    })),
  }, null, 1) + "\n";
}

const ID_FIELD = { incidents: "incident_id", violations: "violation_id" };

// Ask the API for ``kind`` (incidents or violations) with ``params``, and hand the browser
// the file in ``format`` (csv or geojson).
export async function exportView(api, kind, format, params, name) {
  const { items, markings } = await api.all(`/api/v1/${kind}`, params);
  const marking = await api.narrowest([...markings]);
  const text = format === "csv" ? toCsv(items, marking) : toGeoJson(items, marking, ID_FIELD[kind]);
  const type = format === "csv" ? "text/csv" : "application/geo+json";
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `${name}.${format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return items.length;
}
