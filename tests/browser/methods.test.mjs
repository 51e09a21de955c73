// The page built from the method registry: its forms against the Rust schema, the attribution methods (share
// links reproduce each map; one map equals the native CLI's), bad settings, the compare view, and an image
// given before the model is ready (issue 12).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  REPO, SHARED, suite, inFreshBrowser, openPage, waitReady, waitImage, screenshotPath, readNpyF32, runCli,
  loadSchema, decodePngInPage, setFields,
} from './helpers.mjs';

const TIMEOUT = { timeout: 900_000 };
const schema = loadSchema();
// The attention methods need a transformer (tests/browser/transformers.test.mjs): on SqueezeNet they are left
// out of the compare view, and run by themselves they say why.
const attention = ['rollout', 'gradrollout'];
const attribution = schema.methods.filter((m) => m.group === 'attribution' && !attention.includes(m.id));
const compared = schema.methods.filter((m) => m.compare && !attention.includes(m.id));
const { server, browser } = suite();
const scratch = mkdtempSync(path.join(tmpdir(), 'netlens-methods-'));

function assertClean(problems) {
  assert.deepEqual(problems.pageErrors, [], 'uncaught exceptions in the page');
  assert.deepEqual(problems.dialogs, [], 'dialogs opened');
}

async function waitRun(page, id, timeout = 300_000) {
  await page.waitForFunction((m) => window.__netlens.runs[m]?.done === true, id, { timeout });
  return page.evaluate((m) => {
    const r = window.__netlens.runs[m];
    return { report: r.report, panels: Object.fromEntries(Object.entries(r.panels).map(([k, p]) => [k, { ...p, raw: undefined }])) };
  }, id);
}

test('the forms, pkg/schema.json and the worker\'s schema() are the registry the CLI prints', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, server.url);
  await waitReady(page);
  const fromWorker = await page.evaluate(() => window.__netlens.schema);
  assert.deepEqual(fromWorker, schema, 'wasm schema() equals `netlens schema`');
  const fromFile = await page.evaluate(async () => (await fetch('pkg/schema.json')).json());
  assert.deepEqual(fromFile, schema, 'pkg/schema.json is the current build\'s');

  let inputs = 0;
  for (const m of schema.methods) {
    assert.equal(await page.locator(`#panel-${m.id}`).count(), 1, `a panel for ${m.id}`);
    const summary = await page.locator(`#panel-${m.id} .summary`).first().textContent();
    assert.ok(summary.includes(m.summary), `${m.id}: its summary is shown`);
    if (m.paper?.url) {
      assert.equal(await page.locator(`#panel-${m.id} .summary a[href="${m.paper.url}"]`).count(), 1, `${m.id}: its paper link`);
    }
    for (const s of m.settings) {
      const field = await page.evaluate(([prefix, link, type]) => {
        const id = type === 'class' ? `${prefix}-search` : `${prefix}-${link}`;
        const e = document.getElementById(id);
        if (!e) return null;
        const label = e.closest('label');
        return {
          tag: e.tagName, type: e.type, min: e.getAttribute('min'), max: e.getAttribute('max'), step: e.getAttribute('step'),
          value: e.value, checked: e.checked, pattern: e.getAttribute('pattern'),
          // The help is visible text under the field (issue 31), the field described by it.
          hint: document.getElementById(e.getAttribute('aria-describedby'))?.textContent ?? null,
          options: e.tagName === 'SELECT' ? [...e.options].map((o) => o.value) : null,
          label: label?.textContent ?? document.querySelector(`label[for="${id}"]`)?.textContent,
          chosen: document.getElementById(`${prefix}-chosen`)?.textContent ?? null,
        };
      }, [m.link_prefix, s.link, s.type]);
      const what = `${m.id}.${s.key}`;
      assert.ok(field, `${what}: a form field`);
      assert.ok(field.label.includes(s.label), `${what}: labelled "${s.label}" (${field.label})`);
      if (s.help) assert.equal(field.hint, s.help, `${what}: help text`);
      if (s.type === 'int' || s.type === 'float') {
        assert.equal(field.type, 'number', what);
        assert.equal(field.min, String(s.min), `${what}: min`);
        assert.equal(field.max, String(s.max), `${what}: max`);
        assert.equal(field.step, s.type === 'int' ? '1' : 'any', `${what}: step`);
        assert.equal(Number(field.value), s.default, `${what}: default`);
      } else if (s.type === 'choice') {
        assert.deepEqual(field.options, s.options.map((o) => o.value), `${what}: options`);
        assert.equal(field.value, s.default, `${what}: default`);
      } else if (s.type === 'bool') {
        assert.equal(field.checked, s.default, `${what}: default`);
      } else if (s.type === 'text' && field.tag === 'SELECT') { // a layer: the chooser of the model's layers
        assert.equal(field.value, s.default, `${what}: default`);
        assert.ok(field.options.includes(s.default), `${what}: the default is offered`);
      } else if (s.type === 'text') {
        assert.equal(field.value, s.default, `${what}: default`);
        assert.equal(field.pattern, s.pattern, `${what}: pattern`);
      } else if (s.type === 'class') {
        if (s.default === null) assert.match(field.chosen, /predicted/i, what);
        else assert.ok(field.chosen.includes(`#${s.default})`), `${what}: default class ${s.default}: ${field.chosen}`);
      }
      inputs++;
    }
  }
  assert.ok(inputs >= 20, `${inputs} fields checked`);
  assertClean(problems);
  await page.close();
});

