// Live camera mode (issue 26, www/live.js) in a real Chromium with its fake camera: a .y4m the test writes from the
// sample images (chelsea for 1 s, then the rocket for 2 s, looped by the browser) plays as the camera. The top-1
// follows the switch, the overlay is drawn, fps and latency show; freeze hands the frame to the page (Saliency, the
// share link); the camera stops on a tab switch, a hidden page, an ended stream; permission denied, no camera and an
// insecure page each say one sentence and the page keeps working; on a phone live mode fits and is axe-clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  SHARED, startServer, startBrowser, openPage, waitReady, waitImage, screenshotPath,
} from './helpers.mjs';
import { squareRgb, writeY4m } from './fake-camera.mjs';

const TIMEOUT = { timeout: 600_000 };
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const CATS = [281, 282, 283, 284, 285]; // tabby, tiger cat, Persian, Siamese, Egyptian cat
const MISSILE = 657; // the rocket sample's class (images/PROVENANCE.md)
const SIDE = 256; // the fake camera's frames: SIDE×SIDE, so the model's crop is torchvision's centre 224 of 256
const FPS = 15;
const FAKE_UI = '--use-fake-ui-for-media-stream';

let server;
let scratch;
let y4m;
let means; // {chelsea: [r, g, b], rocket: [r, g, b]}: the mean colour of each sample's crop

/** The mean colour of the centre 224×224 of a SIDE×SIDE RGB frame: what the model's crop of it looks like. */
function cropMean(rgb) {
  const off = (SIDE - 224) / 2;
  const m = [0, 0, 0];
  for (let yy = off; yy < off + 224; yy++) {
    for (let xx = off; xx < off + 224; xx++) for (let c = 0; c < 3; c++) m[c] += rgb[(yy * SIDE + xx) * 3 + c];
  }
  return m.map((x) => x / 224 / 224);
}

before(async () => {
  server = await startServer();
  scratch = mkdtempSync(path.join(tmpdir(), 'netlens-live-'));
  const plain = await startBrowser();
  try {
    const page = await plain.context.newPage();
    const chelsea = await squareRgb(page, path.join(SHARED, 'images/chelsea.png'), SIDE);
    const rocket = await squareRgb(page, path.join(SHARED, 'images/rocket.jpg'), SIDE);
    means = { chelsea: cropMean(chelsea), rocket: cropMean(rocket) };
    y4m = path.join(scratch, 'camera.y4m');
    writeY4m(y4m, [{ rgb: chelsea, seconds: 1 }, { rgb: rocket, seconds: 2 }], { side: SIDE, fps: FPS });
  } finally {
    await plain.close();
  }
});

