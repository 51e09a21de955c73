// A user's own model in the page (issue 11, the page part): an .onnx picked with its labels, dropped, refused
// (truncated file, labels of the wrong length) while the previous model keeps working; MNIST- and CIFAR-sized models
// (28×28 grey, 32×32 with a final Softmax) with the preprocessing form; ?model=URL with
// and without a sha256 pin, a missing URL, another site; share links that name the model or carry its address;
// back to SqueezeNet in one click. The zoo models are /work/shared/models/zoo (../shared/models/zoo).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  REPO, SHARED, CLI, suite, inFreshBrowser, openPage, waitReady, waitImage, readNpyF32, setFields,
} from './helpers.mjs';

const TIMEOUT = { timeout: 900_000 };
const ZOO = path.join(SHARED, 'models/zoo');
const RESNET = path.join(ZOO, 'resnet10.onnx');
const CHELSEA = path.join(REPO, 'assets/images/chelsea.png');
const scratch = mkdtempSync(path.join(tmpdir(), 'netlens-models-'));
// Served by www/serve.py (it serves assets/, git-ignored) for the ?model= tests; removed afterwards.
const SERVED_DIR = path.join(REPO, 'assets/test-models');
const LABELS = path.join(scratch, 'zoo-labels.txt');
writeFileSync(LABELS, `${Array.from({ length: 1000 }, (_, i) => `zoo_class_${i}`).join('\n')}\n`);

before(() => {
  mkdirSync(SERVED_DIR, { recursive: true });
  copyFileSync(RESNET, path.join(SERVED_DIR, 'resnet10.onnx'));
});

const { server, browser } = suite();

after(() => {
  rmSync(SERVED_DIR, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

function assertClean(problems) {
  assert.deepEqual(problems.pageErrors, [], 'uncaught exceptions in the page');
  assert.deepEqual(problems.dialogs, [], 'dialogs opened');
  assert.deepEqual(problems.consoleErrors, [], 'console errors (a CSP refusal would be one)');
}

const hook = (page) => page.evaluate(() => {
  const h = window.__netlens;
  return {
    model: h.model, modelChanges: h.modelChanges, failures: h.modelFailures, fallback: h.modelFallback,
    top5: h.top5, shareUrl: h.shareUrl, messages: h.messages,
  };
});

const imagesSeen = (page) => page.evaluate(() => window.__netlens.sources.length);

/** Waits for the n-th model switch to be done and the image classified again with it (`seen`: images before). */
async function waitModelChange(page, n, seen) {
  await page.waitForFunction((k) => window.__netlens.modelChanges >= k, n, { timeout: 120_000 });
  await page.waitForFunction(() => document.getElementById('model-label').textContent.startsWith('Model ready'), null, { timeout: 60_000 });
  await page.waitForFunction((k) => window.__netlens.sources.length > k, seen, { timeout: 60_000 });
}

async function waitMessage(page, re, timeout = 120_000) {
  await page.waitForFunction((src) => window.__netlens.messages.some((m) => new RegExp(src).test(m.text)), re.source, { timeout });
  return (await hook(page)).messages.filter((m) => re.test(m.text));
}

/** A drop event carrying these files, as the browser makes one when files are dragged onto the page. */
async function dropFiles(page, files) {
  await page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const f of list) {
      const bin = atob(f.b64);
      const u8 = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
      dt.items.add(new File([u8], f.name));
    }
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files.map((f) => ({ name: f.name, b64: Buffer.from(f.bytes).toString('base64') })));
}

/** The saliency map of the current image (auto-run on the first tab), once its run is done. */
async function waitSaliency(page) {
  await page.waitForFunction(() => window.__netlens.runs.saliency?.done === true && window.__netlens.saliencyMap, null, { timeout: 300_000 });
  return page.evaluate(() => ({
    cls: window.__netlens.saliencyClass, map: Array.from(window.__netlens.saliencyMap), hash: window.__netlens.hashes.saliency,
  }));
}

/** Non-blank pixels in a canvas of the saliency panel (the map is drawn, not only computed). */
async function drawnPixels(page) {
  return page.evaluate(() => {
    let best = 0;
    for (const c of document.querySelectorAll('#panel-saliency canvas')) {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] | d[i + 1] | d[i + 2]) !== 0) n++;
      best = Math.max(best, n);
    }
    return best;
  });
}

