// One suite per page load, so that each peer starts from a fresh wasm instance and its own thread setting.
// The driver (run-browser.mjs) reads window.__bench when `done` is set.
import { measure, summarize, maxAbsDiff, maxAbs, argmax } from './stats.js';
import { parseNpy } from './npy.js';

const params = new URLSearchParams(location.search);
const SUITE = params.get('suite') ?? 'netlens';
const THREADS = Number(params.get('threads') ?? 1);
const RUNS = Math.max(1, Number(params.get('runs') ?? 10));
const WARMUP = 3;
// The ViT-B/16 suites (issue 24; run-browser.mjs's vit part): its forward takes seconds, so 1 warm-up unless told.
const VIT_MODEL_URL = '/assets/test-models/vit_b_16.onnx';
const VIT_WARMUP = Math.max(0, Number(params.get('warmup') ?? 1));
const REF_CLASS = 285; // Egyptian cat: the class of grad_chelsea_285.npy
const FOOL_TARGET = 76; // tarantula, as in the native bench
// A method of at most 4 passes (its declaration's `passes`) is timed RUNS times; the rest (smoothgrad, ig,
// occlusion, Score-CAM…: 25–513 passes) RUNS / 2 times.
const cheap = (m) => m.passes != null && m.passes <= 4;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

window.__bench = { done: false };
const out = document.getElementById('out');

async function bytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
const text = async (url) => new TextDecoder().decode(await bytes(url));
const npy = async (url) => parseNpy((await bytes(url)).buffer);

/** The reference image as the network sees it: pixels /255, minus mean, over std, NCHW [1,3,224,224]. */
async function chelseaTensor() {
  const blob = new Blob([await bytes('/reference/gradients/chelsea_224.png')], { type: 'image/png' });
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bmp, 0, 0);
  const { data, width, height } = ctx.getImageData(0, 0, bmp.width, bmp.height);
  const plane = width * height;
  const x = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) x[c * plane + i] = (data[4 * i + c] / 255 - MEAN[c]) / STD[c];
  }
  return { data: x, shape: [1, 3, height, width] };
}

const MODEL_URL = '/assets/models/squeezenet1_1.onnx';

// ---------------- netlens ----------------

// One run as the page's worker does it (www/worker.js runMethod): start, step until done (the live frame out when
// a step has one), report, panels. `image` is consumed by `start`.
function runToEnd(lens, id, image, json) {
  const run = lens.start(id, image, json);
  try {
    let steps = 0;
    for (;;) {
      const p = JSON.parse(run.step(lens, json));
      steps++;
      if (p.frame) run.frame();
      if (p.done) break;
    }
    const report = JSON.parse(run.report());
    const panels = run.panels();
    if (!panels.length) throw new Error(`${id}: no panels after the last step`);
    return { steps, report };
  } finally {
    run.free();
  }
}

async function netlensModule() {
  const probe = await fetch('/pkg/netlens_bg.wasm', { method: 'HEAD' });
  if (!probe.ok) throw new Error('not built: pkg/netlens_bg.wasm is missing (make wasm)');
  return import('/pkg/netlens.js');
}

async function netlensInputs() {
  const [model, classes, synsets, png] = await Promise.all([
    bytes(MODEL_URL), text('/assets/models/imagenet_classes.txt'),
    text('/assets/models/imagenet_synset_words.txt'), bytes('/reference/gradients/chelsea_224.png'),
  ]);
  return { model, classes, synsets, png };
}

/** Cold start in this fresh page: module init, model download and load, first classification. */
async function suiteStartup() {
  const t0 = performance.now(); // ms since navigation start
  const mod = await netlensModule();
  await mod.default({ module_or_path: '/pkg/netlens_bg.wasm' });
  const tInit = performance.now();
  const { model, classes, synsets, png } = await netlensInputs();
  const tFetched = performance.now();
  const lens = new mod.NetLens(model, classes, synsets);
  const tModel = performance.now();
  const image = mod.Image.decode(png);
  const probs = lens.classify(image);
  const tFirst = performance.now();
  return {
    moduleStartMs: t0, wasmInitMs: tInit - t0, fetchMs: tFetched - tInit, modelLoadMs: tModel - tFetched,
    firstClassifyMs: tFirst - tModel, navigationToFirstClassMs: tFirst, top1: argmax(probs),
  };
}

