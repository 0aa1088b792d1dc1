// The field form's service worker (scope /capture): it keeps the form's own files (no data:
// nothing from /api) so that the form opens with no connection. Each file is asked of the
// network first and kept; with no network, the kept copy answers.

const CACHE = "truceguard-capture-v2";
const SHELL = ["/capture", "/app/js/capture.js", "/app/js/api.js", "/app/capture.css",
  "/capture/manifest.webmanifest", "/app/capture-icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin
      || !SHELL.includes(url.pathname)) {
    return;  // the API and everything else: straight to the network, never kept
  }
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
    }
    return response;
  }).catch(() => caches.match(url.pathname).then((kept) => kept || Response.error())));
});