function cli(args, model) {
  return execFileSync(CLI, [...args, '--model', model], { encoding: 'utf8', timeout: 300_000 });
}

/** The CLI's top-5 class indices for chelsea under a model. */
function cliTop5(model, classes) {
  return cliTop5Args(model, classes, []);
}

function cliTop5Args(model, classes, extra) {
  const out = cli(['classify', CHELSEA, ...(classes ? ['--classes', classes] : []), ...extra], model);
  return [...out.matchAll(/^\s*\d\.\s+[\d.]+%\s+(\d+)\s/gm)].map((m) => Number(m[1]));
}

test('resnet10.onnx with a labels file: top-5 with those labels, saliency equal to the CLI\'s; bad files leave it working; back to SqueezeNet', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, server.url);
  await waitReady(page);
  await waitImage(page, 'chelsea');
  const before = await waitSaliency(page);
  assert.equal(before.cls, 285, 'SqueezeNet explains Egyptian cat first');
  assert.equal(await page.isHidden('#use-squeezenet'), true, 'no "Use SqueezeNet" while SqueezeNet is in use');
  assert.match(await page.textContent('#model-facts'), /input 1×3×224×224 \(RGB\) · 1000 classes · \d+ ops · outputs logits · preprocessing: imagenet preset; short side 256, centre crop \(default\) · loaded in \d+\.\d\d s/);
  assert.equal(await page.isHidden('#model-preprocess'), true, 'no preprocessing form for SqueezeNet');

  // Pick the model and its labels together.
  await page.evaluate(() => { window.__netlens.runs = {}; window.__netlens.saliencyMap = null; });
  let seen = await imagesSeen(page);
  await page.setInputFiles('#model-input', [RESNET, LABELS]);
  await waitModelChange(page, 1, seen);
  await waitImage(page, 'chelsea');
  let h = await hook(page);
  assert.equal(h.model.name, 'resnet10.onnx');
  assert.equal(h.model.user, true);
  assert.deepEqual(h.model.info.input_shape, [1, 3, 224, 224]);
  assert.equal(h.model.info.classes, 1000);
  assert.equal(h.model.info.outputs_probabilities, false);
  assert.ok(h.model.info.ops > 10 && h.model.info.op_types.includes('Add'), JSON.stringify(h.model.info));
  const facts = await page.textContent('#model-facts');
  assert.ok(facts.includes(`input 1×3×224×224 (RGB) · 1000 classes · ${h.model.info.ops} ops · outputs logits · preprocessing: imagenet preset; short side 256, centre crop (default) · loaded in`), facts);
  assert.equal(await page.textContent('#model-name'), 'resnet10.onnx');
  assert.match(await page.textContent('#model-note'), /do not contain it/);
  assert.equal(await page.isVisible('#use-squeezenet'), true, '"Use SqueezeNet" is one click away');

  // The top-5 is resnet10's (as the CLI computes it on the same photo) under the dropped labels.
  const ref = cliTop5(RESNET, LABELS);
  assert.equal(ref.length, 5);
  assert.deepEqual(h.top5.map((t) => t.class), ref, 'the page\'s top-5 is the CLI\'s under resnet10');
  for (const t of h.top5) assert.equal(t.name, `zoo_class_${t.class}`);
  assert.equal(await page.textContent('#top5 li:first-child .name'), `zoo_class_${ref[0]}`);

  // Saliency ran again by itself on the new model: the CLI's map under resnet10, and drawn.
  const sal = await waitSaliency(page);
  assert.equal(sal.cls, ref[0], 'saliency explains resnet10\'s predicted class');
  assert.notEqual(sal.hash, before.hash, 'not SqueezeNet\'s map');
  const npy = path.join(scratch, 'resnet_saliency.npy');
  cli(['saliency', CHELSEA, '--class', String(ref[0]), '-o', path.join(scratch, 's.png'), '--npy', npy], RESNET);
  const want = readNpyF32(npy);
  assert.equal(sal.map.length, want.length);
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const worst = sal.map.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
  assert.ok(scale > 0, 'the reference map is not all zero');
  assert.ok(worst / scale <= 1e-4, `page vs CLI saliency under resnet10: max |diff| / max |ref| = ${worst / scale}`);
  assert.ok((await drawnPixels(page)) > 10_000, 'the saliency map is drawn');

  // The share link names the model (it cannot carry it) and the page says so.
  assert.match(h.shareUrl, /[#&]model\.name=resnet10\.onnx(&|$)/);
  await page.click('#copy-link');
  await waitMessage(page, /names your model “resnet10\.onnx” but does not contain it/);
  await page.screenshot({ path: path.join(REPO, 'docs/user-model.png'), fullPage: true });
  const link = (await hook(page)).shareUrl;

  // A truncated model: refused with the core's reason, resnet10 still in use and still working.
  const truncated = readFileSync(RESNET).subarray(0, 3_000_000);
  await dropFiles(page, [{ name: 'broken.onnx', bytes: truncated }]);
  const [cut] = await waitMessage(page, /broken\.onnx/);
  assert.equal(cut.kind, 'error');
  assert.match(cut.text, /^Could not load “broken\.onnx”: not an ONNX model \(.+\)\. resnet10\.onnx is still in use\.$/);
  h = await hook(page);
  assert.equal(h.model.name, 'resnet10.onnx');
  assert.equal(h.modelChanges, 1);
  assert.equal(await page.textContent('#model-name'), 'resnet10.onnx');
  await page.evaluate(() => { window.__netlens.runs = {}; });
  await page.click('[data-sample="coffee"]');
  await waitImage(page, 'coffee');
  const coffee = await waitSaliency(page);
  assert.equal(coffee.cls, (await hook(page)).top5[0].class, 'resnet10 still classifies and explains');
  assert.match((await hook(page)).top5[0].name, /^zoo_class_\d+$/);

  // Labels of the wrong length: refused (my call: the model is not switched with generated names).
  const short = path.join(scratch, 'short-labels.txt');
  writeFileSync(short, Array.from({ length: 999 }, (_, i) => `other_${i}`).join('\n'));
  await page.setInputFiles('#model-input', [RESNET, short]);
  const [bad] = await waitMessage(page, /short-labels\.txt/);
  assert.equal(bad.text, 'Could not use “short-labels.txt” with “resnet10.onnx”: the class names list has 999 entries but the model ' +
    'scores 1000 classes. resnet10.onnx is still in use.');
  h = await hook(page);
  assert.equal(h.modelChanges, 1);
  assert.equal(h.failures.length, 2);
  assert.match(h.top5[0].name, /^zoo_class_\d+$/, 'the labels in use are unchanged');

  // A labels file dropped alone renames the classes of the model in use.
  const renamed = path.join(scratch, 'renamed.txt');
  writeFileSync(renamed, Array.from({ length: 1000 }, (_, i) => `renamed_${i}`).join('\n'));
  seen = await imagesSeen(page);
  await dropFiles(page, [{ name: 'renamed.txt', bytes: readFileSync(renamed) }]);
  await waitModelChange(page, 2, seen);
  await page.waitForFunction(() => /^renamed_\d+$/.test(window.__netlens.top5?.[0]?.name ?? ''), null, { timeout: 60_000 });
  assert.equal((await hook(page)).model.name, 'resnet10.onnx');

  // Back to SqueezeNet in one click: its classes, the same image classified again, no model in the link.
  seen = await imagesSeen(page);
  await page.click('#use-squeezenet');
  await waitModelChange(page, 3, seen);
  await page.waitForFunction(() => window.__netlens.top5?.[0]?.name === 'espresso', null, { timeout: 60_000 });
  h = await hook(page);
  assert.equal(h.model.name, 'SqueezeNet 1.1');
  assert.equal(h.model.user, false);
  assert.equal(await page.isHidden('#use-squeezenet'), true);
  assert.doesNotMatch(h.shareUrl, /model\.name/);
  assertClean(problems);
  await page.close();

  // The link made with resnet10 in a fresh page: it says the model is not in it; SqueezeNet runs meanwhile.
  const { page: other, problems: otherProblems } = await openPage(browser.context, link);
  await waitReady(other);
  const [note] = await waitMessage(other, /made with the model “resnet10\.onnx”/);
  assert.equal(note.kind, 'warn');
  assert.match(note.text, /a link does not contain/);
  await waitImage(other, 'chelsea');
  assert.equal((await hook(other)).model.name, 'SqueezeNet 1.1');
  assertClean(otherProblems);
  await other.close();
});

