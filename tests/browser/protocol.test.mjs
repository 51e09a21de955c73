// The page's protocol (www/protocol.js) is the one place where page events and worker messages are declared: every
// name a module uses must be declared there, every declared one must be used, and the page's modules must not
// import each other in a cycle. Node only (no browser): the modules are read as text, and bus.js is run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENTS, TO_WORKER, FROM_WORKER, TO_SERVICE_WORKER } from '../../www/protocol.js';

const www = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'www');
const modules = Object.fromEntries(
  readdirSync(www).filter((f) => f.endsWith('.js')).map((f) => [f, readFileSync(path.join(www, f), 'utf8')]),
);
// Code only: comments name events and messages in prose.
const code = (text) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
const all = (re, files = Object.keys(modules)) => files.flatMap((f) => [...code(modules[f]).matchAll(re)].map((m) => ({ file: f, name: m[1] })));

test('no import cycle between the page modules', () => {
  const deps = Object.fromEntries(Object.entries(modules).map(([f, text]) => [
    f, [...code(text).matchAll(/^\s*import\s[^;]*?from\s+'\.\/([\w-]+\.js)'/gms)].map((m) => m[1]),
  ]));
  assert.ok(deps['app.js'].length > 5, 'the import scan reads the page modules');
  const cycles = [];
  const visit = (f, trail) => {
    if (trail.includes(f)) return cycles.push([...trail.slice(trail.indexOf(f)), f].join(' → '));
    for (const d of deps[f] ?? []) visit(d, [...trail, f]);
  };
  for (const f of Object.keys(deps)) visit(f, []);
  assert.deepEqual([...new Set(cycles)], [], 'import cycles');
});

test('every page event a module emits or listens to is declared, and every declared one is emitted', () => {
  const emitted = all(/\bemit\('([\w:-]+)'/g);
  const heard = all(/\bon\('([\w:-]+)'/g);
  assert.ok(emitted.length > 20 && heard.length > 20, 'the scan finds the events');
  for (const { file, name } of [...emitted, ...heard]) assert.ok(Object.hasOwn(EVENTS, name), `${file}: event '${name}' is not in www/protocol.js`);
  const names = new Set(emitted.map((e) => e.name));
  for (const name of Object.keys(EVENTS)) assert.ok(names.has(name), `event '${name}' is declared but never emitted`);
});

test('every worker message is declared in its direction, handled, and sent', () => {
  const workers = ['worker.js', 'live-worker.js'];
  const pages = Object.keys(modules).filter((f) => !workers.includes(f) && f !== 'sw.js' && f !== 'protocol.js');
  const handled = all(/\bcase '([\w-]+)':/g, ['worker.js']);
  const posted = all(/\bpost\(\{\s*type: '([\w-]+)'/g, workers);
  const sent = all(/\b(?:request|launch|switchTo|postMessage)\(\{\s*(?:\.\.\.[\w.]+,\s*)?type: '([\w-]+)'/gs, pages)
    .concat(all(/\bconst msg = \{\s*type: '([\w-]+)'/g, pages));
  assert.ok(handled.length > 15 && posted.length > 15 && sent.length > 10, 'the scan finds the messages');
  const toSw = sent.filter((m) => m.file === 'classroom.js' && Object.hasOwn(TO_SERVICE_WORKER, m.name));
  for (const { file, name } of sent.filter((m) => !toSw.includes(m))) assert.ok(Object.hasOwn(TO_WORKER, name), `${file} sends '${name}', not in TO_WORKER`);
  for (const { name } of handled) assert.ok(Object.hasOwn(TO_WORKER, name), `worker.js handles '${name}', not in TO_WORKER`);
  for (const { file, name } of posted) assert.ok(Object.hasOwn(FROM_WORKER, name), `${file} posts '${name}', not in FROM_WORKER`);
  const handledNames = new Set(handled.map((m) => m.name));
  for (const name of Object.keys(TO_WORKER)) assert.ok(handledNames.has(name), `'${name}' is declared but worker.js does not handle it`);
  const postedNames = new Set(posted.map((m) => m.name));
  for (const name of Object.keys(FROM_WORKER)) {
    assert.ok(postedNames.has(name) || code(modules['worker.js'] + modules['live-worker.js']).includes(`type: '${name}'`),
      `'${name}' is declared but no worker sends it`);
  }
  assert.ok(code(modules['sw.js']).includes("type === 'version'"), 'the service worker answers version');
});

test('the bus refuses an undeclared event', async () => {
  const { emit, on } = await import('../../www/bus.js');
  assert.throws(() => emit('imgae', {}), /undeclared page event 'imgae'/);
  assert.throws(() => on('no-such-event', () => {}), /undeclared page event/);
  let got = null;
  const off = on('message', (d) => { got = d; });
  emit('message', { kind: 'info', text: 'hi' });
  off();
  assert.deepEqual(got, { kind: 'info', text: 'hi' });
});
