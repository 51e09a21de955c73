// A transformer in the page (issue 24): tinyvit (torchvision's VisionTransformer, random weights, from
// ../shared/models/zoo-transformers) given with ?model=, as a user's model. Top-5 and saliency; every attribution
// method (attention rollout and gradient-weighted rollout included) from a share link, drawn and equal to the
// native CLI's --npy under the same model, or (LRP, whose composites have no rule for LayerNormalization) one
// sentence; the attention maps of the Inside tab (a layer, a head, a query token), equal to the CLI's; the compare
// view (the single-thread build, ?build=single). A Swin model (window attention, 49 tokens: no class token and grid)
// gets one sentence from rollout, SqueezeNet from the attention methods, shown on their panels with no run offered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, SHARED, CLI, suite, openPage, waitReady, waitImage, screenshotPath, readNpyF32, loadSchema } from './helpers.mjs';

const TIMEOUT = { timeout: 1_800_000 };
const schema = loadSchema();
const ZOO = path.join(SHARED, 'models/zoo-transformers');
const VIT = path.join(ZOO, 'tinyvit.onnx');
// Served by www/serve.py (it serves assets/, git-ignored); removed afterwards.
const SERVED_DIR = path.join(REPO, 'assets/test-transformers');
const scratch = mkdtempSync(path.join(tmpdir(), 'netlens-transformers-'));
const CHELSEA = path.join(SHARED, 'images/chelsea.png');

