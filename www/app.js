// The page's main thread: input events, messages to and from the worker, drawing. No computation here.
import {
  parseShareHash, buildShareHash, defaultState, foolingSettingsJson, classVizSettingsJson, checkSetting,
  MAX_JPEG_BYTES, PANELS,
} from './share.js';
import {
  $, el, drawRgba, clearCanvas, fnv1a, showMessage, renderTop5, classPicker, classText, percent, SIZE,
} from './ui.js';

// Larger files are refused before reading them; the core's pixel limit guards the decode itself.
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const FRAME_SLOTS = 5;

const state = defaultState();
const hook = {
  ready: false, modelError: null, messages: [], state, top5: null, imageSource: null, imageHash: null,
  saliencyMap: null, saliencyClass: null, fooling: null, recheck: null, vizIteration: 0, vizDone: 0,
  hashes: {}, imageShareProblem: null,
};
window.__netlens = hook;

let worker = null;
let labels = null;
let samples = [];
let reqSeq = 0;
const pending = new Map(); // reqId -> {resolve, reject}
let lastInput = null; // {bytes, source}: replayed after a worker restart
let imageShareProblem = null;
let shareNote = null; // said once when a link carries a user's image
let foolRun = null; // {runId, iters}
let vizRun = null; // {runId, iters, checkpoints, slots}
let autoRun = null; // the panel a share link asked to reproduce, once the image is in
let objectUrls = { fool: null, viz: null, sal: null };

// ---------- worker plumbing ----------

function request(msg, transfer = []) {
  const reqId = ++reqSeq;
  return new Promise((resolve, reject) => {
    pending.set(reqId, { resolve, reject });
    worker.postMessage({ ...msg, reqId }, transfer);
  });
}

function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (e) => onWorkerMessage(e.data);
  worker.onerror = (e) => {
    e.preventDefault();
    modelFailed(`the engine could not start (${e.message || 'worker script failed'})`);
  };
  $('model-label').textContent = 'Model: downloading…';
  worker.postMessage({ type: 'start' });
}

function restartWorker(reason) {
  showMessage('error', `The engine stopped (${reason}); restarting it.`);
  worker.terminate();
  for (const p of pending.values()) p.reject(new Error('the engine restarted'));
  pending.clear();
  endFooling();
  endViz();
  setReady(false);
  startWorker();
}

function modelFailed(text) {
  hook.modelError = text;
  $('model-label').textContent = 'Model failed to load';
  $('model-status').classList.add('failed');
  showMessage('error', `Model failed to load: ${text}. The page cannot classify until it loads; reload to retry.`);
}

function onWorkerMessage(m) {
  if (m.reqId && pending.has(m.reqId) && m.type !== 'progress') {
    const p = pending.get(m.reqId);
    pending.delete(m.reqId);
    if (m.type === 'error') p.reject(Object.assign(new Error(m.message), { fatal: m.fatal }));
    else p.resolve(m);
    if (m.type === 'error' && m.fatal) restartWorker(m.message);
    return;
  }
  switch (m.type) {
    case 'progress': {
      const bar = $('model-progress');
      bar.max = m.total || 1;
      bar.value = m.loaded;
      const mb = (n) => (n / 1e6).toFixed(1);
      $('model-label').textContent = `Model: ${mb(m.loaded)} / ${m.total ? mb(m.total) : '?'} MB`;
      break;
    }
    case 'ready':
      labels = m.labels;
      samples = m.samples;
      onReady();
      break;
    case 'fooling-progress':
      onFoolingProgress(m);
      break;
    case 'fooling-done':
      onFoolingDone(m);
      break;
    case 'classviz-frame':
      onVizFrame(m);
      break;
    case 'classviz-done':
      if (vizRun?.runId === m.runId) endViz(`Done: ${m.iteration} iterations`);
      hook.vizDone++;
      break;
    case 'cancelled':
      break;
    case 'error':
      onWorkerError(m);
      break;
    default:
      break;
  }
}