test('each attribution method: a share link reproduces its map in a fresh browser', TIMEOUT, async () => {
  await inFreshBrowser(async (context) => {
    for (const m of attribution) {
      const classKey = m.settings.find((s) => s.type === 'class');
      // A non-default class, so the link has something to carry.
      const hash = `#v=1&img=sample:chelsea&panel=${m.id}${classKey ? `&${m.link_prefix}.${classKey.link}=281` : ''}`;
      const { page, problems } = await openPage(browser.context, server.url + hash);
      await waitReady(page);
      const first = await waitRun(page, m.id);
      if (classKey) assert.equal(first.report.class, 281, `${m.id} explains the linked class`);
      const out = Object.values(first.panels).find((p) => p.rawHash);
      assert.ok(out, `${m.id}: a panel with raw values`);
      const link = await page.evaluate(() => window.__netlens.shareUrl);
      assert.ok(link.includes(`panel=${m.id}`), link);
      assert.equal(await page.isHidden(`#panel-${m.id}`), false, `${m.id}: its panel shows`);
      await page.screenshot({ path: screenshotPath(`method-${m.id}`) });
      assertClean(problems);
      await page.close();

      const { page: other, problems: otherProblems } = await openPage(context, link);
      await waitReady(other);
      const again = await waitRun(other, m.id);
      const same = Object.values(again.panels).find((p) => p.rawHash);
      assert.equal(same.rawHash, out.rawHash, `${m.id}: the same raw map after reopening the link`);
      assert.deepEqual(same.rawShape, out.rawShape);
      assert.deepEqual(await other.evaluate(() => window.__netlens.messages.filter((x) => x.kind !== 'info')), []);
      assertClean(otherProblems);
      await other.close();
    }
  });
});

test('each adversarial method: a share link reproduces its result in a fresh browser', TIMEOUT, async () => {
  const attacks = schema.methods.filter((m) => m.group === 'adversarial');
  assert.ok(attacks.length > 0, 'the schema has adversarial methods');
  const fingerprint = (run, m) => {
    const download = m.outputs.find((o) => o.download);
    if (download) return run.panels[download.id]?.hash;
    return JSON.stringify(run.report.lines); // a plot: its numbers
  };
  await inFreshBrowser(async (context) => {
    for (const m of attacks) {
      const target = m.settings.find((s) => s.type === 'class');
      const hash = `#v=1&img=sample:chelsea&panel=${m.id}${target ? `&${m.link_prefix}.${target.link}=76` : ''}`;
      const { page, problems } = await openPage(browser.context, server.url + hash);
      await waitReady(page);
      const first = fingerprint(await waitRun(page, m.id), m);
      assert.ok(first, `${m.id}: a result to compare`);
      const link = await page.evaluate(() => window.__netlens.shareUrl);
      assertClean(problems);
      await page.close();
      const { page: other, problems: otherProblems } = await openPage(context, link);
      await waitReady(other);
      assert.equal(fingerprint(await waitRun(other, m.id), m), first, `${m.id}: the same result after reopening ${link}`);
      assertClean(otherProblems);
      await other.close();
    }
  });
});

