// `node bench/run-browser.mjs [--runs N] [--viz-runs N] [--compare-runs N] [--duel-rounds N] [--pool N] [--vit-runs N]
// [--vit-rounds N] [--only a,b] [--out FILE]` (parts: netlens, ort1, ort2,
// tfjs1, tfjs2, startup, page, headerless, compare, live, vit): runs the bench suites in
// headless Chromium (one page per suite, one at a time: the machine has 2 cores) and, on the page's own server,
// times the real page (load to first classification; per wasm build and thread count, forward, forward+backward
// and the default 100-iteration class visualization; the forward alternately with onnxruntime-web at 1 and 2 threads;
// the compare view on chelsea; `make dist` on a plain static server, isolated by its service worker only, with
// the same timings as the header-isolated page right before it; live camera mode from Chromium's fake camera
// showing chelsea: frames per second and camera-frame-to-overlay latency for saliency, Grad-CAM and the top-5 alone;
// a ViT-B/16 (issue 24, assets/test-models/vit_b_16.onnx) in the page at 1 and 2 threads, its forward alternately with
// onnxruntime-web's at the same count, and its forward + input gradient).
// Writes one JSON file for bench/report.mjs.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startBenchServer, REPO } from './serve.mjs';
import { summarize, maxAbsDiff, maxAbs } from './stats.js';
import { squareRgb, writeY4m } from '../tests/browser/fake-camera.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const RUNS = Number(option('--runs', process.env.BENCH_RUNS ?? 10));
const VIZ_RUNS = Number(option('--viz-runs', process.env.BENCH_VIZ_RUNS ?? 10));
const COMPARE_RUNS = Number(option('--compare-runs', process.env.BENCH_COMPARE_RUNS ?? 5));
// Rounds of the alternating forward timing (forwardDuel), RUNS passes each side per round.
const DUEL_ROUNDS = Number(option('--duel-rounds', process.env.BENCH_DUEL_ROUNDS ?? 3));
// Pause between the two sides of forwardDuel, both ways: a page just closed (onnxruntime-web's suite) still takes
// CPU while Chromium tears it down (2026-11-29, page ×2 right after: 13.3 ms; after 2 s: 11.0 and 11.8 ms).
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 2000);
const ONLY = option('--only', null)?.split(',');
// The page's worker pool size for the compare view (www/pool.js; default: the page's own choice, from the cores).
const POOL = option('--pool', process.env.BENCH_POOL ?? '');
const OUT = option('--out', path.join(REPO, 'bench/out/browser.json'));
const SUITE_TIMEOUT = 20 * 60_000;
// Live mode: seconds of warm-up, then of measurement, per row.
const LIVE_WARMUP_S = Number(process.env.BENCH_LIVE_WARMUP_S ?? 3);
const LIVE_SECONDS = Number(process.env.BENCH_LIVE_SECONDS ?? 10);
// The ViT-B/16 rows (issue 24): a forward takes seconds in the page, so few runs. Per round, per thread count:
// onnxruntime-web 1 warm-up + VIT_RUNS, the page's engine worker 3 warm-up + VIT_RUNS forward, then the same of
// forward + input gradient (its 'bench' request, www/worker.js).
const VIT_RUNS = Number(option('--vit-runs', process.env.BENCH_VIT_RUNS ?? 3));
const VIT_ROUNDS = Number(option('--vit-rounds', process.env.BENCH_VIT_ROUNDS ?? 2));
const VIT_MODEL = 'assets/test-models/vit_b_16.onnx';

const want = (name) => !ONLY || ONLY.includes(name);
const log = (...a) => console.error('[bench]', ...a);