function onWorkerError(m) {
  if (m.scope === 'start') {
    modelFailed(m.message);
    return;
  }
  if (m.fatal) {
    restartWorker(m.message);
    return;
  }
  if (m.scope === 'fooling' && foolRun?.runId === m.runId) {
    endFooling('Stopped by an error');
    showMessage('error', `Fooling: ${m.message}`);
  } else if (m.scope === 'classviz' && vizRun?.runId === m.runId) {
    endViz('Stopped by an error');
    showMessage('error', `Class visualization: ${m.message}`);
  } else {
    showMessage('error', m.message);
  }
}

function setReady(ready) {
  hook.ready = ready;
  for (const id of ['copy-link', 'viz-run']) $(id).disabled = !ready;
  $('fool-run').disabled = !ready || !lastInput;
  $('model-status').classList.toggle('loaded', ready);
}

// ---------- input ----------

async function loadInput(bytes, source) {
  lastInput = { bytes: bytes.slice(0), source };
  let reply;
  try {
    reply = await request({ type: 'image', bytes, source }, [bytes.buffer]);
  } catch (e) {
    if (!e.fatal) showMessage('error', `Could not use ${describe(source)}: ${e.message}`);
    return false;
  }
  drawRgba($('crop-canvas'), reply.rgba);
  drawRgba($('sal-image'), reply.rgba);
  drawRgba($('fool-original'), reply.rgba);
  hook.imageHash = fnv1a(reply.rgba);
  hook.top5 = reply.top.map((t) => ({ ...t, name: labels[t.class].name }));
  hook.imageSource = source;
  renderTop5($('top5'), reply.top, labels);
  $('crop-caption').textContent = `${describe(source)}, 224×224 crop`;
  $('fool-run').disabled = !hook.ready;
  return true;
}

function describe(source) {
  if (source.kind === 'sample') return `sample “${source.id}”`;
  if (source.kind === 'jpeg') return source.name ? `“${source.name}” (as shared JPEG)` : 'the shared image';
  return source.name ? `“${source.name}”` : 'the pasted image';
}

/**
 * A user's own image goes into share links as a 224×224 JPEG (the crop, compressed until the link is short
 * enough). The page itself keeps working on the exact file, so a downloaded fooling PNG is judged as it is.
 */
async function toShareableJpeg() {
  const canvas = $('crop-canvas');
  for (const quality of [0.92, 0.85, 0.75, 0.6, 0.5]) {
    const blob = await new Promise((r) => canvas.toBlob(r, 'image/jpeg', quality));
    if (blob && blob.size <= MAX_JPEG_BYTES) return { bytes: new Uint8Array(await blob.arrayBuffer()), quality };
  }
  return null;
}

async function useFile(file, how) {
  if (!hook.ready) {
    showMessage('warn', 'Wait for the model to finish loading, then try again.');
    return;
  }
  if (file.size > MAX_FILE_BYTES) {
    showMessage('error', `“${file.name}” is ${(file.size / 1e6).toFixed(0)} MB; netlens takes image files up to ${MAX_FILE_BYTES / 1e6} MB.`);
    return;
  }
  ++inputSeq;
  const bytes = new Uint8Array(await file.arrayBuffer());
  const name = file.name || `${how} image`;
  if (!(await loadInput(bytes, { kind: 'file', name }))) return;
  const jpeg = await toShareableJpeg();
  if (jpeg) {
    state.image = { kind: 'jpeg', bytes: jpeg.bytes };
    setShareProblem(null);
    shareNote = `“${name}” travels in the link as a 224×224 JPEG (${(jpeg.bytes.length / 1024).toFixed(1)} KB, ` +
      `quality ${jpeg.quality}); runs on it can differ slightly from runs on the original file.`;
  } else {
    state.image = null;
    setShareProblem(`“${name}” cannot go in a link: even as a low-quality 224×224 JPEG it is over ${Math.floor(MAX_JPEG_BYTES / 1024)} KB. Use a sample image to share.`);
  }
  afterInputChanged();
}

