// The worker pool (issue 8's speed goals). The wasm build is single-threaded, so a long run that splits into
// independent parts (schema `shards: true`: the trust tests) runs faster on several workers at once: the page's
// own worker plus up to N − 1 extra ones, started lazily, once, then reused. The engine declares the split and
// the merge (src/methods/shard.rs): the page's worker lists the parts (`shard-plan`), each worker runs one after
// another as it gets free (`run-part`), and the page's worker merges their raw results (`merge`) into the very
// panels and report one run gives. The compare view spreads its methods over the same workers (`slots`, `runOn`).
//   Progress is the sum of the parts'; cancel cancels every part; an error in one part cancels the others and
// ends the run with a message naming the part. Extra workers get the page's worker's model and image
// (`pool-source`) before each use when either changed, and are discarded when the model changes or the engine
// restarts.
import { on, emit } from './bus.js';
import { request, launch } from './engine.js';
import { checkMessage, TO_WORKER } from './protocol.js';

/** At most this many workers: beyond 4 the memory (a model copy each) buys little on a student's laptop. */
const CAP = 4;

/**
 * Wasm threads each worker runs. 1 with the single-threaded build; a threaded build (several threads per
 * worker) changes this one function, and the pool then takes fewer workers so that workers × threads stays
 * within the cores.
 */
export function threadsPerWorker() {
  return 1;
}

/** Workers in the pool, the page's own included: `?pool=N` in the page's address (tests, bench), else the cores. */
export function poolSize() {
  const asked = Number(new URLSearchParams(location.search).get('pool'));
  if (Number.isInteger(asked) && asked >= 1) return Math.min(asked, 16);
  const cores = navigator.hardwareConcurrency || 1;
  return Math.max(1, Math.min(CAP, Math.floor(cores / threadsPerWorker())));
}

/**
 * Starts a run of `method` (a schema entry). Handlers: onProgress(m), onDone(m), onError(message), onEnd() (after
 * any of done / error / cancel). Returns {runId, cancel(), settings(json)}; a cancelled run reports nothing more.
 */
export function startRun(method, settingsJson, handlers) {
  // Runs that split (the trust tests) go to the pool when it has more than one worker.
  if (method.shards && poolSize() > 1) return pooledRun(method, settingsJson, handlers);
  return launch({ type: 'run', method: method.id, needsImage: method.needs_image !== false, settingsJson }, handlers);
}

let seq = 0;
let extras = []; // the extra workers, in order

/** One extra worker: its own requests and runs (the same protocol as the page's worker, www/engine.js). */
class Extra {
  constructor(index) {
    this.index = index;
    this.pending = new Map();
    this.runs = new Map();
    this.have = { model: null, image: null }; // the page worker's seqs this worker holds
    this.dead = null;
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (e) => this.onMessage(e.data);
    this.worker.onerror = (e) => {
      e.preventDefault();
      this.die(`worker ${index + 1} failed (${e.message || 'its script did not run'})`);
    };
  }

  request(msg, transfer = []) {
    checkMessage(TO_WORKER, msg.type);
    if (this.dead) return Promise.reject(new Error(this.dead));
    const reqId = ++seq;
    return new Promise((resolve, reject) => {
      this.pending.set(reqId, { resolve, reject });
      this.worker.postMessage({ ...msg, reqId }, transfer);
    });
  }

  launch(msg, handlers) {
    checkMessage(TO_WORKER, msg.type);
    const runId = ++seq;
    if (this.dead) {
      const reason = this.dead;
      queueMicrotask(() => {
        handlers.onError?.(reason);
        handlers.onEnd?.('error');
      });
      return { cancel() {} };
    }
    this.runs.set(runId, handlers);
    this.worker.postMessage({ ...msg, runId });
    noteBusy();
    return {
      cancel: () => {
        const r = this.runs.get(runId);
        if (!r) return;
        this.runs.delete(runId);
        noteBusy();
        this.worker.postMessage({ type: 'cancel', runId });
        r.onEnd?.('cancelled');
      },
    };
  }

  end(runId, how, call) {
    const r = this.runs.get(runId);
    if (!r) return;
    this.runs.delete(runId);
    noteBusy();
    call(r);
    r.onEnd?.(how);
  }

