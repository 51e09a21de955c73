// The engine runs here, never on the main thread. Long runs take one iteration per event-loop turn, so that
// "cancel", "settings" and a new run's message get handled between two iterations.
import init, { NetLens, Image, installPanicHook, encodePng } from '../pkg/netlens.js';

let lens = null;
let image = null; // the wasm Image of the current input
let run = null; // {id, kind, settingsJson, iters} of the run in progress

const post = (msg, transfer = []) => self.postMessage(msg, transfer);
// One iteration per event-loop turn, so that cancel and settings messages get in between. A
// MessageChannel round trip, unlike setTimeout(0), is not clamped to 4 ms once timers nest.
const turns = new MessageChannel();
const waiting = [];
turns.port1.onmessage = () => waiting.shift()?.();
const nextTurn = () => new Promise((resolve) => {
  waiting.push(resolve);
  turns.port2.postMessage(null);
});

// A tiny module using one SIMD instruction (i8x16.splat); validate() says whether this browser has wasm SIMD.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

async function fetchOk(url, what) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`could not fetch ${what} (${url}): ${e.message}`);
  }
  if (!res.ok) throw new Error(`could not fetch ${what} (${url}): HTTP ${res.status}`);
  return res;
}

async function downloadWithProgress(url, expectedBytes) {
  const res = await fetchOk(url, 'the model');
  const total = Number(res.headers.get('Content-Length')) || expectedBytes || 0;
  const reader = res.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    post({ type: 'progress', loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function start() {
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new Error('this browser lacks WebAssembly SIMD, which netlens needs; use a current Chrome, Edge, Firefox or Safari');
  }
  const manifest = await (await fetchOk('../assets/manifest.json', 'the asset list')).json();
  const wasmReady = init({ module_or_path: new URL('../pkg/netlens_bg.wasm', import.meta.url) });
  const model = await downloadWithProgress(`../assets/${manifest.model}`, manifest.model_bytes);
  if (manifest.model_sha256 && (await sha256Hex(model)) !== manifest.model_sha256) {
    throw new Error('the model file is corrupt (its sha256 does not match); re-run `make assets`');
  }
  const classes = await (await fetchOk(`../assets/${manifest.classes}`, 'the class names')).text();
  const synsets = manifest.synsets ? await (await fetchOk(`../assets/${manifest.synsets}`, 'the synonyms')).text() : '';
  await wasmReady;
  installPanicHook();
  lens = new NetLens(model, classes, synsets);
  const labels = [];
  for (let i = 0; i < lens.numClasses(); i++) labels.push({ name: lens.shortName(i), synonyms: lens.synonyms(i) });
  post({ type: 'ready', labels, samples: manifest.samples });
}

function top5(probs) {
  return Array.from(probs.keys())
    .sort((a, b) => probs[b] - probs[a])
    .slice(0, 5)
    .map((c) => ({ class: c, prob: probs[c] }));
}

function loadImage(msg) {
  if (run?.kind === 'fooling') run = null; // a fooling run on the old input is moot
  const next = Image.decode(new Uint8Array(msg.bytes));
  const probs = lens.classify(next);
  image?.free();
  image = next;
  const rgba = image.rgba();
  post({ type: 'image', reqId: msg.reqId, rgba, top: top5(probs), source: msg.source }, [rgba.buffer]);
}

function saliency(msg) {
  if (!image) throw new Error('load an image first');
  const s = lens.saliency(image, msg.class ?? undefined);
  try {
    const out = { map: s.map(), heatmap: s.heatmap(), overlay: s.overlay() };
    post({ type: 'saliency', reqId: msg.reqId, classIndex: s.classIndex, top: top5(s.probs()), ...out },
      [out.map.buffer, out.heatmap.buffer, out.overlay.buffer]);
  } finally {
    s.free();
  }
}

async function fooling(msg) {
  if (!image) throw new Error('load an image first');
  const me = { id: msg.runId, kind: 'fooling' };
  const fool = lens.startFooling(image, msg.settingsJson);
  run = me;
  try {
    for (;;) {
      await nextTurn();
      if (run !== me) {
        post({ type: 'cancelled', runId: me.id, kind: me.kind });
        return;
      }
      const step = JSON.parse(fool.step(lens));
      if (step.running) {
        post({ type: 'fooling-progress', runId: me.id, ...step.running });
        continue;
      }
      const fooled = fool.fooledRgba();
      const diff = fool.diffRgba(1);
      const diff10 = fool.diffRgba(10);
      const png = encodePng(fooled);
      // The proof: decode the very PNG bytes the user downloads and classify them again.
      const reloaded = Image.decode(png);
      const recheck = top5(lens.classify(reloaded));
      reloaded.free();
      run = null;
      post({ type: 'fooling-done', runId: me.id, report: step.done, fooled, diff, diff10, png, recheck },
        [fooled.buffer, diff.buffer, diff10.buffer]);
      return;
    }
  } finally {
    fool.free();
  }
}

async function classviz(msg) {
  const me = { id: msg.runId, kind: 'classviz', settingsJson: msg.settingsJson, iters: msg.iters };
  const viz = lens.startClassViz(msg.settingsJson);
  run = me;
  try {
    for (;;) {
      await nextTurn();
      if (run !== me) {
        post({ type: 'cancelled', runId: me.id, kind: me.kind });
        return;
      }
      if (viz.iteration() >= me.iters) break;
      viz.step(lens, me.settingsJson);
      const rgba = viz.rgba();
      const last = viz.iteration() >= me.iters;
      post({ type: 'classviz-frame', runId: me.id, iteration: viz.iteration(), iters: me.iters, rgba,
        top: top5(viz.probs()), png: last ? encodePng(rgba) : null });
      if (last) break;
    }
    run = null;
    post({ type: 'classviz-done', runId: me.id, iteration: viz.iteration() });
  } finally {
    viz.free();
  }
}

function reportError(msg, e) {
  // A wasm trap (a panic under panic=abort) leaves the module unusable: the page must start a new worker.
  const fatal = e instanceof WebAssembly.RuntimeError;
  post({ type: 'error', scope: msg.type, reqId: msg.reqId, runId: msg.runId, fatal, message: e?.message ?? String(e) });
}

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    switch (msg.type) {
      case 'start':
        return await start();
      case 'image':
        return loadImage(msg);
      case 'search':
        return post({ type: 'search', reqId: msg.reqId, picker: msg.picker, classes: Array.from(lens.search(msg.query, 30)) });
      case 'saliency':
        return saliency(msg);
      case 'fooling':
        return await fooling(msg);
      case 'classviz':
        return await classviz(msg);
      case 'settings':
        // Read by the run loop before its next iteration.
        if (run && run.id === msg.runId) {
          run.settingsJson = msg.settingsJson;
          run.iters = msg.iters;
        }
        return;
      case 'cancel':
        if (run && (msg.runId === undefined || run.id === msg.runId)) run = null;
        return;
      default:
        throw new Error(`unknown request ${msg.type}`);
    }
  } catch (e) {
    reportError(msg, e);
  }
};
