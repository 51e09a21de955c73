// The share-link parser on its own (no browser): round trips, and junk that must become messages + defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseShareHash, buildShareHash, defaultState, DEFAULTS, MAX_JPEG_BYTES, bytesToBase64url, base64urlToBytes,
} from '../../www/share.js';

const opts = { numClasses: 1000, sampleIds: ['chelsea', 'coffee'] };

test('a built link parses back to the same state', () => {
  const s = defaultState();
  s.image = { kind: 'sample', id: 'coffee' };
  s.panel = 'classviz';
  s.salClass = 967;
  s.fool = { target: 6, lr: 0.5, maxIters: 42 };
  s.viz = { class: 130, l2Reg: 0.002, lr: 12.5, iters: 20, blurEvery: 0, blurSigma: 1.5, maxJitter: 8, update: 'plain', seed: 4294967295 };
  const { state, problems, present } = parseShareHash(buildShareHash(s), opts);
  assert.deepEqual(problems, []);
  assert.equal(present, true);
  assert.deepEqual(state, s);
});

test('an embedded JPEG survives the round trip byte for byte', () => {
  const bytes = new Uint8Array(5000).map((_, i) => (i * 7919) & 255);
  bytes[0] = 0xff; bytes[1] = 0xd8;
  const s = defaultState();
  s.image = { kind: 'jpeg', bytes };
  const hash = buildShareHash(s);
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
  const s = defaultState();
  s.image = { kind: 'jpeg', bytes: new Uint8Array(MAX_JPEG_BYTES + 1) };
  assert.throws(() => buildShareHash(s), /does not fit in a link/);
});

test('junk parameters give messages and defaults, never throw', () => {
  const { state, problems } = parseShareHash('#class=abc&lr=NaN&img=<script>alert(1)</script>', opts);
  assert.deepEqual(state, defaultState());
  assert.equal(problems.length, 3);
  assert.match(problems.join('\n'), /"class" is unknown/);
  assert.match(problems.join('\n'), /"img"/);
});

test('each bad value falls back to its default and is named', () => {
  const cases = [
    ['fool.lr', 'NaN'], ['fool.lr', 'Infinity'], ['fool.lr', '-1'], ['fool.lr', '0'], ['fool.lr', '1e99'],
    ['fool.iters', '0'], ['fool.iters', '1.5'], ['fool.iters', '99999999999'], ['fool.target', '1000'],
    ['fool.target', '-3'], ['viz.class', '0x10'], ['viz.seed', '-1'], ['viz.seed', '1e3'], ['viz.update', 'fast'],
    ['viz.jitter', '224'], ['viz.sigma', '0'], ['viz.l2', '-0.1'], ['panel', 'admin'], ['sal.class', ''],
  ];
  for (const [key, value] of cases) {
    const { state, problems } = parseShareHash(`#${key}=${encodeURIComponent(value)}`, opts);
    assert.deepEqual(state, defaultState(), `${key}=${value}`);
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
  assert.deepEqual(DEFAULTS.viz.seed, 0);
});
