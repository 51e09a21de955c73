// Shared plumbing for the browser tests: the page's own server, the system Chromium, the native CLI.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = process.env.NETLENS_SHARED || path.resolve(REPO, '../shared');
export const OUT = path.join(REPO, 'tests/browser/out');
export const CLI = path.join(REPO, 'target/release/netlens');
export const MODEL = path.join(REPO, 'assets/models/squeezenet1_1.onnx');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

/**
 * Starts www/serve.py on a free port; resolves to {url, stop}. Like `make run`, it sends the cross-origin
 * isolation headers (the page runs the threaded build) unless `isolated` is false.
 */
export function startServer({ isolated = true } = {}) {
  return new Promise((resolve, reject) => {
    const args = [path.join(REPO, 'www/serve.py'), '--port', '0', ...(isolated ? [] : ['--no-isolation'])];
    const proc = spawn('python3', args, {
      env: { ...process.env, NETLENS_SERVE_QUIET: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/serving on (http:\/\/\S+)/);
      if (m) resolve({ url: m[1], stop: () => proc.kill() });
    });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
}

/**
 * A fresh browser profile each time, so no cache or storage leaks between runs. `args`: extra Chromium switches
 * (a fake camera: tests/browser/live.test.mjs); `options`: context options that replace the defaults (viewport…).
 */
export async function startBrowser({ args = [], ...options } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'netlens-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: [...ARGS, ...args], viewport: { width: 1280, height: 720 },
    acceptDownloads: true, ...options,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The page's server (www/serve.py, cross-origin isolated like `make run`) and a fresh Chromium for one test file:
 * registers the file's before hook that starts both and its after hook that stops both. The returned `server`
 * ({url, stop}) and `browser` ({context, close}) are filled in by that hook, so read them inside tests only.
 * `setup(browser)`, when given, runs in the same hook once both are up (node:test runs a file's top-level before
 * hooks as soon as they are registered, so a separate hook could not count on the browser being there).
 */
export function suite({ setup } = {}) {
  const server = {};
  const browser = {};
  before(async () => {
    Object.assign(server, await startServer());
    Object.assign(browser, await startBrowser());
    await setup?.(browser);
  });
  after(async () => {
    await browser.close?.();
    server.stop?.();
  });
  return { server, browser };
}

/** Runs fn(context) in a browser of its own (a fresh profile, so nothing of the suite's), closed whatever happens. */
export async function inFreshBrowser(fn) {
  const fresh = await startBrowser();
  try {
    return await fn(fresh.context);
  } finally {
    await fresh.close();
  }
}

/** A page that records uncaught exceptions and dialogs (an injected alert() would open one). */
export async function openPage(context, url) {
  const page = await context.newPage();
  const problems = { pageErrors: [], dialogs: [], consoleErrors: [] };
  page.on('pageerror', (e) => problems.pageErrors.push(String(e)));
  page.on('dialog', (d) => {
    problems.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.consoleErrors.push(m.text());
  });
  if (url) await page.goto(url);
  return { page, problems };
}

export async function waitReady(page, timeout = 120_000) {
  await page.waitForFunction(() => window.__netlens?.ready === true, null, { timeout });
}

/** Waits until the input is this sample (or any image when id is null) and its top-5 is shown. */
export async function waitImage(page, id, timeout = 60_000) {
  await page.waitForFunction((want) => {
    const h = window.__netlens;
    return h?.top5 && h.imageSource && (want === null || h.imageSource.id === want);
  }, id, { timeout });
}

export function screenshotPath(name) {
  mkdirSync(OUT, { recursive: true });
  return path.join(OUT, `${name}.png`);
}

/** float32 little-endian .npy (version 1 or 2, C order), as written by the CLI's --npy. */
export function readNpyF32(file) {
  const b = readFileSync(file);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file} is not an npy file`);
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = b.toString('latin1', major === 1 ? 10 : 12, start);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${file}: expected little-endian float32 in C order, header ${header}`);
  }
  const data = b.subarray(start);
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
}

export function runCli(args) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`make cli\` (cargo build --release)`);
  return execFileSync(CLI, [...args, '--model', MODEL], { encoding: 'utf8', timeout: 300_000 });
}

