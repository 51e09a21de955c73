// The engine runs here, never on the main thread. Every method runs through one loop (docs/architecture.md:
// lens.start -> step ... -> panels/report), one step per event-loop turn, so that "cancel", "settings" and
// other requests get handled between two steps.
import { pickEngine } from './threads.js';
import { frameDue } from './frames.js';
import { liveFrame, liveStop } from './live-worker.js';
import { checkMessage, DEFAULT_MODEL_NAME, FROM_WORKER, TO_WORKER, topOf } from './protocol.js';

// The wasm bindings: the threaded build's or the single-thread one's (loadWasm below); both export the same API.
let NetLens, Image, installPanicHook, encodePng, schema, testAllocateOnPool, setSpinning;
let engineInfo = null; // {build: 'threads'|'single', threads, why}: shown with the model, read by the tests

let lens = null;
let image = null; // the wasm Image of the current input
let wasm = null; // the module's exports (its memory, for the 'memory' request)
let testing = false; // 'start' said the page was opened for the browser tests: honour 'test-trap'

const post = (msg, transfer = []) => {
  checkMessage(FROM_WORKER, msg.type);
  self.postMessage(msg, transfer);
};
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

// Loads one build's bindings and module; the threaded one also starts its pool of `threads` Web Workers (nested
// in this one, sharing the module's memory) before anything runs. If that build fails to start (a browser that
// cannot reserve its shared memory, say), the single-thread build runs instead and the page is told why.
// The pool's workers report when they are up; one that fails to load never does, so the wait is bounded.
const POOL_START_MS = 30_000;

async function loadWasm(choice) {
  if (choice.build === 'threads') {
    try {
      const mod = await import('../pkg/threads/netlens.js');
      const exports = await mod.default({ module_or_path: new URL('../pkg/threads/netlens_bg.wasm', import.meta.url) });
      if (choice.threads > 1) {
        let timer;
        const late = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`its thread pool did not start within ${POOL_START_MS / 1000} s`)), POOL_START_MS);
        });
        await Promise.race([mod.initThreadPool(choice.threads), late]).finally(() => clearTimeout(timer));
      }
      return { mod, exports, info: { ...choice, threads: mod.useThreads(choice.threads) } };
    } catch (e) {
      choice = { build: 'single', threads: 1, why: `the threaded build did not start: ${e?.message ?? e}` };
    }
  }
  const mod = await import('../pkg/netlens.js');
  const exports = await mod.default({ module_or_path: new URL('../pkg/netlens_bg.wasm', import.meta.url) });
  return { mod, exports, info: choice };
}

async function start(userModel, overrides) {
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new Error('this browser lacks WebAssembly SIMD, which netlens needs; use a current Chrome, Edge, Firefox or Safari');
  }
  manifest = await (await fetchOk('../assets/manifest.json', 'the asset list')).json();
  const choice = pickEngine({
    isolated: self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function',
    cores: navigator.hardwareConcurrency,
    build: overrides?.build ?? null,
    threads: overrides?.threads ?? null,
  });
  // The schema needs only the wasm module: the page can build its panels while the model downloads.
  const wasmReady = loadWasm(choice).then(({ mod, exports, info }) => {
    ({ NetLens, Image, installPanicHook, encodePng, schema, testAllocateOnPool, setSpinning } = mod);
    wasm = exports;
    engineInfo = info;
    post({ type: 'schema', schema: JSON.parse(schema()) });
  });
  wasmReady.catch(() => {}); // awaited below; this only keeps an early model error from leaving it unhandled
  // A user's model (www/models.js: ?model=URL, or the one in use before a restart) instead of the default; if it
  // cannot be used, the page is told why and the default loads.
  if (userModel) {
    try {
      const bytes = userModel.bytes ? new Uint8Array(userModel.bytes) : await fetchUserModel(userModel);
      await wasmReady;
      installPanicHook();
      useLens(buildLens(bytes, userModel.labels ?? '', '', { ...userModel, user: true }));
    } catch (e) {
      post({ type: 'model-fallback', name: userModel.name, message: e?.message ?? String(e) });
    }
  }
  if (!lens) {
    const def = await fetchDefaultModel();
    await wasmReady;
    installPanicHook();
    useLens(buildLens(def.model, def.classes, def.synsets, { name: DEFAULT_MODEL_NAME }));
  }
  post({
    type: 'ready', labels: labelsOf(lens), samples: manifest.samples, schema: JSON.parse(schema()), model: current,
    engine: engineInfo,
  });
}

// ---------- models (issue 11): the default SqueezeNet or a user's ONNX classifier ----------

