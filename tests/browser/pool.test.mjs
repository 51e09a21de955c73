// The worker pool (www/pool.js, src/methods/shard.rs): a trust run split over several workers and merged gives
// the very result of one worker (`?pool=1` forces today's single worker), and so does the compare view spread
// over the pool; a pooled run can be cancelled and runs again; a pool worker that traps mid-run ends the run
// with a message naming the part, and the next run works. Timings: `make bench-trust`, not here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suite, openPage, waitReady, waitImage } from './helpers.mjs';

const TIMEOUT = { timeout: 900_000 };
const { server, browser } = suite();

async function open(pool, hash) {
  const { page, problems } = await openPage(browser.context, `${server.url}?test&pool=${pool}#${hash}`);
  await waitReady(page, 300_000);
  await waitImage(page, 'chelsea', 120_000);
  return { page, problems };
}

/** Runs a panel's method to the end; its report, panels (hashes and plots) and last progress. */
async function runPanel(page, prefix, id) {
  await page.waitForFunction((p) => !document.getElementById(`${p}-run`).disabled, prefix);
  await page.click(`#${prefix}-run`);
  await page.waitForFunction((m) => window.__netlens.runs[m]?.done === true || window.__netlens.runs[m]?.error, id, { timeout: 600_000 });
  return page.evaluate((m) => {
    const r = window.__netlens.runs[m];
    const panels = Object.fromEntries(Object.entries(r.panels ?? {}).map(([k, p]) => [k, { ...p, raw: undefined }]));
    return { error: r.error, report: r.report, panels, step: r.step, total: r.total };
  }, id);
}

function assertClean(problems) {
  assert.deepEqual(problems.pageErrors, [], 'uncaught exceptions in the page');
  assert.deepEqual(problems.dialogs, [], 'dialogs opened');
}

for (const [id, prefix, hash] of [
  ['faithfulness', 'faith', 'faith.methods=ixg,gradcam,smoothgrad&faith.steps=8'],
  ['sanity', 'sanity', 'sanity.methods=gbp,gradcam,ixg&sanity.depth=3'],
]) {
  test(`${id} over a pool of 3 workers equals one worker's run`, TIMEOUT, async () => {
    const results = [];
    for (const pool of [1, 3]) {
      const { page, problems } = await open(pool, `v=1&img=sample:chelsea&panel=${id}&${hash}`);
      const r = await runPanel(page, prefix, id);
      assert.equal(r.error, undefined, `pool ${pool}: no error`);
      assert.equal(r.step, r.total, `pool ${pool}: progress reaches its total`);
      const split = await page.evaluate(() => window.__netlens.pool);
      if (pool === 1) assert.equal(split, null, 'one worker: the run is not split');
      else {
        assert.equal(split?.workers, 3, `run on 3 workers (${JSON.stringify(split)})`);
        assert.ok(split.parts.length >= 3, `in at least 3 parts (${JSON.stringify(split)})`);
      }
      results.push(r);
      assertClean(problems);
      await page.close();
    }
    const [one, three] = results;
    assert.ok(Object.keys(one.panels).length >= 2, 'panels to compare');
    assert.deepEqual(three.report, one.report, 'the same report (every curve / correlation, CSV, lines)');
    assert.deepEqual(three.panels, one.panels, 'the same panels (pixels by hash, plots)');
    // No map is computed twice here (a group splits only when its map is cheap next to its curves: the random
    // order's), so the parts' passes add up to the single run's.
    if (id === 'faithfulness') assert.equal(three.total, one.total, 'the parts\' passes add up to the single run\'s');
  });
}

test('the compare view over a pool of 2 workers draws the same maps as one worker', TIMEOUT, async () => {
  const cells = [];
  for (const pool of [1, 2]) {
    const { page, problems } = await open(pool, 'v=1&img=sample:chelsea&panel=compare');
    await page.waitForFunction(() => window.__netlens.compare.done >= 1, null, { timeout: 600_000 });
    const c = await page.evaluate(() => window.__netlens.compare);
    assert.equal(c.workers, pool, `the compare view ran on ${pool} worker(s)`);
    assert.match(await page.textContent('#cmp-status'), pool > 1 ? /on 2 workers/ : /in [\d.]+ s( \(not for this model: [^)]*\))?\.$/);
    // The page's worker stops spinning its threads while the other worker is busy, and spins again after.
    const spin = await page.evaluate(() => window.__netlens.poolSpin);
    if (pool === 1) assert.deepEqual(spin, [], 'one worker: spinning untouched');
    else {
      assert.equal(spin[0], false, `told to stop spinning first (${spin})`);
      assert.equal(spin.at(-1), true, `told to spin again at the end (${spin})`);
    }
    cells.push(Object.fromEntries(Object.entries(c.cells).map(([m, x]) => [m, { hash: x.hash, rawHash: x.rawHash, error: x.error }])));
    assertClean(problems);
    await page.close();
  }
  assert.ok(Object.keys(cells[0]).length >= 8, 'every compare method ran');
  for (const [m, x] of Object.entries(cells[0])) {
    assert.equal(x.error, undefined, `${m}: no error`);
    assert.ok(x.rawHash, `${m}: a map`);
  }
  assert.deepEqual(cells[1], cells[0], 'every map equal, value for value');
});

test('a pooled run can be cancelled and run again; a pool worker that traps ends the run with a message', TIMEOUT, async () => {
  const { page, problems } = await open(2, 'v=1&img=sample:chelsea&panel=faithfulness&faith.methods=ixg,smoothgrad&faith.steps=8');
  await page.click('#faith-run');
  await page.waitForFunction(() => (window.__netlens.runs.faithfulness?.step ?? 0) >= 4);
  await page.click('#faith-cancel');
  await page.waitForFunction(() => /Cancelled/.test(document.getElementById('faith-status').textContent));
  const stopped = await page.evaluate(() => window.__netlens.runs.faithfulness.step);
  await page.waitForTimeout(1500);
  assert.equal(await page.evaluate(() => window.__netlens.runs.faithfulness.step), stopped, 'no progress after cancel');
  const again = await runPanel(page, 'faith', 'faithfulness');
  assert.equal(again.error, undefined);
  assert.equal(again.report.methods.length, 3);

  // The extra worker traps while it runs its part: the run ends with an error naming the part, nothing hangs.
  await page.click('#faith-run');
  await page.waitForFunction(() => (window.__netlens.runs.faithfulness?.step ?? 0) >= 2);
  await page.evaluate(async () => (await import('/www/pool.js')).testTrap(0));
  await page.waitForFunction(() => window.__netlens.runs.faithfulness?.error || window.__netlens.runs.faithfulness?.done, null, { timeout: 120_000 });
  const error = await page.evaluate(() => window.__netlens.runs.faithfulness.error);
  assert.match(error ?? '', /Deletion & insertion, part \d+ of \d+: worker 1 of the pool stopped/);
  // A new extra worker is started for the next run, which gives the same result as before.
  const after = await runPanel(page, 'faith', 'faithfulness');
  assert.equal(after.error, undefined);
  assert.deepEqual(after.report, again.report);
  assertClean(problems);
  await page.close();
});
