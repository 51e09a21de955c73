// The published build as a class uses it: the release's download on a plain static server under a sub-path, share
// links and their QR codes, a phone, accessibility (axe-core), threads without headers and offline use. The site
// is built fresh as `make release-archive` builds it (scripts/make-dist.py into a temporary folder, then
// scripts/release-archive.py), the .tar.gz is unpacked and served by `python3 -m http.server` (no COOP/COEP
// headers) from two levels up, so the page lives at http://127.0.0.1:PORT/course/netlens/ on a port of its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, renameSync, cpSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
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
// make-dist.py's folder and release-archive.py's files, outside what the server serves.
const build = mkdtempSync(path.join(tmpdir(), 'netlens-release-'));
const site = path.join(build, 'site');
const release = path.join(build, 'release');
const VERSION = '0.0.0-classroom';
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
  execFileSync('python3', [path.join(REPO, 'scripts/make-dist.py'), '--out', site], { cwd: REPO, stdio: 'pipe' });
  execFileSync('python3', [path.join(REPO, 'scripts/release-archive.py'), '--dist', site, '--version', VERSION, '--out', release],
    { cwd: REPO, stdio: 'pipe' });
  mkdirSync(path.dirname(dist), { recursive: true });
  execFileSync('tar', ['-xzf', path.join(release, `netlens-${VERSION}-site.tar.gz`), '-C', path.dirname(dist)]);
  renameSync(path.join(path.dirname(dist), `netlens-${VERSION}`), dist);
  server = await startStatic(await freePort());
  base = `http://127.0.0.1:${server.port}${SUB}`;
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  stopStatic();
  rmSync(root, { recursive: true, force: true });
  rmSync(build, { recursive: true, force: true });
});

/** Every file under dir: {relative path: sha256}. */
function digests(dir, prefix = '') {
  const out = {};
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) Object.assign(out, digests(full, `${prefix}${name}/`));
    else out[`${prefix}${name}`] = createHash('sha256').update(readFileSync(full)).digest('hex');
  }
  return out;
}

/** An archive's files, read by Python's own zipfile / tarfile: {path: sha256}, and each entry's mode. */
function archiveDigests(file) {
  const py = `
import hashlib, json, sys, tarfile, zipfile
f = sys.argv[1]
out, modes = {}, {}
if f.endswith('.zip'):
    z = zipfile.ZipFile(f)
    for i in z.infolist():
        modes[i.filename.rstrip('/')] = oct(i.external_attr >> 16)
        if not i.is_dir(): out[i.filename] = hashlib.sha256(z.read(i)).hexdigest()
else:
    t = tarfile.open(f)
    for m in t.getmembers():
        modes[m.name] = oct(m.mode | (0o40000 if m.isdir() else 0o100000))
        if m.isfile(): out[m.name] = hashlib.sha256(t.extractfile(m).read()).hexdigest()
print(json.dumps({'files': out, 'modes': sorted(set(modes.values()))}))`;
  return JSON.parse(execFileSync('python3', ['-c', py, file], { encoding: 'utf8', maxBuffer: 1 << 26 }));
}

test('the release archive: .tar.gz and .zip hold exactly make dist\'s folder under netlens-VERSION/, SHA256SUMS checks both', () => {
  const want = digests(site);
  assert.ok(want['index.html'] && want['sw.js'] && want['.nojekyll'] !== undefined && want['pkg/threads/netlens_bg.wasm'],
    `the site has its page, service worker, .nojekyll and threaded build (${Object.keys(want).length} files)`);
  const prefixed = Object.fromEntries(Object.entries(want).map(([k, v]) => [`netlens-${VERSION}/${k}`, v]));
  for (const ext of ['tar.gz', 'zip']) {
    const got = archiveDigests(path.join(release, `netlens-${VERSION}-site.${ext}`));
    assert.deepEqual(got.files, prefixed, `${ext}: the same files and bytes as make dist's folder`);
    assert.deepEqual(got.modes, ['0o100644', '0o40755'], `${ext}: files 644, folders 755`);
  }
  assert.deepEqual(readdirSync(release).sort(), ['SHA256SUMS', `netlens-${VERSION}-site.tar.gz`, `netlens-${VERSION}-site.zip`]);
  const sums = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: release, encoding: 'utf8' });
  assert.equal(sums, `netlens-${VERSION}-site.tar.gz: OK\nnetlens-${VERSION}-site.zip: OK\n`);
  // Made again from the same folder: the same bytes (reproducible), whatever the files' own times.
  const again = path.join(build, 'again');
  execFileSync('python3', [path.join(REPO, 'scripts/release-archive.py'), '--dist', site, '--version', VERSION, '--out', again],
    { cwd: REPO, stdio: 'pipe' });
  assert.equal(readFileSync(path.join(again, 'SHA256SUMS'), 'utf8'), readFileSync(path.join(release, 'SHA256SUMS'), 'utf8'));
});