before(() => {
  mkdirSync(SERVED_DIR, { recursive: true });
  for (const m of ['tinyvit', 'tinyswin']) copyFileSync(path.join(ZOO, `${m}.onnx`), path.join(SERVED_DIR, `${m}.onnx`));
});
const { server, browser } = suite();
after(() => {
  rmSync(SERVED_DIR, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const attribution = schema.methods.filter((m) => m.group === 'attribution');
const attentionMaps = schema.methods.find((m) => m.id === 'attention');

/** Opens a share link on a served model and waits for `id`'s run to finish or fail. */
/** The page with a zoo-transformers model and a share link's hash, once that model is loaded. */
async function openFromLink(model, hash) {
  const { page, problems } = await openPage(browser.context, `${server.url}?build=single&model=assets/test-transformers/${model}.onnx#v=1&img=sample:chelsea&${hash}`);
  await waitReady(page);
  await page.waitForFunction((name) => window.__netlens.model?.name === name, `${model}.onnx`, { timeout: 120_000 });
  return { page, problems };
}

async function runFromLink(model, hash, id) {
  const { page, problems } = await openFromLink(model, hash);
  await page.waitForFunction((m) => window.__netlens.runs[m]?.done === true || window.__netlens.runs[m]?.error, id, { timeout: 600_000 });
  const run = await page.evaluate((m) => {
    const r = window.__netlens.runs[m];
    const p = Object.values(r.panels ?? {}).find((x) => x.raw);
    return { error: r.error, report: r.report, raw: p && Array.from(p.raw), shape: p?.rawShape };
  }, id);
  return { page, problems, run };
}

/** The map's canvas has more than a few colours (it was drawn). */
async function colours(page, id) {
  return page.evaluate((m) => {
    const c = document.querySelector(`#panel-${m} canvas`);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 97) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
    return seen.size;
  }, id);
}

function assertSameAsCli(label, raw, args) {
  const npy = path.join(scratch, `${label}.npy`);
  execFileSync(CLI, [...args, '--npy', npy, '--model', VIT], { encoding: 'utf8', timeout: 600_000 });
  const ref = readNpyF32(npy);
  assert.equal(raw.length, ref.length, `${label}: page vs CLI size`);
  const scale = ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  const worst = raw.reduce((a, v, i) => Math.max(a, Math.abs(v - ref[i])), 0);
  assert.ok(scale > 0, `${label}: the CLI's map is not all zero`);
  assert.ok(worst / scale <= 1e-4, `${label}: page vs CLI max|Δ|/max = ${worst / scale}`);
  return worst / scale;
}

test('tinyvit: top-5, saliency, every attribution method (rollout, gradrollout) as the CLI makes them', TIMEOUT, async () => {
  assert.ok(attribution.some((m) => m.id === 'rollout') && attribution.some((m) => m.id === 'gradrollout'));
  const { page, problems, run } = await runFromLink('tinyvit', 'panel=saliency', 'saliency');
  await waitImage(page, 'chelsea');
  const top5 = await page.evaluate(() => window.__netlens.top5);
  assert.equal(top5.length, 5, 'top-5 of the ViT');
  assert.equal(run.error, undefined, `saliency: ${run.error}`);
  assert.ok(run.raw.some((v) => v !== 0), 'saliency is not all zero');
  const notHere = await page.evaluate(() => window.__netlens.model.info.not_for_model);
  assert.deepEqual(Object.keys(notHere), ['lrp'], `only LRP cannot map a ViT: ${JSON.stringify(notHere)}`);
  assert.deepEqual(problems.pageErrors, []);
  await page.close();

  const distances = {};
  for (const m of attribution) {
    const classKey = m.settings.find((s) => s.type === 'class');
    const hash = `panel=${m.id}&${m.link_prefix}.${classKey.link}=1`;
    if (m.id in notHere) {
      // Its panel says the model info's sentence and offers no run (the bad-input test below has the details).
      const { page: p, problems: pr } = await openFromLink('tinyvit', hash);
      assert.match(notHere[m.id], /composite has no rule for op \w+ \(node '.+'\)/, m.id);
      await p.waitForFunction(([q, w]) => document.getElementById(`${q}-status`)?.textContent === w, [m.link_prefix, notHere[m.id]]);
      assert.equal(await p.isDisabled(`#${m.link_prefix}-run`), true, `${m.id}: no run offered`);
      assert.deepEqual(pr.pageErrors, [], `${m.id}: uncaught exceptions`);
      await p.close();
      continue;
    }
    const { page: p, problems: pr, run: r } = await runFromLink('tinyvit', hash, m.id);
    assert.equal(r.error, undefined, `${m.id}: ${r.error}`);
    assert.equal(r.report.class, 1, `${m.id} explains the linked class`);
    assert.ok(r.raw.some((v) => v !== 0), `${m.id}: not an all-zero map`);
    assert.ok((await colours(p, m.id)) > 4, `${m.id}: drawn`);
    if (['rollout', 'gradrollout'].includes(m.id)) {
      assert.deepEqual(r.shape, [14, 14], `${m.id}: the 14×14 patch grid`);
      assert.match(JSON.stringify(r.report.lines), /a class token and a 14×14 grid of patches/);
    }
    // The many-pass methods at their defaults are the CLI's too; the CAMs read the model's last 4-D value.
    distances[m.id] = assertSameAsCli(m.id, r.raw, ['attribute', CHELSEA, '--method', m.id, '--class', '1', '-o', path.join(scratch, `${m.id}.png`)]);
    await p.screenshot({ path: screenshotPath(`tinyvit-${m.id}`) });
    assert.deepEqual(pr.pageErrors, [], `${m.id}: uncaught exceptions`);
    await p.close();
  }
  console.log('page vs CLI on tinyvit (max|Δ|/max):', JSON.stringify(distances));
});

test('tinyvit: the Inside tab draws a layer\'s, a head\'s, a query token\'s attention over the image', TIMEOUT, async () => {
  const p = attentionMaps.link_prefix;
  const cases = [
    ['class token, mean of heads, last layer', '', [], /the class token/],
    ['patch 20, head 1, layer 0', `&${p}.layer=0&${p}.head=1&${p}.token=21`, ['--set', 'layer=0', '--set', 'head=1', '--set', 'token=21'], /patch 20 \(row 1, column 6\)/],
  ];
  for (const [label, extra, set, query] of cases) {
    const { page, problems, run } = await runFromLink('tinyvit', `panel=attention${extra}`, 'attention');
    assert.equal(run.error, undefined, `${label}: ${run.error}`);
    assert.deepEqual(run.shape, [14, 14], label);
    assert.match(JSON.stringify(run.report.lines), query, label);
    assert.ok((await colours(page, 'attention')) > 4, `${label}: drawn`);
    assertSameAsCli(`attention-${set.length}`, run.raw, ['run', 'attention', CHELSEA, ...set]);
    if (!set.length) {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.locator('#panel-attention').scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(REPO, 'docs/transformers.png') });
      await page.setViewportSize({ width: 390, height: 900 });
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling at 390 px');
      await page.screenshot({ path: screenshotPath('tinyvit-attention-390'), fullPage: true });
    }
    assert.deepEqual(problems.pageErrors, [], label);
    await page.close();
  }
});