after(() => {
  server?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const camera = () => ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`];

/** Which sample a live frame showed: the one whose crop's mean colour is nearer. */
function shown(frame) {
  const d = (m) => m.reduce((s, v, i) => s + Math.abs(v - frame.mean[i]), 0);
  return d(means.chelsea) < d(means.rocket) ? 'chelsea' : 'rocket';
}

async function startLive(page, frames = 3) {
  const before = await page.evaluate(() => window.__netlens.live.frames.length);
  await page.click('#live-button');
  await page.waitForFunction((n) => window.__netlens.live.frames.length >= n, before + frames, { timeout: 60_000 });
}

async function framesFor(page, ms) {
  const from = await page.evaluate(() => performance.now());
  await page.waitForTimeout(ms);
  return page.evaluate((t) => window.__netlens.live.frames.filter((f) => f.at >= t), from);
}

/** The engine worker's wasm memory (bytes; it only grows). */
const wasmMemory = (page) => page.evaluate(async () => (await (await import(new URL('www/engine.js', location.href).href)).request({ type: 'memory' })).bytes);

/**
 * Watches the camera itself (every frame of the live <video>, as the page's own frame loop sees them): the capture
 * times at which its picture turned from chelsea to the rocket go in window.__switches. The two differ in their
 * mean red (chelsea ~148, the rocket ~48).
 */
const watchSwitches = (page) => page.evaluate(() => {
  window.__switches = [];
  const v = document.getElementById('live-video');
  const ctx = new OffscreenCanvas(8, 8).getContext('2d', { willReadFrequently: true });
  let prev = null;
  const seen = (now, meta) => {
    ctx.drawImage(v, 0, 0, 8, 8);
    const d = ctx.getImageData(0, 0, 8, 8).data;
    let red = 0;
    for (let i = 0; i < d.length; i += 4) red += d[i] / 64;
    const kind = red > 98 ? 'chelsea' : 'rocket';
    if (prev === 'chelsea' && kind === 'rocket') window.__switches.push(meta.captureTime ?? now);
    prev = kind;
    if (v.srcObject) v.requestVideoFrameCallback(seen);
  };
  v.requestVideoFrameCallback(seen);
});

/** Keeps the live <video>'s stream (window.__liveStream) so that its tracks can be checked once live mode let go of it. */
const holdStream = (page) => page.evaluate(() => {
  window.__liveStream = document.getElementById('live-video').srcObject;
  return window.__liveStream.getTracks().filter((t) => t.readyState === 'live').length;
});
/** The held stream's tracks still running (0 once live mode stopped them), and whether the <video> let go of it. */
const liveTracks = (page) => page.evaluate(() => ({
  running: window.__liveStream.getTracks().filter((t) => t.readyState === 'live').length,
  released: document.getElementById('live-video').srcObject === null,
}));
const STOPPED = { running: 0, released: true };

test('live camera: top-1 follows chelsea → rocket within 1 s, overlay drawn, fps and latency shown, methods and class', TIMEOUT, async () => {
  const b = await startBrowser({ args: [...camera(), FAKE_UI] });
  try {
    const { page, problems } = await openPage(b.context, `${server.url}/?test`);
    await waitReady(page);
    await waitImage(page, 'chelsea');
    await startLive(page);
    assert.equal(await page.inputValue('#live-method'), 'saliency', 'saliency is the first map offered');
    assert.equal(await page.isHidden('#crop-figure'), true, 'the live stage takes the crop preview’s place');
    await watchSwitches(page);
    const frames = await framesFor(page, 7000); // two loops of the fake camera (3 s each)
    const switches = await page.evaluate(() => window.__switches);
    assert.ok(frames.length >= 10, `only ${frames.length} frames in 7 s`);
    // Every frame: the right class for what the camera showed, and a saliency overlay with content.
    for (const f of frames) {
      assert.equal(f.method, 'saliency');
      if (shown(f) === 'chelsea') assert.ok(CATS.includes(f.top1), `a chelsea frame's top-1 is ${f.top1}`);
      else assert.equal(f.top1, MISSILE, 'a rocket frame’s top-1');
      assert.ok(f.overlaySpread > 60, `overlay spread ${f.overlaySpread}`);
      assert.notEqual(f.overlayHash, f.cropHash);
    }
    // The switch (the capture time of the camera's first rocket frame): a drawn missile top-1 within 1 s.
    const end = frames.at(-1).at;
    const delays = switches.filter((t) => t >= frames[0].at && t + 1000 <= end).map((t) => {
      const first = frames.find((f) => f.at > t && f.top1 === MISSILE);
      return first ? first.at - t : Infinity;
    });
    assert.ok(delays.length >= 1, `no chelsea → rocket switch seen (switches at ${switches.map(Math.round)}, frames ${frames[0].at}–${end})`);
    for (const d of delays) assert.ok(d <= 1000, `top-1 became the missile ${d.toFixed(0)} ms after the switch`);
    // What the user sees: the canvas is not blank, fps and latency are shown.
    const canvas = await page.evaluate(() => {
      const c = document.getElementById('live-canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let lo = 255;
      let hi = 0;
      for (let i = 0; i < d.length; i++) if (i % 4 !== 3) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
      return { spread: hi - lo, w: c.width };
    });
    assert.ok(canvas.spread > 60, `the live canvas's spread is ${canvas.spread}`);
    const stats = await page.textContent('#live-stats');
    const m = stats.match(/^(\d+) fps · (\d+) ms latency$/);
    assert.ok(m && Number(m[1]) > 0 && Number(m[2]) > 0, `stats line “${stats}”`);
    const top = await page.textContent('#top5 li .name');
    assert.ok(top.length > 0);
    await page.screenshot({ path: screenshotPath('live-desktop') });
    await page.locator('.input-side').screenshot({ path: screenshotPath('live-input-side') }); // docs/live.png
    const lat = frames.map((f) => f.latencyMs).sort((a, c) => a - c);
    const eng = frames.map((f) => f.engineMs).sort((a, c) => a - c);
    console.log(`# live saliency: ${frames.length} frames in 7 s, latency median ${lat[lat.length >> 1].toFixed(0)} ms, engine median ${eng[eng.length >> 1].toFixed(0)} ms, switch delays ${delays.map((d) => d.toFixed(0)).join(', ')} ms, stats “${stats}”`);

    // The method chooser is the registry's (passes ≤ 2, with an overlay): Grad-CAM is in, SmoothGrad is not.
    const options = await page.$$eval('#live-method option', (os) => os.map((o) => o.value));
    const schema = await page.evaluate(() => window.__netlens.schema.methods);
    const notHere = await page.evaluate(() => window.__netlens.model.info.not_for_model);
    const want = schema.filter((x) => x.needs_image && x.passes !== null && x.passes <= 2
      && x.outputs.some((o) => o.kind === 'overlay') && !(x.id in notHere)).map((x) => x.id);
    for (const id of ['rollout', 'gradrollout', 'attention']) assert.ok(!options.includes(id), `${id}: not for SqueezeNet`);
    assert.deepEqual(options, ['', ...want]);
    for (const id of ['saliency', 'gradcam', 'ixg', 'gbp']) assert.ok(options.includes(id), `${id} offered`);
    for (const id of ['smoothgrad', 'ig', 'occlusion', 'ggc', 'fooling']) assert.ok(!options.includes(id), `${id} not offered`);
    await page.selectOption('#live-method', 'gradcam');
    await page.waitForFunction(() => window.__netlens.live.frames.slice(-2).every((f) => f.method === 'gradcam'), null, { timeout: 20_000 });
    const cam = await page.evaluate(() => window.__netlens.live.frames.at(-1));
    assert.ok(cam.overlaySpread > 60);
    // Top-5 only: no overlay, the crop itself drawn.
    await page.selectOption('#live-method', '');
    await page.waitForFunction(() => window.__netlens.live.frames.slice(-2).every((f) => f.method === null), null, { timeout: 20_000 });
    assert.equal(await page.evaluate(() => window.__netlens.live.frames.at(-1).overlayHash), null);
    // A chosen class: the map explains it whatever the frame shows.
    await page.selectOption('#live-method', 'saliency');
    await page.fill('#live-search', 'tabby');
    await page.press('#live-search', 'Enter');
    await page.waitForFunction(() => window.__netlens.live.frames.slice(-2).every((f) => f.method === 'saliency' && f.class === 281), null, { timeout: 20_000 });
    await page.click('#live-predicted');
    await page.waitForFunction(() => window.__netlens.live.frames.at(-1).class === window.__netlens.live.frames.at(-1).top1, null, { timeout: 20_000 });

    // Memory stays flat: after every method ran once above, more frames (saliency, then Grad-CAM) do not grow it.
    const memoryBefore = await wasmMemory(page);
    await framesFor(page, 3000);
    await page.selectOption('#live-method', 'gradcam');
    await framesFor(page, 2000);
    await page.selectOption('#live-method', 'saliency');
    const memoryAfter = await wasmMemory(page);
    const frameCount = await page.evaluate(() => window.__netlens.live.frames.length);
    assert.ok(memoryAfter <= 1.1 * memoryBefore, `wasm memory ${memoryBefore} → ${memoryAfter} bytes over ${frameCount} frames`);

    // Stops cleanly: another tab, a hidden page, an ended stream; each time the tracks stop.
    assert.ok((await holdStream(page)) > 0);
    await page.click('#tab-fooling');
    await page.waitForFunction(() => window.__netlens.live.stopped.some((r) => /another tab/.test(r ?? '')));
    assert.deepEqual(await liveTracks(page), STOPPED);
    assert.equal(await page.isHidden('#live'), true);
    await page.click('#tab-saliency');
    await startLive(page);
    await holdStream(page);
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { value: true, configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForFunction(() => window.__netlens.live.stopped.some((r) => /page was hidden/.test(r ?? '')));
    assert.deepEqual(await liveTracks(page), STOPPED);
    await page.evaluate(() => {
      delete document.hidden;
    });
    await startLive(page);
    await holdStream(page);
    await page.evaluate(() => document.getElementById('live-video').srcObject.getVideoTracks()[0].dispatchEvent(new Event('ended')));
    await page.waitForFunction(() => window.__netlens.live.errors.some((e) => e.kind === 'ended'));
    const ended = await page.evaluate(() => window.__netlens.messages.filter((x) => x.kind === 'error').map((x) => x.text));
    assert.ok(ended.some((t) => /camera stream ended/.test(t)), ended.join(' | '));
    assert.deepEqual(await liveTracks(page), STOPPED);
    // Nothing is left running in the worker: frames stop arriving.
    const n = await page.evaluate(() => window.__netlens.live.frames.length);
    await page.waitForTimeout(800);
    assert.equal(await page.evaluate(() => window.__netlens.live.frames.length), n);
    assert.deepEqual(problems.pageErrors, []);
  } finally {
    await b.close();
  }
});