test('release-archive.py refuses what is not make dist\'s folder and a version that cannot name a file, saying why', () => {
  const refuse = (args) => {
    try {
      execFileSync('python3', [path.join(REPO, 'scripts/release-archive.py'), ...args], { cwd: REPO, stdio: 'pipe', encoding: 'utf8' });
    } catch (e) {
      return { status: e.status, stderr: e.stderr };
    }
    return { status: 0, stderr: '' };
  };
  const out = path.join(build, 'refused');
  let r = refuse(['--dist', path.join(build, 'no-such-folder'), '--version', '1.0.0', '--out', out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^make release-archive: .*no-such-folder does not exist: run `make dist` first\n$/);
  const empty = path.join(build, 'empty');
  mkdirSync(empty, { recursive: true });
  r = refuse(['--dist', empty, '--version', '1.0.0', '--out', out]);
  assert.match(r.stderr, /has no index\.html: it is not `make dist`'s folder/);
  for (const bad of ['../x', 'a/b', '', '-1']) {
    r = refuse(['--dist', site, `--version=${bad}`, '--out', out]);
    assert.equal(r.status, 1, `version ${JSON.stringify(bad)}`);
    assert.match(r.stderr, /make release-archive: version .*: use letters, digits/, `version ${JSON.stringify(bad)}: ${r.stderr}`);
  }
  r = refuse(['--dist', site, '--version', '1.0.0', '--out', path.join(site, 'inside')]);
  assert.match(r.stderr, /is inside the site folder/);
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

/**
 * Waits until the page has settled on its build (www/isolation.js): cross-origin isolated through the service
 * worker, or staying single-threaded and saying why; a first visit gets there through its one reload. Then ready.
 */
async function settle(page) {
  await page.waitForFunction(() => ['isolated', 'refused', 'not-needed'].includes(window.__netlens?.isolation), null,
    { timeout: 180_000 });
  await waitReady(page);
}

/** The main frame's navigations, each with whether its document came from the service worker and its COOP header. */
function recordNavigations(page) {
  const navs = [];
  page.on('response', async (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) {
      navs.push({ url: r.url(), fromServiceWorker: r.fromServiceWorker(), coop: (await r.allHeaders())['cross-origin-opener-policy'] ?? null });
    }
  });
  return navs;
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
  assert.ok(sw.includes('const ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"};'),
    'sw.js adds www/serve.py\'s isolation headers');
  // The threaded build's headers, for hosts that read _headers; this plain server sends none: the service worker does.
  const headers = readFileSync(path.join(dist, '_headers'), 'utf8');
  assert.match(headers, /^\/\*\n {2}Cross-Origin-Opener-Policy: same-origin\n {2}Cross-Origin-Embedder-Policy: require-corp\n$/);
  assert.match(readFileSync(path.join(dist, 'LICENSES/README.txt'), 'utf8'), /tract-onnx 0\.\d+\.\d+\t.*(MIT|Apache)/);

  const { page, problems } = await openPage(browser.context);
  const seen = recordRequests(page);
  const navs = recordNavigations(page);
  await page.goto(base);
  // Threads without headers: the host's copy first (no COOP/COEP), then once the service worker has taken over,
  // exactly one reload, to the worker's copy with the headers: cross-origin isolated, the threaded build.
  await settle(page);
  // The reload may cut off the first copy's downloads: those (and only those) may end as net::ERR_ABORTED.
  const failedBeforeReload = seen.failed.splice(0).filter((f) => !f.startsWith('net::ERR_ABORTED '));
  const after = await page.evaluate(() => ({
    isolated: window.crossOriginIsolated, isolation: window.__netlens.isolation, build: window.__netlens.build,
    cores: navigator.hardwareConcurrency,
  }));
  assert.equal(after.isolation, 'isolated', JSON.stringify(after));
  assert.equal(after.isolated, true);
  assert.deepEqual([after.build.build, after.build.threads], ['threads', Math.min(after.cores, 8)], JSON.stringify(after));
  assert.match(await page.textContent('#model-facts'), new RegExp(`${after.build.threads} threads`));
  await new Promise((r) => setTimeout(r, 3000)); // no further reload comes
  assert.deepEqual(navs.map((n) => [n.fromServiceWorker, n.coop]), [[false, null], [true, 'same-origin']],
    `navigations: ${JSON.stringify(navs)}`);
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
  assert.deepEqual([...failedBeforeReload, ...seen.failed], [], 'failed requests');
  assert.deepEqual(seen.csp, [], 'Content-Security-Policy violations');
  assert.deepEqual(problems.pageErrors, []);

  // The service worker has saved the whole build, and the page says so.
  await page.waitForFunction(() => document.getElementById('offline-status').dataset.state === 'ready', null, { timeout: 120_000 });
  assert.match(await page.textContent('#offline-status'), /Ready for offline use/);
  await page.close();
});

test('a share link from the sub-path: its length in the QR dialog, its QR code decodes to exactly it, it reproduces the run in a fresh browser', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, base);
  await settle(page);
  assert.equal(await page.evaluate(() => window.__netlens.build.build), 'threads', 'a later visit: isolated at once');
  await page.click('[data-sample="rocket"]');
  await waitImage(page, 'rocket');
  await page.click('#tab-classviz');
  await page.fill('#viz-seed', '7');
  await page.press('#viz-seed', 'Tab');
  const hash = await runViz(page, 4);
  const url = await page.inputValue('#share-url');
  assert.ok(url.startsWith(`${base}#`), `link ${url} starts at the page's own address ${base}`);
  assert.ok(url.length <= 300, `a sample image's link is short: ${url.length} characters`);
  console.log(`# share link: ${url.length} characters: ${url}`);

  // "Show QR": a modal dialog, most of the screen, reached and closed with the keyboard.
  await page.focus('#show-qr');
  await page.keyboard.press('Enter');
  await page.waitForFunction((u) => document.getElementById('qr-dialog').dataset.link === u, url, { timeout: 60_000 });
  assert.equal((await page.textContent('#qr-length')).trim(), `${url.length} characters`, 'the dialog gives the link\'s length');
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
    await settle(other.page); // the first visit's reload keeps the link (its state is in the address)
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

test('a QR code for an uploaded image carries a smaller copy of it (the full link is too long for one)', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, base);
  await settle(page);
  await waitImage(page, null);
  await page.setInputFiles('#file-input', path.join(SHARED, 'images/astronaut.png'));
  await page.waitForFunction(() => window.__netlens.imageSource?.name === 'astronaut.png');
  await page.waitForFunction(() => document.getElementById('share-url').value.includes('jpeg'));
  const url = await page.inputValue('#share-url');
  assert.ok(url.length > 2953, `an image link is long (${url.length})`);
  await page.click('#show-qr');
  // The page re-encodes the photo smaller until the link fits, and says so (tests/browser/ux.test.mjs decodes it).
  await page.waitForFunction(() => document.getElementById('qr-note').textContent.includes('copy of your photo'));
  await page.waitForSelector('#qr-image:not([hidden])', { timeout: 30_000 });
  const small = await page.inputValue('#share-url');
  assert.ok(Buffer.byteLength(small) <= 2953, `the QR's link fits (${small.length})`);
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
    await settle(page);
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
  await settle(page);
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
    await settle(p.page);
    await waitImage(p.page, null);
    const r = await axeViolations(p.page);
    report.push(`phone: ${r.bad.length} serious/critical, ${r.minor.length} minor`);
    assert.deepEqual(r.bad, [], 'axe on a phone');
  } finally {
    await phone.close();
  }
  console.log(`# axe: ${report.join(' | ')}`);
});

