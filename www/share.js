// Share links: the whole page state in the URL hash, and its strict parsing. Anything in a hash is untrusted:
// each value is checked against its setting in the method registry's schema (src/methods/registry.rs, see
// docs/architecture.md), and what fails becomes a message plus the default.
// No DOM here, so node's test runner can load it directly; the schema is always a parameter.

// The compare view is a page-only "method": one class for every method with `compare: true`.
export const COMPARE = Object.freeze({
  id: 'compare',
  title: 'Compare',
  summary: 'Every attribution method on one image and one class, side by side.',
  group: 'compare',
  needs_image: true,
  link_prefix: 'cmp',
  compare: false,
  settings: [{
    key: 'class', link: 'class', label: 'Class', type: 'class', optional: true, default: null,
    help: 'The class every method explains (default: the predicted one).',
  }],
  outputs: [],
});

// Whole link at most this long: browsers, chat apps and mail clients cope with it.
export const MAX_LINK_CHARS = 32 * 1024;
// Room left for the rest of the state once the image is in.
const OTHER_PARAMS_CHARS = 512;
export const MAX_JPEG_BYTES = Math.floor(((MAX_LINK_CHARS - OTHER_PARAMS_CHARS) * 3) / 4);

const SAMPLE_ID = /^[a-z0-9_-]{1,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
// The name of a user's own model (its file name) in a link: the model itself is never in it (www/models.js).
export const MODEL_NAME_KEY = 'model.name';
// How a user's model without netlens.* metadata prepares its images (www/models.js' form) is part of the link for
// that model: the fields, their link keys and values are the core's (schema.preprocessing, src/preprocess.rs), each
// value checked by it (checkChoice below).

/** A user model's preprocessing choices as the core declares them: [{field, link, label, options | min/max, default}]. */
export function choiceFields(schema) {
  return schema?.preprocessing ?? [];
}

const MODEL_NAME = /^[^\u0000-\u001f\u007f]{1,128}$/u;

/** The schema's methods plus the compare view: every panel the page has, in order. */
export function pageMethods(schema) {
  return [...schema.methods, COMPARE];
}

export function panelIds(schema) {
  return pageMethods(schema).map((m) => m.id);
}

/** The setting a method's class picker edits (its first `class` setting), or null. */
export function classSetting(method) {
  return method.settings.find((s) => s.type === 'class') ?? null;
}

export function defaultValues(method) {
  return Object.fromEntries(method.settings.map((s) => [s.key, s.default ?? null]));
}

/** {image, panel, [link_prefix]: {[setting.key]: value}} with every default. */
export function defaultState(schema) {
  const state = { image: null, panel: schema.methods[0]?.id ?? COMPARE.id };
  for (const m of pageMethods(schema)) state[m.link_prefix] = defaultValues(m);
  return state;
}

// Shows a value from the link in a message without letting a huge or odd value take over the page.
function quote(value) {
  const s = String(value);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

export function bytesToBase64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function base64urlToBytes(text) {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return null;
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  let bin;
  try {
    bin = atob(b64);
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let validator = null;
let choiceValidator = null;

/**
 * Sets the validators: the Rust ones of the page's wasm (www/core.js; the node tests load the same wasm), which
 * return the value as JSON text or throw a sentence. `check` is `checkSetting(methodId, key, text, classes)` (a
 * method's setting, src/methods/settings.rs), `checkChoice` is `checkChoice(field, text)` (a user model's
 * preprocessing choice, src/preprocess.rs). There is no second validator in JS.
 */
export function setValidator(check, checkChoice) {
  validator = check;
  choiceValidator = checkChoice;
}

/** Checks one preprocessing choice (a link's, the model form's): {ok: value} or {error: the core's sentence}. */
export function checkChoice(field, raw) {
  if (!choiceValidator) return { error: 'The page is still starting: the choice can be checked in a moment' };
  try {
    return { ok: JSON.parse(choiceValidator(field, String(raw))) };
  } catch (e) {
    return { error: String(e?.message ?? e) };
  }
}

/**
 * Checks one raw (text) value of a method's setting, from a link or a form: {ok: value} or {error: sentence}.
 * The sentence names the setting ("Learning rate (lr) must be greater than 0, got -1").
 */
export function parseSetting(method, setting, raw, { numClasses = 1000 } = {}) {
  if (!validator) return { error: 'The page is still starting: settings can be checked in a moment' };
  // The compare view is the page's; its class is the attribution family's class setting (src/methods/attribution).
  const [id, key] = method.id === COMPARE.id ? ['saliency', 'class'] : [method.id, setting.key];
  try {
    return { ok: JSON.parse(validator(id, key, String(raw), numClasses)) };
  } catch (e) {
    return { error: String(e?.message ?? e) };
  }
}

/** Checks a value typed in the page: {ok} or {error} where error is a whole sentence naming the setting. */
export function checkSetting(method, setting, raw, numClasses = 1000) {
  const r = parseSetting(method, setting, raw, { numClasses });
  return r.error ? { error: `${r.error}.` } : r;
}

// link key -> {method, setting}
function linkFields(schema) {
  const fields = new Map();
  for (const m of pageMethods(schema)) {
    for (const s of m.settings) fields.set(`${m.link_prefix}.${s.link ?? s.key}`, { method: m, setting: s });
  }
  return fields;
}

function parseImage(raw, sampleIds) {
  if (raw.startsWith('sample:')) {
    const id = raw.slice('sample:'.length);
    if (!SAMPLE_ID.test(id) || (sampleIds && !sampleIds.includes(id))) {
      return { error: `names no sample image (there are: ${(sampleIds || []).join(', ')})` };
    }
    return { ok: { kind: 'sample', id } };
  }
  if (raw.startsWith('jpeg:')) {
    const bytes = base64urlToBytes(raw.slice('jpeg:'.length));
    if (!bytes) return { error: 'holds an image that is not valid base64url' };
    if (bytes.length > MAX_JPEG_BYTES) return { error: 'holds an image that is too large' };
    if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return { error: 'holds data that is not a JPEG' };
    return { ok: { kind: 'jpeg', bytes } };
  }
  return { error: 'must be sample:NAME or jpeg:DATA' };
}

/**
 * Parses a location hash ("#panel=fooling&fool.target=76…") against the schema.
 * Returns {state, problems, present}: problems are plain-text sentences for the page to show (as text);
 * present is false for an empty hash (a plain visit, nothing to reproduce). modelName is the user's model the link
 * was made with (`model.name=`), or null for the default model; it is not part of the state.
 */
export function parseShareHash(hash, { schema, numClasses = 1000, sampleIds = null }) {
  const state = defaultState(schema);
  const problems = [];
  const text = String(hash || '').replace(/^#/, '');
  if (text === '') return { state, problems, present: false };
  if (text.length > MAX_LINK_CHARS) {
    problems.push(`The link is longer than ${MAX_LINK_CHARS} characters; it was ignored.`);
    return { state, problems, present: false };
  }
  let params;
  try {
    params = new URLSearchParams(text);
  } catch {
    problems.push('The link could not be read; it was ignored.');
    return { state, problems, present: false };
  }
  const fields = linkFields(schema);
  const choices = new Map(choiceFields(schema).map((c) => [c.link, c.field]));
  const panels = panelIds(schema);
  const seen = new Set();
  let modelName = null;
  let modelChoice = null;
  for (const [key, raw] of params) {
    if (seen.has(key)) {
      problems.push(`Link parameter ${quote(key)} appears more than once; the first one is used.`);
      continue;
    }
    seen.add(key);
    if (key === 'v') {
      if (raw !== '1') problems.push(`Link version ${quote(raw)} is unknown; reading it as version 1.`);
      continue;
    }
    if (key === 'img') {
      const r = parseImage(raw, sampleIds);
      if (r.error) problems.push(`Link parameter "img" ${r.error}; no image is loaded.`);
      else state.image = r.ok;
      continue;
    }
    if (key === MODEL_NAME_KEY) {
      if (MODEL_NAME.test(raw)) modelName = raw;
      else problems.push(`Link parameter "${MODEL_NAME_KEY}" = ${quote(raw)} is not a model's file name; it was ignored.`);
      continue;
    }
    if (choices.has(key)) {
      const field = choices.get(key);
      const v = checkChoice(field, raw).ok;
      if (v === undefined) problems.push(`Link parameter ${quote(key)} = ${quote(raw)} is not a model preprocessing choice; it was ignored.`);
      else modelChoice = { ...(modelChoice ?? {}), [field]: v };
      continue;
    }
    if (key === 'panel') {
      if (panels.includes(raw)) state.panel = raw;
      else problems.push(`Link parameter "panel" = ${quote(raw)} must be one of ${panels.join(', ')}; the default is used.`);
      continue;
    }
    const field = fields.get(key);
    if (!field) {
      problems.push(`Link parameter ${quote(key)} is unknown and was ignored.`);
      continue;
    }
    const r = parseSetting(field.method, field.setting, raw, { numClasses });
    if (r.error) {
      problems.push(`Link parameter ${quote(key)}: ${r.error}; the default is used.`);
      continue;
    }
    state[field.method.link_prefix][field.setting.key] = r.ok;
  }
  return { state, problems, present: true, modelName, modelChoice };
}

/**
 * The hash (with "#") for a state. Every setting of the shown method is written (so the link reproduces the run
 * even if a default changes later); other methods' settings only where they differ from the default.
 * Throws when the image cannot go in a link; the message says why. modelName: a user's model the link names (not
 * carries), null for the default model or one the address loads (?model=URL).
 */
export function buildShareHash(state, schema, { modelName = null, modelChoice = null } = {}) {
  const p = new URLSearchParams();
  p.set('v', '1');
  if (state.image?.kind === 'sample') p.set('img', `sample:${state.image.id}`);
  p.set('panel', state.panel);
  if (modelName !== null && MODEL_NAME.test(modelName)) p.set(MODEL_NAME_KEY, modelName);
  for (const { field, link } of choiceFields(schema)) {
    const v = modelChoice?.[field];
    if (v !== null && v !== undefined && checkChoice(field, String(v)).ok !== undefined) p.set(link, String(v));
  }
  for (const m of pageMethods(schema)) {
    const values = state[m.link_prefix] ?? {};
    for (const s of m.settings) {
      const v = values[s.key];
      if (v === null || v === undefined) continue; // an optional class left to the prediction
      if (m.id !== state.panel && v === s.default) continue;
      p.set(`${m.link_prefix}.${s.link ?? s.key}`, String(v));
    }
  }
  let hash = p.toString();
  if (state.image?.kind === 'jpeg') {
    if (state.image.bytes.length > MAX_JPEG_BYTES) {
      throw new Error(
        `your image does not fit in a link: even compressed it takes ${Math.ceil(state.image.bytes.length / 1024)} KB ` +
          `and a link holds at most ${Math.floor(MAX_JPEG_BYTES / 1024)} KB; use a sample image to share`,
      );
    }
    // Last, so the readable settings stay at the front of the link.
    hash += `&img=jpeg:${bytesToBase64url(state.image.bytes)}`;
  }
  return `#${hash}`;
}

/** The settings JSON a run takes (keyed by setting key, as docs/architecture.md says); `over` replaces values. */
export function settingsJson(method, values, over = {}) {
  const out = {};
  for (const s of method.settings) {
    const v = s.key in over ? over[s.key] : values?.[s.key];
    if (v === undefined) continue;
    out[s.key] = v;
  }
  return JSON.stringify(out);
}
