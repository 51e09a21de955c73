// The CAM family and relevance propagation in the page (issue 25) on a user's model, resnet10 from the zoo (its
// own layer names: the CAMs fall back to its last 4-D value): every attribution method with a `layer` setting and
// every LRP composite, each run from a share link with ?model=, drawn, and equal to the native CLI's --npy under
// the same model. SqueezeNet runs every attribution method in methods.test.mjs (share links, compare view).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, SHARED, CLI, suite, openPage, waitReady, screenshotPath, readNpyF32, loadSchema } from './helpers.mjs';

const TIMEOUT = { timeout: 1_200_000 };
const schema = loadSchema();
const RESNET = path.join(SHARED, 'models/zoo/resnet10.onnx');
// Served by www/serve.py (it serves assets/, git-ignored); removed afterwards.
const SERVED_DIR = path.join(REPO, 'assets/test-cams');
const scratch = mkdtempSync(path.join(tmpdir(), 'netlens-cams-'));

before(() => {
  mkdirSync(SERVED_DIR, { recursive: true });
  copyFileSync(RESNET, path.join(SERVED_DIR, 'resnet10.onnx'));
});
const { server, browser } = suite();
after(() => {
  rmSync(SERVED_DIR, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

/** The runs to check: [method, extra link settings, extra CLI --set values]. */
const cams = schema.methods.filter((m) => m.group === 'attribution' && m.settings.some((s) => s.key === 'layer'));
const lrp = schema.methods.find((m) => m.id === 'lrp');
const composite = lrp.settings.find((s) => s.key === 'composite');
const runs = [
  ...cams.map((m) => [m, '', []]),
  ...composite.options.map((o) => [lrp, `&${lrp.link_prefix}.${composite.link}=${o.value}`, ['--set', `composite=${o.value}`]]),
];

test('every CAM method and LRP composite on resnet10 in the page: drawn, and equal to the CLI under the same model', TIMEOUT, async () => {
  assert.ok(cams.length >= 8, `the CAM family in the schema: ${cams.map((m) => m.id)}`);
  for (const [m, extra, set] of runs) {
    const url = `${server.url}?model=assets/test-cams/resnet10.onnx#v=1&img=sample:chelsea&panel=${m.id}${extra}`;
    const { page, problems } = await openPage(browser.context, url);
    await waitReady(page);
    await page.waitForFunction(() => window.__netlens.model?.name === 'resnet10.onnx', null, { timeout: 120_000 });
    await page.waitForFunction((id) => window.__netlens.runs[id]?.done === true || window.__netlens.runs[id]?.error, m.id, { timeout: 600_000 });
    const run = await page.evaluate((id) => {
      const r = window.__netlens.runs[id];
      const p = Object.values(r.panels ?? {}).find((x) => x.raw);
      return { error: r.error, report: r.report, raw: p && Array.from(p.raw), shape: p?.rawShape };
    }, m.id);
    const label = `${m.id}${extra}`;
    if (extra.endsWith('=epsilon')) {
      // Captum's ε rules have none for a residual sum (Captum does not support skip connections): refused by name.
      assert.match(run.error ?? '', /the ε composite has no rule for op Add \(node '.+'\)/, label);
      assert.deepEqual(problems.pageErrors, [], `${label}: uncaught exceptions`);
      await page.close();
      continue;
    }
    assert.equal(run.error, undefined, `${label}: ${run.error}`);
    assert.ok(run.raw, `${label}: a panel with raw values`);
    assert.ok(run.raw.some((v) => v !== 0), `${label}: not an all-zero map`);
    // The map is drawn: its canvas has more than one colour.
    const colours = await page.evaluate((id) => {
      const c = document.querySelector(`#panel-${id} canvas`);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4 * 97) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
      return seen.size;
    }, m.id);
    assert.ok(colours > 4, `${label}: the drawn map has ${colours} colours`);
    await page.screenshot({ path: screenshotPath(`resnet10-${m.id}${set.length ? `-${set[1].split('=')[1]}` : ''}`) });

    const npy = path.join(scratch, `${m.id}.npy`);
    execFileSync(CLI, ['attribute', path.join(SHARED, 'images/chelsea.png'), '--method', m.id, '--class', String(run.report.class),
      ...set, '-o', path.join(scratch, `${m.id}.png`), '--npy', npy, '--model', RESNET], { encoding: 'utf8', timeout: 600_000 });
    const ref = readNpyF32(npy);
    assert.equal(run.raw.length, ref.length, `${label}: page ${run.shape} vs CLI`);
    const scale = ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const worst = run.raw.reduce((a, v, i) => Math.max(a, Math.abs(v - ref[i])), 0);
    assert.ok(scale > 0, `${label}: the CLI's map is not all zero`);
    assert.ok(worst / scale <= 1e-4, `${label}: page vs CLI max|Δ|/max = ${worst / scale}`);
    if (m.id === 'lrp') assert.match(JSON.stringify(run.report.lines), /Conservation/, `${label}: conservation reported`);
    assert.deepEqual(problems.pageErrors, [], `${label}: uncaught exceptions`);
    await page.close();
  }
});

test('LRP on a model with an op no composite has a rule for: one sentence naming the op and its node', TIMEOUT, async () => {
  // cifarnet's SiLU is exported as Sigmoid × input: a Mul of two activations, which no LRP rule covers.
  mkdirSync(SERVED_DIR, { recursive: true });
  copyFileSync(path.join(SHARED, 'models/zoo/cifarnet.onnx'), path.join(SERVED_DIR, 'cifarnet.onnx'));
  const url = `${server.url}?model=assets/test-cams/cifarnet.onnx#v=1&img=sample:chelsea&panel=lrp`;
  const { page, problems } = await openPage(browser.context, url);
  await waitReady(page);
  await page.waitForFunction(() => window.__netlens.model?.name === 'cifarnet.onnx', null, { timeout: 120_000 });
  // The engine finds this when the model loads (src/methods/applicable.rs): the LRP panel shows the sentence and
  // offers no run, rather than failing each time its tab is shown.
  const why = await page.evaluate(() => window.__netlens.model.info.not_for_model.lrp);
  assert.match(why ?? '', /composite has no rule for op Mul \(node '.+'\)/);
  const p = schema.methods.find((m) => m.id === 'lrp').link_prefix; // the panel's element ids
  await page.waitForFunction(([q, w]) => document.getElementById(`${q}-status`)?.textContent === w, [p, why], { timeout: 120_000 });
  assert.equal(await page.isDisabled(`#${p}-run`), true, 'no LRP run offered');
  assert.equal(await page.evaluate(() => window.__netlens.runs.lrp), undefined, 'nothing was started');
  // Named explicitly (the CLI), the method says the same sentence.
  const cli = (() => {
    try {
      execFileSync(CLI, ['attribute', path.join(SHARED, 'images/chelsea.png'), '--method', 'lrp', '--model', path.join(SERVED_DIR, 'cifarnet.onnx'), '-o', path.join(scratch, 'lrp-cifarnet.png')], { encoding: 'utf8', stdio: 'pipe' });
      return null;
    } catch (e) {
      return `${e.stderr}`;
    }
  })();
  assert.match(cli ?? 'the CLI ran LRP on cifarnet', /composite has no rule for op Mul \(node '.+'\)/);
  assert.deepEqual(problems.pageErrors, []);
  await page.close();
});