let manifest = null;
let current = null; // what the page shows about the model in use: {name, user, url, info, ms, bytes}

async function fetchDefaultModel() {
  const model = await downloadWithProgress(`../assets/${manifest.model}`, manifest.model_bytes);
  if (manifest.model_sha256 && (await sha256Hex(model)) !== manifest.model_sha256) {
    throw new Error('the model file is corrupt (its sha256 does not match); re-run `make assets`');
  }
  const classes = await (await fetchOk(`../assets/${manifest.classes}`, 'the class names')).text();
  const synsets = manifest.synsets ? await (await fetchOk(`../assets/${manifest.synsets}`, 'the synonyms')).text() : '';
  return { model, classes, synsets };
}

/** ?model=URL (an absolute URL the page resolved and checked), with its optional sha256 pin. */
async function fetchUserModel({ url, sha256 }) {
  const bytes = await downloadWithProgress(url, 0);
  if (sha256) {
    if (!crypto?.subtle) throw new Error('the sha256 pin cannot be checked here (the browser allows it only over https)');
    const got = await sha256Hex(bytes);
    if (got !== sha256) throw new Error(`its sha256 is ${got}, not the ${sha256} the address pins`);
  }
  return bytes;
}

/**
 * A NetLens and its description; throws the core's message (unsupported op, input shape, truncated file…).
 * choice: the page's preprocessing form ({preset, resize, side}) for a model without netlens.* metadata.
 */
function buildLens(bytes, classes, synsets, { name, user = false, url = null, choice = null }) {
  const t0 = performance.now();
  const next = NetLens.load(bytes, classes, synsets, choice ? JSON.stringify(choice) : '');
  const ms = performance.now() - t0;
  const info = JSON.parse(next.modelInfo());
  return {
    lens: next, model: { name, user, url, choice, info, ms, bytes: bytes.length },
    source: { bytes, classes, synsets, name, choice },
  };
}

/** The new model replaces the old one: runs on the old one stop, the image is decoded again by the page. */
function useLens(built) {
  for (const r of runs.values()) r.cancelled = true;
  lens?.free();
  lens = built.lens;
  current = built.model;
  image?.free();
  image = null;
  pool.model = { seq: nextSeq(), ...built.source };
  pool.image = null;
}

function labelsOf(l) {
  const labels = [];
  for (let i = 0; i < l.numClasses(); i++) labels.push({ name: l.shortName(i), synonyms: l.synonyms(i) });
  return labels;
}

// {type: 'model', bytes, labels, name} (a user's file) or {type: 'model', default: true}: the previous model
// stays in use when the new one fails.
async function switchModel(msg) {
  let built;
  if (msg.default) {
    const def = await fetchDefaultModel();
    built = buildLens(def.model, def.classes, def.synsets, { name: DEFAULT_MODEL_NAME });
  } else if (msg.url) {
    // A model the address loaded, built again with another preprocessing choice.
    const bytes = await fetchUserModel(msg);
    built = buildLens(bytes, '', '', { name: msg.name, user: true, url: msg.url, choice: msg.choice ?? null });
  } else {
    built = buildLens(new Uint8Array(msg.bytes), msg.labels ?? '', '', { name: msg.name, user: true, choice: msg.choice ?? null });
  }
  useLens(built);
  post({ type: 'model', reqId: msg.reqId, labels: labelsOf(lens), model: current });
}


function loadImage(msg) {
  // The picture the model in use sees: its input size, resize and (grey) conversion.
  const next = lens.decodeImage(new Uint8Array(msg.bytes));
  const top = topOf({ top: JSON.parse(lens.top(next, 5)) });
  image?.free();
  image = next;
  pool.image = { seq: nextSeq(), bytes: new Uint8Array(msg.bytes) };
  const rgba = image.rgba();
  post({ type: 'image', reqId: msg.reqId, rgba, top, source: msg.source }, [rgba.buffer]);
}

// PNG bytes of the very pixels the page shows, for its downloads.
function png(msg) {
  const bytes = encodePng(msg.rgba, msg.width, msg.height);
  post({ type: 'png', reqId: msg.reqId, bytes }, [bytes.buffer]);
}

// Runs in progress, by runId. Each advances one step per event-loop turn, so several can interleave and
// "settings" / "cancel" messages get handled between two steps.
const runs = new Map();

