// The published build as a class uses it: `make dist`'s folder on a plain static server under a sub-path, share
// links and their QR codes, a phone, accessibility (axe-core), and offline use. The site is built fresh by
// scripts/make-dist.py into a temporary folder and served by `python3 -m http.server` from two levels up, so the
// page lives at http://127.0.0.1:PORT/course/netlens/ on a port of its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import jsQR from 'jsqr';
import {
  REPO, SHARED, startBrowser, inFreshBrowser, openPage, waitReady, waitImage, screenshotPath, decodePngInPage,
} from './helpers.mjs';

const TIMEOUT = { timeout: 600_000 };
const SUB = '/course/netlens/';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PHONE_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) '
  + 'Chrome/130.0.0.0 Mobile Safari/537.36';

const root = mkdtempSync(path.join(tmpdir(), 'netlens-site-'));
const dist = path.join(root, 'course', 'netlens');
let server = null; // {proc, port}
let base = null; // http://127.0.0.1:PORT/course/netlens/
let browser = null; // the desktop browser; its service worker and offline copy carry over to the last test

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startStatic(port) {
  const proc = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', root],
    { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}${SUB}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return { proc, port };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error(`python3 -m http.server did not serve ${url}`);
}

function stopStatic() {
  server?.proc.kill();
  server = null;
}

before(async () => {
  mkdirSync(path.dirname(dist), { recursive: true });
  execFileSync('python3', [path.join(REPO, 'scripts/make-dist.py'), '--out', dist], { cwd: REPO, stdio: 'pipe' });
  server = await startStatic(await freePort());
  base = `http://127.0.0.1:${server.port}${SUB}`;
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  stopStatic();
  rmSync(root, { recursive: true, force: true });
});

/** Every request the page makes, and every failed one. */
function recordRequests(page) {
  const seen = { urls: [], failed: [], csp: [] };
  page.on('request', (r) => seen.urls.push(r.url()));
  page.on('response', (r) => {
    if (r.status() >= 400) seen.failed.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => seen.failed.push(`${r.failure()?.errorText} ${r.url()}`));
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) seen.csp.push(m.text());
  });
  return seen;
}

async function offlineState(page) {
  return page.evaluate(() => document.getElementById('offline-status').dataset.state);
}

async function runViz(page, iters) {
  await page.click('#tab-classviz');
  await page.fill('#viz-iters', String(iters));
  await page.press('#viz-iters', 'Tab');
  const before = await page.evaluate(() => window.__netlens.vizDone);
  await page.click('#viz-run');
  await page.waitForFunction((n) => window.__netlens.vizDone > n && window.__netlens.hashes.viz, before, { timeout: 300_000 });
  return page.evaluate(() => window.__netlens.hashes.viz);
}

/** The QR code as the page shows it: a screenshot of the image, decoded by jsQR. */
async function decodeShownQr(page) {
  const png = await page.locator('#qr-image').screenshot();
  const rgba = await decodePngInPage(page, png);
  const box = await page.locator('#qr-image').boundingBox();
  // The screenshot is in device pixels; recover its side from the pixel count (it is square).
  const side = Math.round(Math.sqrt(rgba.length / 4));
  const code = jsQR(Uint8ClampedArray.from(rgba), side, side);
  return { text: code?.data ?? null, box };
}

