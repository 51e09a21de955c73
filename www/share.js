// Share links: the whole page state in the URL hash, and its strict parsing. Anything in a hash is untrusted:
// each value is checked against a pattern and a range, and what fails becomes a message plus the default.
// No DOM here, so node's test runner can load it directly.

export const PANELS = ['saliency', 'fooling', 'classviz'];

// The core's defaults (FoolingSettings / ClassVizSettings in src/methods), except the fooling target:
// tarantula shows the effect on every sample image.
export const DEFAULTS = Object.freeze({
  fool: Object.freeze({ target: 76, lr: 1, maxIters: 200 }),
  viz: Object.freeze({
    class: 76, l2Reg: 1e-3, lr: 25, iters: 100, blurEvery: 10, blurSigma: 0.5, maxJitter: 16,
    update: 'normalized', seed: 0,
  }),
});

// Bounds the page accepts; the core checks again (src/methods: MAX_ITERS, MAX_BLUR_SIGMA, jitter < 224).
export const LIMITS = Object.freeze({
  iters: 1000, lr: 1e4, l2Reg: 10, blurSigma: 20, maxJitter: 223, seed: 2 ** 32 - 1,
});

// Whole link at most this long: browsers, chat apps and mail clients cope with it.
export const MAX_LINK_CHARS = 32 * 1024;
// Room left for the rest of the state once the image is in.
const OTHER_PARAMS_CHARS = 512;
export const MAX_JPEG_BYTES = Math.floor(((MAX_LINK_CHARS - OTHER_PARAMS_CHARS) * 3) / 4);

const SAMPLE_ID = /^[a-z0-9_-]{1,64}$/;
const UINT = /^[0-9]{1,10}$/;
const NUMBER = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function defaultState() {
  return {
    image: null, // {kind: 'sample', id} | {kind: 'jpeg', bytes: Uint8Array}
    panel: 'saliency',
    salClass: null, // null = the predicted class
    fool: { ...DEFAULTS.fool },
    viz: { ...DEFAULTS.viz },
  };
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

// Field parsers: each returns {ok: value} or {error: text}.
function uintIn(min, max) {
  return (raw) => {
    if (!UINT.test(raw)) return { error: 'is not a whole number' };
    const v = Number(raw);
    if (v < min || v > max) return { error: `must be between ${min} and ${max}` };
    return { ok: v };
  };
}

function numberIn(min, max, { minExclusive = false } = {}) {
  return (raw) => {
    if (!NUMBER.test(raw)) return { error: 'is not a number' };
    const v = Number(raw);
    if (!Number.isFinite(v)) return { error: 'is not a finite number' };
    if (v > max || v < min || (minExclusive && v === min)) {
      return { error: `must be ${minExclusive ? 'above' : 'at least'} ${min} and at most ${max}` };
    }
    return { ok: v };
  };
}

function oneOf(values) {
  return (raw) => (values.includes(raw) ? { ok: raw } : { error: `must be one of ${values.join(', ')}` });
}

function fieldsFor(numClasses) {
  const cls = uintIn(0, numClasses - 1);
  // key in the link -> [where it goes in the state, parser]
  return {
    'panel': [['panel'], oneOf(PANELS)],
    'sal.class': [['salClass'], cls],
    'fool.target': [['fool', 'target'], cls],
    'fool.lr': [['fool', 'lr'], numberIn(0, LIMITS.lr, { minExclusive: true })],
    'fool.iters': [['fool', 'maxIters'], uintIn(1, LIMITS.iters)],
    'viz.class': [['viz', 'class'], cls],
    'viz.l2': [['viz', 'l2Reg'], numberIn(0, LIMITS.l2Reg)],
    'viz.lr': [['viz', 'lr'], numberIn(0, LIMITS.lr, { minExclusive: true })],
    'viz.iters': [['viz', 'iters'], uintIn(1, LIMITS.iters)],
    'viz.blur': [['viz', 'blurEvery'], uintIn(0, LIMITS.iters)],
    'viz.sigma': [['viz', 'blurSigma'], numberIn(0, LIMITS.blurSigma, { minExclusive: true })],
    'viz.jitter': [['viz', 'maxJitter'], uintIn(0, LIMITS.maxJitter)],
    'viz.update': [['viz', 'update'], oneOf(['normalized', 'plain'])],
    'viz.seed': [['viz', 'seed'], uintIn(0, LIMITS.seed)],
  };
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
 * Parses a location hash ("#panel=fooling&fool.target=76…").
 * Returns {state, problems, present}: problems are plain-text sentences for the page to show (as text);
 * present is false for an empty hash (a plain visit, nothing to reproduce).
 */
export function parseShareHash(hash, { numClasses = 1000, sampleIds = null } = {}) {
  const state = defaultState();
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
  const fields = fieldsFor(numClasses);
  const seen = new Set();
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
    const field = fields[key];
    if (!field) {
      problems.push(`Link parameter ${quote(key)} is unknown and was ignored.`);
      continue;
    }
    const [path, parse] = field;
    const r = parse(raw);
    if (r.error) {
      problems.push(`Link parameter ${quote(key)} = ${quote(raw)} ${r.error}; the default is used.`);
      continue;
    }
    if (path.length === 1) state[path[0]] = r.ok;
    else state[path[0]][path[1]] = r.ok;
  }
  return { state, problems, present: true };
}

/** The hash (with "#") for a state. Throws when the image cannot go in a link; the message says why. */
export function buildShareHash(state) {
  const p = new URLSearchParams();
  p.set('v', '1');
  if (state.image?.kind === 'sample') p.set('img', `sample:${state.image.id}`);
  p.set('panel', state.panel);
  if (state.salClass !== null && state.salClass !== undefined) p.set('sal.class', String(state.salClass));
  p.set('fool.target', String(state.fool.target));
  p.set('fool.lr', String(state.fool.lr));
  p.set('fool.iters', String(state.fool.maxIters));
  const v = state.viz;
  p.set('viz.class', String(v.class));
  p.set('viz.l2', String(v.l2Reg));
  p.set('viz.lr', String(v.lr));
  p.set('viz.iters', String(v.iters));
  p.set('viz.blur', String(v.blurEvery));
  p.set('viz.sigma', String(v.blurSigma));
  p.set('viz.jitter', String(v.maxJitter));
  p.set('viz.update', v.update);
  p.set('viz.seed', String(v.seed));
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

/** Settings as the core's serde structs spell them (src/methods/{fooling,classviz}.rs). */
export function foolingSettingsJson(fool) {
  return JSON.stringify({ target: fool.target, lr: fool.lr, max_iters: fool.maxIters });
}

export function classVizSettingsJson(viz) {
  return JSON.stringify({
    class: viz.class, l2_reg: viz.l2Reg, lr: viz.lr, iters: viz.iters, blur_every: viz.blurEvery,
    blur_sigma: viz.blurSigma, max_jitter: viz.maxJitter, update: viz.update, seed: viz.seed,
  });
}

/** Checks one setting as typed in the page, with the same rules as a link: {ok: value} or {error: text}. */
export function checkSetting(key, raw, numClasses = 1000) {
  const field = fieldsFor(numClasses)[key];
  if (!field) return { error: 'is not a setting' };
  return field[1](String(raw).trim());
}