let inputSeq = 0; // counts input requests, so a slow sample download cannot override a later choice
let sampleLoad = null; // {id, promise} of the sample being fetched and decoded

// Clicking the sample that is already the input (or already on its way) does nothing: reloading it would
// cancel a fooling run started meanwhile on the very same image.
function useSample(id) {
  if (sampleLoad?.id === id) return sampleLoad.promise;
  if (state.image?.kind === 'sample' && state.image.id === id && lastInput?.source.id === id) return Promise.resolve(true);
  const promise = loadSample(id).finally(() => {
    if (sampleLoad?.promise === promise) sampleLoad = null;
  });
  sampleLoad = { id, promise };
  return promise;
}

async function loadSample(id) {
  const mine = ++inputSeq;
  const sample = samples.find((s) => s.id === id);
  if (!sample) {
    showMessage('error', `There is no sample image called “${id}”.`);
    return false;
  }
  let bytes;
  try {
    const res = await fetch(`assets/${sample.file}`);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    showMessage('error', `Could not fetch the sample “${id}”: ${e.message}`);
    return false;
  }
  if (mine !== inputSeq) return false; // the user chose another image while this one downloaded
  if (!(await loadInput(bytes, { kind: 'sample', id }))) return false;
  state.image = { kind: 'sample', id };
  setShareProblem(null);
  shareNote = null;
  afterInputChanged();
  return true;
}

function setShareProblem(problem) {
  imageShareProblem = problem;
  hook.imageShareProblem = problem;
}

function afterInputChanged() {
  if (foolRun) endFooling('Cancelled: the image changed');
  resetFoolingOutputs();
  updateShareLink();
  runSaliency();
  runAutoRun();
}

function setupInputs() {
  $('file-input').addEventListener('change', (e) => {
    const file = e.target.files?.[0];
    if (file) useFile(file, 'chosen');
    e.target.value = '';
  });
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) document.body.classList.remove('dragging');
  });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const file = e.dataTransfer?.files?.[0];
    if (file) useFile(file, 'dropped');
    else showMessage('warn', 'Drop an image file (PNG, JPEG, WebP, GIF or BMP).');
  });
  document.addEventListener('paste', (e) => {
    const item = [...(e.clipboardData?.items ?? [])].find((i) => i.kind === 'file');
    if (!item) return; // ordinary text pasted into a field
    e.preventDefault();
    const file = item.getAsFile();
    if (file) useFile(file, 'pasted');
  });
}

function buildGallery() {
  const gallery = $('gallery');
  gallery.replaceChildren(
    ...samples.map((s) => {
      const name = s.id.replace(/_/g, ' ');
      const button = el('button', { type: 'button', class: 'sample', 'data-sample': s.id, title: `Sample: ${name}`, 'aria-label': `Sample image: ${name}` },
        el('img', { src: `assets/${s.file}`, alt: '', width: '40', height: '40' }));
      button.addEventListener('click', () => useSample(s.id));
      return button;
    }),
  );
  if (samples.length === 0) gallery.append(el('p', { class: 'hint', text: 'No sample images (see README: assets).' }));
}

// ---------- saliency ----------

let salPicker;
let salSeq = 0;

