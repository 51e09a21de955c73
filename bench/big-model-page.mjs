// `make bench-memory` (issue 11): a ~105 MB model (bench/big_model.py) opened in the real page with ?model=, in
// the threaded build and the single-thread one (?threads=1): time to ready, the model's build time, its top
// class, one saliency map, and the worker's wasm memory after loading and that saliency. Prints; asserts nothing.
import { loadavg } from 'node:os';
import { startServer, startBrowser, openPage, waitReady, waitImage } from '../tests/browser/helpers.mjs';

const server = await startServer();
const browser = await startBrowser();
try {
  for (const extra of ['', '&threads=1']) {
    const t0 = Date.now();
    const url = `${server.url}?model=assets/test-models/big100.onnx${extra}#v=1&img=sample:coffee&panel=saliency`;
    const { page } = await openPage(browser.context, url);
    await waitReady(page, 600_000);
    const ready = (Date.now() - t0) / 1000;
    await waitImage(page, 'coffee', 300_000);
    await page.waitForFunction(() => window.__netlens.runs.saliency?.done === true && window.__netlens.saliencyMap, null, { timeout: 300_000 });
    const h = await page.evaluate(() => ({ model: window.__netlens.model, top: window.__netlens.top5?.[0], build: window.__netlens.build }));
    const mem = await page.evaluate(async () => (await import(new URL('www/engine.js', document.baseURI).href)).request({ type: 'memory' }));
    const used = h.model?.name === 'big100.onnx' ? '' : ` — NOT LOADED (the page fell back to ${h.model?.name})`;
    console.log(`${h.model?.name} (${(h.model?.bytes / 1e6).toFixed(1)} MB), ${h.build?.build} build ×${h.build?.threads}: ready in ${ready.toFixed(1)} s (model build ${h.model?.ms?.toFixed(0)} ms), top class ${h.top?.class}, saliency done, wasm memory ${(mem.bytes / 2 ** 20).toFixed(0)} MiB · load ${loadavg()[0].toFixed(2)}${used}`);
    await page.close();
  }
} finally {
  await browser.close();
  server.stop();
}