test('the published folder works under a sub-path on a plain static server: classify, saliency, fooling, class viz', TIMEOUT, async () => {
  const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'self'/);
  assert.match(html, /<meta name="netlens-build" content="[0-9a-f]{16}">/);
  const sw = readFileSync(path.join(dist, 'sw.js'), 'utf8');
  for (const f of ['index.html', 'pkg/netlens_bg.wasm', 'assets/models/squeezenet1_1.onnx', 'assets/images/chelsea.png', 'www/worker.js',
    'www/threads.js', 'pkg/threads/netlens.js', 'pkg/threads/netlens_bg.wasm']) {
    assert.ok(sw.includes(`"${f}"`), `sw.js caches ${f}`);
  }
  assert.ok(/"pkg\/threads\/snippets\/wasm-bindgen-rayon-[^"]+\/workerHelpers\.js"/.test(sw), 'sw.js caches the thread pool\'s worker script');
  // The threaded build's headers, for hosts that read _headers; this plain server sends none (single-thread build).
  const headers = readFileSync(path.join(dist, '_headers'), 'utf8');
  assert.match(headers, /^\/\*\n {2}Cross-Origin-Opener-Policy: same-origin\n {2}Cross-Origin-Embedder-Policy: require-corp\n$/);
  assert.match(readFileSync(path.join(dist, 'LICENSES/README.txt'), 'utf8'), /tract-onnx 0\.\d+\.\d+\t.*(MIT|Apache)/);

  const { page, problems } = await openPage(browser.context);
  const seen = recordRequests(page);
  await page.goto(base);
  await waitReady(page);
  assert.equal(await page.evaluate(() => window.__netlens.build?.build), 'single', 'no COOP/COEP here: the single-thread build');
  await waitImage(page, null);
  await page.click('[data-sample="coffee"]');
  await waitImage(page, 'coffee');
  assert.equal(await page.evaluate(() => window.__netlens.top5[0].class), 967);
  await page.waitForFunction(() => window.__netlens.saliencyClass === 967, null, { timeout: 60_000 });

  await page.click('#tab-fooling');
  await page.fill('#fool-iters', '100');
  await page.press('#fool-iters', 'Tab');
  await page.click('#fool-run');
  await page.waitForFunction(() => window.__netlens.fooling, null, { timeout: 300_000 });
  const report = await page.evaluate(() => window.__netlens.fooling);
  assert.equal(report.success, true, JSON.stringify(report));
  assert.equal(report.final_class, report.target);

  assert.ok(await runViz(page, 5), 'class visualization finished');

  // The page's own address, nothing else: every request stays under the sub-path, none fails, no CSP complaint.
  const outside = seen.urls.filter((u) => !u.startsWith(base) && !/^(data|blob):/.test(u));
  assert.deepEqual(outside, [], 'requests outside the sub-path');
  assert.deepEqual(seen.failed, [], 'failed requests');
  assert.deepEqual(seen.csp, [], 'Content-Security-Policy violations');
  assert.deepEqual(problems.pageErrors, []);

  // The service worker has saved the whole build, and the page says so.
  await page.waitForFunction(() => document.getElementById('offline-status').dataset.state === 'ready', null, { timeout: 120_000 });
  assert.match(await page.textContent('#offline-status'), /Ready for offline use/);
  await page.close();
});

test('a share link from the sub-path: its length shown, its QR code decodes to exactly it, it reproduces the run in a fresh browser', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, base);
  await waitReady(page);
  await page.click('[data-sample="rocket"]');
  await waitImage(page, 'rocket');
  await page.click('#tab-classviz');
  await page.fill('#viz-seed', '7');
  await page.press('#viz-seed', 'Tab');
  const hash = await runViz(page, 4);
  const url = await page.inputValue('#share-url');
  assert.ok(url.startsWith(`${base}#`), `link ${url} starts at the page's own address ${base}`);
  assert.ok(url.length <= 300, `a sample image's link is short: ${url.length} characters`);
  assert.equal((await page.textContent('#link-length')).trim(), `${url.length} characters`);
  console.log(`# share link: ${url.length} characters: ${url}`);

  // "Show QR": a modal dialog, most of the screen, reached and closed with the keyboard.
  await page.focus('#show-qr');
  await page.keyboard.press('Enter');
  await page.waitForFunction((u) => document.getElementById('qr-dialog').dataset.link === u, url, { timeout: 60_000 });
  const shown = await decodeShownQr(page);
  assert.equal(shown.text, url, 'the QR code decodes to exactly the link');
  const vp = page.viewportSize();
  assert.ok(shown.box.width >= 0.6 * Math.min(vp.width, vp.height), `QR code ${shown.box.width}px wide in a ${vp.width}×${vp.height} window`);
  assert.match(await page.textContent('#qr-length'), new RegExp(`^${url.length} characters`));
  assert.match(await page.getAttribute('#qr-image', 'alt'), /QR code of the share link/);
  await page.screenshot({ path: screenshotPath('qr') });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('qr-dialog').open);
  const want = await page.evaluate(() => ({ state: JSON.parse(JSON.stringify(window.__netlens.state)), image: window.__netlens.imageHash }));
  assert.deepEqual(problems.pageErrors, []);
  await page.close();

  // The link, opened in a browser that has never seen the page, at the same sub-path.
  await inFreshBrowser(async (context) => {
    const other = await openPage(context, url);
    await waitReady(other.page);
    await other.page.waitForFunction(() => window.__netlens.vizDone > 0 && window.__netlens.hashes.viz, null, { timeout: 300_000 });
    const got = await other.page.evaluate(() => ({
      state: JSON.parse(JSON.stringify(window.__netlens.state)), image: window.__netlens.imageHash,
      hash: window.__netlens.hashes.viz, href: location.href,
      panelHidden: document.getElementById('panel-classviz').hidden,
    }));
    assert.ok(got.href.startsWith(base), got.href);
    assert.deepEqual(got.state, want.state);
    assert.equal(got.image, want.image, 'same input image');
    assert.equal(got.hash, hash, 'same class visualization');
    assert.equal(got.panelHidden, false);
    assert.deepEqual(other.problems.pageErrors, []);
  });
});