function browserVersion() {
  try {
    return execFileSync(CHROMIUM, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

async function runSuite(context, base, query) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await page.goto(`${base}/bench/index.html?${query}`);
    await page.waitForFunction(() => window.__bench?.done === true, null, { timeout: SUITE_TIMEOUT, polling: 100 });
    const b = await page.evaluate(() => window.__bench);
    if (b.error) return { error: b.error, consoleErrors: errors };
    return { ...b.result, userAgent: await page.evaluate(() => navigator.userAgent) };
  } catch (e) {
    return { error: String(e), consoleErrors: errors };
  } finally {
    await page.close();
  }
}

/** The page's own server (www/serve.py), as `make run` serves it. */
function startPageServer() {
  return new Promise((resolve, reject) => {
    const proc = spawn('python3', [path.join(REPO, 'www/serve.py'), '--port', '0'], {
      env: { ...process.env, NETLENS_SERVE_QUIET: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let outText = '';
    proc.stdout.on('data', (d) => {
      outText += d;
      const m = outText.match(/serving on (http:\/\/\S+)/);
      if (m) resolve({ url: m[1].replace(/\/$/, ''), stop: () => proc.kill() });
    });
    proc.on('exit', (code) => reject(new Error(`www/serve.py exited (${code})`)));
  });
}

/**
 * Threads without headers (docs/publish.md): `make dist` (scripts/make-dist.py into a temporary folder) under a
 * sub-path of `python3 -m http.server`, which sends no COOP/COEP. One visit lets the service worker take over and
 * reload the page once into cross-origin isolation; then the same timings as the header-isolated page's.
 */
async function headerlessPage(context, runs, vizRuns) {
  const root = mkdtempSync(path.join(tmpdir(), 'netlens-bench-site-'));
  let proc = null;
  try {
    execFileSync('python3', [path.join(REPO, 'scripts/make-dist.py'), '--out', path.join(root, 'course', 'netlens')],
      { cwd: REPO, stdio: 'pipe' });
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port: p } = s.address();
        s.close(() => resolve(p));
      });
    });
    proc = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', root], { stdio: 'ignore' });
    const url = `http://127.0.0.1:${port}/course/netlens/`;
    for (let i = 0; i < 100 && !(await fetch(url).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
    const first = await context.newPage();
    await first.goto(url);
    await first.waitForFunction(() => ['isolated', 'refused', 'not-needed'].includes(window.__netlens?.isolation), null,
      { timeout: 180_000 });
    const isolation = await first.evaluate(() => window.__netlens.isolation);
    await first.close();
    if (isolation !== 'isolated') throw new Error(`the service worker did not isolate the page (${isolation})`);
    const row = await pageBuild(context, url, '', runs, vizRuns);
    log(`header-less page: ${row.build.build} ×${row.build.threads}, forward+backward ${row.forwardBackward.median.toFixed(1)} ms, class viz ${row.classViz.median.toFixed(0)} ms`);
    return row;
  } catch (e) {
    log(`header-less page: ERROR ${e}`);
    return { error: String(e) };
  } finally {
    proc?.kill();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Navigation to the first top-5 on screen, with the files in the HTTP cache after the first (cold) load. */
async function pageLoad(context, url, runs) {
  const ms = [];
  let cold = null;
  for (let i = 0; i <= runs; i++) {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => window.__netlens?.ready === true || window.__netlens?.modelError,
      null, { timeout: 120_000, polling: 5 });
    if (await page.evaluate(() => window.__netlens.modelError)) throw new Error('the page could not load the model');
    await page.click('[data-sample="chelsea"]');
    await page.waitForFunction(() => window.__netlens.top5 && window.__netlens.imageSource?.id === 'chelsea',
      null, { timeout: 60_000, polling: 5 });
    const t = await page.evaluate(() => performance.now());
    if (i === 0) cold = t;
    else ms.push(t);
    await page.close();
  }
  return { cold, warmCache: summarize(ms) };
}

/** A request to the page's engine worker, through the page's own module (same URL, same instance). */
const engineRequest = (page, msg) => page.evaluate(async (m) => {
  const { request } = await import(new URL('www/engine.js', document.baseURI).href);
  return request(m);
}, msg);

/**
 * The page with one wasm build and thread count (www/threads.js: `query` is '' for the page's own choice):
 * forward and forward+backward timed in its worker (the 'bench' request), then the default class visualization
 * (100 iterations) started from the page's button, to the "done" message; the wasm memory after the first run and
 * after the last (the memory row: 10 runs after the first should not grow it past 1.1×).
 */
async function pageBuild(context, url, query, runs, vizRuns) {
  const page = await context.newPage();
  await page.goto(`${url}${query}`);
  await page.waitForFunction(() => window.__netlens?.ready === true, null, { timeout: 120_000 });
  const build = await page.evaluate(() => window.__netlens.build);
  await page.click('[data-sample="chelsea"]');
  await page.waitForFunction(() => window.__netlens.top5 && window.__netlens.imageSource?.id === 'chelsea',
    null, { timeout: 60_000, polling: 5 });
  const passes = await engineRequest(page, { type: 'bench', runs, class: 285 });
  await page.click('#tab-classviz');
  const iters = await page.inputValue('#viz-iters');
  const ms = [];
  let memoryAfterFirst = null;
  for (let i = 0; i <= vizRuns; i++) {
    const before = await page.evaluate(() => window.__netlens.vizDone);
    const t0 = await page.evaluate(() => performance.now());
    await page.click('#viz-run');
    await page.waitForFunction((n) => window.__netlens.vizDone > n, before, { timeout: 600_000, polling: 5 });
    const t1 = await page.evaluate(() => performance.now());
    if (i > 0) ms.push(t1 - t0); // the first run is the warm-up
    if (i === 0) memoryAfterFirst = (await engineRequest(page, { type: 'memory' })).bytes;
    log(`page ${build.build} ×${build.threads} class viz run ${i}: ${(t1 - t0).toFixed(0)} ms`);
  }
  const memoryAfterLast = (await engineRequest(page, { type: 'memory' })).bytes;
  await page.close();
  return {
    query, build, forward: summarize(passes.forward), forwardBackward: summarize(passes.forwardBackward),
    classViz: { iterations: Number(iters), ...summarize(ms) },
    memory: { afterFirst: memoryAfterFirst, afterLast: memoryAfterLast, runs: vizRuns + 1 },
  };
}

/**
 * Issue 13's forward goal, the page against onnxruntime-web at the same thread count, timed alternately: `rounds`
 * times onnxruntime-web's suite (a fresh page) and then the page's engine worker (the 'bench' request; the page
 * stays open, idle meanwhile), `runs` passes each, pooled. This host's speed drifts by tens of percent within
 * minutes, so the page builds' rows above (timed minutes after onnxruntime-web's suite) can land on either side
 * of the line by chance; alternating puts both under the same drift.
 */
async function forwardDuel(context, benchUrl, pageUrl, query, threads, rounds, runs) {
  const page = await context.newPage();
  try {
    await page.goto(`${pageUrl}${query}`);
    await page.waitForFunction(() => window.__netlens?.ready === true, null, { timeout: 120_000 });
    const build = await page.evaluate(() => window.__netlens.build);
    if (build.threads !== threads) throw new Error(`${query}: the page runs ${build.threads} thread(s), not ${threads}`);
    await page.click('[data-sample="chelsea"]');
    await page.waitForFunction(() => window.__netlens.top5 && window.__netlens.imageSource?.id === 'chelsea',
      null, { timeout: 60_000, polling: 5 });
    const ours = [];
    const ort = [];
    for (let r = 0; r < rounds; r++) {
      const o = await runSuite(context, benchUrl, `suite=ort&threads=${threads}${threads > 1 ? '&coi=1' : ''}&runs=${runs}`);
      if (o.error) throw new Error(`onnxruntime-web: ${o.error}`);
      if (o.checks?.top1 !== o.checks?.top1Ref) throw new Error('onnxruntime-web: wrong top-1 (CHECK FAILED)');
      ort.push(...o.forward.samples);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      ours.push(...(await engineRequest(page, { type: 'bench', runs, class: 285 })).forward);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
    }
    log(`forward duel ×${threads}: page ${summarize(ours).median.toFixed(2)} ms, onnxruntime-web ${summarize(ort).median.toFixed(2)} ms`);
    return { query, build, threads, rounds, page: summarize(ours), ort: summarize(ort) };
  } catch (e) {
    return { query, threads, error: String(e) };
  } finally {
    await page.close();
  }
}

/**
 * The compare view (issue 7): chelsea, the predicted class, every `compare: true` method at its defaults, from the
 * "Compare all" button to the last map (www/compare.js emits `compare-done`, which www/testhook.js counts in
 * `window.__netlens.compare.done`; `compare.seconds` is the page's own start → last map time, before the figure).
 * Showing the tab starts the first run: that one is the warm-up. The compare view's element ids start with its
 * link prefix, `cmp` (COMPARE in www/share.js), as tests/browser/methods.test.mjs uses them.
 */
async function pageCompare(context, url, runs) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.__netlens?.ready === true, null, { timeout: 120_000 });
  await page.click('[data-sample="chelsea"]');
  await page.waitForFunction(() => window.__netlens.top5 && window.__netlens.imageSource?.id === 'chelsea',
    null, { timeout: 60_000, polling: 5 });
  await page.click('#tab-compare');
  await page.waitForFunction(() => window.__netlens.compare.done >= 1, null, { timeout: 600_000, polling: 50 });
  const ms = [];
  const pageSeconds = [];
  let last = null;
  for (let i = 0; i < runs; i++) {
    const before = await page.evaluate(() => window.__netlens.compare.done);
    await page.waitForSelector('#cmp-run:not([disabled])');
    const t0 = await page.evaluate(() => {
      const t = performance.now();
      document.getElementById('cmp-run').click();
      return t;
    });
    await page.waitForFunction((n) => window.__netlens.compare.done > n, before, { timeout: 600_000, polling: 5 });
    const t1 = await page.evaluate(() => performance.now());
    last = await page.evaluate(() => {
      const c = window.__netlens.compare;
      return {
        class: c.class, methods: c.methods, seconds: c.seconds, workers: c.workers,
        errors: Object.entries(c.cells).filter(([, v]) => v.error).map(([k, v]) => `${k}: ${v.error}`),
        cells: Object.keys(c.cells).length,
      };
    });
    if (last.errors.length) throw new Error(`compare view: ${last.errors.join('; ')}`);
    if (last.cells !== last.methods.length) throw new Error(`compare view: ${last.cells} of ${last.methods.length} maps`);
    ms.push(t1 - t0);
    pageSeconds.push(last.seconds * 1000);
    log(`page compare run ${i}: ${(t1 - t0).toFixed(0)} ms (page says ${last.seconds} s, ${last.workers} worker(s))`);
  }
  await page.close();
  return {
    class: last.class, methods: last.methods, workers: last.workers, ...summarize(ms),
    pageStartToLastMap: summarize(pageSeconds),
  };
}

