// A user's own ONNX classifier (issue 11): an .onnx dropped or picked (with an optional labels .txt, one class
// name per line), or ?model=URL[&sha256=HEX] in the page's address at start. The worker builds the new model
// and keeps the previous one when that fails; the page then says why in one sentence (the core's message).
// "Use SqueezeNet" goes back to the default. Share links name a dropped model (model.name=, www/share.js) but
// cannot carry it; a model the address loads is in the link through that address.
// Events: 'model-loading' {name}, 'model-failed' {name, message}, 'model-changed' {labels, model} (app.js wires
// the panels and the image; www/testhook.js observes).
import { emit, on } from './bus.js';
import { DEFAULT_MODEL_NAME } from './protocol.js';
import { engine, request } from './engine.js';
import { state, updateShareLink } from './state.js';
import { setSetting, subscribe, update } from './store.js';
import { loadCore, validatorReady } from './core.js';
import { checkChoice, choiceFields, pageMethods } from './share.js';
import { $, el, inputSize, showMessage } from './ui.js';

// Larger files are refused before reading them (the worker holds two models while it switches).
export const MAX_MODEL_BYTES = 512 * 1024 * 1024;
const SHA256 = /^[0-9a-f]{64}$/i;

let busy = false; // a model is being built: one at a time
let mine = null; // the user's dropped model in use: {bytes, labels, name, labelsName}, kept for relabelling
let linkModel = null; // the model a share link was made with, when it is not the one in use
let linkChoice = null; // that link's preprocessing choice ({preset, resize, side}), used when that model is dropped

const isOnnx = (f) => /\.onnx$/i.test(f.name);
const isText = (f) => /\.txt$/i.test(f.name);
const currentName = () => engine.model?.name ?? DEFAULT_MODEL_NAME;
const dims = (shape) => (shape ?? []).join('×');

/** One sentence for a model the core refused (the core's reason: input shape, op without a VJP, metadata…). */
export function refusal(name, message, labelsName = null) {
  const text = String(message ?? '').replace(/^model: /, '');
  if (labelsName && /class names/.test(text)) return `Could not use “${labelsName}” with “${name}”: ${text}.`;
  return `Could not load “${name}”: ${text}.`;
}