test('threads without headers, refused: a browser that does not isolate the page gets one reload at most, stays on the single build and says so', TIMEOUT, async () => {
  // Such a browser, simulated: a copy of the site whose service worker says it isolates but adds no headers.
  const refusing = path.join(root, 'course', 'refusing');
  cpSync(dist, refusing, { recursive: true });
  const swFile = path.join(refusing, 'sw.js');
  const served = 'return isolated(hit || await fetch(req));';
  const sw = readFileSync(swFile, 'utf8');
  assert.equal(sw.split(served).length, 2, 'sw.js serves every response through isolated()');
  writeFileSync(swFile, sw.replace(served, 'return hit || fetch(req);'));
  const url = `http://127.0.0.1:${server.port}/course/refusing/`;
  await inFreshBrowser(async (context) => {
    const { page, problems } = await openPage(context);
    const navs = recordNavigations(page);
    await page.goto(url);
    await settle(page);
    await new Promise((r) => setTimeout(r, 3000)); // no further reload comes
    const got = await page.evaluate(() => ({
      isolated: window.crossOriginIsolated, isolation: window.__netlens.isolation, build: window.__netlens.build,
      status: document.getElementById('threads-status').textContent,
    }));
    assert.equal(got.isolated, false);
    assert.equal(got.isolation, 'refused', JSON.stringify(got));
    assert.deepEqual([got.build.build, got.build.threads], ['single', 1]);
    assert.match(got.status, /^One thread: this browser did not make the page cross-origin isolated/);
    assert.deepEqual(navs.map((n) => n.fromServiceWorker), [false, true], `one reload: ${JSON.stringify(navs)}`);
    await page.click('[data-sample="coffee"]');
    await waitImage(page, 'coffee');
    assert.equal(await page.evaluate(() => window.__netlens.top5[0].class), 967);
    await page.locator('#model-status').screenshot({ path: screenshotPath('threads-refused') });
    assert.deepEqual(problems.pageErrors, []);

    // Another tab later: the browser is remembered, so no reload at all.
    const second = await openPage(context);
    const navs2 = recordNavigations(second.page);
    await second.page.goto(url);
    await settle(second.page);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await second.page.evaluate(() => window.__netlens.isolation), 'refused');
    assert.equal(navs2.length, 1, `no reload: ${JSON.stringify(navs2)}`);
    assert.deepEqual(second.problems.pageErrors, []);
  });
  rmSync(refusing, { recursive: true, force: true });
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
    // Chromium 156 sometimes keeps the new worker installed but waiting (skipWaiting or not) while the old one
    // still has events in flight from the page it serves; one more visit, as a student reloading, lets it
    // activate. Seen once in five runs of this suite on 2026-12-07; without the visit it waited past 120 s.
    if (i === 60 || i === 140) await page.goto(base);
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