test('Gradient × Input in the page equals the native CLI\'s --npy', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, `${server.url}#v=1&img=sample:chelsea&panel=ixg&ixg.class=285`);
  await waitReady(page);
  await waitRun(page, 'ixg');
  const ours = await page.evaluate(() => {
    const p = Object.values(window.__netlens.runs.ixg.panels).find((x) => x.raw);
    return { raw: Array.from(p.raw), shape: p.rawShape };
  });
  const npy = path.join(scratch, 'ixg.npy');
  runCli(['attribute', path.join(SHARED, 'images/chelsea.png'), '--method', 'ixg', '--class', '285', '-o', path.join(scratch, 'ixg.png'), '--npy', npy]);
  const ref = readNpyF32(npy);
  assert.deepEqual(ours.shape, [3, 224, 224]);
  assert.equal(ours.raw.length, ref.length);
  const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const worst = ours.raw.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
  assert.ok(scale > 0, 'the reference map is not all zero');
  assert.ok(worst / scale <= 1e-4, `page vs CLI ixg: max |diff| / max |ref| = ${worst / scale}`);
  assertClean(problems);
  await page.close();
});

test('a bad setting gives a message naming it, and the page keeps working', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, server.url);
  await waitReady(page);
  await waitImage(page, 'chelsea');
  // An int setting of an attribution method, typed out of range.
  const m = attribution.find((x) => x.settings.some((s) => s.type === 'int'));
  const s = m.settings.find((x) => x.type === 'int');
  await page.click('#tab-attribution');
  await page.click(`#method-${m.id}`);
  await page.fill(`#${m.link_prefix}-${s.link}`, String(s.max + 1));
  await page.dispatchEvent(`#${m.link_prefix}-${s.link}`, 'change');
  // The form's sentence is the registry's (checkSetting through wasm): it names the setting by its label and key.
  await page.waitForFunction((label) => window.__netlens.messages.some((x) => x.kind === 'error' && x.text.includes(label)), s.label);
  const text = await page.evaluate(() => window.__netlens.messages.at(-1).text);
  assert.ok(text.includes(s.label), `the message gives the label "${s.label}": ${text}`);
  assert.ok(text.includes(`(${s.key})`), `the message gives the key "${s.key}": ${text}`);
  assert.ok(text.includes(String(s.max)), `the message gives the bound: ${text}`);
  assert.equal(await page.getAttribute(`#${m.link_prefix}-${s.link}`, 'aria-invalid'), 'true');
  // A value the form accepts but the engine rejects: a Grad-CAM layer that does not exist.
  const gradcam = schema.methods.find((x) => x.id === 'gradcam');
  const layer = gradcam.settings.find((x) => x.type === 'text');
  await page.click('#method-gradcam');
  await waitRun(page, 'gradcam');
  // The layer field is a chooser of the model's layers (www/layers.js): a layer it lacks comes from a stale link.
  await page.$eval(`#gradcam-${layer.link}`, (select) => {
    select.append(new Option('no.such.layer', 'no.such.layer'));
    select.value = 'no.such.layer';
    select.dispatchEvent(new Event('change'));
  });
  await page.waitForFunction(() => window.__netlens.runs.gradcam?.error);
  const error = await page.evaluate(() => window.__netlens.runs.gradcam.error);
  assert.match(error, /no\.such\.layer/);
  assert.ok(error.includes(layer.label) || error.includes(layer.key), `the engine's message names the setting: ${error}`);
  assert.match(await page.textContent('#gradcam-status'), /error/i);
  // Still working: the default layer again, then another method and another image.
  await page.evaluate(() => { window.__netlens.runs.gradcam = null; });
  await page.selectOption(`#gradcam-${layer.link}`, layer.default);
  assert.equal((await waitRun(page, 'gradcam')).report.class, 285);
  await page.click(`#method-${m.id}`);
  await page.evaluate((id) => { window.__netlens.runs[id] = null; }, m.id);
  const valid = Math.min(s.max, s.min + 2);
  await page.fill(`#${m.link_prefix}-${s.link}`, String(valid));
  await page.dispatchEvent(`#${m.link_prefix}-${s.link}`, 'change');
  // Methods that do not run by themselves (auto_run false: several passes) wait for their button.
  if (!m.auto_run) await page.click(`#${m.link_prefix}-run`);
  const rerun = await waitRun(page, m.id);
  assert.equal(rerun.report.class, 285);
  assert.equal(await page.getAttribute(`#${m.link_prefix}-${s.link}`, 'aria-invalid'), 'false');
  assert.equal(await page.evaluate(([p, k]) => window.__netlens.state[p][k], [m.link_prefix, s.key]), valid);
  await page.click('[data-sample="coffee"]');
  await waitImage(page, 'coffee');
  await page.click('#tab-saliency');
  await page.waitForFunction(() => window.__netlens.saliencyClass === 967);
  assertClean(problems);
  await page.close();
});