const TINY = path.join(ZOO, 'tinycnn.onnx');
const CIFAR = path.join(ZOO, 'cifarnet.onnx');
const TEN_LABELS = path.join(scratch, 'ten-labels.txt');
writeFileSync(TEN_LABELS, `${Array.from({ length: 10 }, (_, i) => `digit_${i}`).join('\n')}\n`);

test('tinycnn.onnx (1×1×28×28, grey): top-5, the preprocessing form (in the link), a 28×28 class visualization; cifarnet.onnx (3×32×32, Softmax): probabilities, top-5 and saliency as the CLI\'s', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, server.url);
  await waitReady(page);
  await waitImage(page, 'chelsea');
  await waitSaliency(page);
  let seen = await imagesSeen(page);
  await dropFiles(page, [{ name: 'tinycnn.onnx', bytes: readFileSync(TINY) }, { name: 'ten-labels.txt', bytes: readFileSync(TEN_LABELS) }]);
  await waitModelChange(page, 1, seen);
  let h = await hook(page);
  assert.equal(h.model.name, 'tinycnn.onnx');
  assert.deepEqual(h.model.info.input_shape, [1, 1, 28, 28]);
  assert.equal(h.model.info.classes, 10);
  assert.equal(h.model.info.preprocess.source, 'default');
  assert.equal(h.model.info.preprocess.preset, 'mnist');
  assert.equal(h.model.info.preprocess.resize, 'squash');
  const facts = await page.textContent('#model-facts');
  assert.ok(facts.includes('input 1×1×28×28 (grey) · 10 classes'), facts);
  assert.ok(facts.includes('outputs logits · preprocessing: mnist preset, grey; squashed to 28×28 (default)'), facts);
  // No metadata: the form offers the presets; the input size is fixed by the model.
  assert.equal(await page.isVisible('#model-preprocess'), true);
  assert.equal(await page.isHidden('#model-side-label'), true);
  assert.equal(await page.inputValue('#model-preset'), 'mnist');
  assert.equal(await page.inputValue('#model-resize'), 'squash');
  // The picture the model sees: 28×28 and grey; the top-5 is the CLI's.
  const crop = await page.evaluate(() => {
    const c = document.getElementById('crop-canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let grey = true;
    for (let i = 0; i < d.length; i += 4) grey &&= d[i] === d[i + 1] && d[i + 1] === d[i + 2];
    return { w: c.width, h: c.height, grey };
  });
  assert.deepEqual(crop, { w: 28, h: 28, grey: true });
  assert.deepEqual(h.top5.map((t) => t.class), cliTop5(TINY, TEN_LABELS), 'the page\'s top-5 is the CLI\'s under tinycnn');
  assert.match(h.top5[0].name, /^digit_\d$/);

  // Class visualization at 28×28: the run finishes and its picture is 28×28.
  await page.click('#tab-classviz');
  await setFields(page, [['viz-iters', '30']]);
  const before = await page.evaluate(() => window.__netlens.vizDone);
  await page.click('#viz-run');
  await page.waitForFunction((n) => window.__netlens.vizDone > n && window.__netlens.runs.classviz?.done, before, { timeout: 300_000 });
  const viz = await page.evaluate(() => {
    const r = window.__netlens.runs.classviz;
    const live = document.getElementById('viz-live');
    return { panel: [r.panels.image.width, r.panels.image.height], live: [live.width, live.height], step: r.step, text: r.report?.iterations };
  });
  assert.deepEqual(viz.panel, [28, 28], 'the result panel is 28×28');
  assert.deepEqual(viz.live, [28, 28], 'the live canvas is 28×28');
  assert.equal(viz.text, 30, 'all 30 iterations ran');
  await page.waitForFunction(() => document.getElementById('viz-download')?.href?.startsWith('blob:'), null, { timeout: 60_000 });
  assert.deepEqual((await hook(page)).messages.filter((m) => m.kind === 'error'), [], 'no error (the 28×28 download PNG is made)');
  await page.screenshot({ path: path.join(REPO, 'docs/user-model-mnist.png'), fullPage: true });

  // Another preset from the form: the model is built again with it, and the link carries the choice.
  seen = await imagesSeen(page);
  await page.selectOption('#model-preset', 'unit');
  await page.click('#model-apply');
  await waitModelChange(page, 2, seen);
  h = await hook(page);
  assert.equal(h.model.info.preprocess.source, 'chosen');
  assert.equal(h.model.info.preprocess.preset, 'unit');
  assert.match(await page.textContent('#model-facts'), /preprocessing: unit preset, grey; squashed to 28×28 \(chosen below\)/);
  assert.match(h.shareUrl, /[#&]model\.name=tinycnn\.onnx(&|$)/);
  assert.match(h.shareUrl, /[#&]model\.pre=unit(&|$)/);
  assert.match(h.shareUrl, /[#&]model\.resize=squash(&|$)/);
  assert.deepEqual(h.top5.map((t) => t.class), cliTop5Args(TINY, TEN_LABELS, ['--preprocess', 'unit']), 'the CLI with --preprocess unit agrees');

  // cifarnet ends in Softmax: the page says probabilities; its top-5 and saliency map are the CLI's.
  seen = await imagesSeen(page);
  await dropFiles(page, [{ name: 'cifarnet.onnx', bytes: readFileSync(CIFAR) }, { name: 'ten-labels.txt', bytes: readFileSync(TEN_LABELS) }]);
  await waitModelChange(page, 3, seen);
  h = await hook(page);
  assert.deepEqual(h.model.info.input_shape, [1, 3, 32, 32]);
  assert.equal(h.model.info.outputs_probabilities, true);
  assert.match(await page.textContent('#model-facts'), /input 1×3×32×32 \(RGB\) · 10 classes · \d+ ops · outputs probabilities \(a final Softmax\) · preprocessing: imagenet preset; squashed to 32×32 \(default\)/);
  const ref = cliTop5(CIFAR, TEN_LABELS);
  assert.deepEqual(h.top5.map((t) => t.class), ref, 'the page\'s top-5 is the CLI\'s under cifarnet');
  const total = h.top5.reduce((a, t) => a + t.prob, 0);
  assert.ok(total <= 1 + 1e-5 && h.top5[0].prob > 0.1, `probabilities as the model gives them: ${JSON.stringify(h.top5)}`);
  await page.evaluate(() => { window.__netlens.runs = {}; window.__netlens.saliencyMap = null; });
  await page.click('#tab-saliency');
  const sal = await waitSaliency(page);
  assert.equal(sal.cls, ref[0]);
  assert.equal(sal.map.length, 32 * 32);
  const npy = path.join(scratch, 'cifar_saliency.npy');
  cli(['saliency', CHELSEA, '--class', String(ref[0]), '-o', path.join(scratch, 'c.png'), '--npy', npy], CIFAR);
  const want = readNpyF32(npy);
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const worst = sal.map.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
  assert.ok(scale > 0 && worst / scale <= 1e-4, `page vs CLI saliency under cifarnet: ${worst / scale}`);
  assert.ok((await drawnPixels(page)) > 500, 'the 32×32 saliency map is drawn');
  assertClean(problems);
  await page.close();
});

test('?model=URL: a missing file, a wrong sha256 pin and another site say why and SqueezeNet loads; the right pin loads the model and links carry it', TIMEOUT, async () => {
  const cases = [
    ['?model=assets/test-models/missing.onnx', /^The model in the page's address \(“missing\.onnx”\) could not be used: could not fetch the model \(.+missing\.onnx\): HTTP 404\. SqueezeNet 1\.1 is used instead\.$/],
    [`?model=assets/models/squeezenet1_1.onnx&sha256=${'0'.repeat(64)}`, /could not be used: its sha256 is [0-9a-f]{64}, not the 0{64} the address pins\. SqueezeNet 1\.1 is used instead\.$/],
    ['?model=https://models.example.org/resnet.onnx', /\(https:\/\/models\.example\.org\) is on another site.*connect-src 'self'.*SqueezeNet 1\.1 is used instead\.$/],
    ['?model=assets/test-models/resnet10.onnx&sha256=abc', /sha256 pin that is not 64 hexadecimal digits/],
  ];
  for (const [query, want] of cases) {
    const { page, problems } = await openPage(browser.context, `${server.url}${query}`);
    await waitReady(page);
    const [msg] = await waitMessage(page, want);
    assert.equal(msg.kind, 'error', query);
    await waitImage(page, 'chelsea');
    const h = await hook(page);
    assert.equal(h.model.name, 'SqueezeNet 1.1', query);
    assert.equal(h.top5[0].name, 'Egyptian cat', query);
    assert.doesNotMatch(h.shareUrl, /model=/, `${query}: links no longer name the model that failed`);
    assertClean(problems);
    await page.close();
  }

  // The right pin: resnet10 from the address, no labels (class 0…999); the link carries the address.
  const sha = createHash('sha256').update(readFileSync(RESNET)).digest('hex');
  const query = `?model=assets/test-models/resnet10.onnx&sha256=${sha}`;
  const { page, problems } = await openPage(browser.context, `${server.url}${query}#v=1&img=sample:coffee&panel=saliency`);
  await waitReady(page);
  await waitImage(page, 'coffee');
  const h = await hook(page);
  assert.equal(h.model.name, 'resnet10.onnx');
  assert.equal(h.model.user, true);
  assert.ok(h.model.url.endsWith('/assets/test-models/resnet10.onnx'), h.model.url);
  assert.equal(h.fallback, null);
  assert.deepEqual(h.top5.map((t) => t.class), cliTopFor('coffee'), 'the page\'s top-5 is the CLI\'s under resnet10');
  for (const t of h.top5) assert.equal(t.name, `class ${t.class}`);
  assert.match(await page.textContent('#model-note'), /share links carry that address/);
  const sal = await waitSaliency(page);
  assert.equal(sal.cls, h.top5[0].class);
  assert.ok(h.shareUrl.includes(query), `the link carries the model's address: ${h.shareUrl}`);
  assert.doesNotMatch(h.shareUrl, /model\.name/);
  assertClean(problems);
  await page.close();

  // Opened in another browser: the same model, image, prediction and map.
  await inFreshBrowser(async (context) => {
    const { page: again, problems: againProblems } = await openPage(context, h.shareUrl);
    await waitReady(again);
    await waitImage(again, 'coffee');
    const g = await hook(again);
    assert.equal(g.model.name, 'resnet10.onnx');
    assert.deepEqual(g.top5.map((t) => t.class), h.top5.map((t) => t.class));
    assert.equal((await waitSaliency(again)).hash, sal.hash, 'the same saliency map');
    assertClean(againProblems);
  });
});

/** The CLI's top-5 for a sample under resnet10 (no labels file: the CLI needs one, the indices are what count). */
function cliTopFor(sample) {
  const out = cli(['classify', path.join(REPO, `assets/images/${sample}.png`), '--classes', LABELS], RESNET);
  return [...out.matchAll(/^\s*\d\.\s+[\d.]+%\s+(\d+)\s/gm)].map((m) => Number(m[1]));
}

test('a worker restart (a trap) loads the user\'s model again, with its labels', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, `${server.url}?test`);
  await waitReady(page);
  await waitImage(page, 'chelsea');
  const seen = await imagesSeen(page);
  await page.setInputFiles('#model-input', [RESNET, LABELS]);
  await waitModelChange(page, 1, seen);
  const before = (await hook(page)).top5;
  assert.match(before[0].name, /^zoo_class_\d+$/);
  const images = await imagesSeen(page);
  const trap = await page.evaluate(async () => {
    const { request } = await import(new URL('www/engine.js', location.href).href);
    try {
      await request({ type: 'test-trap' });
      return null;
    } catch (e) {
      return { fatal: e.fatal === true };
    }
  });
  assert.deepEqual(trap, { fatal: true }, 'the worker trapped');
  await waitReady(page);
  await page.waitForFunction((k) => window.__netlens.sources.length > k, images, { timeout: 120_000 });
  const h = await hook(page);
  assert.equal(h.model.name, 'resnet10.onnx', 'the restarted worker has the user\'s model');
  assert.equal(h.model.user, true);
  assert.deepEqual(h.top5, before, 'the same prediction, under the same labels');
  assert.equal(await page.isVisible('#use-squeezenet'), true);
  assert.match(h.shareUrl, /model\.name=resnet10\.onnx/);
  assert.deepEqual(problems.pageErrors, []);
  await page.close();
});
