// Export exactly the filtered view: the server writes the file (/api/v1/export/{kind}) from
// the same filters and the same queries as the list the page shows, every field kept, the
// marking in the file and in the X-Marking header. The page fetches it with the user's token
// and hands it to the browser as a download.

import { ApiError, query } from "./api.js";

export const FORMATS = ["csv", "geojson", "gpkg", "kml"];

// Ask the server for ``kind`` (incidents or violations) filtered by ``params`` as a file in
// ``format`` (csv, geojson, gpkg or kml), saved as ``name``.``format``; the number of records
// it holds (the X-Count header).
export async function exportView(api, kind, format, params, name) {
  const response = await fetch(`/api/v1/export/${kind}` + query({ ...params, format }), {
    headers: { Authorization: `Bearer ${api.token}` },
    cache: "no-store",
  });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    throw new ApiError(response.status, body);
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = `${name}.${format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return Number(response.headers.get("X-Count") || "0");
}
