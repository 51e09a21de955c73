// window.__netlens: what the browser tests (tests/browser/*.mjs) read. It only listens to the page's events
// (www/bus.js) and keeps what they said; no production module knows it exists.
import { on } from './bus.js';
import { fnv1a } from './ui.js';

const hook = {
  ready: false, modelError: null, messages: [], state: null, schema: null, top5: null, imageSource: null,
  imageHash: null, labels: null, waiting: null, shareUrl: null, imageShareProblem: null,
  // Every method's last run: {step, total, done, report, panels: {id: {hash, rawHash, rawShape, raw}}, frameHash}.
  runs: {},
  sources: [], // every image taken into use, in order
  compare: { started: 0, done: 0, cells: {}, progress: {}, class: null, seconds: null, figure: null },
  settingErrors: [],
  // The original three methods, as the first browser tests read them.
  saliencyMap: null, saliencyClass: null, fooling: null, recheck: null, vizIteration: 0, vizDone: 0, vizRgba: null,
  hashes: {},
  // The model in use (www/models.js): {name, user, url, info, ms, bytes}; switches, refusals, a ?model= fallback.
  // The wasm build the worker chose (www/threads.js): {build, threads, why}.
  build: null,
  model: null, modelChanges: 0, modelFailures: [], modelFallback: null,
  pool: null,
  // Threads without headers (www/isolation.js): 'isolated' | 'not-needed' | 'waiting' | 'reloading' | 'refused'.
  isolation: null,
  poolSpin: [], // what the pool told the page's worker: spin or not (www/pool.js noteBusy), in order
  // Live camera mode (www/live.js): every frame drawn, in order (the last 600), and starts, stops, errors, freezes.
  live: { frames: [], started: 0, stopped: [], errors: [], frozen: null, camera: null },
};
window.__netlens = hook;

const panelsById = (panels) => Object.fromEntries((panels ?? []).map((p) => [p.id, {
  hash: p.rgba ? fnv1a(p.rgba) : null, rawHash: p.raw ? fnv1a(p.raw) : null, rawShape: p.rawShape, raw: p.raw,
  width: p.width, height: p.height, kind: p.kind, plot: p.plot ?? null,
}]));

on('ready', (d) => {
  hook.ready = true;
  hook.labels = d.labels;
  hook.schema = d.schema;
  hook.model = d.model ?? null;
  hook.build = d.build ?? null;
});
on('model-changed', (d) => {
  hook.labels = d.labels;
  hook.model = d.model;
  hook.modelChanges++;
});
on('model-failed', (d) => hook.modelFailures.push(d));
on('model-fallback', (d) => { hook.modelFallback = d; });
on('isolation', (d) => { hook.isolation = d.state; });
on('restart', () => { hook.ready = false; });
on('model-error', (d) => { hook.modelError = d.text; });
on('message', (m) => hook.messages.push(m));
on('state', (d) => { hook.state = d.state; });
on('share-url', (d) => { hook.shareUrl = d.url; });
on('share-problem', (d) => { hook.imageShareProblem = d.problem; });
on('input-waiting', (d) => { hook.waiting = d.name; });
on('image', (d) => {
  hook.waiting = null;
  hook.imageHash = fnv1a(d.rgba);
  hook.imageSource = d.source;
  hook.sources.push(d.source);
  hook.top5 = d.top.map((t) => ({ ...t, name: hook.labels?.[t.class]?.name }));
});
on('setting-error', (d) => hook.settingErrors.push(d));
on('activation-channel', (d) => { hook.activationChannel = d; });
// The lesson player's step (www/lesson.js): {index, count, view, title, lesson}; index -1 once closed.
on('lesson-step', (d) => { hook.lesson = d; });

