// The share-link parser on its own (no browser): round trips, and junk that must become messages + defaults.
// The settings, defaults and bounds come from the method registry's schema as the native CLI prints it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseShareHash, buildShareHash, defaultState, MAX_JPEG_BYTES, bytesToBase64url, base64urlToBytes, checkChoice,
  choiceFields,
} from '../../www/share.js';
import { loadSchema, linkSetting, useRegistryValidator } from './helpers.mjs';

// Settings are checked by the registry's validator (the page's wasm), as in the page.
await useRegistryValidator();

const schema = loadSchema();
const opts = { schema, numClasses: 1000, sampleIds: ['chelsea', 'coffee'] };

/** Sets a value by its link name ("viz.l2"), whatever the setting's key in the schema. */
function setLink(state, linkKey, value) {
  const { method, setting } = linkSetting(schema, linkKey);
  state[method.link_prefix][setting.key] = value;
}

function getLink(state, linkKey) {
  const { method, setting } = linkSetting(schema, linkKey);
  return state[method.link_prefix][setting.key];
}

test('a built link parses back to the same state', () => {
  const s = defaultState(schema);
  s.image = { kind: 'sample', id: 'coffee' };
  s.panel = 'classviz';
  for (const [k, v] of [
    ['sal.class', 967], ['fool.target', 6], ['fool.lr', 0.5], ['fool.iters', 42], ['viz.class', 130], ['viz.l2', 0.002],
    ['viz.lr', 12.5], ['viz.iters', 20], ['viz.blur', 0], ['viz.sigma', 1.5], ['viz.jitter', 8], ['viz.update', 'plain'],
    ['viz.seed', 4294967295],
  ]) setLink(s, k, v);
  const { state, problems, present } = parseShareHash(buildShareHash(s, schema), opts);
  assert.deepEqual(problems, []);
  assert.equal(present, true);
  assert.deepEqual(state, s);
});

test('an embedded JPEG survives the round trip byte for byte', () => {
  const bytes = new Uint8Array(5000).map((_, i) => (i * 7919) & 255);
  bytes[0] = 0xff; bytes[1] = 0xd8;
  const s = defaultState(schema);
  s.image = { kind: 'jpeg', bytes };
  const hash = buildShareHash(s, schema);
  const { state, problems } = parseShareHash(hash, opts);
  assert.deepEqual(problems, []);
  assert.deepEqual(state.image.bytes, bytes);
});

test('base64url helpers agree with Buffer', () => {
  for (const n of [0, 1, 2, 3, 4, 100, 40000]) {
    const b = new Uint8Array(n).map((_, i) => (i * 31 + n) & 255);
    const text = bytesToBase64url(b);
    assert.equal(text, Buffer.from(b).toString('base64url'));
    assert.deepEqual(base64urlToBytes(text) ?? new Uint8Array(0), b);
  }
});

test('an image too large for a link is refused with the reason', () => {
  const s = defaultState(schema);
  s.image = { kind: 'jpeg', bytes: new Uint8Array(MAX_JPEG_BYTES + 1) };
  assert.throws(() => buildShareHash(s, schema), /does not fit in a link/);
});

test('junk parameters give messages and defaults, never throw', () => {
  const { state, problems } = parseShareHash('#class=abc&lr=NaN&img=<script>alert(1)</script>', opts);
  assert.deepEqual(state, defaultState(schema));
  assert.equal(problems.length, 3);
  assert.match(problems.join('\n'), /"class" is unknown/);
  assert.match(problems.join('\n'), /"img"/);
});

test('each bad value falls back to its default and is named', () => {
  const cases = [
    ['fool.lr', 'NaN'], ['fool.lr', 'Infinity'], ['fool.lr', '-1'], ['fool.lr', '0'], ['fool.lr', '1e99'],
    ['fool.iters', '0'], ['fool.iters', '1.5'], ['fool.iters', '99999999999'], ['fool.target', '1000'],
    ['fool.target', '-3'], ['viz.class', '0x10'], ['viz.seed', '-1'], ['viz.seed', '1e3'], ['viz.update', 'fast'],
    ['viz.jitter', '512'], ['viz.sigma', '-1'], ['viz.l2', '-0.1'], ['panel', 'admin'], ['sal.class', ''],
  ];
  for (const [key, value] of cases) {
    const { state, problems } = parseShareHash(`#${key}=${encodeURIComponent(value)}`, opts);
    assert.deepEqual(state, defaultState(schema), `${key}=${value}`);
    assert.equal(problems.length, 1, `${key}=${value}`);
    assert.ok(problems[0].includes(JSON.stringify(key)), problems[0]);
  }
});