async function runSaliency() {
  if (!hook.ready || !lastInput) return;
  const mine = ++salSeq;
  let r;
  try {
    r = await request({ type: 'saliency', class: state.salClass });
  } catch (e) {
    if (!e.fatal) showMessage('error', `Saliency: ${e.message}`);
    return;
  }
  if (mine !== salSeq) return;
  drawRgba($('sal-heatmap'), r.heatmap);
  drawRgba($('sal-overlay'), r.overlay);
  hook.saliencyMap = r.map;
  hook.saliencyClass = r.classIndex;
  hook.hashes.saliency = fnv1a(r.map);
  const predicted = r.top[0].class;
  const p = r.top.find((t) => t.class === r.classIndex)?.prob;
  $('sal-result').textContent = `Saliency of ${classText(r.classIndex, labels)}${state.salClass === null ? ', the predicted class' : ''}` +
    (p !== undefined ? ` (p = ${percent(p)})` : '') +
    (r.classIndex !== predicted ? `. The network predicts ${classText(predicted, labels)}.` : '.') +
    ' Brighter = changing that pixel moves the score more.';
  salPicker.show(state.salClass, state.salClass === null ? '' : '');
  if (state.salClass === null) $('sal-chosen').textContent = `Predicted class: ${classText(r.classIndex, labels)}`;
  $('sal-download').disabled = false;
}

// ---------- fooling ----------

let foolPicker;

function resetFoolingOutputs() {
  for (const id of ['fool-fooled', 'fool-diff', 'fool-diff10']) clearCanvas($(id));
  for (const id of ['fool-before', 'fool-after', 'fool-norms', 'fool-recheck']) $(id).textContent = '–';
  setDownload('fool', null);
  $('fool-progress').value = 0;
  $('fool-status').textContent = lastInput ? 'Not started' : 'Load an image first';
  hook.fooling = null;
  hook.recheck = null;
}

function startFooling() {
  if (!lastInput) {
    showMessage('warn', 'Load an image first.');
    return;
  }
  if (!readFields(FOOL_FIELDS)) return;
  resetFoolingOutputs();
  const runId = ++reqSeq;
  foolRun = { runId, iters: state.fool.maxIters };
  $('fool-cancel').disabled = false;
  $('fool-status').textContent = `Starting (target ${classText(state.fool.target, labels)})…`;
  $('fool-progress').max = state.fool.maxIters;
  worker.postMessage({ type: 'fooling', runId, settingsJson: foolingSettingsJson(state.fool) });
  updateShareLink();
}

function endFooling(status) {
  if (status) $('fool-status').textContent = status;
  foolRun = null;
  $('fool-cancel').disabled = true;
}

function onFoolingProgress(m) {
  if (foolRun?.runId !== m.runId) return;
  $('fool-progress').value = m.iteration;
  $('fool-status').textContent = `Iteration ${m.iteration} / ${m.max_iters} · predicted ${classText(m.class, labels)} · ` +
    `P(${labels[state.fool.target].name}) = ${percent(m.target_prob)}`;
}

function onFoolingDone(m) {
  if (foolRun?.runId !== m.runId) return;
  const r = m.report;
  drawRgba($('fool-fooled'), m.fooled);
  drawRgba($('fool-diff'), m.diff);
  drawRgba($('fool-diff10'), m.diff10);
  $('fool-progress').value = $('fool-progress').max;
  $('fool-before').textContent = `${classText(r.original_class, labels)}; P(target) = ${percent(r.target_prob_before)}`;
  $('fool-after').textContent = `${classText(r.final_class, labels)}; P(target) = ${percent(r.target_prob_after)}`;
  $('fool-norms').textContent = `L2 ${r.perturbation_l2.toFixed(1)} · L∞ ${r.perturbation_linf.toFixed(0)}`;
  const re = m.recheck[0];
  const still = re.class === r.target;
  $('fool-recheck').textContent = `${classText(re.class, labels)} (${percent(re.prob)}) — ${still ? 'still fools the network ✓' : 'no longer fools it ✗'}`;
  setDownload('fool', m.png);
  hook.fooling = r;
  hook.recheck = m.recheck;
  hook.hashes.fooled = fnv1a(m.fooled);
  endFooling(r.success
    ? `Fooled after ${r.iterations} iterations: the network now sees ${classText(r.target, labels)}.`
    : `Not fooled within ${r.iterations} iterations; try more iterations or a larger learning rate.`);
}

// ---------- class visualization ----------