async function suiteNetlens() {
  const mod = await netlensModule();
  const wasmBytes = await bytes('/pkg/netlens_bg.wasm');
  await mod.default({ module_or_path: wasmBytes });
  mod.installPanicHook?.();
  const { model, classes, synsets, png } = await netlensInputs();
  const r = { available: {}, checks: {} };

  r.wasmCompile = await measure(() => WebAssembly.compile(wasmBytes), { warmup: 1, runs: RUNS });
  r.modelLoad = await measure(() => new mod.NetLens(model, classes, synsets).free(), { warmup: 1, runs: RUNS });
  const lens = new mod.NetLens(model, classes, synsets);
  const image = mod.Image.decode(png);

  const probs = lens.classify(image);
  r.checks.top1 = argmax(probs);
  // A fresh Image each run (decoded untimed): an Image keeps the class scores it was classified with, so
  // classifying the same one again would time a cache hit.
  r.forward = await measure((img) => { lens.classify(img); img.free(); }, {
    warmup: WARMUP, runs: RUNS, prepare: () => mod.Image.decode(png),
  });

  // Bindings a bench needs beyond the page's API; timed when the wasm layer has them.
  r.available.forwardBackward = typeof lens.benchForwardBackward === 'function';
  if (r.available.forwardBackward) {
    r.forwardBackward = await measure(() => lens.benchForwardBackward(image, REF_CLASS), { warmup: WARMUP, runs: RUNS });
  }
  r.available.forwardOnly = typeof lens.benchForward === 'function';
  if (r.available.forwardOnly) {
    r.forwardOnly = await measure(() => lens.benchForward(image), { warmup: WARMUP, runs: RUNS });
  }

  // Every method starts the same way, `lens.start(id, image, settingsJson)`, and `start` consumes the wasm Image.
  // As the page's worker does (www/worker.js), each run gets a copy of the image it decoded and classified once,
  // made untimed in `prepare`: the copy keeps the class scores, so a method that needs the prediction does not pay
  // for a forward pass the page never runs (a fresh decode per run timed one more forward than the page does).
  const decode = () => mod.Image.decode(png);
  r.imageDecode = await measure(() => decode().free(), { warmup: WARMUP, runs: RUNS });
  const asInPage = () => image.copy();

  // What the page's worker does for a saliency request: start, step, report, panels (map, heatmap, overlay out).
  const salJson = JSON.stringify({ class: REF_CLASS });
  r.saliency = await measure((img) => runToEnd(lens, 'saliency', img, salJson), { warmup: WARMUP, runs: RUNS, prepare: asInPage });

  // A fresh run each time, so its first step is a full ascent step (as in the native bench).
  const foolJson = JSON.stringify({ target: FOOL_TARGET });
  r.foolingIteration = await measure((run) => run.step(lens, foolJson), {
    warmup: WARMUP, runs: RUNS, prepare: () => lens.start('fooling', asInPage(), foolJson), cleanup: (run) => run.free(),
  });

  // One class-visualization iteration as the page's worker runs it: step (its JSON carries the top-5), frame out.
  const vizJson = JSON.stringify({ class: FOOL_TARGET, iters: 100, seed: 1 });
  const warmViz = lens.start('classviz', undefined, vizJson);
  for (let i = 0; i < WARMUP; i++) warmViz.step(lens, vizJson);
  warmViz.free();
  const viz = lens.start('classviz', undefined, vizJson);
  const steps = [];
  let vizDone = false;
  const vizStart = performance.now();
  for (let i = 0; i < 100; i++) {
    const t = performance.now();
    const p = JSON.parse(viz.step(lens, vizJson));
    if (p.frame) viz.frame();
    steps.push(performance.now() - t);
    vizDone = p.done;
  }
  r.classVizRun100Loop = summarize([performance.now() - vizStart]);
  r.checks.classVizDoneAt100 = vizDone;
  viz.free();
  r.classVizIteration = summarize(steps);

  // Issue 10: one channel-visualization iteration at each depth (the reverse pass starts at the layer).
  r.channelViz = {};
  for (const layer of ['features.4', 'features.7', 'features.10', 'features.12']) {
    const json = JSON.stringify({ layer, channel: 0, iters: 10000 });
    const run = lens.start('channel', undefined, json);
    r.channelViz[layer] = await measure(() => { run.step(lens, json); run.frame(); }, { warmup: WARMUP, runs: RUNS });
    run.free();
  }

  // Issue 7: every attribution method (and saliency) at its defaults on chelsea, class 285, through the worker's
  // loop; bench/report.mjs compares each with its passes × the forward+backward (occlusion: forward) time above.
  const schema = JSON.parse(mod.schema());
  r.methods = {};
  // The attacks ride along (issue 9: PGD's 10 steps, the robustness curve's 77, untargeted): every run that
  // reports its passes.
  // Not those this model cannot run (the engine's not_for_model: the attention methods on SqueezeNet).
  const notHere = JSON.parse(lens.modelInfo()).not_for_model ?? {};
  for (const m of schema.methods.filter((m) => (m.attribution || m.group === 'adversarial') && !(m.id in notHere))) {
    const json = JSON.stringify(m.settings.some((s) => s.key === 'class') ? { class: REF_CLASS } : {});
    const heavy = !cheap(m);
    // Compared with forward passes when one of its passes is a forward pass (occlusion, Score-CAM, Ablation-CAM,
    // Eigen-CAM: its declaration's pass cost below 2), with a forward + backward and one more forward when its pass
    // costs 3 (LRP: z⁺ evaluates every convolution again), else with forward + backward passes.
    const cost = m.attribution?.pass_cost ?? 2;
    const kind = cost < 2 ? 'fwd' : cost > 2 ? 'fwd+bwd+fwd' : 'fwd+bwd';
    // The unit this method is compared with, timed again just before it: the machine is shared, and its load
    // drifts over a suite of several minutes.
    const fwdNear = () => measure(() => lens.benchForward(image), { warmup: 1, runs: 5 });
    const fbNear = () => measure(() => lens.benchForwardBackward(image, REF_CLASS), { warmup: 1, runs: 5 });
    let near;
    if (kind === 'fwd') near = await fwdNear();
    else if (kind === 'fwd+bwd') near = await fbNear();
    else {
      const [fb, f] = [await fbNear(), await fwdNear()];
      near = { median: fb.median + f.median, min: fb.min + f.min, runs: fb.runs };
    }
    let last = null;
    const time = await measure((img) => { last = runToEnd(lens, m.id, img, json); }, {
      warmup: 1, runs: heavy ? Math.max(1, Math.ceil(RUNS / 2)) : RUNS, prepare: asInPage,
    });
    r.methods[m.id] = {
      ...time, cost: m.cost, kind, steps: last.steps, passes: last.report.passes ?? null, class: last.report.class ?? null,
      unitJustBefore: near,
    };
  }

  r.available.backwardTimed = typeof lens.backwardTimed === 'function';
  if (r.available.backwardTimed) r.backwardByOp = await backwardByOp(lens, image);
  r.available.forwardTimed = typeof lens.forwardTimed === 'function';
  if (r.available.forwardTimed) r.forwardByOp = forwardByOp(lens, image);

  r.wasmBytes = wasmBytes.length;
  lens.free();
  image.free();
  return r;
}