/**
 * Live camera mode (issue 26): a browser whose fake camera shows chelsea (256×256 at 30 frames/s, faster than the
 * engine), the page with one build and thread count; for each live method ('' = the top-5 only) the frames drawn
 * per second and the camera-frame → overlay-drawn latency (www/live.js emits both; www/testhook.js keeps them)
 * over LIVE_SECONDS, after LIVE_WARMUP_S of warm-up.
 */
async function pageLive(url, configs) {
  const profile = mkdtempSync(path.join(tmpdir(), 'netlens-bench-live-'));
  const y4m = path.join(profile, 'chelsea.y4m');
  const out = [];
  let context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const page = await context.newPage(); // about:blank: the browser decodes the sample for the y4m
    writeY4m(y4m, [{ rgb: await squareRgb(page, path.join(REPO, 'assets/images/chelsea.png'), 256), seconds: 1 }], { side: 256, fps: 30 });
    await context.close();
    context = await chromium.launchPersistentContext(path.join(profile, 'camera'), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 720 },
      args: [...ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
    });
    for (const { query, methods } of configs) {
      const live = await context.newPage();
      try {
        await live.goto(`${url}/${query}`);
        await live.waitForFunction(() => window.__netlens?.ready === true, null, { timeout: 120_000 });
        const build = await live.evaluate(() => window.__netlens.build);
        await live.click('[data-sample="chelsea"]');
        await live.waitForFunction(() => window.__netlens.imageSource?.id === 'chelsea', null, { timeout: 60_000 });
        for (const method of methods) {
          if (await live.isHidden('#live')) await live.click('#live-button');
          await live.selectOption('#live-method', method);
          await live.waitForTimeout(LIVE_WARMUP_S * 1000);
          const t0 = await live.evaluate(() => performance.now());
          await live.waitForTimeout(LIVE_SECONDS * 1000);
          const frames = await live.evaluate((t) => window.__netlens.live.frames.filter((f) => f.at >= t), t0);
          const ours = frames.filter((f) => f.method === (method || null));
          if (ours.length < 2) throw new Error(`live ${method || 'top-5'}: ${ours.length} frames in ${LIVE_SECONDS} s`);
          const fps = (ours.length - 1) / ((ours.at(-1).at - ours[0].at) / 1000);
          const row = {
            query, build, method: method || null, frames: ours.length, fps,
            latency: summarize(ours.map((f) => f.latencyMs)), engine: summarize(ours.map((f) => f.engineMs)),
            top1: ours.at(-1).top1,
          };
          log(`live ${build.build} ×${build.threads} ${method || 'top-5 only'}: ${fps.toFixed(1)} fps, latency median ${row.latency.median.toFixed(0)} ms (engine ${row.engine.median.toFixed(0)} ms)`);
          out.push(row);
        }
        await live.click('#live-stop');
      } catch (e) {
        out.push({ query, error: String(e) });
        log(`live ${query}: ERROR ${e}`);
      } finally {
        await live.close();
      }
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return out;
}