let vizPicker;

function vizCheckpoints(iters) {
  const marks = [1, Math.round(iters / 4), Math.round(iters / 2), Math.round((3 * iters) / 4), iters];
  return marks.map((m) => Math.min(iters, Math.max(1, m)));
}

function buildStrip() {
  const strip = $('viz-strip');
  strip.replaceChildren();
  for (let i = 0; i < FRAME_SLOTS; i++) {
    strip.append(el('figure', {},
      el('canvas', { width: String(SIZE), height: String(SIZE), 'aria-label': `Frame ${i + 1}` }),
      el('figcaption', { text: '–' })));
  }
}

function stripSlots() {
  return [...$('viz-strip').children].map((f) => ({ canvas: f.querySelector('canvas'), caption: f.querySelector('figcaption') }));
}

function startViz() {
  if (!readFields(VIZ_FIELDS)) return;
  const runId = ++reqSeq;
  const iters = state.viz.iters;
  vizRun = { runId, iters, checkpoints: vizCheckpoints(iters), filled: new Set() };
  for (const s of stripSlots()) {
    clearCanvas(s.canvas);
    s.caption.textContent = '–';
  }
  clearCanvas($('viz-live'));
  setDownload('viz', null);
  hook.hashes.viz = null;
  $('viz-cancel').disabled = false;
  $('viz-progress').max = iters;
  $('viz-progress').value = 0;
  $('viz-status').textContent = `Starting (${classText(state.viz.class, labels)}, seed ${state.viz.seed})…`;
  worker.postMessage({ type: 'classviz', runId, iters, settingsJson: classVizSettingsJson(state.viz) });
  updateShareLink();
}

function endViz(status) {
  if (status) $('viz-status').textContent = status;
  vizRun = null;
  $('viz-cancel').disabled = true;
}

function onVizFrame(m) {
  if (vizRun?.runId !== m.runId) return;
  drawRgba($('viz-live'), m.rgba);
  $('viz-live-caption').textContent = `Iteration ${m.iteration}`;
  $('viz-progress').max = m.iters;
  $('viz-progress').value = m.iteration;
  $('viz-status').textContent = `Iteration ${m.iteration} / ${m.iters} · P(${labels[state.viz.class].name}) = ` +
    `${percent(m.top.find((t) => t.class === state.viz.class)?.prob ?? 0)}${m.top[0] ? ` · top: ${labels[m.top[0].class].name}` : ''}`;
  const slot = vizRun.checkpoints.indexOf(m.iteration);
  if (slot >= 0) {
    const s = stripSlots()[slot];
    drawRgba(s.canvas, m.rgba);
    s.caption.textContent = `Iteration ${m.iteration}`;
  }
  hook.vizIteration = m.iteration;
  if (m.png) {
    setDownload('viz', m.png);
    hook.hashes.viz = fnv1a(m.rgba);
    hook.vizRgba = m.rgba;
  }
}

// A setting changed during a run reaches the worker before its next iteration.
function pushVizSettings() {
  if (!vizRun) return;
  vizRun.iters = state.viz.iters;
  vizRun.checkpoints = vizCheckpoints(state.viz.iters);
  worker.postMessage({ type: 'settings', runId: vizRun.runId, iters: state.viz.iters, settingsJson: classVizSettingsJson(state.viz) });
}

// ---------- settings fields ----------

// [input id, share key, state path]
const FOOL_FIELDS = [
  ['fool-lr', 'fool.lr', ['fool', 'lr']],
  ['fool-iters', 'fool.iters', ['fool', 'maxIters']],
];
const VIZ_FIELDS = [
  ['viz-l2', 'viz.l2', ['viz', 'l2Reg']],
  ['viz-lr', 'viz.lr', ['viz', 'lr']],
  ['viz-blur', 'viz.blur', ['viz', 'blurEvery']],
  ['viz-sigma', 'viz.sigma', ['viz', 'blurSigma']],
  ['viz-jitter', 'viz.jitter', ['viz', 'maxJitter']],
  ['viz-iters', 'viz.iters', ['viz', 'iters']],
  ['viz-seed', 'viz.seed', ['viz', 'seed']],
  ['viz-update', 'viz.update', ['viz', 'update']],
];

