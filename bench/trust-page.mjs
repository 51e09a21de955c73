// `make bench-trust`: issue 8's page timings — deletion/insertion for every method and the full cascading
// randomization, at their defaults on chelsea, from the run button to the result. `--pool N` (or
// BENCH_POOL=N) sets the page's worker pool size (www/pool.js; default: the page's own choice, from the cores);
// run it with 1 and with the default to see what the pool buys. `--query Q` (or BENCH_QUERY=Q) adds Q to the
// page's address, e.g. `threads=1` for the single-thread build (docs/performance.md: Threads in the page). Prints; asserts nothing.
import { cpus, loadavg } from 'node:os';
import { startServer, startBrowser, openPage, waitReady, waitImage } from '../tests/browser/helpers.mjs';

const at = process.argv.indexOf('--pool');
const pool = at > 0 ? process.argv[at + 1] : process.env.BENCH_POOL ?? '';
const qat = process.argv.indexOf('--query');
const extra = qat > 0 ? process.argv[qat + 1] : process.env.BENCH_QUERY ?? '';
const query = [pool ? `pool=${pool}` : '', extra].filter(Boolean).join('&');
const server = await startServer();
const browser = await startBrowser();
try {
  for (const [panel, prefix] of [['faithfulness', 'faith'], ['sanity', 'sanity']]) {
    const url = `${server.url}${query ? `?${query}` : ''}#v=1&img=sample:chelsea&panel=${panel}`;
    const { page } = await openPage(browser.context, url);
    await waitReady(page, 300_000);
    await waitImage(page, 'chelsea', 120_000);
    await page.waitForFunction((p) => !document.getElementById(`${p}-run`).disabled, prefix);
    const size = await page.evaluate(async () => (await import('/www/pool.js')).poolSize());
    const engine = await page.evaluate(() => window.__netlens.build ?? null);
    const load = loadavg()[0].toFixed(2);
    const t0 = Date.now();
    await page.click(`#${prefix}-run`);
    await page.waitForFunction((m) => window.__netlens.runs[m]?.done === true || window.__netlens.runs[m]?.error, panel, { timeout: 900_000 });
    const seconds = (Date.now() - t0) / 1000;
    const run = await page.evaluate((m) => ({ error: window.__netlens.runs[m].error, total: window.__netlens.runs[m].total }), panel);
    const goal = panel === 'faithfulness' ? '20' : '60';
    console.log(`${panel}: ${run.error ? `error: ${run.error}` : `${run.total} steps in ${seconds.toFixed(1)} s`} (goal: ${goal} s) · pool ${size} worker(s) on ${cpus().length} cores · engine ${JSON.stringify(engine)} · load ${load} at start, ${loadavg()[0].toFixed(2)} at end`);
    await page.close();
  }
} finally {
  await browser.close();
  server.stop();
}