/**
 * Time per op type over WARMUP + RUNS passes of `pass(callback)`. A pass calls `callback(op, node)` right after each
 * node; the time since the previous callback goes to that op. `startMark` says where a pass's clock starts: the
 * forward's is taken just before the call (so its first node also carries the input's copy into tract); the
 * backward's at its callback `("", -1)`, which the binding sends once the forward it needs is done.
 */
function perOpTimes(pass, startMark) {
  const perOp = new Map();
  let total = 0;
  for (let run = 0; run < WARMUP + RUNS; run++) {
    let mark = startMark === 'call' ? performance.now() : null;
    let start = mark;
    pass((op, node) => {
      const now = performance.now();
      if (node !== undefined && node < 0) {
        mark = start = now;
        return;
      }
      if (run >= WARMUP) {
        const e = perOp.get(op) ?? { ms: 0, nodes: 0 };
        e.ms += now - mark;
        e.nodes += 1;
        perOp.set(op, e);
      }
      mark = now;
    });
    if (run >= WARMUP) total += mark - start;
  }
  return {
    runs: RUNS, ms: total / RUNS,
    ops: [...perOp].map(([op, e]) => ({ op, nodes: e.nodes / RUNS, ms: e.ms / RUNS })).sort((a, b) => b.ms - a.ms),
  };
}

