// The service worker of the published page (`make dist` puts it at the site's root as sw.js): after one visit
// the page works with the network off. `make dist` fills in VERSION (a hash of every published file) and FILES
// (every file the page can fetch, relative to this script); `make run` serves no service worker at all.
//
// One cache per build, "netlens-<VERSION>": filled completely before this worker activates, served cache-first
// (one consistent snapshot: the page, the worker, the wasm and the model always come from the same build), and
// deleted when the next build's worker activates. The page asks {type: 'version'} to know whether the copy it
// runs from is the one saved for offline use.
//
// Threads without headers: every response this worker serves carries ISOLATION (www/serve.py's COOP/COEP pair,
// filled in by `make dist`), so a page it controls is cross-origin isolated even on a host that cannot send
// headers (GitHub Pages), and the threaded build runs there. The first visit is not controlled yet: the page
// reloads itself once when this worker takes over (www/isolation.js).
const VERSION = 'dev';
const FILES = [];
const ISOLATION = {};

const PREFIX = 'netlens-';
const CACHE = `${PREFIX}${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // 'reload': straight from the server, so a stale HTTP-cache entry never lands in a new build's cache.
    await cache.addAll(FILES.map((f) => new Request(f, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope);
  // The page itself, however it is addressed: the folder, index.html, with or without a query.
  const isPage = req.mode === 'navigate' && (url.pathname === scope.pathname || url.pathname === `${scope.pathname}index.html`);
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(isPage ? new URL('index.html', scope).href : req, { ignoreSearch: true, ignoreVary: true });
    return isolated(hit || await fetch(req));
  })());
});

/** The response with ISOLATION's headers added (an opaque response, whose headers are hidden, stays as it is). */
function isolated(res) {
  if (res.type === 'opaque' || res.type === 'opaqueredirect' || res.status === 0) return res;
  const headers = new Headers(res.headers);
  for (const [name, value] of Object.entries(ISOLATION)) headers.set(name, value);
  const body = [101, 103, 204, 205, 304].includes(res.status) ? null : res.body; // statuses that carry no body
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
}

self.addEventListener('message', (event) => {
  if (event.data?.type === 'version') {
    event.ports[0]?.postMessage({ version: VERSION, files: FILES.length, isolation: Object.keys(ISOLATION).length > 0 });
  }
});