on('run-start', ({ method }) => {
  hook.runs[method] = { step: 0, total: null, done: false, report: null, panels: null, frameHash: null };
  if (method === 'fooling') {
    hook.fooling = null;
    hook.recheck = null;
  }
  if (method === 'classviz') hook.hashes.viz = null;
});
on('run-progress', ({ method, step, total, frame }) => {
  const r = hook.runs[method];
  if (r) Object.assign(r, { step, total });
  if (method === 'classviz') hook.vizIteration = step;
  if (frame && r) r.frameHash = fnv1a(frame);
});
on('run-error', ({ method, message }) => {
  if (hook.runs[method]) hook.runs[method].error = message;
});
on('run-done', ({ method, report, panels, frame }) => {
  const byId = panelsById(panels);
  hook.runs[method] = { ...hook.runs[method], done: true, report, panels: byId, frameHash: frame ? fnv1a(frame) : null };
  if (method === 'saliency') {
    const map = (panels ?? []).find((p) => p.raw);
    hook.saliencyMap = map?.raw ?? null;
    hook.saliencyClass = report?.class ?? null;
    hook.hashes.saliency = map?.raw ? fnv1a(map.raw) : null;
  } else if (method === 'fooling') {
    const fooled = (panels ?? []).find((p) => p.id === 'fooled');
    // The engine's report nests the fooling numbers ({report, recheck, lines}).
    hook.recheck = report?.recheck ?? null;
    hook.hashes.fooled = fooled?.rgba ? fnv1a(fooled.rgba) : null;
    hook.fooling = report?.report ?? report;
  } else if (method === 'classviz') {
    hook.vizRgba = frame;
    hook.hashes.viz = frame ? fnv1a(frame) : null;
    hook.vizDone++;
  }
});

on('compare-start', (d) => {
  hook.compare.started++;
  hook.compare.cells = {};
  hook.compare.progress = {};
  hook.compare.class = d.class;
  hook.compare.methods = d.methods;
  hook.compare.skipped = d.skipped;
});
on('compare-progress', (d) => {
  hook.compare.progress[d.method] = Math.max(hook.compare.progress[d.method] ?? 0, d.step);
});
on('compare-cancelled', () => { hook.compare.cancelled = (hook.compare.cancelled ?? 0) + 1; });
on('compare-cell', (d) => {
  hook.compare.cells[d.method] = d.error ? { error: d.error } : {
    report: d.report, hash: d.panel?.rgba ? fnv1a(d.panel.rgba) : null, rawHash: d.panel?.raw ? fnv1a(d.panel.raw) : null,
  };
});
// The pool's split runs (www/pool.js): the last one's method and unit count per part.
on('pool-run', (d) => { hook.pool = d; });
on('pool-spin', (d) => { hook.poolSpin.push(d.on); });
on('compare-done', (d) => {
  hook.compare.done++;
  hook.compare.seconds = d.seconds;
  hook.compare.figure = d.figure;
  hook.compare.workers = d.workers;
});

// Per live frame: when it was drawn, its top-1, the timings, the mean colour of the crop the model saw (which
// sample the fake camera showed) and the overlay's spread of values (a blank overlay has none).
const meanRgb = (rgba) => {
  const m = [0, 0, 0];
  for (let i = 0; i < rgba.length; i += 4) for (let c = 0; c < 3; c++) m[c] += rgba[i + c];
  return m.map((v) => v / (rgba.length / 4));
};
const spread = (rgba) => {
  let lo = 255;
  let hi = 0;
  for (let i = 0; i < rgba.length; i++) if (i % 4 !== 3) { lo = Math.min(lo, rgba[i]); hi = Math.max(hi, rgba[i]); }
  return hi - lo;
};
on('live-started', (d) => {
  hook.live.started++;
  hook.live.camera = d.camera;
});
on('live-frame', (d) => {
  const f = hook.live.frames;
  f.push({
    at: performance.now(), top1: d.top[0]?.class ?? null, top: d.top, class: d.class, method: d.method, fps: d.fps,
    latencyMs: d.latencyMs, medianLatencyMs: d.medianLatencyMs, engineMs: d.engineMs, mean: meanRgb(d.crop),
    size: [d.width, d.height], cropHash: fnv1a(d.crop), overlayHash: d.overlay ? fnv1a(d.overlay) : null, overlaySpread: d.overlay ? spread(d.overlay) : null,
  });
  if (f.length > 600) f.shift();
});
on('live-stopped', (d) => hook.live.stopped.push(d.reason ?? null));
on('live-error', (d) => hook.live.errors.push(d));
on('live-frozen', (d) => { hook.live.frozen = { hash: fnv1a(d.crop), width: d.width, height: d.height }; });