/** Per-op-type backward time, from `lens.backwardTimed(image, class, callback)` (Engine::backward_timed). */
function backwardByOp(lens, image) {
  const { runs, ms, ops } = perOpTimes((cb) => lens.backwardTimed(image, REF_CLASS, cb), 'callback');
  return { runs, backwardMs: ms, ops };
}

/** Per-op-type forward time (issue 13), from `lens.forwardTimed(image, callback)`: after each node of tract's plan. */
function forwardByOp(lens, image) {
  const { runs, ms, ops } = perOpTimes((cb) => lens.forwardTimed(image, cb), 'call');
  return { runs, forwardMs: ms, ops };
}

// ---------------- onnxruntime-web ----------------

/** onnxruntime-web's wasm backend at THREADS threads, a session for the model at `url`, and how long it took. */
async function ortSession(url) {
  const ort = await import('/ort/ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = THREADS;
  ort.env.wasm.proxy = false;
  const model = await bytes(url);
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  return { ort, session, createMs: performance.now() - t0 };
}

async function suiteOrt() {
  const { ort, session, createMs } = await ortSession(MODEL_URL);
  const input = await npy('/reference/test_data_set_0/input_0.npy');
  const want = await npy('/reference/test_data_set_0/output_0.npy');
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
  const got = (await session.run(feeds))[session.outputNames[0]].data;
  const checks = {
    maxAbsErr: maxAbsDiff(got, want.data), refMaxAbs: maxAbs(want.data), top1: argmax(got), top1Ref: argmax(want.data),
  };
  const forward = await measure(() => session.run(feeds), { warmup: WARMUP, runs: RUNS });
  return {
    version: ort.env.versions?.web ?? ort.env.versions?.common, threads: THREADS,
    crossOriginIsolated: self.crossOriginIsolated, createMs, checks, forward,
  };
}

// ---------------- ViT-B/16 (issue 24) ----------------

/** The scores as logits up to a constant: minus their mean (log-probabilities minus theirs give the same). */
function centred(v) {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return Array.from(v, (x) => x - mean);
}

/**
 * netlens's own ViT-B/16 scores in this fresh page (the single-thread build, pkg/), on chelsea_224.png as
 * `Image.decode` prepares it (ImageNet's mean and std; chelseaTensor() below is the same tensor for the peer):
 * the logits up to a constant (log of its probabilities, centred), against which onnxruntime-web is checked.
 */
async function suiteNetlensVitLogits() {
  const mod = await netlensModule();
  await mod.default({ module_or_path: '/pkg/netlens_bg.wasm' });
  mod.installPanicHook?.();
  const [model, classes, synsets, png] = await Promise.all([
    bytes(VIT_MODEL_URL), text('/assets/models/imagenet_classes.txt'),
    text('/assets/models/imagenet_synset_words.txt'), bytes('/reference/gradients/chelsea_224.png'),
  ]);
  const lens = new mod.NetLens(model, classes, synsets);
  const image = mod.Image.decode(png);
  const probs = lens.classify(image);
  image.free();
  lens.free();
  return { model: VIT_MODEL_URL, top1: argmax(probs), logits: centred(Array.from(probs, Math.log)) };
}

/** onnxruntime-web on the ViT-B/16, THREADS threads, chelsea_224 as netlens sees it; its centred logits out. */
async function suiteOrtVit() {
  const { ort, session, createMs } = await ortSession(VIT_MODEL_URL);
  const input = await chelseaTensor();
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
  const got = (await session.run(feeds))[session.outputNames[0]].data;
  const forward = await measure(() => session.run(feeds), { warmup: VIT_WARMUP, runs: RUNS });
  await session.release();
  return {
    version: ort.env.versions?.web ?? ort.env.versions?.common, threads: THREADS, warmup: VIT_WARMUP,
    crossOriginIsolated: self.crossOriginIsolated, createMs, top1: argmax(got), logits: centred(got), forward,
  };
}

// ---------------- TensorFlow.js ----------------

async function suiteTfjs() {
  let bundle;
  try {
    bundle = await import('./out/tfjs.js');
  } catch (e) {
    throw new Error(`bench/out/tfjs.js is missing or broken (built by \`make -f bench/bench.mk bench-deps\`): ${e.message}`);
  }
  const { tf, wasm, protobuf } = bundle;
  const { buildSqueezeNet, nhwcFromNchw } = await import('./tfjs-squeezenet.js');
  wasm.setWasmPaths('/tfjs-wasm/');
  wasm.setThreadsCount(THREADS);
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend did not start');
  await tf.ready();
  const env = {
    version: tf.version_core, backend: tf.getBackend(), threads: wasm.getThreadsCount?.(),
    simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    crossOriginIsolated: self.crossOriginIsolated,
  };
  const onnx = await bytes(MODEL_URL);
  const input = await npy('/reference/test_data_set_0/input_0.npy');
  const want = await npy('/reference/test_data_set_0/output_0.npy');
  const chelsea = await chelseaTensor();
  const wantGrad = await npy('/reference/gradients/grad_chelsea_285.npy');
  const x = nhwcFromNchw(tf, input.data, input.shape);
  const xc = nhwcFromNchw(tf, chelsea.data, chelsea.shape);

  const variants = {};
  for (const fused of [true, false]) {
    const net = buildSqueezeNet(tf, protobuf, onnx, { fused });
    const logits = tf.tidy(() => net.forward(x)).dataSync();
    // The gradient comes back NHWC; the reference is NCHW.
    const grad = tf.tidy(() => tf.transpose(net.inputGradient(xc, REF_CLASS), [0, 3, 1, 2])).dataSync();
    const chelseaTop1 = argmax(tf.tidy(() => net.forward(xc)).dataSync());
    const checks = {
      logitsMaxAbsErr: maxAbsDiff(logits, want.data), logitsRefMaxAbs: maxAbs(want.data),
      top1: argmax(logits), top1Ref: argmax(want.data), chelseaTop1,
      gradMaxAbsErr: maxAbsDiff(grad, wantGrad.data), gradRefMaxAbs: maxAbs(wantGrad.data),
    };
    const forward = await measure(() => tf.tidy(() => net.forward(x).dataSync()), { warmup: WARMUP, runs: RUNS });
    const forwardGradient = await measure(() => tf.tidy(() => net.inputGradient(xc, REF_CLASS).dataSync()),
      { warmup: WARMUP, runs: RUNS });
    net.dispose();
    variants[fused ? 'fused' : 'unfused'] = { checks, forward, forwardGradient };
  }
  x.dispose();
  xc.dispose();
  return { env, variants, tensorsLeft: tf.memory().numTensors };
}

const SUITES = {
  netlens: suiteNetlens, startup: suiteStartup, ort: suiteOrt, tfjs: suiteTfjs,
  'vit-netlens': suiteNetlensVitLogits, 'vit-ort': suiteOrtVit,
};

(async () => {
  try {
    const suite = SUITES[SUITE];
    if (!suite) throw new Error(`unknown suite ${SUITE}`);
    const result = await suite();
    window.__bench = { done: true, suite: SUITE, result };
    out.textContent = JSON.stringify(result, (k, v) => (k === 'samples' ? undefined : v), 2);
  } catch (e) {
    window.__bench = { done: true, suite: SUITE, error: `${e?.message ?? e}\n${e?.stack ?? ''}` };
    out.textContent = `error: ${e?.message ?? e}`;
  }
})();