test('a QR code says when a link is too long for one (an uploaded image travels inside the link)', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, base);
  await waitReady(page);
  await waitImage(page, null);
  await page.setInputFiles('#file-input', path.join(SHARED, 'images/astronaut.png'));
  await page.waitForFunction(() => window.__netlens.imageSource?.name === 'astronaut.png');
  await page.waitForFunction(() => document.getElementById('share-url').value.includes('jpeg'));
  const url = await page.inputValue('#share-url');
  assert.ok(url.length > 2953, `an image link is long (${url.length})`);
  assert.equal((await page.textContent('#link-length')).trim(), `${url.length} characters`);
  await page.click('#show-qr');
  await page.waitForFunction(() => !document.getElementById('qr-error').hidden);
  assert.match(await page.textContent('#qr-error'), /at most 2953/);
  assert.equal(await page.isVisible('#qr-image'), false);
  await page.click('#qr-close');
  assert.deepEqual(problems.pageErrors, []);
  await page.close();
});

/** A phone-sized browser: touch, a mobile user agent, a high-density screen. */
async function startPhone(viewport = { width: 390, height: 844 }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'netlens-phone-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport, isMobile: true, hasTouch: true, deviceScaleFactor: 2, userAgent: PHONE_UA,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function noHorizontalScroll(page, where) {
  const m = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    wide: [...document.querySelectorAll('body *')].filter((e) => e.getClientRects().length
      && e.getBoundingClientRect().right > window.innerWidth + 0.5 && !e.closest('.visually-hidden')
      && getComputedStyle(e).position !== 'fixed').slice(0, 5).map((e) => `${e.tagName}#${e.id}.${e.className}`),
  }));
  assert.ok(m.scroll <= m.inner, `${where}: scrollWidth ${m.scroll} > innerWidth ${m.inner}; too wide: ${m.wide.join(', ')}`);
}

/** Visible controls lower than 44 CSS pixels (checkboxes and radios count their label). */
async function smallControls(page) {
  return page.evaluate(() => {
    const sel = 'button, a.button, .file-button, select, input:not([type=file]), [role=tab]';
    return [...document.querySelectorAll(sel)].filter((e) => {
      if (!e.getClientRects().length || e.closest('[hidden], .visually-hidden, dialog:not([open])')) return false;
      const target = /^(checkbox|radio)$/.test(e.type) ? e.closest('label') ?? e : e;
      return target.getBoundingClientRect().height < 44;
    }).map((e) => `${e.tagName}#${e.id} (${e.getBoundingClientRect().height.toFixed(0)}px)`);
  });
}