test('compare view: every compare method\'s map on one image and class, progress, cancel, one PNG figure', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, server.url);
  await page.setViewportSize({ width: 1280, height: 1000 });
  await waitReady(page);
  await waitImage(page, 'chelsea');
  await page.click('#tab-compare');
  await page.waitForFunction(() => window.__netlens.compare.done >= 1, null, { timeout: 600_000 });
  const c = await page.evaluate(() => window.__netlens.compare);
  assert.equal(c.class, 285, 'the predicted class');
  assert.deepEqual(c.methods, compared.map((m) => m.id));
  assert.deepEqual(c.skipped, attention, 'the attention methods are left out on a CNN');
  for (const m of compared) {
    assert.ok(c.cells[m.id] && !c.cells[m.id].error, `${m.id}: ${JSON.stringify(c.cells[m.id])}`);
    assert.equal(c.cells[m.id].report.class, 285, `${m.id} explains class 285`);
    assert.ok(c.progress[m.id] >= 1, `${m.id}: progress was shown`);
    // The map is drawn: its canvas is not blank.
    const spread = await page.evaluate((id) => {
      const cv = document.getElementById(`cmp-${id}`);
      const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return { colours: seen.size, alpha: d[3] };
    }, m.id);
    assert.ok(spread.colours > 20 && spread.alpha === 255, `${m.id}: the map is drawn (${JSON.stringify(spread)})`);
    assert.equal(await page.textContent(`#cmp-cell-${m.id} .cell-status`), 'Done');
  }
  mkdirSync(path.join(REPO, 'docs'), { recursive: true });
  await page.screenshot({ path: path.join(REPO, 'docs/compare.png'), fullPage: true });
  copyFileSync(path.join(REPO, 'docs/compare.png'), screenshotPath('compare'));

  // The figure: one PNG with every map and the labels.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#cmp-download')]);
  const file = path.join(scratch, 'compare.png');
  await download.saveAs(file);
  const png = readFileSync(file);
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const cols = Math.min(4, compared.length);
  assert.ok(width >= cols * 224 && height >= Math.ceil(compared.length / cols) * 224, `figure ${width}×${height}`);
  const pixels = await decodePngInPage(page, png);
  assert.equal(pixels.length, width * height * 4);
  copyFileSync(file, screenshotPath('compare-figure'));

  // Another class: everything runs again; cancel stops the rest.
  const started = c.started;
  await page.fill('#cmp-search', 'tarantula');
  await page.press('#cmp-search', 'Enter');
  await page.waitForFunction((n) => window.__netlens.compare.started > n && Object.keys(window.__netlens.compare.cells).length >= 1, started, { timeout: 120_000 });
  await page.click('#cmp-cancel');
  const cells = await page.evaluate(() => Object.keys(window.__netlens.compare.cells).length);
  await page.waitForTimeout(3000);
  const later = await page.evaluate(() => ({ n: Object.keys(window.__netlens.compare.cells).length, done: window.__netlens.compare.done, class: window.__netlens.compare.class }));
  assert.equal(later.class, 76);
  assert.ok(later.n <= cells + 1 && later.n < compared.length, `cells kept coming after cancel: ${cells} -> ${later.n}`);
  assert.equal(later.done, 1, 'the cancelled comparison did not finish');
  assert.match(await page.textContent('#cmp-status'), /Cancelled/);
  assertClean(problems);
  await page.close();
});