test('tinyvit: the compare view runs every method that can map it, and says which cannot', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, `${server.url}?build=single&model=assets/test-transformers/tinyvit.onnx#v=1&img=sample:chelsea`);
  await waitReady(page);
  await page.waitForFunction(() => window.__netlens.model?.name === 'tinyvit.onnx', null, { timeout: 120_000 });
  await waitImage(page, 'chelsea');
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.click('#tab-compare');
  await page.waitForFunction(() => window.__netlens.compare.done >= 1, null, { timeout: 900_000 });
  const c = await page.evaluate(() => window.__netlens.compare);
  assert.deepEqual(c.skipped, ['lrp']);
  const expected = schema.methods.filter((m) => m.compare && m.id !== 'lrp').map((m) => m.id);
  assert.deepEqual(c.methods, expected);
  for (const id of expected) assert.ok(c.cells[id] && !c.cells[id].error, `${id}: ${JSON.stringify(c.cells[id]?.error)}`);
  assert.equal(await page.isHidden('#cmp-cell-lrp'), true, 'LRP\'s cell is not shown');
  const status = await page.textContent('#cmp-status');
  assert.ok(status.startsWith(`${expected.length} methods explaining `) && status.endsWith(' (not for this model: LRP).'), status);
  await page.screenshot({ path: screenshotPath('tinyvit-compare'), fullPage: true });
  assert.deepEqual(problems.pageErrors, []);
  await page.close();
});

test('bad input: a method the model cannot run says why in one sentence, offers no run, and the page goes on', TIMEOUT, async () => {
  // The engine lists them with the model (src/methods/applicable.rs); the panel shows the sentence and its run
  // button stays off, so nothing is started (and auto-run methods do not fail each time their tab is shown).
  const cases = [
    ['&model=assets/test-transformers/tinyswin.onnx', 'tinyswin.onnx', 'rollout', /^Attention rollout: the attention is over 49 tokens, not a class token and a square grid of patches/],
    ['', 'SqueezeNet 1.1', 'gradrollout', /^Gradient-weighted rollout needs a transformer: this model has no attention/],
    ['', 'SqueezeNet 1.1', 'attention', /^Attention maps need a transformer: this model has no attention/],
  ];
  for (const [query, name, id, says] of cases) {
    const { page, problems } = await openPage(browser.context, `${server.url}?build=single${query}#v=1&img=sample:chelsea&panel=${id}`);
    await waitReady(page);
    await page.waitForFunction((n) => window.__netlens.model?.name === n, name, { timeout: 120_000 });
    await waitImage(page, 'chelsea');
    const why = await page.evaluate((m) => window.__netlens.model.info.not_for_model[m], id);
    assert.match(why ?? '', says, `${name} ${id}`);
    assert.equal(why.split('. ').length, 1, `one sentence: ${why}`);
    const p = schema.methods.find((m) => m.id === id).link_prefix; // the panel's element ids
    await page.waitForFunction(([q, w]) => document.getElementById(`${q}-status`)?.textContent === w, [p, why]);
    assert.equal(await page.isDisabled(`#${p}-run`), true, `${id}: no run offered`);
    assert.equal(await page.evaluate((m) => window.__netlens.runs[m], id), undefined, `${id}: nothing was started`);
    // The page still works: saliency of the same image.
    await page.click('#tab-saliency');
    await page.waitForFunction(() => window.__netlens.runs.saliency?.done === true, null, { timeout: 120_000 });
    assert.deepEqual(problems.pageErrors, []);
    await page.close();
  }
});