/**
 * Issue 24's ViT-B/16 rows. netlens's own scores first (the bench page's 'vit-netlens' suite: the single-thread
 * build, chelsea_224), which each onnxruntime-web run is checked against (top-1 equal, max |Δ| of the logits, both
 * centred, ≤ 1e-3 × max |logit|). Then per thread count the page as `make run` serves it with `?model=` and
 * `?threads=N` (N = 1: the single-thread build; 2: the threaded one, as the SqueezeNet duels pick them) and
 * onnxruntime-web with numThreads N (cross-origin isolated for N > 1), timed alternately, the order reversed every
 * other round (ORT, page, page, ORT…) so that a drift of the shared machine falls on both alike.
 */
async function vitRows(context, benchUrl, pageUrl, rounds, runs) {
  if (!existsSync(path.join(REPO, VIT_MODEL))) {
    return { error: `${VIT_MODEL} is missing (make ${VIT_MODEL} builds it)` };
  }
  const out = { model: VIT_MODEL, rounds, runs, loadBefore: loadavg(), rows: [] };
  const ref = await runSuite(context, benchUrl, 'suite=vit-netlens');
  if (ref.error) return { ...out, error: `netlens's ViT scores (suite vit-netlens): ${ref.error.split('\n')[0]}` };
  out.netlensTop1 = ref.top1;
  log(`vit: netlens's own top-1 on chelsea_224 ${ref.top1}`);
  const refMaxAbs = maxAbs(ref.logits);
  for (const threads of [1, 2]) {
    const query = `?model=${VIT_MODEL}&threads=${threads}`;
    const page = await context.newPage();
    try {
      const t0 = Date.now();
      await page.goto(`${pageUrl}${query}`);
      await page.waitForFunction(() => window.__netlens?.ready === true || window.__netlens?.modelError, null,
        { timeout: 900_000, polling: 100 });
      const h = await page.evaluate(() => ({ build: window.__netlens.build, model: window.__netlens.model }));
      if (h.model?.name !== path.basename(VIT_MODEL)) throw new Error(`the page did not load the ViT (it shows ${h.model?.name})`);
      if (h.build.threads !== threads) throw new Error(`${query}: the page runs ${h.build.threads} thread(s), not ${threads}`);
      const readyS = (Date.now() - t0) / 1000;
      await page.click('[data-sample="chelsea"]');
      await page.waitForFunction(() => window.__netlens.top5 && window.__netlens.imageSource?.id === 'chelsea',
        null, { timeout: 600_000, polling: 20 });
      const fwd = [];
      const fb = [];
      const ort = [];
      const checks = [];
      let ortInfo = null;
      const runOrt = async () => {
        const o = await runSuite(context, benchUrl, `suite=vit-ort&threads=${threads}${threads > 1 ? '&coi=1' : ''}&runs=${runs}`);
        if (o.error) throw new Error(`onnxruntime-web: ${o.error.split('\n')[0]}`);
        checks.push({ top1: o.top1, top1Netlens: ref.top1, maxAbsErr: maxAbsDiff(o.logits, ref.logits), netlensMaxAbs: refMaxAbs });
        ortInfo = { version: o.version, threads: o.threads, crossOriginIsolated: o.crossOriginIsolated, warmup: o.warmup, createMs: o.createMs };
        ort.push(...o.forward.samples);
        log(`vit ×${threads}: onnxruntime-web forward ${o.forward.median.toFixed(0)} ms (top-1 ${o.top1})`);
      };
      const runPage = async () => {
        const p = await engineRequest(page, { type: 'bench', runs, class: 285 });
        fwd.push(...p.forward);
        fb.push(...p.forwardBackward);
        log(`vit ×${threads}: page forward ${summarize(p.forward).median.toFixed(0)} ms, forward + gradient ${summarize(p.forwardBackward).median.toFixed(0)} ms`);
      };
      for (let r = 0; r < rounds; r++) {
        for (const side of r % 2 === 0 ? [runOrt, runPage] : [runPage, runOrt]) {
          await side();
          await new Promise((res) => setTimeout(res, SETTLE_MS));
        }
      }
      out.rows.push({
        query, threads, build: h.build, readyS, page: { forward: summarize(fwd), forwardBackward: summarize(fb) },
        ort: summarize(ort), ortInfo, checks,
      });
    } catch (e) {
      out.rows.push({ query, threads, error: String(e) });
      log(`vit ×${threads}: ERROR ${e}`);
    } finally {
      await page.close();
    }
  }
  out.loadAfter = loadavg();
  return out;
}

