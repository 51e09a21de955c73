// The page's main thread wires the parts together; no computation here (the engine runs in www/worker.js).
//   engine.js  worker client: requests, runs, restart      input.js   image input (file, drop, paste, samples)
//   state.js   page state + share link                     panels.js  tabs and method panels from the schema
//   compare.js the compare view                            testhook.js what the browser tests observe
//   models.js  a user's own ONNX model (drop, pick, ?model=URL), back to SqueezeNet
//   live.js    live camera mode (frames to the engine, top-5 and map per frame)
import './testhook.js';
import { on } from './bus.js';
import { engine, startEngine } from './engine.js';
import {
  setupInputs, buildGallery, usePending, useSample, useJpeg, reloadCurrent, showWaiting, clearWaiting,
} from './input.js';
import { buildPanels } from './panels.js';
import { attachActivations } from './activations.js';
import { createCompare } from './compare.js';
import { state, initState, applyLink, setLinkImage, updateShareLink, copyLink, isForeignHash } from './state.js';
import { update } from './store.js';
import { resolveStartChoice, setupModels } from './models.js';
import { setupLive } from './live.js';
import { validatorReady } from './core.js';
import { DEFAULT_MODEL_NAME } from './protocol.js';
import { setupLinkImage, showLinkImage } from './linkimage.js';
import { setupLayerChoosers } from './layers.js';
import { $, showMessage } from './ui.js';

let ui = null; // {panels, show} once the schema is known
const compare = createCompare();
let started = false; // the first 'ready' built the page; later ones are worker restarts
let reproduce = null; // the panel a share link asked to reproduce, run once its image is in

function setReady(ready) {
  $('copy-link').disabled = !ready;
  $('model-status').classList.toggle('loaded', ready);
  if (!ui) return;
  for (const p of ui.panels.values()) p.setReady(ready);
  compare.setReady(ready);
}

on('model-starting', () => {
  $('model-label').textContent = 'Model: downloading…';
});

on('model-progress', ({ loaded, total }) => {
  const bar = $('model-progress');
  bar.max = total || 1;
  bar.value = loaded;
  const mb = (n) => (n / 1e6).toFixed(1);
  $('model-label').textContent = `Model: ${mb(loaded)} / ${total ? mb(total) : '?'} MB`;
});

on('model-error', ({ text }) => {
  $('model-label').textContent = 'Model failed to load';
  $('model-status').classList.add('failed');
  showMessage('error', `Model failed to load: ${text}. The page cannot classify until it loads; reload to retry.`);
});

on('restart', ({ reason }) => {
  showMessage('error', `The engine stopped (${reason}); restarting it.`);
  compare.restarted();
  setReady(false);
});

on('engine-error', ({ message }) => showMessage('error', message));

on('input-waiting', ({ name }) => {
  showMessage('info', `The model is still loading: ${name} will be used as soon as it is ready.`);
});

// A new image: the link learns about it, every panel drops output made from the old one.
on('input-changed', (d) => {
  setLinkImage(d);
  for (const p of ui.panels.values()) p.imageChanged();
  compare.imageChanged();
  if (reproduce) {
    const id = reproduce;
    reproduce = null;
    const panel = ui.panels.get(id);
    if (panel && !panel.auto) panel.start();
  }
});

let built = null; // JSON of the schema the panels were built from
let detach = null; // undoes the activation browser's hooks

/** Tabs and panels from a schema: pkg/schema.json's at first paint, the engine's own once it is ready. */
function buildUi(schema) {
  const json = JSON.stringify(schema);
  if (built === json) return;
  built = json;
  initState(schema);
  detach?.();
  ui = buildPanels($('panels'), schema, { compare });
  detach = attachActivations(ui);
  for (const p of ui.panels.values()) p.writeFields();
  compare.writeFields();
  ui.show(state.panel);
  setReady(engine.ready);
}

on('schema', ({ schema }) => buildUi(schema));

const modelLabel = () => `Model ready: ${engine.model?.name ?? DEFAULT_MODEL_NAME} (${engine.labels.length} classes)`;

// A user's model (www/models.js): while the worker builds it nothing can run; if it fails the old one goes on.
on('model-loading', ({ name }) => {
  $('model-label').textContent = `Model: loading “${name}”…`;
  setReady(false);
});

on('model-failed', () => {
  $('model-label').textContent = modelLabel();
  setReady(true);
});

