// Fuzzing the share-link parser (issue 14) with fast-check: www/share.js is DOM-free, so node loads it as the
// page does. Whatever a link holds, parseShareHash never throws and returns a state that is valid for the
// schema (every setting of every method present and within its bounds, a known panel, a sample or a JPEG);
// every valid state survives buildShareHash → parseShareHash unchanged and without a complaint.
// NETLENS_FUZZ_SCALE multiplies the case counts (make fuzz), NETLENS_FUZZ_SEED changes the seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadSchema, useRegistryValidator } from './helpers.mjs';
import {
  parseShareHash, buildShareHash, parseSetting, pageMethods, panelIds, MAX_JPEG_BYTES,
} from '../../www/share.js';

// Settings are checked by the registry's validator (the page's wasm), as in the page.
await useRegistryValidator();

const schema = loadSchema();
const SAMPLES = ['chelsea', 'coffee', 'astronaut', 'rocket', 'motorcycle_left'];
const SCALE = Number(process.env.NETLENS_FUZZ_SCALE || 1);
const SEED = Number(process.env.NETLENS_FUZZ_SEED || 14);
const runs = (n) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), seed: SEED });
const opts = { schema, numClasses: 1000, sampleIds: SAMPLES };
const fields = pageMethods(schema).flatMap((m) => m.settings.map((s) => ({ m, s, key: `${m.link_prefix}.${s.link ?? s.key}` })));

/** Every way a parsed state can be wrong, as messages (empty: valid). */
function problemsOf(state) {
  const out = [];
  if (!panelIds(schema).includes(state.panel)) out.push(`panel ${state.panel}`);
  const img = state.image;
  if (img !== null) {
    if (img.kind === 'sample') {
      if (!SAMPLES.includes(img.id)) out.push(`sample ${img.id}`);
    } else if (img.kind === 'jpeg') {
      if (!(img.bytes instanceof Uint8Array) || img.bytes.length > MAX_JPEG_BYTES || img.bytes[0] !== 0xff || img.bytes[1] !== 0xd8) {
        out.push('jpeg bytes');
      }
    } else {
      out.push(`image kind ${img.kind}`);
    }
  }
  const known = new Set(['image', 'panel', ...pageMethods(schema).map((m) => m.link_prefix)]);
  for (const k of Object.keys(state)) if (!known.has(k)) out.push(`extra key ${k}`);
  for (const m of pageMethods(schema)) {
    const values = state[m.link_prefix];
    if (!values || typeof values !== 'object') {
      out.push(`${m.link_prefix} missing`);
      continue;
    }
    const keys = m.settings.map((s) => s.key);
    if (Object.keys(values).sort().join() !== [...keys].sort().join()) out.push(`${m.link_prefix} keys ${Object.keys(values)}`);
    for (const s of m.settings) {
      const v = values[s.key];
      if (v === s.default) continue;
      if (v === null) {
        if (!(s.type === 'class' && s.optional)) out.push(`${m.link_prefix}.${s.key} null`);
        continue;
      }
      const again = parseSetting(m, s, String(v), { numClasses: 1000 });
      // (-0 from a link "-0" is kept as -0: the same number, written back as "0".)
      if (again.error || again.ok !== v) out.push(`${m.link_prefix}.${s.key} = ${JSON.stringify(v)} ${again.error ?? ''}`);
    }
  }
  return out;
}

function checkParse(hash) {
  const r = parseShareHash(hash, opts);
  assert.ok(Array.isArray(r.problems) && r.problems.every((p) => typeof p === 'string' && p.length < 2000));
  assert.equal(typeof r.present, 'boolean');
  const bad = problemsOf(r.state);
  assert.deepEqual(bad, [], `an invalid state from ${JSON.stringify(hash).slice(0, 300)}`);
  return r;
}

// ---------------------------------------------------------------- arbitraries

