// Issue 8, "which explanation can I trust?", in the page: the deletion/insertion curves and the model
// randomization run from share links on a sample, their plots and grid are drawn, their numbers agree with the
// native CLI's, a run can be cancelled, and bad settings are named. Screenshots: docs/faithfulness.png,
// docs/sanity.png. Their timings at the defaults are in `make bench-trust` (bench/trust-page.mjs), not here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, suite, openPage, waitReady, waitImage, runCli, SHARED } from './helpers.mjs';

const TIMEOUT = { timeout: 900_000 };
const { server, browser } = suite();
const scratch = mkdtempSync(path.join(tmpdir(), 'netlens-trust-'));

async function openLink(hash) {
  const { page, problems } = await openPage(browser.context, `${server.url}#${hash}`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await waitReady(page, 300_000); // a busy 2-core machine compiling a fresh build's wasm can take minutes
  await waitImage(page, 'chelsea', 120_000);
  return { page, problems };
}

async function runAndWait(page, prefix, id, timeout = 600_000) {
  await page.waitForFunction((p) => !document.getElementById(`${p}-run`).disabled, prefix);
  const t0 = Date.now();
  await page.click(`#${prefix}-run`);
  await page.waitForFunction((m) => window.__netlens.runs[m]?.done === true || window.__netlens.runs[m]?.error, id, { timeout });
  const seconds = (Date.now() - t0) / 1000;
  const run = await page.evaluate((m) => {
    const r = window.__netlens.runs[m];
    return { error: r.error, report: r.report, total: r.total, step: r.step,
      panels: Object.fromEntries(Object.entries(r.panels ?? {}).map(([k, p]) => [k, { ...p, raw: undefined }])) };
  }, id);
  assert.equal(run.error, undefined, `${id} ran without an error`);
  return { ...run, seconds };
}

function assertClean(problems) {
  assert.deepEqual(problems.pageErrors, [], 'uncaught exceptions in the page');
  assert.deepEqual(problems.dialogs, [], 'dialogs opened');
}

/** The drawn chart of a plot output: its polylines (point counts, stroke widths), legend entries, axis labels. */
async function drawnPlot(page, boxId) {
  return page.evaluate((id) => {
    const box = document.getElementById(id);
    const lines = [...box.querySelectorAll('svg polyline')].map((l) => ({
      points: l.getAttribute('points').trim().split(/\s+/).length, width: Number(l.getAttribute('stroke-width')),
      dashed: l.hasAttribute('stroke-dasharray'),
    }));
    const legend = [...box.querySelectorAll('li')].map((li) => li.textContent);
    const labels = [...box.querySelectorAll('svg text')].map((t) => t.textContent);
    const r = box.getBoundingClientRect();
    return { lines, legend, labels, width: r.width, height: r.height };
  }, boxId);
}

test('deletion & insertion from a share link: plots drawn, AUCs as the CLI\'s', TIMEOUT, async () => {
  const steps = 14;
  const { page, problems } = await openLink(`v=1&img=sample:chelsea&panel=faithfulness&faith.methods=ixg,gradcam&faith.steps=${steps}`);
  const run = await runAndWait(page, 'faith', 'faithfulness');
  // (1 map pass + 2·(steps − 1) points) per method + 2·(steps − 1) for the random order (the image's and the
  // baseline's passes, every curve's two ends, are made when the run starts).
  assert.equal(run.total, 2 * (1 + 2 * (steps - 1)) + 2 * (steps - 1), 'progress counts every pass');
  for (const id of ['deletion', 'insertion']) {
    const plot = run.panels[id].plot;
    assert.deepEqual(plot.series.map((s) => s.id), ['ixg', 'gradcam', 'random']);
    for (const s of plot.series) assert.equal(s.points.length, steps + 1, `${id} ${s.id}: steps + 1 points`);
    assert.equal(plot.series.filter((s) => s.highlight).length, 1, 'one highlighted method');
    const drawn = await drawnPlot(page, `faith-${id}`);
    assert.deepEqual(drawn.lines.map((l) => l.points).sort(), [steps + 1, steps + 1, steps + 1], `${id}: three curves drawn`);
    assert.equal(drawn.lines.filter((l) => l.width > 2).length, 1, `${id}: the highlighted curve is thicker`);
    assert.equal(drawn.lines.filter((l) => l.dashed).length, 1, `${id}: the random order is dashed`);
    assert.equal(drawn.legend.length, 3);
    assert.ok(drawn.labels.includes(plot.x_label) && drawn.labels.includes(plot.y_label), `${id}: axis labels`);
    assert.ok(drawn.width > 200 && drawn.height > 100, `${id}: the plot has a size (${drawn.width}×${drawn.height})`);
  }
  const table = await page.locator('#faith-stats').textContent();
  for (const name of ['Gradient × Input', 'Grad-CAM', 'Random order']) assert.ok(table.includes(name), `table row ${name}`);
  assert.match(table, /deletion AUC \d\.\d{3}/);

  const json = path.join(scratch, 'faith.json');
  runCli(['faithfulness', path.join(SHARED, 'images/chelsea.png'), '--methods', 'ixg,gradcam', '--set', `steps=${steps}`, '--json', json]);
  const cli = JSON.parse(readFileSync(json, 'utf8')).report;
  assert.equal(run.report.class, cli.class);
  for (const [i, m] of cli.methods.entries()) {
    const ours = run.report.methods[i];
    assert.equal(ours.id, m.id);
    assert.ok(Math.abs(ours.deletion_auc - m.deletion_auc) < 1e-3, `${m.id} deletion AUC page ${ours.deletion_auc} vs CLI ${m.deletion_auc}`);
    assert.ok(Math.abs(ours.insertion_auc - m.insertion_auc) < 1e-3, `${m.id} insertion AUC page ${ours.insertion_auc} vs CLI ${m.insertion_auc}`);
  }
  await page.locator('#panel-faithfulness').screenshot({ path: path.join(REPO, 'docs/faithfulness.png') });
  assertClean(problems);
  await page.close();
});

test('model randomization from a share link: the grid and the correlation plots drawn, ρ as the CLI\'s', TIMEOUT, async () => {
  const { page, problems } = await openLink('v=1&img=sample:chelsea&panel=sanity&sanity.methods=gbp,gradcam,ixg');
  const run = await runAndWait(page, 'sanity', 'sanity');
  const columns = run.report.columns;
  assert.equal(columns.length, 11, 'trained + 10 modules');
  const grid = run.panels.grid;
  // 112 px cells 4 px apart, after a margin for the ids ('gradcam': 7 glyphs × 12 px + 8) and the depth numbers.
  assert.deepEqual([grid.width, grid.height], [7 * 12 + 8 + 11 * 112 + 10 * 4, 9 * 2 + 8 + 3 * 112 + 2 * 4]);
  const drawn = await page.evaluate(() => {
    const c = document.getElementById('sanity-grid');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let coloured = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) coloured++;
    const r = c.getBoundingClientRect();
    return { width: c.width, height: c.height, coloured, shown: [r.width, r.height] };
  });
  assert.deepEqual([drawn.width, drawn.height], [grid.width, grid.height], 'the grid canvas has the grid\'s size');
  assert.ok(drawn.coloured > 0.5 * 33 * 112 * 112, `the 33 cells are drawn (${drawn.coloured} coloured pixels)`);
  assert.ok(Math.abs(drawn.shown[0] / drawn.shown[1] - grid.width / grid.height) < 0.05, 'shown with its own aspect ratio');
  for (const id of ['abs', 'signed']) {
    const d = await drawnPlot(page, `sanity-${id}`);
    assert.deepEqual(d.lines.map((l) => l.points), [11, 11, 11].map((n, i) => run.panels[id].plot.series[i].points.length));
    assert.equal(d.legend.length, 3);
  }
  const json = path.join(scratch, 'sanity.json');
  runCli(['sanity', path.join(SHARED, 'images/chelsea.png'), '--methods', 'gbp,gradcam,ixg', '--json', json]);
  const cli = JSON.parse(readFileSync(json, 'utf8')).report;
  assert.deepEqual(run.report.columns, cli.columns);
  for (const [i, m] of cli.methods.entries()) {
    for (const key of ['abs', 'signed']) {
      m[key].forEach((v, d) => {
        const ours = run.report.methods[i][key][d];
        assert.ok(v === null ? ours === null : Math.abs(ours - v) < 1e-2, `${m.id} ${key} depth ${d}: page ${ours} vs CLI ${v}`);
      });
    }
  }
  await page.locator('#panel-sanity').screenshot({ path: path.join(REPO, 'docs/sanity.png') });
  assertClean(problems);
  await page.close();
});