test('on a phone (390×844, touch): no horizontal scroll, 44 px controls, tap a sample, saliency, class viz, camera input', TIMEOUT, async () => {
  const phone = await startPhone();
  try {
    const { page, problems } = await openPage(phone.context, base);
    await waitReady(page);
    await waitImage(page, null);
    assert.equal(await page.evaluate(() => window.innerWidth), 390);
    await noHorizontalScroll(page, 'saliency panel');
    await page.tap('[data-sample="coffee"]');
    await waitImage(page, 'coffee');
    await page.waitForFunction(() => window.__netlens.saliencyClass === 967, null, { timeout: 60_000 });
    // The saliency images scale to the screen: as wide as they can be, never wider.
    const heat = await page.locator('#panel-saliency canvas').nth(1).boundingBox();
    assert.ok(heat.width >= 120 && heat.x + heat.width <= 390, `saliency canvas at x ${heat.x}, ${heat.width}px wide`);
    assert.deepEqual(await smallControls(page), [], 'controls lower than 44 px');
    await page.screenshot({ path: path.join(REPO, 'docs/phone.png'), fullPage: true, scale: 'css' });

    await page.tap('#show-qr');
    await page.waitForFunction(() => document.getElementById('qr-dialog').dataset.link);
    const qr = await page.locator('#qr-image').boundingBox();
    assert.ok(qr.width >= 250 && qr.x >= 0 && qr.x + qr.width <= 390, `QR ${qr.width}px at x ${qr.x} on a phone`);
    await page.tap('#qr-close');

    // The camera: a "take a photo" input asking for the rear camera; its photo goes the way of a chosen file.
    assert.equal(await page.isVisible('.camera-button'), true, 'the "take a photo" button is shown on a phone');
    assert.equal(await page.getAttribute('#camera-input', 'capture'), 'environment');
    assert.match(await page.getAttribute('#camera-input', 'accept'), /^image\/\*$/);
    await page.setInputFiles('#camera-input', path.join(SHARED, 'images/motorcycle_left.png'));
    await page.waitForFunction(() => window.__netlens.imageSource?.name === 'motorcycle_left.png');
    await page.waitForFunction(() => window.__netlens.top5[0].class === 665);

    await page.tap('#tab-fooling');
    await noHorizontalScroll(page, 'fooling panel');
    await page.tap('#tab-classviz');
    assert.equal(await page.isVisible('#panel-classviz'), true);
    await noHorizontalScroll(page, 'class viz panel');
    assert.deepEqual(await smallControls(page), [], 'class viz: controls lower than 44 px');
    await page.fill('#viz-iters', '2');
    await page.press('#viz-iters', 'Tab');
    await page.tap('#viz-run');
    await page.waitForFunction(() => window.__netlens.vizDone > 0, null, { timeout: 300_000 });
    const live = await page.locator('#panel-classviz canvas').first().boundingBox();
    assert.ok(live.width >= 200 && live.x + live.width <= 390, `class viz canvas ${live.width}px wide at x ${live.x}`);
    await noHorizontalScroll(page, 'class viz panel after a run');
    await page.screenshot({ path: screenshotPath('phone-classviz'), fullPage: true });
    assert.deepEqual(problems.pageErrors, []);

    // Narrower and wider screens: the smallest phones and tablets both ways round.
    for (const [w, h] of [[360, 740], [768, 1024], [1024, 768]]) {
      await page.setViewportSize({ width: w, height: h });
      for (const tab of ['saliency', 'fooling', 'classviz']) {
        await page.tap(`#tab-${tab}`);
        await noHorizontalScroll(page, `${w}×${h}, ${tab}`);
      }
    }
  } finally {
    await phone.close();
  }
});

/** axe-core's serious and critical violations on the page as it is now. */
async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  return {
    bad: result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')})`),
    minor: result.violations.filter((v) => v.impact !== 'serious' && v.impact !== 'critical').map((v) => `${v.impact} ${v.id}`),
    passes: result.passes.length,
  };
}