test('image parameters are checked', () => {
  const bad = ['sample:dog', 'sample:../../etc', 'jpeg:!!!!', 'jpeg:AAAA', 'http://x/y.png', `jpeg:${'A'.repeat(50000)}`];
  for (const img of bad) {
    const { state, problems } = parseShareHash(`#img=${encodeURIComponent(img)}`, opts);
    assert.equal(state.image, null, img);
    assert.equal(problems.length, 1, img);
  }
  assert.deepEqual(parseShareHash('#img=sample:chelsea', opts).state.image, { kind: 'sample', id: 'chelsea' });
});

test('messages quote long values shortened', () => {
  const { problems } = parseShareHash(`#fool.lr=${'9'.repeat(5000)}`, opts);
  assert.equal(problems.length, 1);
  assert.ok(problems[0].length < 200, problems[0]);
});

test('an empty hash is a plain visit', () => {
  assert.equal(parseShareHash('', opts).present, false);
  assert.equal(parseShareHash('#', opts).present, false);
  assert.deepEqual(getLink(defaultState(schema), 'viz.seed'), 0);
});

test('a link written before the method registry still opens, with every value it holds', () => {
  const old = '#v=1&img=sample%3Achelsea&panel=fooling&sal.class=285&fool.target=6&fool.lr=0.5&fool.iters=42'
    + '&viz.class=130&viz.l2=0.002&viz.lr=12.5&viz.iters=20&viz.blur=0&viz.sigma=1.5&viz.jitter=8&viz.update=plain&viz.seed=7';
  const { state, problems } = parseShareHash(old, opts);
  assert.deepEqual(problems, []);
  assert.deepEqual(state.image, { kind: 'sample', id: 'chelsea' });
  assert.equal(state.panel, 'fooling');
  for (const [k, v] of [['sal.class', 285], ['fool.target', 6], ['fool.lr', 0.5], ['fool.iters', 42], ['viz.class', 130],
    ['viz.l2', 0.002], ['viz.lr', 12.5], ['viz.iters', 20], ['viz.blur', 0], ['viz.sigma', 1.5], ['viz.jitter', 8],
    ['viz.update', 'plain'], ['viz.seed', 7]]) {
    assert.deepEqual(getLink(state, k), v, k);
  }
});

test('the iteration cap is the registry\'s (10000), not the old page\'s 1000', () => {
  assert.equal(schema.max_iters, 10000);
  for (const key of ['fool.iters', 'viz.iters']) {
    assert.equal(getLink(parseShareHash(`#${key}=10000`, opts).state, key), 10000, key);
    assert.equal(parseShareHash(`#${key}=10001`, opts).problems.length, 1, key);
  }
});

test('a user model\'s preprocessing choices are the core\'s: its fields and link keys, its checker\'s sentences', () => {
  assert.deepEqual(choiceFields(schema).map((f) => [f.field, f.link]),
    [['preset', 'model.pre'], ['resize', 'model.resize'], ['side', 'model.size']]);
  for (const f of choiceFields(schema)) {
    for (const o of f.options ?? []) assert.deepEqual(checkChoice(f.field, o.value), { ok: o.value }, f.field);
  }
  assert.deepEqual(checkChoice('side', '32'), { ok: 32 });
  assert.match(checkChoice('side', '600').error, /^Input size must be a whole number of pixels from 8 to 512, got '600'$/);
  assert.match(checkChoice('preset', 'cifar').error, /unknown preprocessing preset 'cifar'; expected one of imagenet, unit, signed, mnist/);
});

test('a user model\'s preprocessing choice round-trips; a bad value is named and dropped', () => {
  const s = defaultState(schema);
  const hash = buildShareHash(s, schema, { modelName: 'tinycnn.onnx', modelChoice: { preset: 'unit', resize: 'squash', side: 32 } });
  assert.match(hash, /&model\.name=tinycnn\.onnx&model\.pre=unit&model\.resize=squash&model\.size=32(&|$)/);
  const back = parseShareHash(hash, opts);
  assert.deepEqual(back.problems, []);
  assert.equal(back.modelName, 'tinycnn.onnx');
  assert.deepEqual(back.modelChoice, { preset: 'unit', resize: 'squash', side: 32 });
  // A choice the core would refuse never gets into a link.
  assert.doesNotMatch(buildShareHash(s, schema, { modelChoice: { preset: 'cifar', side: 4 } }), /model\./);
  const bad = parseShareHash('#v=1&model.pre=cifar&model.size=600&model.resize=squash', opts);
  assert.equal(bad.problems.length, 2, bad.problems.join(' | '));
  assert.match(bad.problems[0], /"model\.pre" = "cifar" is not a model preprocessing choice/);
  assert.deepEqual(bad.modelChoice, { resize: 'squash' });
});