/** The address's ?model=URL (resolved against the page) and sha256 pin; null, with a message, when unusable. */
function modelFromAddress() {
  const q = new URLSearchParams(location.search);
  const raw = q.get('model');
  if (raw === null) return null;
  const sha = q.get('sha256');
  const fail = (why) => {
    showMessage('error', `The model address in this page's address ${why}; ${DEFAULT_MODEL_NAME} is used instead.`);
    forgetAddressModel();
    return null;
  };
  let url;
  try {
    url = new URL(raw, location.href);
  } catch {
    return fail('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('must be an http(s) URL');
  // The Content-Security-Policy (connect-src 'self', index.html and www/serve.py) allows fetching from the
  // page's own site only: say so instead of letting the browser refuse with a bare "Failed to fetch".
  if (url.origin !== location.origin) {
    return fail(`(${url.origin}) is on another site, and this page may fetch only from its own ` +
      '(its Content-Security-Policy says connect-src \'self\'): publish the .onnx beside the page, or download it and drop it here');
  }
  if (sha !== null && !SHA256.test(sha)) return fail('has a sha256 pin that is not 64 hexadecimal digits');
  const last = url.pathname.split('/').pop() || '';
  let file;
  try {
    file = decodeURIComponent(last) || 'model.onnx';
  } catch {
    file = last; // a stray % in the path
  }
  // Its preprocessing choice in the hash is read once the core can check it (resolveStartChoice).
  return { url: url.href, sha256: sha?.toLowerCase() ?? null, name: file, choice: null };
}

/** The preprocessing choice a share link's hash carries (model.pre=, model.resize=, model.size=), or null. */
function choiceFromHash(schema) {
  let choice = null;
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  for (const { field, link } of choiceFields(schema)) {
    const v = params.has(link) ? checkChoice(field, params.get(link)).ok : undefined;
    if (v !== undefined) choice = { ...(choice ?? {}), [field]: v };
  }
  return choice;
}

/**
 * Before the engine starts with a ?model= address: the link's preprocessing choice for it, checked by the core
 * (www/core.js: its schema names the link keys, its validator the values). Only such a start waits for the core.
 */
export async function resolveStartChoice() {
  if (!engine.startModel) return;
  const [core] = await Promise.all([loadCore(), validatorReady()]);
  update('engine', { startModel: { ...engine.startModel, choice: choiceFromHash(JSON.parse(core.schema())) } });
}

/** ?model= and sha256= out of the address: links made from now on are about the model in use. */
function forgetAddressModel() {
  const q = new URLSearchParams(location.search);
  if (!q.has('model') && !q.has('sha256')) return;
  q.delete('model');
  q.delete('sha256');
  const search = q.toString();
  history.replaceState(null, '', `${location.pathname}${search ? `?${search}` : ''}${location.hash}`);
  updateShareLink();
}

/** A class a setting holds that the new model does not have: its default if that exists, else predicted / 0. */
function fitClasses(k) {
  if (!engine.schema) return;
  for (const m of pageMethods(engine.schema)) {
    const values = state[m.link_prefix];
    if (!values) continue;
    for (const s of m.settings) {
      const v = values[s.key];
      if (s.type !== 'class' || v === null || v === undefined || v < k) continue;
      setSetting(m.link_prefix, s.key, s.default !== null && s.default !== undefined && s.default < k ? s.default : s.optional ? null : 0);
    }
  }
}

function render() {
  const model = engine.model;
  const info = model?.info;
  if (info?.input_shape) [inputSize.height, inputSize.width] = info.input_shape.slice(2);
  $('model-name').textContent = model ? model.name : 'Loading…';
  const facts = [];
  if (info) {
    const channels = info.input_shape?.[1] === 1 ? 'grey' : 'RGB';
    facts.push(`input ${dims(info.input_shape)} (${channels}${info.symbolic_side ? ', size chosen' : ''})`,
      `${info.classes} classes`, `${info.ops} ops`);
    facts.push(info.outputs_probabilities ? 'outputs probabilities (a final Softmax)' : 'outputs logits');
    if (info.preprocess) {
      const from = { metadata: "from the model's metadata", chosen: 'chosen below', default: 'default' }[info.preprocess.source];
      facts.push(`preprocessing: ${info.preprocess.text} (${from})`);
    }
  }
  if (model) facts.push(`loaded in ${(model.ms / 1000).toFixed(2)} s`);
  // The engine's wasm build (www/threads.js); why it is that one in the tooltip.
  if (engine.build) facts.push(engine.build.build === 'threads' ? `${engine.build.threads} threads` : '1 thread');
  $('model-facts').textContent = facts.join(' · ');
  $('model-facts').title = engine.build ? `wasm build: ${engine.build.build} (${engine.build.why})` : '';
  let note = '';
  if (model?.user && model.url) note = 'Loaded from the address: share links carry that address.';
  else if (model?.user) {
    note = `Your own model${mine?.labelsName ? ` with the labels of “${mine.labelsName}”` : ', classes named by number'}` +
      '. Share links name it but do not contain it: whoever opens one must drop the same file.';
  }
  $('model-note').textContent = note;
  $('use-squeezenet').hidden = !model?.user;
  renderForm(model);
  $('tagline').textContent = taglineOf(model?.name ?? DEFAULT_MODEL_NAME);
}

/** The page in one plain sentence (index.html has SqueezeNet's). */
export function taglineOf(name) {
  return `See what the image classifier ${name} looks at and how easily it is fooled, all inside your browser.`;
}

/** The form's fields, once: the core's choices (schema.preprocessing), a list for each with values, else a number. */
function buildForm(schema) {
  if (document.getElementById('model-side')) return;
  for (const f of choiceFields(schema)) {
    const id = `model-${f.field}`;
    const input = f.options
      ? el('select', { id }, ...f.options.map((o) => el('option', { value: o.value, text: o.label })))
      : el('input', { id, type: 'number', min: String(f.min), max: String(f.max), step: '1' });
    input.value = String(f.default);
    $('model-apply').before(el('label', { id: `${id}-label` }, f.label, input));
  }
}

/** The preprocessing form: for a user's model whose metadata does not say how its images were prepared. */
function renderForm(model) {
  const pre = model?.info?.preprocess;
  const form = $('model-preprocess');
  form.hidden = !model?.user || !pre || pre.source === 'metadata';
  if (form.hidden) return;
  buildForm(engine.schema);
  const shown = { preset: pre.preset ?? null, resize: pre.resize, side: String(model.info.input_shape[2]) };
  for (const { field, default: fallback } of choiceFields(engine.schema)) {
    $(`model-${field}`).value = shown[field] ?? String(fallback);
  }
  $('model-side-label').hidden = !model.info.symbolic_side;
}

/** The form's choice, applied: the model is built again with it (its bytes are kept here, or refetched by URL). */
async function applyForm(event) {
  event.preventDefault();
  const model = engine.model;
  if (!model?.user) return false;
  const choice = {};
  for (const { field } of choiceFields(engine.schema)) {
    if (field === 'side' && !model.info.symbolic_side) continue; // only a symbolic height and width can be chosen
    const r = checkChoice(field, $(`model-${field}`).value);
    if (r.error) {
      showMessage('error', `${r.error}.`);
      return false;
    }
    choice[field] = r.ok;
  }
  if (mine) {
    const keep = { ...mine, choice };
    return switchTo({ type: 'model', bytes: mine.bytes.slice(0), labels: mine.labels, name: mine.name, choice },
      { name: mine.name, labelsName: mine.labelsName, keep });
  }
  const start = engine.startModel?.url ? engine.startModel : { url: model.url, sha256: null, name: model.name };
  return switchTo({ type: 'model', url: start.url, sha256: start.sha256, name: model.name, choice },
    { name: model.name, keepUrl: { ...start, choice } });
}

async function switchTo(msg, { name, labelsName = null, keep = null, keepUrl = null }) {
  if (busy) {
    showMessage('warn', 'A model is still loading; try again once it is ready.');
    return false;
  }
  if (!engine.ready) {
    showMessage('warn', `Wait until ${currentName()} has loaded, then drop your model again.`);
    return false;
  }
  busy = true;
  emit('model-loading', { name });
  let reply;
  try {
    reply = await request(msg);
  } catch (e) {
    const text = e.fatal ? `Could not load “${name}”: the engine stopped while reading it (${e.message}).`
      : refusal(name, e.message, labelsName);
    showMessage('error', `${text} ${currentName()} is still in use.`);
    emit('model-failed', { name, message: e.message });
    return false;
  } finally {
    busy = false;
  }
  mine = keep;
  update('engine', {
    labels: reply.labels,
    model: reply.model,
    // A restart of the worker (a trap) loads this model again, not the default.
    startModel: keep ? { bytes: keep.bytes, labels: keep.labels, name: keep.name, choice: keep.choice ?? null } : keepUrl,
  });
  if (!keepUrl) forgetAddressModel();
  fitClasses(reply.labels.length);
  emit('model-changed', { labels: reply.labels, model: reply.model });
  if (linkModel && linkModel === reply.model.name) linkModel = null;
  return true;
}

/** Files dropped or picked: one .onnx and optionally one labels .txt; a .txt alone relabels the user's model. */
export async function useModelFiles(files) {
  const onnx = files.filter(isOnnx);
  const texts = files.filter(isText);
  if (onnx.length > 1 || texts.length > 1) {
    showMessage('warn', 'Give one .onnx model and at most one labels .txt at a time.');
    return false;
  }
  const model = onnx[0] ?? null;
  const labelsFile = texts[0] ?? null;
  if (!model && !mine) {
    showMessage('warn', `“${labelsFile?.name ?? 'that file'}” is a labels file: drop it together with its .onnx model.`);
    return false;
  }
  if (model && model.size > MAX_MODEL_BYTES) {
    showMessage('error', `“${model.name}” is ${(model.size / 1e6).toFixed(0)} MB; netlens takes models up to ${MAX_MODEL_BYTES / 1e6} MB.`);
    return false;
  }
  let labels = '';
  if (labelsFile) {
    if (labelsFile.size > 16 * 1024 * 1024) {
      showMessage('error', `“${labelsFile.name}” is too large for a labels file (one class name per line).`);
      return false;
    }
    labels = await labelsFile.text();
  }
  const bytes = model ? new Uint8Array(await model.arrayBuffer()) : mine.bytes;
  const name = model ? model.name : mine.name;
  // New labels keep the model's preprocessing choice; the model a share link names gets that link's choice.
  const choice = model ? (model.name === linkModel ? linkChoice : null) : mine.choice ?? null;
  const keep = { bytes, labels, name, labelsName: labelsFile?.name ?? null, choice };
  // The worker gets a copy: this one stays here for a restart or new labels.
  return switchTo({ type: 'model', bytes: bytes.slice(0), labels, name, choice }, { name, labelsName: keep.labelsName, keep });
}

export function useDefaultModel() {
  return switchTo({ type: 'model', default: true }, { name: DEFAULT_MODEL_NAME });
}

/** Before the engine starts: a ?model= address becomes the model the worker loads first. */
export function setupModels() {
  update('engine', { startModel: modelFromAddress() });
  if (engine.startModel) $('model-name').textContent = `${engine.startModel.name} (from the address)`;
  $('model-input').addEventListener('change', (e) => {
    const files = [...(e.target.files ?? [])];
    e.target.value = '';
    if (files.length) useModelFiles(files);
  });
  $('use-squeezenet').addEventListener('click', useDefaultModel);
  $('model-preprocess').addEventListener('submit', applyForm);
}

on('model-files', ({ files }) => useModelFiles(files));

on('ready', () => {
  if (!engine.model?.user) mine = null;
});

// The model's facts, note and form are a view of the model in use (and the wasm build that runs it).
subscribe('engine', (keys) => {
  if (keys.includes('model') || keys.includes('build')) render();
});

on('model-fallback', ({ name, message }) => {
  const said = refusal(name, message);
  const text = said.startsWith('Could not load')
    ? `The model in the page's address (“${name}”) could not be used: ${String(message).replace(/^model: /, '')}.` : said;
  showMessage('error', `${text} ${DEFAULT_MODEL_NAME} is used instead.`);
  forgetAddressModel();
});

// A share link made with a user's model names it: the model itself is not in the link.
on('link-model', ({ name, choice = null }) => {
  linkModel = name;
  linkChoice = choice;
  if (name === null || name === currentName()) return;
  showMessage('warn', `This link was made with the model “${name}”, which a link does not contain: drop that .onnx ` +
    `into the page to reproduce it. Until then ${currentName()} is used.`);
});
