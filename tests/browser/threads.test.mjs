// The page's two wasm builds (docs/performance.md: Threads in the page): cross-origin isolated, the threaded build with more
// than one thread; without isolation, or with ?threads=1, the single-thread build. Both against the native CLI,
// and the determinism rule: one share link gives the same pixels in either build at any thread count.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  SHARED, suite, startServer, openPage, waitReady, waitImage, screenshotPath, runCli, pickClass, assertSaliencyAsCli,
  runViz, setFields,
} from './helpers.mjs';
import { pickEngine, MAX_THREADS } from '../../www/threads.js';

const TIMEOUT = { timeout: 600_000 };
const { server: isolated, browser } = suite();
// The same page without the isolation headers, for the single-thread build.
let plain;
const scratch = mkdtempSync(path.join(tmpdir(), 'netlens-threads-'));

before(async () => {
  plain = await startServer({ isolated: false });
});

after(() => {
  plain?.stop();
});

test('pickEngine: isolation, cores, overrides and a pool sharing the cores', () => {
  assert.deepEqual(pickEngine({ isolated: true, cores: 4 }), { build: 'threads', threads: 4, why: 'cores' });
  assert.equal(pickEngine({ isolated: true, cores: 64 }).threads, MAX_THREADS);
  assert.equal(pickEngine({ isolated: false, cores: 8 }).build, 'single');
  assert.match(pickEngine({ isolated: false, cores: 8 }).why, /not cross-origin isolated/);
  assert.equal(pickEngine({ isolated: true, cores: 1 }).build, 'single');
  assert.equal(pickEngine({ isolated: true, cores: undefined }).build, 'single');
  assert.deepEqual(pickEngine({ isolated: true, cores: 8, threads: '1' }).build, 'single');
  assert.deepEqual(pickEngine({ isolated: true, cores: 2, threads: '3' }).threads, 3);
  assert.deepEqual(pickEngine({ isolated: true, cores: 2, threads: '99' }).threads, MAX_THREADS);
  assert.deepEqual(pickEngine({ isolated: true, cores: 2, threads: 'junk' }).threads, 2);
  assert.deepEqual(pickEngine({ isolated: true, cores: 2, threads: '-2' }).threads, 2);
  assert.deepEqual(pickEngine({ isolated: true, cores: 8, build: 'threads', threads: '1' }),
    { build: 'threads', threads: 1, why: 'asked for (?threads=)' });
  assert.equal(pickEngine({ isolated: true, cores: 8, build: 'single' }).build, 'single');
  // ?build=threads cannot give shared memory to a page that has none.
  assert.equal(pickEngine({ isolated: false, cores: 8, build: 'threads' }).build, 'single');
  // Two engines on 8 cores: 4 threads each; three on 2 cores: the single build each.
  assert.equal(pickEngine({ isolated: true, cores: 8, engines: 2 }).threads, 4);
  assert.equal(pickEngine({ isolated: true, cores: 2, engines: 3 }).build, 'single');
});

async function engineOf(page) {
  await waitReady(page);
  return page.evaluate(() => ({
    build: window.__netlens.build, cores: navigator.hardwareConcurrency, isolated: window.crossOriginIsolated,
  }));
}

/** Top-5 of chelsea and its saliency map against the CLI's (the rule of tests/browser/page.test.mjs). */
async function againstCli(page) {
  await page.click('[data-sample="chelsea"]');
  await waitImage(page, 'chelsea');
  const top = await page.evaluate(() => window.__netlens.top5);
  const cli = runCli(['classify', path.join(SHARED, 'images/chelsea.png')]);
  const cliTop = [...cli.matchAll(/^\s*\d+\.\s+([\d.]+)%\s+(\d+)\s/gm)].map((m) => ({ cls: Number(m[2]), pct: Number(m[1]) }));
  assert.equal(cliTop.length, 5, cli);
  assert.deepEqual(top.map((t) => t.class), cliTop.map((t) => t.cls), 'top-5 classes as the CLI');
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(top[i].prob * 100 - cliTop[i].pct) <= 0.01, `top-5 #${i + 1} probability`);

  await assertSaliencyAsCli(page, scratch);
}

function assertClean(problems) {
  assert.deepEqual(problems.pageErrors, [], 'uncaught exceptions in the page');
  assert.deepEqual(problems.consoleErrors, [], 'console errors');
}

test('cross-origin isolated: the threaded build, one thread per core; top-5 and saliency equal the CLI', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, isolated.url);
  const e = await engineOf(page);
  assert.equal(e.isolated, true, 'make run\'s headers make the page cross-origin isolated');
  assert.equal(e.build.build, 'threads', JSON.stringify(e));
  assert.equal(e.build.threads, Math.min(e.cores, MAX_THREADS), JSON.stringify(e));
  await againstCli(page);
  assert.match(await page.textContent('#model-facts'), new RegExp(`${e.build.threads} thread`));
  await page.screenshot({ path: screenshotPath('threads-isolated') });
  await page.locator('#model-box').screenshot({ path: screenshotPath('threads-model-box') });
  assertClean(problems);
  await page.close();
});

test('?threads=3: three threads even on fewer cores; same top-5 and saliency as the CLI', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, `${isolated.url}?threads=3`);
  const e = await engineOf(page);
  assert.deepEqual([e.build.build, e.build.threads], ['threads', 3]);
  await againstCli(page);
  assertClean(problems);
  await page.close();
});

