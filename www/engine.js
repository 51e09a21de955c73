// The worker client: requests with replies (image, search, png), runs (docs/architecture.md's protocol: run ->
// run-progress* -> run-done | cancelled | error), and a restart when the wasm module traps.
import { emit } from './bus.js';
import { checkMessage, TO_WORKER } from './protocol.js';
import { engine, update } from './store.js';

let worker = null;
let seq = 0;
const pending = new Map(); // reqId -> {resolve, reject}
const runs = new Map(); // runId -> handlers

// The store's engine slice (www/store.js), which this module keeps as the worker reports: ready, labels, samples,
// schema, failed (text when the model could not load), build (the wasm build the worker chose: {build, threads,
// why}, www/threads.js), model ({name, user, url, info, ms, bytes}, www/models.js), startModel (a user's model a
// (re)start loads instead of the default: {url, sha256, name, choice} | {bytes, labels, name, choice}).
export { engine };

/** One request, one reply; rejects with the worker's message (e.fatal when the engine had to restart). */
export function request(msg, transfer = []) {
  const reqId = ++seq;
  return new Promise((resolve, reject) => {
    checkMessage(TO_WORKER, msg.type);
    pending.set(reqId, { resolve, reject });
    worker.postMessage({ ...msg, reqId }, transfer);
  });
}

/** A run of any kind on the page's worker (run, or a pool's run-part / merge), as pool.js's `startRun` describes. */
export function launch(msg, handlers) {
  checkMessage(TO_WORKER, msg.type);
  const runId = ++seq;
  const entry = { ...handlers, finished: false };
  runs.set(runId, entry);
  worker.postMessage({ ...msg, runId });
  const end = () => {
    if (entry.finished) return false;
    entry.finished = true;
    runs.delete(runId);
    return true;
  };
  entry.end = end;
  return {
    runId,
    cancel() {
      if (!end()) return;
      worker?.postMessage({ type: 'cancel', runId });
      handlers.onEnd?.('cancelled');
    },
    settings(json) {
      if (!entry.finished) worker.postMessage({ type: 'settings', runId, settingsJson: json });
    },
  };
}

function finishRun(runId, how, call) {
  const r = runs.get(runId);
  if (!r || !r.end()) return;
  call?.(r);
  r.onEnd?.(how);
}

function onMessage(m) {
  if (m.reqId && pending.has(m.reqId)) {
    const p = pending.get(m.reqId);
    pending.delete(m.reqId);
    if (m.type === 'error') p.reject(Object.assign(new Error(m.message), { fatal: m.fatal }));
    else p.resolve(m);
    if (m.type === 'error' && m.fatal) restart(m.message);
    return;
  }
  switch (m.type) {
    case 'progress':
      emit('model-progress', { loaded: m.loaded, total: m.total });
      break;
    case 'schema':
      update('engine', { schema: m.schema });
      emit('schema', { schema: m.schema });
      break;
    case 'ready':
      update('engine', {
        labels: m.labels, samples: m.samples, schema: m.schema, model: m.model ?? null, build: m.engine ?? null, ready: true,
      });
      emit('ready', { labels: m.labels, samples: m.samples, schema: m.schema, model: engine.model, build: engine.build });
      break;
    case 'model-fallback':
      // The user's model could not be used at start: the default loads instead (and after a restart too).
      update('engine', { startModel: null });
      emit('model-fallback', { name: m.name, message: m.message });
      break;
    case 'run-progress':
      runs.get(m.runId)?.onProgress?.(m);
      break;
    case 'run-done':
    case 'part-done':
      finishRun(m.runId, 'done', (r) => r.onDone?.(m));
      break;
    case 'cancelled':
      break; // the page already ended it when it asked
    case 'error':
      if (m.scope === 'start') {
        failed(m.message);
      } else if (m.fatal) {
        restart(m.message);
      } else if (m.scope === 'run' && runs.has(m.runId)) {
        finishRun(m.runId, 'error', (r) => r.onError?.(m.message));
      } else {
        emit('engine-error', { message: m.message });
      }
      break;
    default:
      break;
  }
}

function failed(text) {
  update('engine', { failed: text });
  emit('model-error', { text });
}

export function startEngine() {
  if (typeof WebAssembly !== 'object') {
    failed('this browser has no WebAssembly');
    return;
  }
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (e) => onMessage(e.data);
  worker.onerror = (e) => {
    e.preventDefault();
    failed(`the engine could not start (${e.message || 'worker script failed'})`);
  };
  emit('model-starting');
  // `?test` in the page's address (browser tests only) lets the worker honour test-only requests (test-trap);
  // `?threads=` / `?build=` choose the wasm build (www/threads.js).
  const params = new URLSearchParams(location.search);
  worker.postMessage({
    type: 'start', testing: params.has('test'), model: engine.startModel,
    engine: { threads: params.get('threads'), build: params.get('build') },
  });
}

/** A trap leaves the wasm module unusable: a new worker, every request and run ended with the reason. */
function restart(reason) {
  worker.terminate();
  worker = null;
  update('engine', { ready: false });
  for (const p of pending.values()) p.reject(Object.assign(new Error('the engine restarted'), { fatal: true }));
  pending.clear();
  for (const [runId] of [...runs]) finishRun(runId, 'error', (r) => r.onError?.(`the engine stopped (${reason})`));
  emit('restart', { reason });
  startEngine();
}