  onMessage(m) {
    if (m.reqId && this.pending.has(m.reqId)) {
      const p = this.pending.get(m.reqId);
      this.pending.delete(m.reqId);
      if (m.type === 'error') p.reject(new Error(m.message));
      else p.resolve(m);
      if (m.fatal) this.die(m.message);
      return;
    }
    switch (m.type) {
      case 'run-progress':
        this.runs.get(m.runId)?.onProgress?.(m);
        break;
      case 'run-done':
      case 'part-done':
        this.end(m.runId, 'done', (r) => r.onDone?.(m));
        break;
      case 'error':
        if (m.fatal) this.die(m.message);
        else this.end(m.runId, 'error', (r) => r.onError?.(m.message));
        break;
      default:
        break; // 'cancelled': the run ended when it was asked
    }
  }

  /** Stops the worker; its requests fail and its runs end with `reason` (`quiet`: as cancelled, no message). */
  die(reason, quiet = false) {
    if (this.dead) return;
    this.dead = `worker ${this.index + 1} of the pool stopped (${reason})`;
    this.worker.terminate();
    extras = extras.filter((x) => x !== this);
    for (const p of this.pending.values()) p.reject(new Error(this.dead));
    this.pending.clear();
    for (const runId of [...this.runs.keys()]) {
      if (quiet) this.end(runId, 'cancelled', () => {});
      else this.end(runId, 'error', (r) => r.onError?.(this.dead));
    }
  }
}

// The page's worker, in the threaded build, keeps its pool threads spinning during an engine call (src/threads.rs):
// while an extra worker runs too, that would take a core from it (the compare view on 2 cores: 3.4 → 3.8–4.3 s).
// So it spins only while no extra worker is busy; told only when that changes.
let spinning = true;
function noteBusy() {
  const on = !extras.some((x) => x.runs.size > 0);
  if (on === spinning) return;
  spinning = on;
  emit('pool-spin', { on });
  request({ type: 'spin', on }).catch(() => {}); // a stopped engine restarts spinning anyway (a new module)
}

function discard() {
  for (const x of [...extras]) x.die('the pool was discarded', true);
}
// A new model (or a new page worker): the extra workers hold the old one. After the page's own handlers, which
// stop the runs first (with their "Stopped: …" status rather than an error).
on('model-changed', () => setTimeout(discard, 0));
on('restart', () => setTimeout(discard, 0));

let readying = Promise.resolve(); // calls of readyExtras, one after another: each sees what the last one sent

/**
 * `n` extra workers holding the page's worker's model and image: started if missing, sent what changed.
 * Resolves to them (fewer when one failed to start).
 */
function readyExtras(n) {
  const p = readying.then(() => prepareExtras(n));
  readying = p.catch(() => {});
  return p;
}

async function prepareExtras(n) {
  while (extras.length < n) extras.push(new Extra(extras.length));
  const use = extras.slice(0, n);
  const common = (key) => (use.every((x) => x.have[key] === use[0].have[key]) ? use[0].have[key] : null);
  const src = await request({ type: 'pool-source', have: { model: common('model'), image: common('image') } });
  await Promise.all(use.map(async (x) => {
    const msg = {};
    if (x.have.model !== src.model.seq) msg.model = src.model;
    if (x.have.image !== src.image.seq) msg.image = src.image;
    if (!msg.model && !msg.image) return;
    try {
      await x.request({ type: 'pool-start', testing: new URLSearchParams(location.search).has('test'), ...msg });
      x.have = { model: src.model.seq, image: src.image.seq };
    } catch (e) {
      x.die(e?.message ?? String(e)); // left out: the others (or the page's worker alone) do the work
    }
  }));
  return use.filter((x) => !x.dead);
}

/** How many runs the compare view may run at once: 1 (the page's worker) plus the extra workers ready. */
export async function slots() {
  const n = poolSize();
  if (n <= 1) return 1;
  try {
    return 1 + (await readyExtras(n - 1)).length;
  } catch {
    return 1; // the page's worker alone still works
  }
}

/** The engine's cost estimates of map runs ([{method, settingsJson}]), to start the costliest first. */
export async function costs(runs) {
  return (await request({ type: 'map-costs', runs })).costs;
}