// The new model is in: runs on the old one were stopped by the worker, the same image is classified again and
// every panel starts over from it.
on('model-changed', async () => {
  $('model-label').textContent = modelLabel();
  for (const p of ui.panels.values()) {
    if (p.run) p.cancel('Stopped: the model changed');
    p.writeFields();
  }
  compare.restarted();
  compare.writeFields();
  setReady(true);
  if (await reloadCurrent()) {
    for (const p of ui.panels.values()) p.imageChanged();
    compare.imageChanged();
  }
  updateShareLink();
});

on('ready', async () => {
  $('model-label').textContent = modelLabel();
  if (started) {
    // The worker restarted: put the same input back.
    setReady(true);
    await reloadCurrent();
    return;
  }
  started = true;
  buildUi(engine.schema);
  buildGallery(engine.samples);
  setReady(true);
  await followLink();
});

/**
 * The view the address's hash holds, as a share link opened: fields, panel, image, and its run. `lesson`: a lesson's
 * step (www/lesson.js) put its view in the hash; an image kept while the model loaded does not override it, and
 * on the image already in use the run starts here (no new image will start it).
 */
let linkSeq = 0; // counts followLink calls: only the latest one starts its run

async function followLink({ lesson = false } = {}) {
  const mine = ++linkSeq;
  // Links are checked by the registry's validator, in the page's own wasm (www/core.js).
  await validatorLoaded;
  const fromLink = applyLink();
  for (const p of ui.panels.values()) p.writeFields();
  compare.writeFields();
  ui.show(state.panel);
  const linked = state.image;
  if (fromLink) reproduce = state.panel;
  // An image the user gave while the model loaded wins over the link's and over the default sample.
  if (!lesson && (await usePending())) return;
  if (linked?.kind === 'sample') {
    if (!(await useSample(linked.id, { auto: true }))) clearWaiting();
  }
  else if (linked?.kind === 'jpeg') {
    if (!(await useJpeg(linked.bytes, { auto: true }))) {
      update('page', { image: null });
      clearWaiting();
    }
  } else if (!fromLink && engine.samples.some((s) => s.id === 'chelsea')) {
    await useSample('chelsea', { auto: true });
  } else {
    clearWaiting();
    updateShareLink();
    const panel = ui.panels.get(state.panel);
    if (reproduce && panel && panel.method.needs_image === false) {
      reproduce = null;
      panel.start();
    }
  }
  // A lesson's latest step, whatever images arrived meanwhile (a fast "Next"): its run on its own image, unless
  // that run is going or on show already.
  if (lesson && mine === linkSeq) {
    reproduce = null;
    const panel = ui.panels.get(state.panel);
    const key = panel?.key();
    if (panel && !panel.auto && panel.run?.key !== key && panel.lastKey !== key) panel.start();
  }
}

on('lesson-view', ({ hash }) => {
  if (!started || !ui) return;
  history.replaceState(null, '', hash);
  followLink({ lesson: true });
});

// The settings validator (the registry's, www/core.js) for links and forms, loaded while the engine starts.
const validatorLoaded = validatorReady().catch((e) => {
  showMessage('error', `The page could not load its settings checker (${e?.message ?? e}); settings cannot be changed.`);
});

function init() {
  setupInputs();
  setupModels();
  setupLive();
  setReady(false);
  // A link's image is read once the model is ready (it may name a sample): say it is coming.
  if (new URLSearchParams(location.hash.slice(1)).has('img')) showWaiting('the image in the link');
  setupLinkImage();
  setupLayerChoosers();
  $('copy-link').addEventListener('click', async () => {
    await showLinkImage(); // the sender sees the numbers of the image the link carries
    copyLink();
  });
  window.addEventListener('hashchange', () => {
    // A link pasted into this tab's address bar: start over from it.
    if (isForeignHash()) location.reload();
  });
  // A ?model= address's preprocessing choice (in the hash) is checked by the core first; otherwise no wait.
  resolveStartChoice().catch(() => {}).finally(startEngine);
  // The schema as the build wrote it (make wasm): the panels appear before the engine has started.
  fetch(new URL('../pkg/schema.json', import.meta.url))
    .then((r) => (r.ok ? r.json() : null))
    .then((schema) => {
      if (schema && !engine.schema) buildUi(schema);
    })
    .catch(() => {}); // no file: the engine's schema builds them
}

init();