function validValue(s) {
  switch (s.type) {
    case 'int': {
      const lo = (s.min ?? -1e9) + (s.min_exclusive ? 1 : 0);
      return fc.integer({ min: Math.max(lo, Number.MIN_SAFE_INTEGER), max: Math.min(s.max ?? 1e9, Number.MAX_SAFE_INTEGER) });
    }
    case 'float':
      return fc.double({ min: s.min ?? -1e6, max: s.max ?? 1e6, noNaN: true, noDefaultInfinity: true })
        .map((v) => (Object.is(v, -0) ? 0 : v))
        .filter((v) => !(s.min_exclusive && v === s.min));
    case 'class':
      return s.optional ? fc.option(fc.integer({ min: 0, max: 999 }), { nil: null }) : fc.integer({ min: 0, max: 999 });
    case 'choice':
      return fc.constantFrom(...s.options.map((o) => (typeof o === 'object' ? String(o.value) : String(o))));
    case 'bool':
      return fc.boolean();
    case 'text':
      return s.pattern ? fc.stringMatching(new RegExp(s.pattern, 'u')).filter((t) => t.trim() === t && t.length <= 256) : fc.string();
    default:
      throw new Error(`no arbitrary for ${s.type}`);
  }
}

const validImage = fc.oneof(
  fc.constant(null),
  fc.constantFrom(...SAMPLES).map((id) => ({ kind: 'sample', id })),
  fc.uint8Array({ minLength: 2, maxLength: 300 }).map((b) => {
    const bytes = new Uint8Array([0xff, 0xd8, ...b]);
    return { kind: 'jpeg', bytes };
  }),
);

const validState = fc.record({
  image: validImage,
  panel: fc.constantFrom(...panelIds(schema)),
  ...Object.fromEntries(pageMethods(schema).map((m) => [m.link_prefix,
    fc.record(Object.fromEntries(m.settings.map((s) => [s.key, validValue(s)])), { noNullPrototype: true })])),
}, { noNullPrototype: true });

// Values people (and tamperers) type: numbers at the edges, odd spellings, markup, unicode, huge strings.
const oddValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '1e309', '-1e309', 'NaN', 'Infinity', '-0', '0x10', '1_000', '١٢', '1e-400', '+', '.', '1.',
    '.5', '00001', '9007199254740993', '4294967296', '-1', 'true', 'TRUE', 'null', 'undefined', '<img src=x onerror=alert(1)>',
    '%00', '%', '%zz', 'sample:', 'sample:../../etc', 'jpeg:', 'jpeg:_-_-', 'jpeg:/9j/', 'jpeg:_9j_4AAQ', '\u202e', '\ud800'),
  fc.integer().map(String),
  fc.double().map(String),
  fc.nat(64).map((n) => 'x'.repeat(n * 100)),
);
const keyArb = fc.oneof(
  fc.constantFrom('v', 'img', 'panel', ...fields.map((f) => f.key)),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'fool.__proto__', 'hasOwnProperty'),
);

// ---------------------------------------------------------------- properties

test('share links: arbitrary text never throws and always gives a valid state', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 400 })), (h) => {
    checkParse(h);
    checkParse(`#${h}`);
  }), runs(3000));
});

test('share links: known and odd keys with odd values never throw and give a valid state', () => {
  const pair = fc.tuple(keyArb, oddValue, fc.boolean());
  fc.assert(fc.property(fc.array(pair, { maxLength: 24 }), (pairs) => {
    // encodeURIComponent refuses lone surrogates: those go in raw.
    const enc = (t) => {
      try {
        return encodeURIComponent(t);
      } catch {
        return t;
      }
    };
    const text = pairs.map(([k, v, raw]) => (raw ? `${k}=${v}` : `${enc(k)}=${enc(v)}`)).join('&');
    checkParse(`#${text}`);
  }), runs(3000));
});

test('share links: every valid state survives build → parse unchanged, without a complaint', () => {
  fc.assert(fc.property(validState, (state) => {
    const hash = buildShareHash(state, schema);
    const r = checkParse(hash);
    assert.deepEqual(r.problems, [], hash);
    assert.equal(r.present, true);
    assert.deepEqual(r.state, state, hash);
  }), runs(1500));
});

test('share links: a valid link with a few characters changed never throws and gives a valid state', () => {
  const edit = fc.tuple(fc.nat(), fc.oneof(fc.constant(''), fc.string({ minLength: 1, maxLength: 4 }),
    fc.constantFrom('&', '=', '%', '#', '&v=2', '&panel=', '&img=jpeg:')), fc.nat(3));
  fc.assert(fc.property(validState, fc.array(edit, { minLength: 1, maxLength: 4 }), (state, edits) => {
    let h = buildShareHash(state, schema);
    for (const [at, text, del] of edits) {
      const i = at % (h.length + 1);
      h = h.slice(0, i) + text + h.slice(i + del);
    }
    checkParse(h);
  }), runs(3000));
});