test('accessibility: axe-core finds no serious or critical violation on any panel, the QR dialog or a phone', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, base);
  await waitReady(page);
  await waitImage(page, null);
  await page.waitForFunction(() => window.__netlens.saliencyClass !== null && window.__netlens.saliencyClass !== undefined, null, { timeout: 60_000 });
  const report = [];
  const tabs = await page.$$eval('[role=tab]', (ts) => ts.map((t) => t.id));
  assert.ok(tabs.length >= 3, `tabs: ${tabs}`);
  for (const tab of tabs) {
    await page.click(`#${tab}`);
    const r = await axeViolations(page);
    report.push(`${tab}: ${r.bad.length} serious/critical, ${r.minor.length} minor (${r.minor.join(', ')}), ${r.passes} rules passed`);
    assert.deepEqual(r.bad, [], `axe on ${tab}`);
  }
  await page.click('#show-qr');
  await page.waitForFunction(() => document.getElementById('qr-dialog').dataset.link);
  const q = await axeViolations(page);
  report.push(`QR dialog: ${q.bad.length} serious/critical, ${q.minor.length} minor`);
  assert.deepEqual(q.bad, [], 'axe with the QR dialog open');
  await page.keyboard.press('Escape');

  // Keyboard: Tab reaches the page's controls, each showing a visible focus ring.
  await page.click('#tab-saliency');
  await page.evaluate(() => document.activeElement?.blur());
  const visited = [];
  const unringed = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      // A visually hidden file input shows its ring on its label (:focus-within).
      const shown = e.type === 'file' ? e.closest('label') : e;
      const s = getComputedStyle(shown);
      return { id: e.id || e.getAttribute('data-sample') || e.tagName, ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 };
    });
    if (!f) continue;
    visited.push(f.id);
    if (!f.ring) unringed.push(f.id);
  }
  for (const id of ['copy-link', 'show-qr', 'file-input', 'coffee', 'tab-saliency']) {
    assert.ok(visited.includes(id), `Tab reaches ${id}; visited ${[...new Set(visited)].join(', ')}`);
  }
  assert.deepEqual([...new Set(unringed)], [], 'focused without a visible focus ring');
  // Canvases carry text: a role and a name saying the method and what they show.
  const unnamed = await page.$$eval('canvas', (cs) => cs.filter((c) => c.getAttribute('role') !== 'img' || !(c.getAttribute('aria-label') || c.getAttribute('aria-labelledby'))).map((c) => c.id));
  assert.deepEqual(unnamed, [], 'canvases without role="img" and a name');
  assert.deepEqual(problems.pageErrors, []);
  await page.close();

  const phone = await startPhone();
  try {
    const p = await openPage(phone.context, base);
    await waitReady(p.page);
    await waitImage(p.page, null);
    const r = await axeViolations(p.page);
    report.push(`phone: ${r.bad.length} serious/critical, ${r.minor.length} minor`);
    assert.deepEqual(r.bad, [], 'axe on a phone');
  } finally {
    await phone.close();
  }
  console.log(`# axe: ${report.join(' | ')}`);
});

test('offline: a new build replaces the saved copy; then with the network and the server gone, the page classifies a sample and an uploaded photo', TIMEOUT, async () => {
  const { page } = await openPage(browser.context, base);
  await waitReady(page);
  await page.waitForFunction(() => document.getElementById('offline-status').dataset.state === 'ready', null, { timeout: 120_000 });
  const oldBuild = await page.getAttribute('meta[name="netlens-build"]', 'content');
  assert.deepEqual(await page.evaluate(() => caches.keys()), [`netlens-${oldBuild}`]);

  // A new build (simulated: a new version stamp in sw.js and index.html): the next visit replaces the cache.
  // (Visits are page.goto: Playwright's reload bypasses the service worker, as Shift+reload does.)
  const newBuild = 'feedfacecafe0123';
  for (const f of ['sw.js', 'index.html']) {
    const p = path.join(dist, f);
    writeFileSync(p, readFileSync(p, 'utf8').replaceAll(oldBuild, newBuild));
  }
  await page.goto(base);
  let keys = [];
  for (let i = 0; i < 240 && !(keys.length === 1 && keys[0] === `netlens-${newBuild}`); i++) {
    await new Promise((r) => setTimeout(r, 500));
    keys = await page.evaluate(() => caches.keys());
  }
  const workers = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    return JSON.stringify({ installing: reg?.installing?.state, waiting: reg?.waiting?.state, active: reg?.active?.state });
  });
  assert.deepEqual(keys, [`netlens-${newBuild}`], `the new build's cache replaced the old one (service workers: ${workers})`);
  await page.goto(base);
  await waitReady(page);
  await page.waitForFunction(() => document.getElementById('offline-status').dataset.state === 'ready', null, { timeout: 120_000 });
  assert.equal(await page.getAttribute('meta[name="netlens-build"]', 'content'), newBuild);

  // Offline: the server is gone too, so nothing can come from the network.
  stopStatic();
  await browser.context.setOffline(true);
  try {
    await page.goto(base);
    await waitReady(page);
    assert.equal(await page.getAttribute('meta[name="netlens-build"]', 'content'), newBuild);
    await page.click('[data-sample="rocket"]');
    await waitImage(page, 'rocket');
    assert.equal(await page.evaluate(() => window.__netlens.top5[0].class), 657);
    await page.setInputFiles('#file-input', path.join(SHARED, 'images/coffee.png'));
    await page.waitForFunction(() => window.__netlens.imageSource?.name === 'coffee.png');
    await page.waitForFunction(() => window.__netlens.top5[0].class === 967);
    assert.equal(await offlineState(page), 'ready');
    await page.screenshot({ path: screenshotPath('offline') });
  } finally {
    await browser.context.setOffline(false);
    await page.close();
  }
});