test('a trust run can be cancelled, and bad settings are named', TIMEOUT, async () => {
  const { page, problems } = await openLink('v=1&img=sample:chelsea&panel=faithfulness&faith.methods=smoothgrad');
  await page.click('#faith-run');
  await page.waitForFunction(() => (window.__netlens.runs.faithfulness?.step ?? 0) >= 3);
  await page.click('#faith-cancel');
  await page.waitForFunction(() => /Cancelled/.test(document.getElementById('faith-status').textContent));
  assert.notEqual(await page.evaluate(() => window.__netlens.runs.faithfulness.done), true);
  await page.close();

  // A step count of 0 in a link: refused with a message naming the setting, the default kept.
  const bad = await openPage(browser.context, `${server.url}#v=1&img=sample:chelsea&panel=faithfulness&faith.steps=0`);
  await waitReady(bad.page);
  await bad.page.waitForFunction(() => window.__netlens.messages.some((m) => m.text.includes('faith.steps')));
  assert.equal(await bad.page.evaluate(() => window.__netlens.state.faith.steps), 56);
  await bad.page.close();

  // An unknown method id and a depth beyond the network pass the link's checks; the engine names them.
  for (const [hash, prefix, id, want] of [
    ['panel=faithfulness&faith.methods=ixg,nope', 'faith', 'faithfulness', /Methods \(methods\): 'nope'/],
    ['panel=sanity&sanity.depth=12', 'sanity', 'sanity', /Depth \(depth\) of 12 is beyond the network/],
  ]) {
    const p = await openLink(`v=1&img=sample:chelsea&${hash}`);
    await p.page.waitForFunction((x) => !document.getElementById(`${x}-run`).disabled, prefix);
    await p.page.click(`#${prefix}-run`);
    await p.page.waitForFunction((m) => window.__netlens.runs[m]?.error, id);
    assert.match(await p.page.evaluate((m) => window.__netlens.runs[m].error, id), want);
    assertClean(p.problems);
    await p.page.close();
  }
  assertClean(problems);
});