test('a photo chosen before the model is ready is kept, shown as waiting, then classified (issue 12)', TIMEOUT, async () => {
  await inFreshBrowser(async (context) => {
    // The model arrives 6 s late.
    await context.route('**/assets/models/*.onnx', async (route) => {
      await new Promise((r) => setTimeout(r, 6000));
      await route.continue();
    });
    const { page, problems } = await openPage(context);
    await page.goto(server.url, { waitUntil: 'commit' });
    await page.waitForTimeout(100);
    await page.setInputFiles('#file-input', path.join(SHARED, 'images/rocket.jpg'));
    await page.waitForFunction(() => /Waiting for the model/.test(document.getElementById('crop-caption').textContent));
    assert.equal(await page.evaluate(() => window.__netlens.ready), false, 'the model was not ready yet');
    await page.screenshot({ path: screenshotPath('waiting-for-model') });
    await waitReady(page);
    await page.waitForFunction(() => window.__netlens.imageSource?.name === 'rocket.jpg', null, { timeout: 60_000 });
    const seen = await page.evaluate(() => ({ sources: window.__netlens.sources, top: window.__netlens.top5 }));
    assert.equal(seen.top[0].class, 657, `the photo is classified: ${JSON.stringify(seen.top[0])}`);
    assert.deepEqual(seen.sources.map((s) => s.kind), ['file'], 'no sample replaced it, before or after');
    assert.match(await page.textContent('#crop-caption'), /rocket\.jpg/);
    // The saliency of the photo follows, as for any image.
    await page.waitForFunction(() => window.__netlens.saliencyClass === 657);
    assertClean(problems);
  });
});

test('a compare link opens the compare view and runs it for the linked class', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, `${server.url}#v=1&img=sample:coffee&panel=compare&cmp.class=504`);
  await waitReady(page);
  await page.waitForFunction(() => window.__netlens.compare.done >= 1, null, { timeout: 600_000 });
  const c = await page.evaluate(() => ({ class: window.__netlens.compare.class, cells: window.__netlens.compare.cells, url: window.__netlens.shareUrl }));
  assert.equal(c.class, 504, 'the linked class (coffee mug), not the predicted espresso');
  assert.equal(await page.isHidden('#panel-compare'), false);
  for (const m of compared) assert.equal(c.cells[m.id]?.report?.class, 504, m.id);
  assert.match(c.url, /panel=compare/);
  assert.match(c.url, /cmp\.class=504/);
  assert.match(c.url, /img=sample%3Acoffee|img=sample:coffee/);
  assertClean(problems);
  await page.close();
});

