// The bench page's static server: the bench page, the built wasm, the page's assets, the peers' files from
// node_modules (TF.js's JavaScript is bundled into bench/out/tfjs.js) and the shared reference data (read in
// place, never copied). Bound to 127.0.0.1.
// With `?coi=1` on the page's URL the page is cross-origin isolated (COOP/COEP), which is what lets
// onnxruntime-web and TF.js start wasm threads; every other response carries COEP/CORP so isolation holds.
import http from 'node:http';
import { createReadStream, statSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED = process.env.NETLENS_SHARED || path.resolve(REPO, '../shared');

// URL prefix -> folder. Nothing outside these is served.
const MOUNTS = [
  ['/bench/', path.join(REPO, 'bench')],
  ['/pkg/', path.join(REPO, 'pkg')],
  ['/assets/', path.join(REPO, 'assets')],
  ['/ort/', path.join(REPO, 'node_modules/onnxruntime-web/dist')],
  ['/tfjs-wasm/', path.join(REPO, 'node_modules/@tensorflow/tfjs-backend-wasm/dist')],
  ['/reference/', path.join(SHARED, 'models/reference')],
];

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.onnx': 'application/octet-stream',
  '.npy': 'application/octet-stream', '.txt': 'text/plain; charset=utf-8', '.map': 'application/json',
};

function resolve(urlPath) {
  let p;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (p.includes('\0') || p.split('/').some((seg) => seg === '..' || seg.startsWith('.'))) return null;
  for (const [prefix, dir] of MOUNTS) {
    if (!p.startsWith(prefix)) continue;
    let full;
    try {
      full = realpathSync(path.join(dir, p.slice(prefix.length)));
      const root = realpathSync(dir);
      if (!full.startsWith(root + path.sep) || !statSync(full).isFile()) return null;
    } catch {
      return null;
    }
    return full;
  }
  return null;
}

function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const file = url.pathname === '/' ? null : resolve(url.pathname);
  if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    return;
  }
  const st = statSync(file);
  const headers = {
    'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
    'Content-Length': st.size,
    'Last-Modified': st.mtime.toUTCString(),
    'Cache-Control': 'no-cache',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
  };
  if (file.endsWith('.html') && url.searchParams.get('coi') !== '1') {
    delete headers['Cross-Origin-Embedder-Policy'];
  } else if (file.endsWith('.html')) {
    headers['Cross-Origin-Opener-Policy'] = 'same-origin';
  }
  const since = req.headers['if-modified-since'];
  if (since && Math.floor(st.mtimeMs / 1000) <= Math.floor(Date.parse(since) / 1000)) {
    delete headers['Content-Length'];
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, headers);
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
}

/** Resolves to {url, close} once listening on a free port of 127.0.0.1. */
export function startBenchServer() {
  const server = http.createServer(handle);
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      ok({ url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { url } = await startBenchServer();
  console.log(`bench server: ${url}/bench/index.html?suite=netlens (suites: netlens, ort, tfjs, startup; &threads=2&coi=1)`);
}
