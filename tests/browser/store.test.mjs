// The page's state store (www/store.js) on its own (no browser): controllers change it through update / setSetting /
// replacePage and subscribers hear which fields changed; a write any other way throws. And a scan of the page's
// modules: none assigns to the store's slices (engine, input, the page state) but through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { engine, input, page, replacePage, setSetting, subscribe, update } from '../../www/store.js';

const www = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'www');

test('a slice changes through update, and its subscribers hear which fields', () => {
  const heard = [];
  const off = subscribe('engine', (keys) => heard.push(keys));
  update('engine', { ready: true, labels: ['a', 'b'] });
  assert.equal(engine.ready, true);
  assert.deepEqual(engine.labels, ['a', 'b']);
  off();
  update('engine', { ready: false });
  assert.deepEqual(heard, [['ready', 'labels']], 'heard once, with the fields, and not after unsubscribing');
  assert.equal(engine.ready, false);
  assert.throws(() => update('nothing', {}), /no slice 'nothing'/);
  assert.throws(() => subscribe('nothing', () => {}), /no slice 'nothing'/);
});

test('a write to a slice other than through the store throws, naming the field', () => {
  assert.throws(() => { engine.ready = true; }, /engine\.ready is changed only through the store/);
  assert.throws(() => { input.current = null; }, /input\.current is changed only through the store/);
  assert.throws(() => { delete input.seq; }, /input\.seq is changed only through the store/);
  replacePage({ panel: 'saliency', image: null, fool: { lr: 1, target: 76 } });
  assert.throws(() => { page.panel = 'fooling'; }, /page\.panel is changed only through the store/);
  assert.throws(() => { page.fool.lr = 2; }, /page\.fool\.lr is changed only through the store/);
  assert.throws(() => update('page', { fool: {} }), /through setSetting or replacePage/);
  assert.equal(page.fool.lr, 1, 'nothing changed');
  assert.equal(page.fool, page.fool, 'the same settings view each time');
});

test('the page state: replaced whole (own copies), one setting at a time, the panel and image by update', () => {
  const linked = { panel: 'saliency', image: { kind: 'sample', id: 'coffee' }, fool: { lr: 1, target: 76 } };
  const heard = [];
  const off = subscribe('page', (keys) => heard.push(keys));
  replacePage(linked);
  setSetting('fool', 'lr', 3);
  assert.equal(page.fool.lr, 3);
  assert.equal(linked.fool.lr, 1, 'the link\'s own object is not the store\'s');
  update('page', { panel: 'fooling', image: null });
  assert.deepEqual([page.panel, page.image], ['fooling', null]);
  assert.throws(() => setSetting('nope', 'lr', 1), /no method 'nope'/);
  off();
  assert.deepEqual(heard, [['panel', 'image', 'fool'], ['fool'], ['panel', 'image']]);
  assert.deepEqual(Object.keys(page), ['panel', 'image', 'fool']);
});

test('no page module assigns to the store\'s slices but the store itself', () => {
  const code = (text) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  const files = readdirSync(www).filter((f) => f.endsWith('.js') && !['store.js', 'worker.js', 'live-worker.js', 'sw.js'].includes(f));
  // engine.x = …, input.x += …, state.x = …, state[k] = …, state.fool.lr = …, delete state[k], Object.assign(state, …)
  const write = /\b(?:engine|input|state)(?:\.\w+|\[[^\]]+\])+\s*(?:[-+*/]?=(?!=)|\+\+|--)|\bdelete\s+(?:engine|input|state)\b|Object\.assign\(\s*(?:engine|input|state)\b/g;
  const found = [];
  for (const f of files) {
    const text = code(readFileSync(path.join(www, f), 'utf8'));
    // Where `input` or `state` names something else (a DOM input element, a status word) the module does not
    // import the store's slice of that name.
    const imports = (name) => new RegExp(`import\\s*\\{[^}]*\\b${name}\\b[^}]*\\}\\s*from\\s*'\\./(?:engine|input|state|store)\\.js'`).test(text);
    for (const m of text.matchAll(write)) {
      const name = m[0].match(/engine|input|state/)[0];
      if (imports(name)) found.push(`${f}: ${m[0]}`);
    }
  }
  assert.ok(files.length > 20, 'the scan reads the page modules');
  assert.deepEqual(found, [], 'writes to the store\'s slices outside www/store.js');
});