test('not isolated: the single-thread build, saying why; same top-5 and saliency as the CLI', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, plain.url);
  const e = await engineOf(page);
  assert.equal(e.isolated, false);
  assert.deepEqual([e.build.build, e.build.threads], ['single', 1]);
  assert.match(e.build.why, /not cross-origin isolated/);
  await againstCli(page);
  assert.match(await page.textContent('#model-facts'), /1 thread/);
  assertClean(problems);
  await page.close();
});

test('one share link, the same class visualization in both builds at 1, 2 and 3 threads', TIMEOUT, async () => {
  // The link: class visualization of tarantula, seed 7, 12 iterations, made in the single-thread build.
  const { page, problems } = await openPage(browser.context, `${isolated.url}?threads=1`);
  assert.equal((await engineOf(page)).build.build, 'single');
  await page.click('#tab-classviz');
  await pickClass(page, 'viz', 'tarantula', 76);
  await setFields(page, [['viz-iters', '12'], ['viz-seed', '7']]);
  const reference = (await runViz(page)).hash;
  const link = await page.evaluate(() => window.__netlens.shareUrl);
  assert.match(link, /#/);
  const hash = link.slice(link.indexOf('#'));
  assertClean(problems);
  await page.close();

  const seen = [];
  for (const query of ['?threads=1', '?build=threads&threads=1', '?threads=2', '?threads=3']) {
    const { page: p, problems: pr } = await openPage(browser.context, `${isolated.url}${query}${hash}`);
    const e = await engineOf(p);
    // A link reproduces its run by itself (www/app.js).
    await p.waitForFunction(() => window.__netlens.vizDone >= 1 && window.__netlens.hashes.viz, null, { timeout: 300_000 });
    const got = await p.evaluate(() => window.__netlens.hashes.viz);
    seen.push(`${query}: ${e.build.build} ×${e.build.threads} → ${got}`);
    assert.equal(got, reference, `${query} (${e.build.build}, ${e.build.threads} threads) differs:\n${seen.join('\n')}`);
    assertClean(pr);
    await p.close();
  }
  assert.deepEqual(seen.map((s) => s.split(':')[1].split('→')[0].trim()),
    ['single ×1', 'threads ×1', 'threads ×2', 'threads ×3']);
});

test('a threaded build that cannot start: the single-thread build runs, and the page says why', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context);
  // As if the browser could not fetch or instantiate it (a host missing the file, no room for the shared memory).
  await page.route('**/pkg/threads/netlens_bg.wasm', (route) => route.fulfill({ status: 404, body: 'not here' }));
  await page.goto(isolated.url);
  const e = await engineOf(page);
  assert.equal(e.isolated, true);
  assert.deepEqual([e.build.build, e.build.threads], ['single', 1]);
  assert.match(e.build.why, /threaded build did not start/);
  await page.click('[data-sample="coffee"]');
  await waitImage(page, 'coffee');
  assert.equal(await page.evaluate(() => window.__netlens.top5[0].class), 967);
  assert.match(await page.getAttribute('#model-facts', 'title'), /single \(the threaded build did not start/);
  assert.deepEqual(problems.pageErrors, []);
  await page.close();
});

test('threaded build: a pool thread that runs out of memory ends the engine worker\'s wait; the page restarts the engine', TIMEOUT, async () => {
  // The engine's work runs on the pool while the engine worker waits (src/threads.rs, on_pool). wasm cannot
  // unwind, so a pool thread that traps never finishes that work: without its hooks the page would wait forever.
  const { page, problems } = await openPage(browser.context, `${isolated.url}?test`);
  const e = await engineOf(page);
  assert.equal(e.build.build, 'threads', JSON.stringify(e));
  assert.ok(e.build.threads > 1, JSON.stringify(e));
  await page.click('[data-sample="chelsea"]');
  await waitImage(page, 'chelsea');
  const before = await page.evaluate(() => window.__netlens.top5[0]);
  const trap = await page.evaluate(async () => {
    const { request } = await import(new URL('www/engine.js', location.href).href);
    try {
      return { ok: await request({ type: 'test-trap', onPool: true }) };
    } catch (err) {
      return { error: err.message, fatal: err.fatal === true };
    }
  });
  assert.equal(trap.fatal, true, `the engine worker trapped: ${JSON.stringify(trap)}`);
  await page.waitForFunction(() => window.__netlens.messages.some((m) => m.kind === 'error' && /engine stopped/i.test(m.text)));
  // The console says why (the pool thread's reason, from the engine worker's panic).
  assert.ok(problems.consoleErrors.some((m) => /an engine thread stopped: out of memory/.test(m)),
    JSON.stringify(problems.consoleErrors));
  // A fresh engine takes the same image back and predicts the same.
  await waitReady(page);
  await page.waitForFunction((n) => window.__netlens.sources.length >= n, 2);
  await waitImage(page, 'chelsea');
  assert.deepEqual(await page.evaluate(() => window.__netlens.top5[0]), before);
  // The pool thread's own trap is uncaught in its Web Worker (wasm-bindgen-rayon's): that one, nothing else.
  assert.ok(problems.pageErrors.every((m) => /^RuntimeError: unreachable/.test(m)) && problems.pageErrors.length <= 1,
    JSON.stringify(problems.pageErrors));
  await page.close();
});