function panelsOf(handle) {
  const panels = [];
  const transfer = [];
  for (const p of handle.panels()) {
    const panel = {
      id: p.id, kind: p.kind, title: p.title, width: p.width, height: p.height, rgba: p.rgba,
      raw: p.raw ?? null, rawShape: p.rawShape ? Array.from(p.rawShape) : null, plot: p.plot ?? null,
    };
    panels.push(panel);
    if (panel.rgba?.buffer) transfer.push(panel.rgba.buffer);
    if (panel.raw?.buffer) transfer.push(panel.raw.buffer);
  }
  return { panels, transfer };
}

async function runMethod(msg) {
  const me = { id: msg.runId, method: msg.method, settingsJson: msg.settingsJson, cancelled: false };
  if (msg.needsImage && !image) throw new Error('load an image first');
  // Throws (bad settings, unknown method) before anything runs: the page shows the message.
  // start() consumes its Image: a copy keeps the class scores classify() computed (no extra forward pass).
  // A pool's part (run-part) and its merge run through the same loop (www/pool.js).
  const handle = msg.type === 'run-part'
    ? lens.startPart(msg.method, image.copy(), msg.settingsJson, msg.units)
    : msg.type === 'merge'
      ? lens.merge(msg.method, image.copy(), msg.settingsJson, msg.parts)
      : lens.start(msg.method, msg.needsImage ? image.copy() : undefined, msg.settingsJson);
  runs.set(me.id, me);
  // Frames are paced (www/frames.js); one skipped still goes out with the last step, even if that step has none.
  let lastFrame = -Infinity;
  let skipped = false;
  try {
    for (;;) {
      await nextTurn();
      if (me.cancelled) {
        post({ type: 'cancelled', runId: me.id });
        return;
      }
      const step = JSON.parse(handle.step(lens, me.settingsJson));
      const progress = {
        type: 'run-progress', runId: me.id, step: step.step, total: step.total, text: step.text ?? '', top: topOf(step),
      };
      const transfer = [];
      const now = performance.now();
      if ((step.frame || (skipped && step.done)) && frameDue(step.step, step.total, step.done, now - lastFrame)) {
        progress.frame = handle.frame();
        if (progress.frame) transfer.push(progress.frame.buffer);
        lastFrame = now;
        skipped = false;
      } else if (step.frame) {
        skipped = true;
      }
      post(progress, transfer);
      if (!step.done) continue;
      if (msg.type === 'run-part') {
        const bytes = handle.partResult();
        post({ type: 'part-done', runId: me.id, bytes }, [bytes.buffer]);
        return;
      }
      const report = JSON.parse(handle.report());
      const out = panelsOf(handle);
      post({ type: 'run-done', runId: me.id, report, panels: out.panels, text: step.text ?? '' }, out.transfer);
      return;
    }
  } finally {
    runs.delete(me.id);
    handle.free();
  }
}

// ---------- the worker pool (www/pool.js) ----------
// The page's worker hands its model and image to the pool's extra workers (pool-source), plans a run's parts
// (shard-plan) and merges them (merge, through runMethod). An extra worker is started with pool-start instead
// of start: it gets that model and image, and runs parts (run-part) and whole runs (run).

const pool = { model: null, image: null }; // what the page's worker uses: {seq, …} (seq changes when it does)
const instance = Math.random().toString(36).slice(2);
let seqs = 0;
const nextSeq = () => `${instance}-${++seqs}`;

// {have: {model, image}} (the seqs a pool worker holds): the current seqs, with the bytes of what changed.
function poolSource(msg) {
  const out = { type: 'pool-source', reqId: msg.reqId, model: { seq: pool.model?.seq }, image: { seq: pool.image?.seq } };
  if (pool.model && msg.have?.model !== pool.model.seq) out.model = { ...pool.model, bytes: pool.model.bytes.slice() };
  if (pool.image && msg.have?.image !== pool.image.seq) out.image = { ...pool.image, bytes: pool.image.bytes.slice() };
  post(out, [out.model.bytes?.buffer, out.image.bytes?.buffer].filter(Boolean));
}

// An extra worker: the wasm module, then the model and image the page's worker uses (when they changed).
async function poolStart(msg) {
  testing = msg.testing === true;
  if (!wasm) {
    // Extra workers run the single-thread build: the pool spreads a run over cores by workers
    // (www/pool.js threadsPerWorker), and parts from either build merge exactly (both are deterministic).
    const { mod, exports, info } = await loadWasm({ build: 'single', threads: 1, why: 'a pool worker (one thread each)' });
    ({ NetLens, Image, installPanicHook, encodePng, schema, testAllocateOnPool, setSpinning } = mod);
    wasm = exports;
    engineInfo = info;
    installPanicHook();
  }
  if (msg.model?.bytes) {
    const m = msg.model;
    useLens(buildLens(m.bytes, m.classes, m.synsets, { name: m.name, choice: m.choice }));
  }
  if (msg.image?.bytes) {
    image?.free();
    image = lens.decodeImage(msg.image.bytes);
    // Its class scores, once: every part's copy of the image then starts with them (no forward pass per part).
    lens.classify(image);
  }
  post({ type: 'pool-ready', reqId: msg.reqId });
}