async function main() {
  const result = { browser: browserVersion(), runs: RUNS, loadBefore: loadavg(), suites: {}, page: {} };
  const server = await startBenchServer();
  const profile = mkdtempSync(path.join(tmpdir(), 'netlens-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 720 },
  });
  try {
    const suites = [
      ['netlens', `suite=netlens&runs=${RUNS}`],
      ['ort1', `suite=ort&threads=1&runs=${RUNS}`],
      ['ort2', `suite=ort&threads=2&coi=1&runs=${RUNS}`],
      ['tfjs1', `suite=tfjs&threads=1&runs=${RUNS}`],
      ['tfjs2', `suite=tfjs&threads=2&coi=1&runs=${RUNS}`],
    ];
    for (const [name, query] of suites) {
      if (!want(name)) continue;
      log(`suite ${name} …`);
      const t = Date.now();
      result.suites[name] = await runSuite(context, server.url, query);
      log(`suite ${name}: ${result.suites[name].error ? `ERROR ${result.suites[name].error}` : 'ok'} (${((Date.now() - t) / 1000).toFixed(0)} s)`);
    }
    if (want('startup')) {
      // A fresh page each time; the first load fills the HTTP cache.
      const loads = [];
      for (let i = 0; i <= RUNS; i++) loads.push(await runSuite(context, server.url, 'suite=startup'));
      const bad = loads.find((l) => l.error);
      result.suites.startup = bad ? { error: bad.error } : {
        cold: loads[0],
        wasmInit: summarize(loads.slice(1).map((l) => l.wasmInitMs)),
        modelLoad: summarize(loads.slice(1).map((l) => l.modelLoadMs)),
        navigationToFirstClass: summarize(loads.slice(1).map((l) => l.navigationToFirstClassMs)),
      };
      log('suite startup done');
    }
    if (want('page') || want('headerless') || want('compare') || want('live') || want('vit')) {
      let pageServer = null;
      try {
        pageServer = await startPageServer();
        if (want('page') || want('headerless')) {
          if (want('page')) {
            result.page.load = await pageLoad(context, `${pageServer.url}/`, RUNS);
            log('page load done');
          }
          // The page's own choice (the threaded build with one thread per core when isolated, as `make run`
          // serves it), then the other builds and counts: the single-thread build, the threaded one on 1 and 2.
          result.page.builds = [await pageBuild(context, `${pageServer.url}/`, '', RUNS, VIZ_RUNS)];
          result.page.classViz = result.page.builds[0].classViz;
          // Right after it, so that both see the same load: the same page isolated by its service worker instead.
          result.page.headerless = await headerlessPage(context, RUNS, VIZ_RUNS);
        }
        if (want('page')) {
          const seen = (b) => result.page.builds.some((r) => r.build.build === b.build && r.build.threads === b.threads);
          for (const [query, want] of [['?threads=1', { build: 'single', threads: 1 }],
            ['?build=threads&threads=1', { build: 'threads', threads: 1 }], ['?threads=2', { build: 'threads', threads: 2 }]]) {
            if (!seen(want)) result.page.builds.push(await pageBuild(context, `${pageServer.url}/`, query, RUNS, VIZ_RUNS));
          }
          log('page builds done');
          result.page.forwardDuels = [];
          for (const [query, threads] of [['?threads=1', 1], ['?threads=2', 2]]) {
            result.page.forwardDuels.push(await forwardDuel(context, server.url, `${pageServer.url}/`, query, threads, DUEL_ROUNDS, RUNS));
          }
        }
        if (want('live')) {
          // Issue 26's goals: saliency at 2 threads (threaded build) and on the single build; Grad-CAM and the top-5 too.
          result.page.live = await pageLive(pageServer.url, [
            { query: '?threads=2', methods: ['saliency', '', 'gradcam'] },
            { query: '?threads=1', methods: ['saliency', '', 'gradcam'] },
          ]);
          log('page live done');
        }
        if (want('compare')) {
          result.page.compare = await pageCompare(context, `${pageServer.url}/${POOL ? `?pool=${POOL}` : ''}`, COMPARE_RUNS);
          log('page compare done');
        }
        if (want('vit')) {
          result.vit = await vitRows(context, server.url, `${pageServer.url}/`, VIT_ROUNDS, VIT_RUNS)
            .catch((e) => ({ error: String(e) }));
          log(`vit ${result.vit.error ? `ERROR ${result.vit.error}` : 'done'}`);
        }
      } catch (e) {
        result.page.error = String(e);
        log(`page: ERROR ${e}`);
      } finally {
        pageServer?.stop();
      }
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    await server.close();
  }
  result.loadAfter = loadavg();
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(result, (k, v) => (k === 'samples' ? undefined : v), 1));
  log(`wrote ${OUT}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