/** Decodes a PNG to RGBA in the page's browser (no color management), returning a plain array. */
export async function decodePngInPage(page, bytes) {
  return page.evaluate(async (b64) => {
    const bin = atob(b64);
    const u8 = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
    const bmp = await createImageBitmap(new Blob([u8], { type: 'image/png' }),
      { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(bmp, 0, 0);
    return Array.from(ctx.getImageData(0, 0, bmp.width, bmp.height).data);
  }, Buffer.from(bytes).toString('base64'));
}

/**
 * Waits for the page's saliency map of chelsea for class 285 and checks it against the native CLI's (written to
 * `scratch`): the page and the CLI are the same crate, so they agree to float rounding.
 */
export async function assertSaliencyAsCli(page, scratch) {
  await page.waitForFunction(() => window.__netlens.saliencyMap && window.__netlens.saliencyClass === 285);
  const ours = await page.evaluate(() => Array.from(window.__netlens.saliencyMap));
  const npy = path.join(scratch, 'chelsea_saliency.npy');
  runCli(['saliency', path.join(SHARED, 'images/chelsea.png'), '--class', '285', '-o', path.join(scratch, 's.png'), '--npy', npy]);
  const ref = readNpyF32(npy);
  assert.equal(ours.length, ref.length);
  const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const worst = ours.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
  assert.ok(scale > 0, 'the reference map is not all zero');
  assert.ok(worst / scale <= 1e-4, `page vs CLI saliency: max |diff| / max |ref| = ${worst / scale}`);
}

/** Types each [id, value] into its form field and sends the change event the page listens for. */
export async function setFields(page, fields) {
  for (const [id, v] of fields) {
    await page.fill(`#${id}`, v);
    await page.dispatchEvent(`#${id}`, 'change');
  }
}

/** Types a query in a class search box and takes the best match with Enter. */
export async function pickClass(page, prefix, query, expectClass) {
  await page.fill(`#${prefix}-search`, query);
  await page.press(`#${prefix}-search`, 'Enter');
  await page.waitForFunction(([p, c]) => document.getElementById(`${p}-chosen`).textContent.includes(`#${c})`),
    [prefix, expectClass], { timeout: 10_000 });
}

/** Runs the class visualization as its form stands; the pixels' hash and the RGBA pixels it drew. */
export async function runViz(page) {
  const before = await page.evaluate(() => window.__netlens.vizDone);
  await page.click('#viz-run');
  await page.waitForFunction((n) => window.__netlens.vizDone > n && window.__netlens.hashes.viz, before, { timeout: 300_000 });
  return page.evaluate(() => ({ hash: window.__netlens.hashes.viz, rgba: Array.from(window.__netlens.vizRgba) }));
}

/** The method registry's schema as the native CLI prints it (`netlens schema`): the Rust side of every check. */
export function loadSchema() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`make cli\` (cargo build --release)`);
  return JSON.parse(execFileSync(CLI, ['schema'], { encoding: 'utf8', timeout: 60_000 }));
}

/**
 * Makes www/share.js check settings and model choices with the core's validators, as the page does: the page's
 * wasm (pkg/netlens_bg.wasm, `checkSetting`, `checkChoice`), instantiated here in Node.
 */
export async function useRegistryValidator() {
  const wasm = path.join(REPO, 'pkg/netlens_bg.wasm');
  if (!existsSync(wasm)) throw new Error(`${wasm} is missing: run \`make wasm-single\``);
  const core = await import(path.join(REPO, 'pkg/netlens.js'));
  core.initSync({ module: readFileSync(wasm) });
  const { setValidator } = await import('../../www/share.js');
  setValidator(core.checkSetting, core.checkChoice);
}

/** The setting of a share-link key ("viz.iters") in a schema: {method, setting}. */
export function linkSetting(schema, linkKey) {
  const [prefix, link] = linkKey.split('.');
  const method = schema.methods.find((m) => m.link_prefix === prefix);
  const setting = method?.settings.find((s) => (s.link ?? s.key) === link);
  if (!setting) throw new Error(`the schema has no setting for the link key ${linkKey}`);
  return { method, setting };
}
