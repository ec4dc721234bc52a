// Service worker for the engineer's phone pages (/m/). Network first, the cache only as the
// fallback when offline (so a deploy's new files are used at once, and a page opened before
// still shows without a network). Writes are never cached: the page queues them (mobile.js)
// and sends them in order.
const CACHE = "closeloop-m-v2";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(["/m/"]).catch(() => undefined)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))),
  );
  self.clients.claim();
});

function networkFirst(req, fallback) {
  return fetch(req)
    .then((resp) => {
      if (resp.ok) {
        const copy = resp.clone();
        caches.open(CACHE).then((c) => c.put(req, copy));
      }
      return resp;
    })
    .catch(() => caches.match(req).then((hit) => hit || (fallback ? caches.match(fallback) : undefined)));
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(networkFirst(req));
  } else if (req.mode === "navigate" && url.pathname.startsWith("/m/")) {
    event.respondWith(networkFirst(req, "/m/"));
  }
});