/** A whole run of `method` on slot `slot` (0 = the page's worker), as `startRun`. */
export function runOn(slot, method, settingsJson, handlers) {
  const msg = { type: 'run', method: method.id, needsImage: method.needs_image !== false, settingsJson };
  const x = extras[slot - 1];
  return slot === 0 || !x ? launch(msg, handlers) : x.launch(msg, handlers);
}

/** Browser tests only (the page opened with `?test`): traps extra worker `index` as a huge input would. */
export function testTrap(index) {
  return extras[index]?.request({ type: 'test-trap' }).catch((e) => e.message) ?? Promise.resolve(null);
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/**
 * A run of a method that shards, in parts over the pool, merged by the page's worker. Same handlers and
 * handle as `startRun`; the result equals the single run's. The engine lists the parts costliest
 * first (src/methods/shard.rs `queue`); each worker takes the next one as soon as it is free, so a worker
 * that runs faster (the page's threaded one) or gets more of the CPU simply does more of them.
 */
export function pooledRun(method, settingsJson, handlers) {
  const run = { over: false, parts: [], merge: null };
  const base = { method: method.id, needsImage: true, settingsJson };
  const stopParts = () => {
    for (const p of run.parts) p?.cancel();
    run.merge?.cancel();
  };
  const end = (how, call) => {
    if (run.over) return;
    run.over = true;
    call?.();
    handlers.onEnd?.(how);
  };
  const fail = (message) => end('error', () => {
    stopParts();
    handlers.onError?.(message);
  });

  (async () => {
    const { plan } = await request({ type: 'shard-plan', ...base });
    if (run.over) return;
    const extra = plan && plan.length > 1 ? await readyExtras(Math.min(poolSize(), plan.length) - 1) : [];
    if (run.over) return;
    if (!plan || plan.length <= 1 || extra.length === 0) {
      // One part, or no extra worker started: the page's worker runs it whole.
      run.merge = launch({ type: 'run', ...base }, {
        onProgress: (m) => handlers.onProgress?.(m),
        onDone: (m) => end('done', () => handlers.onDone?.(m)),
        onError: fail,
      });
      return;
    }
    const workers = [null, ...extra]; // null: the page's worker
    emit('pool-run', { method: method.id, parts: plan.map((p) => p.units.length), workers: workers.length });
    const n = plan.length;
    const results = plan.map(() => null);
    const steps = plan.map(() => 0);
    const total = sum(plan.map((p) => p.steps));
    let next = 0;
    let left = n;
    const merge = () => {
      run.merge = launch({ type: 'merge', ...base, parts: results }, {
        onProgress: (m) => handlers.onProgress?.({ ...m, step: sum(steps), total }),
        onDone: (m) => end('done', () => handlers.onDone?.(m)),
        onError: (message) => fail(`${method.title}, merging the ${n} parts: ${message}`),
      });
    };
    // Gives worker `w` the next part of the queue, if any is left.
    const take = (w) => {
      if (run.over || next >= n) return;
      const i = next++;
      const msg = { type: 'run-part', ...base, units: JSON.stringify(plan[i].units) };
      const h = {
        onProgress: (m) => {
          if (run.over) return;
          steps[i] = m.step;
          handlers.onProgress?.({ ...m, step: sum(steps), total, text: `${m.text} · ${workers.length} workers` });
        },
        onDone: (m) => {
          results[i] = m.bytes;
          left -= 1;
          if (left === 0 && !run.over) merge();
          else take(w);
        },
        onError: (message) => fail(`${method.title}, part ${i + 1} of ${n}: ${message}`),
        // A part stopped from below (its worker discarded) while the run goes on: the run cannot finish.
        onEnd: (how) => {
          if (how === 'cancelled' && !run.over) fail(`${method.title}, part ${i + 1} of ${n}: stopped`);
        },
      };
      run.parts[i] = w === null ? launch(msg, h) : w.launch(msg, h);
    };
    workers.forEach(take);
  })().catch((e) => fail(`${method.title}: ${e?.message ?? e}`));

  return {
    runId: null,
    cancel() {
      end('cancelled', stopParts);
    },
    settings() {}, // the trust tests have no live settings
  };
}
