// `make bench-memory` (issues 11 and 24): a ~105 MB model (bench/big_model.py) and a ViT-B/16 (346 MB,
// bench/vit_model.py) opened in the real page with ?model=, in the threaded build and the single-thread one
// (?threads=1): time to ready, the model's build time, its top class, one saliency map, and the worker's wasm
// memory after loading and that saliency, also as a multiple of the file; then a second ViT-B/16 dropped beside the
// first in the threaded build (too large: the sentence). Prints; asserts nothing.
import { loadavg } from 'node:os';
import { startServer, startBrowser, openPage, waitReady, waitImage } from '../tests/browser/helpers.mjs';

const server = await startServer();
const browser = await startBrowser();
try {
  for (const [file, extra] of ['big100.onnx', 'vit_b_16.onnx'].flatMap((f) => [[f, ''], [f, '&threads=1']])) {
    const t0 = Date.now();
    const url = `${server.url}?model=assets/test-models/${file}${extra}#v=1&img=sample:coffee&panel=saliency`;
    const { page } = await openPage(browser.context, url);
    await waitReady(page, 600_000);
    const ready = (Date.now() - t0) / 1000;
    await waitImage(page, 'coffee', 300_000);
    await page.waitForFunction(() => window.__netlens.runs.saliency?.done === true && window.__netlens.saliencyMap, null, { timeout: 300_000 });
    const h = await page.evaluate(() => ({ model: window.__netlens.model, top: window.__netlens.top5?.[0], build: window.__netlens.build }));
    const mem = await page.evaluate(async () => (await import(new URL('www/engine.js', document.baseURI).href)).request({ type: 'memory' }));
    const used = h.model?.name === file ? '' : ` — NOT LOADED (the page fell back to ${h.model?.name})`;
    const times = h.model?.bytes ? ` = ${(mem.bytes / h.model.bytes).toFixed(2)}× the file` : '';
    console.log(`${h.model?.name} (${(h.model?.bytes / 1e6).toFixed(1)} MB), ${h.build?.build} build ×${h.build?.threads}: ready in ${ready.toFixed(1)} s (model build ${h.model?.ms?.toFixed(0)} ms), top class ${h.top?.class}, saliency done, wasm memory ${(mem.bytes / 2 ** 20).toFixed(0)} MiB${times} · load ${loadavg()[0].toFixed(2)}${used}`);
    if (file === 'vit_b_16.onnx' && extra === '') {
      // A second ViT-B/16 while the first is in use (the worker keeps it until the new one works): too large for
      // the threaded build's 2 GiB, said in one sentence before any of it is decoded; the first keeps working.
      await page.setInputFiles('#model-input', `assets/test-models/${file}`);
      await page.waitForFunction(() => window.__netlens.modelFailures.length > 0 || window.__netlens.modelChanges > 0, null, { timeout: 600_000 });
      const r = await page.evaluate(() => ({ failures: window.__netlens.modelFailures, model: window.__netlens.model?.name }));
      console.log(`  a second ${file} dropped: ${r.failures.length ? `refused: “${r.failures[0].message}”` : 'LOADED'}; in use: ${r.model}`);
    }
    await page.close();
  }
} finally {
  await browser.close();
  server.stop();
}