function readField([id, key, [group, name]]) {
  const input = $(id);
  const r = checkSetting(key, input.value, labels?.length ?? 1000);
  input.setAttribute('aria-invalid', r.error ? 'true' : 'false');
  if (r.error) {
    const label = input.closest('label')?.firstChild?.textContent.trim() ?? key;
    showMessage('error', `${label}: “${input.value.slice(0, 40)}” ${r.error}.`);
    return false;
  }
  state[group][name] = r.ok;
  return true;
}

function readFields(fields) {
  return fields.map(readField).every(Boolean);
}

function writeFields() {
  for (const [id, , [group, name]] of [...FOOL_FIELDS, ...VIZ_FIELDS]) {
    $(id).value = String(state[group][name]);
    $(id).setAttribute('aria-invalid', 'false');
  }
}

function setupFields() {
  for (const f of FOOL_FIELDS) {
    $(f[0]).addEventListener('change', () => {
      if (readField(f)) updateShareLink();
      if (foolRun) showMessage('info', 'Fooling settings apply to the next run.');
    });
  }
  for (const f of VIZ_FIELDS) {
    $(f[0]).addEventListener('change', () => {
      if (!readField(f)) return;
      updateShareLink();
      if (f[1] === 'viz.seed' && vizRun) showMessage('info', 'The seed only shapes the starting noise: it applies to the next run.');
      pushVizSettings();
    });
  }
}

// ---------- tabs ----------

function showPanel(panel, { focus = false } = {}) {
  state.panel = panel;
  for (const p of PANELS) {
    const tab = $(`tab-${p}`);
    const on = p === panel;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${p}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  updateShareLink();
}

function setupTabs() {
  PANELS.forEach((p, i) => {
    const tab = $(`tab-${p}`);
    tab.addEventListener('click', () => showPanel(p));
    tab.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      showPanel(PANELS[(i + step + PANELS.length) % PANELS.length], { focus: true });
    });
  });
}

// ---------- downloads and share links ----------

function setDownload(which, png) {
  const a = $(`${which}-download`);
  if (objectUrls[which]) URL.revokeObjectURL(objectUrls[which]);
  objectUrls[which] = null;
  if (!png) {
    a.removeAttribute('href');
    a.classList.add('disabled');
    a.setAttribute('aria-disabled', 'true');
    return;
  }
  objectUrls[which] = URL.createObjectURL(new Blob([png], { type: 'image/png' }));
  a.href = objectUrls[which];
  a.classList.remove('disabled');
  a.setAttribute('aria-disabled', 'false');
}

function updateShareLink() {
  if (!hook.ready) return;
  let hash;
  try {
    hash = buildShareHash(state);
  } catch (e) {
    setShareProblem(e.message);
    return;
  }
  history.replaceState(null, '', hash);
  $('share-url').value = imageShareProblem ? '' : location.href;
  hook.shareUrl = location.href;
}

async function copyLink() {
  if (imageShareProblem) {
    showMessage('warn', imageShareProblem);
    return;
  }
  updateShareLink();
  const url = location.href;
  try {
    await navigator.clipboard.writeText(url);
    showMessage('info', 'Link copied: whoever opens it sees this image, panel and settings, and the same run.');
    if (shareNote) showMessage('info', shareNote);
  } catch {
    $('share-url').focus();
    $('share-url').select();
    showMessage('info', 'Press Ctrl+C to copy the selected link.');
  }
}