test('inside the network: the activation browser, a channel visualization and DeepDream with live frames, a channel link reproduced exactly', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, `${server.url}#v=1&img=sample:chelsea&panel=activations`);
  await waitReady(page);
  const act = await waitRun(page, 'activations');
  const [c, h, w] = act.panels.grid.rawShape;
  const order = act.report.channels.map((x) => x.channel);
  assert.equal(order.length, c, 'every channel listed');
  // The strongest channel is shown at once; clicking the grid's second tile shows the second strongest.
  await page.waitForFunction((ch) => window.__netlens.activationChannel?.channel === ch, order[0]);
  const box = await page.locator('#act-grid').boundingBox();
  const cols = Math.ceil(Math.sqrt(c));
  const scale = box.width / (cols * (w + 1) - 1);
  await page.mouse.click(box.x + (w + 1 + w / 2) * scale, box.y + (h / 2) * scale);
  await page.waitForFunction((ch) => window.__netlens.activationChannel?.channel === ch, order[1]);
  assert.match(await page.textContent('#act-channel-caption'), new RegExp(`#${order[1]}\\b`));
  const drawn = await page.evaluate(() => {
    const d = document.getElementById('act-channel').getContext('2d').getImageData(0, 0, 224, 224).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 11) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size;
  });
  assert.ok(drawn > 50, `the channel's overlay is drawn (${drawn} colours)`);

  // "Visualize this channel": a short run, live frames, then its link in a fresh browser gives the same pixels.
  await page.click('#method-channel');
  await page.fill('#ch-iters', '6');
  await page.dispatchEvent('#ch-iters', 'change');
  await page.click('#method-activations');
  await page.click('#act-visualize');
  await page.waitForFunction(() => window.__netlens.runs.channel?.done, null, { timeout: 300_000 });
  const ch = await page.evaluate(() => ({ run: window.__netlens.runs.channel, url: window.__netlens.shareUrl, state: window.__netlens.state.ch }));
  assert.equal(ch.state.channel, order[1]);
  assert.equal(ch.state.layer, act.report.layer);
  assert.equal(ch.run.step, 6);
  assert.ok(ch.run.frameHash, 'live frames arrived');
  assert.equal(await page.isHidden('#panel-channel'), false);
  await page.screenshot({ path: screenshotPath('channel') });

  // "DeepDream this layer": one octave of two steps, with live frames.
  await page.click('#method-dream');
  await setFields(page, [['dream-oct', '1'], ['dream-steps', '2']]);
  await page.click('#method-activations');
  await page.click('#act-dream');
  await page.waitForFunction(() => window.__netlens.runs.dream?.done, null, { timeout: 300_000 });
  const dream = await page.evaluate(() => ({ run: window.__netlens.runs.dream, state: window.__netlens.state.dream }));
  assert.equal(dream.state.layer, act.report.layer);
  assert.ok(dream.run.frameHash && dream.run.step >= 2, JSON.stringify({ step: dream.run.step }));
  await page.screenshot({ path: screenshotPath('dream') });
  assertClean(problems);
  await page.close();

  await inFreshBrowser(async (context) => {
    const { page: other, problems: otherProblems } = await openPage(context, ch.url);
    await waitReady(other);
    await other.waitForFunction(() => window.__netlens.runs.channel?.done, null, { timeout: 300_000 });
    assert.equal(await other.evaluate(() => window.__netlens.runs.channel.frameHash), ch.run.frameHash, 'the same channel visualization');
    assertClean(otherProblems);
  });
});

test('adversarial lab in the page: targeted PGD with its survival lines, and the robustness curve drawn', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, `${server.url}#v=1&img=sample:chelsea&panel=pgd&pgd.target=76&pgd.steps=20`);
  await waitReady(page);
  const pgd = await waitRun(page, 'pgd');
  const lines = Object.fromEntries(pgd.report.lines);
  assert.match(lines.After, /^tarantula \(#76\)/, 'targeted PGD makes chelsea a tarantula');
  for (const copy of ['PNG', 'JPEG q90', 'JPEG q75']) {
    const label = `Survives as ${copy}?`;
    assert.match(lines[label] ?? '', /fools it/, `${label} is reported`);
    assert.ok((await page.locator('#panel-pgd').textContent()).includes(label), `${label} is shown in the page`);
  }
  assert.equal(lines["Largest change (L∞)"], "8 of 255 per colour value", "L∞ = ε = 8 pixel units");
  await page.screenshot({ path: screenshotPath('pgd') });

  assertClean(problems);
  await page.close();

  const { page: rob, problems: robProblems } = await openPage(browser.context, `${server.url}#v=1&img=sample:chelsea&panel=robustness`);
  await waitReady(rob);
  const run = await waitRun(rob, 'robustness');
  const points = run.report.points;
  assert.equal(points.length, 16, 'ε = 0 … 16 for FGSM and PGD');
  assert.ok(points.find((p) => p.attack === 'pgd' && p.eps === 8).p_true < 0.05, 'PGD at ε = 8 flips chelsea');
  const curve = rob.locator('#panel-robustness svg');
  assert.ok(await curve.count() >= 1, 'the curve is drawn as SVG');
  const drawn = await rob.locator('#panel-robustness svg polyline, #panel-robustness svg path').count();
  assert.ok(drawn >= 2, `both series drawn (${drawn} lines)`);
  await rob.locator('#panel-robustness').screenshot({ path: path.join(REPO, 'docs/robustness.png') });
  assertClean(robProblems);
  await rob.close();
});