test('freeze: the frozen frame becomes the page’s image, in Saliency and in a share link; a model switch stops live mode', TIMEOUT, async () => {
  const b = await startBrowser({ args: [...camera(), FAKE_UI] });
  try {
    const { page, problems } = await openPage(b.context, `${server.url}/?test`);
    await waitReady(page);
    await waitImage(page, 'chelsea');
    await page.click('#tab-saliency');
    await startLive(page);
    // Freeze on a rocket frame, so the image is unmistakably the camera's.
    await page.waitForFunction(() => window.__netlens.live.frames.at(-1)?.top1 === 657, null, { timeout: 30_000 });
    await holdStream(page);
    await page.click('#live-freeze');
    await page.waitForFunction(() => window.__netlens.live.frozen && window.__netlens.imageSource?.name === 'camera frame.png', null, { timeout: 30_000 });
    const { frozen, imageHash, top1 } = await page.evaluate(() => ({
      frozen: window.__netlens.live.frozen, imageHash: window.__netlens.imageHash, top1: window.__netlens.top5[0].class,
    }));
    assert.equal(imageHash, frozen.hash, 'the page’s image is the frozen crop, pixel for pixel');
    assert.equal(top1, MISSILE);
    assert.deepEqual(await liveTracks(page), STOPPED, 'freezing turns the camera off');
    // The Saliency tab runs on it (its input canvas shows the frozen pixels).
    await page.waitForFunction(() => window.__netlens.runs.saliency?.done && window.__netlens.saliencyClass === 657, null, { timeout: 60_000 });
    const shownHash = await page.evaluate(async () => {
      const c = document.getElementById('sal-input');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const { fnv1a } = await import(new URL('www/ui.js', location.href).href);
      return fnv1a(new Uint8Array(d.buffer));
    });
    assert.equal(shownHash, frozen.hash);
    // The share link carries it (as a JPEG): a new page opens on the same picture and the same class.
    await page.waitForFunction(() => /[#&]img=/.test(window.__netlens.shareUrl ?? ''));
    const url = await page.evaluate(() => window.__netlens.shareUrl);
    const frozenPixels = await page.evaluate(() => Array.from(document.getElementById('crop-canvas').getContext('2d').getImageData(0, 0, 224, 224).data));
    const other = await openPage(b.context, url);
    await waitReady(other.page);
    await waitImage(other.page, null);
    const linked = await other.page.evaluate(() => Array.from(document.getElementById('crop-canvas').getContext('2d').getImageData(0, 0, 224, 224).data));
    const mad = linked.reduce((s, v, i) => s + Math.abs(v - frozenPixels[i]), 0) / linked.length;
    assert.ok(mad < 4, `the linked image differs from the frozen one by ${mad.toFixed(2)} per channel on average`);
    assert.equal(await other.page.evaluate(() => window.__netlens.top5[0].class), MISSILE);
    await other.page.close();

    // A model switch stops live mode; live mode then runs on the new model, at its input size (CIFAR-sized, 32×32).
    await startLive(page);
    await holdStream(page);
    await page.setInputFiles('#model-input', [path.join(SHARED, 'models/zoo/cifarnet.onnx')]);
    await page.waitForFunction(() => window.__netlens.live.stopped.some((r) => /model is changing/.test(r ?? '')));
    assert.deepEqual(await liveTracks(page), STOPPED);
    await page.waitForFunction(() => window.__netlens.modelChanges >= 1, null, { timeout: 120_000 });
    await startLive(page);
    const small = await page.evaluate(() => window.__netlens.live.frames.at(-1));
    assert.deepEqual(small.size, [32, 32]);
    assert.equal(small.method, 'saliency');
    assert.ok(small.overlayHash && small.top1 >= 0 && small.top1 < 10, JSON.stringify(small));
    assert.deepEqual(problems.pageErrors, []);
    assert.deepEqual(other.problems.pageErrors, []);
  } finally {
    await b.close();
  }
});

test('camera refused, missing, or an insecure page: one sentence each, no exception, the page keeps working', TIMEOUT, async () => {
  // A browser that denies every permission prompt, and that also reaches the server by a name (not localhost).
  const b = await startBrowser({ args: [...camera(), '--deny-permission-prompts', '--host-resolver-rules=MAP netlens.test 127.0.0.1'] });
  try {
    const { page, problems } = await openPage(b.context, `${server.url}/?test`);
    await waitReady(page);
    await waitImage(page, 'chelsea');
    await page.click('#live-button');
    await page.waitForFunction(() => window.__netlens.live.errors.length > 0, null, { timeout: 30_000 });
    const err = await page.evaluate(() => window.__netlens.live.errors[0]);
    assert.equal(err.kind, 'denied');
    assert.match(err.text, /permission to use it was denied/);
    assert.ok(await page.evaluate((t) => window.__netlens.messages.some((m) => m.kind === 'error' && m.text === t), err.text));
    assert.equal(await page.isHidden('#live'), true);
    assert.equal(await page.isVisible('#crop-figure'), true);
    // The rest of the page works: another sample is classified.
    await page.click('[data-sample="coffee"]');
    await waitImage(page, 'coffee');
    assert.equal(await page.evaluate(() => window.__netlens.top5[0].class), 967);

    // http from another machine: not a secure context, so no camera at all; the page says live mode needs https.
    const port = new URL(server.url).port;
    const insecure = await openPage(b.context, `http://netlens.test:${port}/?test`);
    await insecure.page.waitForFunction(() => window.__netlens && !document.getElementById('live-button').disabled);
    assert.equal(await insecure.page.evaluate(() => window.isSecureContext), false);
    await insecure.page.click('#live-button');
    await insecure.page.waitForFunction(() => window.__netlens.live.errors.length > 0);
    const e2 = await insecure.page.evaluate(() => window.__netlens.live.errors[0]);
    assert.equal(e2.kind, 'insecure');
    assert.match(e2.text, /https/);
    assert.deepEqual(problems.pageErrors, []);
    assert.deepEqual(insecure.problems.pageErrors, []);
  } finally {
    await b.close();
  }
  // No camera at all (no fake device): the browser finds none.
  const none = await startBrowser({ args: [FAKE_UI] });
  try {
    const { page, problems } = await openPage(none.context, `${server.url}/?test`);
    await waitReady(page);
    await page.click('#live-button');
    await page.waitForFunction(() => window.__netlens.live.errors.length > 0, null, { timeout: 90_000 }).catch(async (e) => {
      throw new Error(`${e.message}: ${JSON.stringify(await page.evaluate(() => ({ live: window.__netlens.live, messages: window.__netlens.messages, stats: document.getElementById('live-stats').textContent })))}`);
    });
    const err = await page.evaluate(() => window.__netlens.live.errors[0]);
    assert.equal(err.kind, 'no-camera', err.text);
    assert.match(err.text, /No camera was found/);
    assert.deepEqual(problems.pageErrors, []);
  } finally {
    await none.close();
  }
});

test('on a phone (390×844, touch): live mode fits, controls ≥ 44 px, axe-core clean', TIMEOUT, async () => {
  const b = await startBrowser({
    args: [...camera(), FAKE_UI],
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
  });
  try {
    const { page, problems } = await openPage(b.context, `${server.url}/?test`);
    await waitReady(page);
    await waitImage(page, 'chelsea');
    await page.tap('#live-button');
    await page.waitForFunction(() => window.__netlens.live.frames.length >= 3, null, { timeout: 60_000 });
    const fit = await page.evaluate(() => {
      const box = (id) => document.getElementById(id).getBoundingClientRect();
      return {
        scroll: document.documentElement.scrollWidth, inner: window.innerWidth, stage: box('live-canvas').toJSON(),
        small: [...document.querySelectorAll('#live button, #live select, #live input, #live-button')]
          .filter((e) => e.getClientRects().length && !e.closest('[hidden]') && e.getBoundingClientRect().height < 44)
          .map((e) => `${e.tagName}#${e.id} ${e.getBoundingClientRect().height}px`),
        wide: [...document.querySelectorAll('#live *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
          .map((e) => `${e.tagName}#${e.id}`),
      };
    });
    assert.ok(fit.scroll <= fit.inner, `scrollWidth ${fit.scroll} > ${fit.inner}`);
    assert.deepEqual(fit.wide, []);
    assert.deepEqual(fit.small, []);
    assert.ok(fit.stage.width >= 250 && fit.stage.x >= 0 && fit.stage.x + fit.stage.width <= 390, `stage ${JSON.stringify(fit.stage)}`);
    await page.evaluate(AXE);
    const result = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    }));
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((x) => x.target.join(' ')).join('; ')})`);
    assert.deepEqual(bad, []);
    await page.locator('#live').scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshotPath('live-phone') });
    assert.deepEqual(problems.pageErrors, []);
  } finally {
    await b.close();
  }
});