function applyLinkState() {
  const { state: linked, problems, present } = parseShareHash(location.hash, {
    numClasses: labels.length, sampleIds: samples.map((s) => s.id),
  });
  for (const p of problems) showMessage('warn', p);
  if (problems.length) showMessage('info', 'The link had problems; the values above were replaced with defaults.');
  Object.assign(state, linked);
  hook.state = state;
  writeFields();
  showPanel(state.panel);
  foolPicker.show(state.fool.target);
  vizPicker.show(state.viz.class);
  return present;
}

async function runAutoRun() {
  const panel = autoRun;
  autoRun = null;
  if (panel === 'fooling' && lastInput) startFooling();
  else if (panel === 'classviz') startViz();
}

// ---------- start ----------

async function onReady() {
  setReady(true);
  $('model-label').textContent = `Model ready (${labels.length} classes)`;
  buildGallery();
  const fromLink = applyLinkState();
  if (lastInput) {
    // The worker restarted: put the same input back.
    await loadInput(lastInput.bytes.slice(0), lastInput.source);
    updateShareLink();
    runSaliency();
    return;
  }
  if (fromLink && state.panel !== 'saliency') autoRun = state.panel;
  const img = state.image;
  if (img?.kind === 'sample') await useSample(img.id);
  else if (img?.kind === 'jpeg') {
    if (await loadInput(img.bytes.slice(0), { kind: 'jpeg' })) afterInputChanged();
    else state.image = null;
  } else if (!fromLink && samples.some((s) => s.id === 'chelsea')) {
    await useSample('chelsea');
  } else {
    updateShareLink();
    runAutoRun();
  }
}

function init() {
  const search = async (query) => {
    if (!hook.ready) return [];
    try {
      return (await request({ type: 'search', query })).classes;
    } catch {
      return []; // the engine restarted mid-search; the next keystroke asks again
    }
  };
  const getLabels = () => labels;
  salPicker = classPicker('sal', {
    search, labels: getLabels,
    onChoose: (c) => {
      state.salClass = c;
      updateShareLink();
      runSaliency();
    },
  });
  foolPicker = classPicker('fool', {
    search, labels: getLabels,
    onChoose: (c) => {
      state.fool.target = c;
      foolPicker.show(c);
      updateShareLink();
    },
  });
  vizPicker = classPicker('viz', {
    search, labels: getLabels,
    onChoose: (c) => {
      state.viz.class = c;
      vizPicker.show(c);
      updateShareLink();
      pushVizSettings();
    },
  });
  $('sal-predicted').addEventListener('click', () => {
    state.salClass = null;
    $('sal-search').value = '';
    $('sal-results').replaceChildren();
    updateShareLink();
    runSaliency();
  });
  $('sal-download').addEventListener('click', async () => {
    const c = $('sal-heatmap');
    const blob = await new Promise((r) => c.toBlob(r, 'image/png'));
    const a = el('a', { href: URL.createObjectURL(blob), download: 'saliency.png' });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });
  $('fool-run').addEventListener('click', startFooling);
  $('fool-cancel').addEventListener('click', () => {
    if (foolRun) worker.postMessage({ type: 'cancel', runId: foolRun.runId });
    endFooling('Cancelled');
  });
  $('viz-run').addEventListener('click', startViz);
  $('viz-cancel').addEventListener('click', () => {
    if (vizRun) worker.postMessage({ type: 'cancel', runId: vizRun.runId });
    endViz(`Cancelled at iteration ${hook.vizIteration}`);
  });
  $('copy-link').addEventListener('click', copyLink);
  window.addEventListener('hashchange', () => {
    if (!hook.ready || location.href === hook.shareUrl) return;
    // A link pasted into this tab's address bar: start over from it.
    location.reload();
  });
  setupInputs();
  setupTabs();
  setupFields();
  buildStrip();
  renderTop5($('top5'), null, null);
  writeFields();
  resetFoolingOutputs();
  setReady(false);
  if (typeof WebAssembly !== 'object') {
    modelFailed('this browser has no WebAssembly');
    return;
  }
  startWorker();
}

init();