function shardPlan(msg) {
  if (!image) throw new Error('load an image first');
  const plan = lens.shardPlan(msg.method, image, msg.settingsJson);
  post({ type: 'shard-plan', reqId: msg.reqId, plan: plan === undefined ? null : JSON.parse(plan) });
}

function mapCosts(msg) {
  const costs = image ? msg.runs.map((r) => lens.mapCost(r.method, image, r.settingsJson) ?? null) : [];
  post({ type: 'map-costs', reqId: msg.reqId, costs });
}

// Browser tests only (the page opened with ?test): runs the engine out of memory, as a huge input would. Every
// page the linear memory may still grow by is taken, then a 256 MB input is passed in: more than the allocator
// has free, so its allocation fails and Rust aborts. A real trap (WebAssembly.RuntimeError), which leaves this
// module unusable. `onPool`: the allocation fails on a thread of the threaded build's pool, where the engine's
// work runs, while this worker waits for it (in the single-thread build: here).
function trapOnPurpose(onPool) {
  for (const pages of [16384, 1024, 16, 1]) {
    try {
      for (;;) wasm.memory.grow(pages);
    } catch {
      // the 4 GB limit (or the browser's): try a smaller step
    }
  }
  if (onPool) testAllocateOnPool(256 << 20);
  else Image.decode(new Uint8Array(256 << 20)).free();
  throw new Error('the engine did not trap');
}

// bench/run-browser.mjs: the forward and forward+backward passes timed here, in the engine's own worker (so the
// threaded build runs as the page runs it), on the current image; milliseconds of each timed run.
function benchPasses(msg) {
  if (!image) throw new Error('load an image first');
  const time = (f) => {
    for (let i = 0; i < 3; i++) f();
    return Array.from({ length: Math.max(1, msg.runs ?? 10) }, () => {
      const t = performance.now();
      f();
      return performance.now() - t;
    });
  };
  const cls = msg.class ?? 0;
  return {
    forward: time(() => lens.benchForward(image)),
    forwardBackward: time(() => lens.benchForwardBackward(image, cls)),
  };
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
        testing = msg.testing === true;
        return await start(msg.model ?? null, msg.engine);
      case 'memory':
        // The wasm linear memory's size (it only grows): the soak test watches it across hundreds of runs.
        return post({ type: 'memory', reqId: msg.reqId, bytes: wasm ? wasm.memory.buffer.byteLength : 0 });
      case 'bench':
        return post({ type: 'bench', reqId: msg.reqId, ...benchPasses(msg) });
      case 'spin':
        // www/pool.js: off while the pool's other workers are busy (a spinning thread would take their core).
        setSpinning?.(msg.on === true);
        return post({ type: 'spin', reqId: msg.reqId, on: msg.on === true });
      case 'test-trap':
        if (!testing) throw new Error(`unknown request ${msg.type}`);
        return trapOnPurpose(msg.onPool === true);
      case 'model':
        return await switchModel(msg);
      case 'image':
        return loadImage(msg);
      case 'search':
        return post({ type: 'search', reqId: msg.reqId, picker: msg.picker, classes: Array.from(lens.search(msg.query, 30)) });
      case 'png':
        return png(msg);
      case 'live-frame':
        if (!lens) throw new Error('the model is not loaded yet');
        return liveFrame(lens, msg, post);
      case 'live-stop':
        return liveStop(msg, post);
      case 'run':
      case 'run-part':
      case 'merge':
        return await runMethod(msg);
      case 'pool-source':
        return poolSource(msg);
      case 'pool-start':
        return await poolStart(msg);
      case 'shard-plan':
        return shardPlan(msg);
      case 'map-costs':
        return mapCosts(msg);
      case 'settings': {
        // Read by the run before its next step.
        const r = runs.get(msg.runId);
        if (r) r.settingsJson = msg.settingsJson;
        return;
      }
      case 'cancel': {
        const r = runs.get(msg.runId);
        if (r) r.cancelled = true;
        return;
      }
      default:
        checkMessage(TO_WORKER, msg.type);
        throw new Error(`request ${msg.type} is declared but not handled here`);
    }
  } catch (e) {
    reportError(msg, e);
  }
};
