// `make bench-trust`: issue 8's page timings — deletion/insertion for every method and the full cascading
// randomization, at their defaults on chelsea, from the run button to the result. Prints; asserts nothing.
import { startServer, startBrowser, openPage, waitReady, waitImage } from '../tests/browser/helpers.mjs';

const server = await startServer();
const browser = await startBrowser();
try {
  for (const [panel, prefix] of [['faithfulness', 'faith'], ['sanity', 'sanity']]) {
    const { page } = await openPage(browser.context, `${server.url}#v=1&img=sample:chelsea&panel=${panel}`);
    await waitReady(page, 300_000);
    await waitImage(page, 'chelsea', 120_000);
    await page.waitForFunction((p) => !document.getElementById(`${p}-run`).disabled, prefix);
    const t0 = Date.now();
    await page.click(`#${prefix}-run`);
    await page.waitForFunction((m) => window.__netlens.runs[m]?.done === true || window.__netlens.runs[m]?.error, panel, { timeout: 900_000 });
    const seconds = (Date.now() - t0) / 1000;
    const run = await page.evaluate((m) => ({ error: window.__netlens.runs[m].error, total: window.__netlens.runs[m].total }), panel);
    console.log(`${panel}: ${run.error ? `error: ${run.error}` : `${run.total} steps in ${seconds.toFixed(1)} s`} (goal: ${panel === 'faithfulness' ? '20' : '60'} s)`);
    await page.close();
  }
} finally {
  await browser.close();
  server.stop();
}
