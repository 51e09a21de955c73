// Every setting of every method, as the Rust registry declares it (`netlens schema`), against what the page's
// share links accept: the default, the bounds, just outside them, each choice. A default or bound that differs
// between Rust and www/share.js fails here. (tests/browser/methods.test.mjs checks the page's form inputs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseShareHash, buildShareHash, defaultState, parseSetting } from '../../www/share.js';
import { loadSchema, useRegistryValidator } from './helpers.mjs';

// Settings are checked by the registry's validator (the page's wasm), as in the page.
await useRegistryValidator();

const schema = loadSchema();
const NUM_CLASSES = 1000;
const opts = { schema, numClasses: NUM_CLASSES, sampleIds: ['chelsea'] };

/** [raw text, expected value or undefined for "rejected"] for one setting. */
function cases(s) {
  const out = [];
  const has = (v) => v !== undefined && v !== null;
  switch (s.type) {
    case 'int':
      assert.ok(has(s.min) && has(s.max), `${s.key}: an int needs both bounds`);
      out.push([String(s.min), s.min_exclusive ? undefined : s.min], [String(s.max), s.max]);
      out.push([String(s.min - 1), undefined], [String(s.max + 1), undefined], [`${s.min}.5`, undefined], ['abc', undefined]);
      break;
    case 'float': {
      assert.ok(has(s.min) && has(s.max), `${s.key}: a float needs both bounds`);
      const below = s.min - Math.max(1e-3, Math.abs(s.min) * 1e-3);
      const above = s.max + Math.max(1e-3, Math.abs(s.max) * 1e-3);
      out.push([String(s.min), s.min_exclusive ? undefined : s.min], [String(s.max), s.max]);
      out.push([String(below), undefined], [String(above), undefined], ['NaN', undefined], ['Infinity', undefined]);
      if (s.min_exclusive) out.push([String(s.min + Math.max(1e-6, Math.abs(s.min) * 1e-6)), s.min + Math.max(1e-6, Math.abs(s.min) * 1e-6)]);
      break;
    }
    case 'class':
      out.push(['0', 0], [String(NUM_CLASSES - 1), NUM_CLASSES - 1], [String(NUM_CLASSES), undefined], ['-1', undefined], ['', undefined]);
      break;
    case 'choice':
      assert.ok(s.options.length > 0, `${s.key}: a choice needs options`);
      for (const o of s.options) out.push([String(o.value), o.value]);
      out.push(['no-such-option', undefined]);
      break;
    case 'bool':
      out.push(['true', true], ['false', false], ['maybe', undefined]);
      break;
    case 'text':
      out.push([String(s.default), s.default], ['has space', undefined], ['x'.repeat(300), undefined]);
      break;
    default:
      assert.fail(`setting ${s.key} has a type the page does not know: ${s.type}`);
  }
  return out;
}

test('the schema is what the page expects', () => {
  assert.equal(schema.version, 1);
  assert.equal(schema.max_iters, 10000);
  const ids = schema.methods.map((m) => m.id);
  for (const id of ['saliency', 'fooling', 'classviz', 'ixg', 'ig', 'smoothgrad', 'gradcam', 'gbp', 'deconv', 'ggc', 'occlusion']) {
    assert.ok(ids.includes(id), `method ${id} in the schema (${ids.join(', ')})`);
  }
  const prefixes = schema.methods.map((m) => m.link_prefix);
  assert.equal(new Set(prefixes).size, prefixes.length, 'link prefixes are unique');
  assert.ok(!prefixes.includes('cmp'), 'cmp is the compare view\'s prefix');
  // The old links' names (issue 7: old links keep opening).
  const links = (id) => schema.methods.find((m) => m.id === id).settings.map((s) => `${s.link}`);
  assert.equal(schema.methods.find((m) => m.id === 'saliency').link_prefix, 'sal');
  assert.equal(schema.methods.find((m) => m.id === 'fooling').link_prefix, 'fool');
  assert.equal(schema.methods.find((m) => m.id === 'classviz').link_prefix, 'viz');
  assert.deepEqual(links('saliency'), ['class']);
  for (const l of ['target', 'lr', 'iters']) assert.ok(links('fooling').includes(l), `fool.${l}`);
  for (const l of ['class', 'l2', 'lr', 'iters', 'blur', 'sigma', 'jitter', 'update', 'seed']) assert.ok(links('classviz').includes(l), `viz.${l}`);
  for (const m of schema.methods) {
    if (m.group === 'attribution') assert.equal(m.compare, true, `${m.id} is in the compare view`);
    for (const o of m.outputs) assert.ok(['image', 'heatmap', 'diverging', 'overlay', 'live', 'strip', 'stats', 'plot'].includes(o.kind), `${m.id}.${o.id}: ${o.kind}`);
  }
});

test('the page\'s default state is the registry\'s defaults', () => {
  const state = defaultState(schema);
  for (const m of schema.methods) {
    for (const s of m.settings) assert.deepEqual(state[m.link_prefix][s.key], s.default ?? null, `${m.id}.${s.key}`);
  }
  // A link with nothing in it but the version opens with those defaults.
  assert.deepEqual(parseShareHash('#v=1', opts).state, state);
});

test('every setting at its default, its bounds and outside them: share links agree with the registry', () => {
  let checked = 0;
  for (const m of schema.methods) {
    for (const s of m.settings) {
      const linkKey = `${m.link_prefix}.${s.link}`;
      if (s.default !== null && s.default !== undefined) {
        const r = parseSetting(m, s, String(s.default), { numClasses: NUM_CLASSES });
        assert.deepEqual(r, { ok: s.default }, `${linkKey}: the default ${s.default} is accepted`);
      } else {
        assert.equal(s.type, 'class', `${linkKey}: only an optional class may default to null`);
        assert.equal(s.optional, true, `${linkKey}: a null default means "predicted"`);
      }
      for (const [raw, want] of cases(s)) {
        const { state, problems } = parseShareHash(`#${encodeURIComponent(linkKey)}=${encodeURIComponent(raw)}`, opts);
        if (want === undefined) {
          assert.equal(problems.length, 1, `${linkKey}=${raw} is rejected`);
          assert.ok(problems[0].includes(JSON.stringify(linkKey)), `the message names the setting: ${problems[0]}`);
          assert.ok(problems[0].includes(s.label), `the message gives its label: ${problems[0]}`);
          assert.deepEqual(state[m.link_prefix][s.key], s.default ?? null, `${linkKey}=${raw}: the default stays`);
        } else {
          assert.deepEqual(problems, [], `${linkKey}=${raw} is accepted`);
          assert.deepEqual(state[m.link_prefix][s.key], want, `${linkKey}=${raw}`);
          // And the value survives a link the page writes.
          const again = parseShareHash(buildShareHash(state, schema), opts);
          assert.deepEqual(again.problems, []);
          assert.deepEqual(again.state[m.link_prefix][s.key], want, `${linkKey}=${raw} round trip`);
        }
        checked++;
      }
    }
  }
  assert.ok(checked > 100, `checked ${checked} values`);
});
