// The page's state, in one store, in three slices:
//   engine  what the worker says: ready, schema, labels, samples, model, build, failed, and startModel (the user's
//           model a (re)start loads)                                      written by engine.js and models.js
//   input   the image in use (current: {bytes, source, rgba, top}), seq (images taken into use), pending (one that
//           waits for the model)                                          written by input.js
//   page    what a share link carries: panel, image (its link form), every method's settings by link prefix
//                                                                         written by state.js and panels.js
// Controllers change a slice with `update` (or `setSetting` / `replacePage`); views read the slices and `subscribe`
// to the ones they draw. The slices other modules import are read-only: a write any other way throws, so no
// module can quietly change state it does not own. DOM-free (tests/browser/store.test.mjs runs it in Node).

const data = {
  engine: {
    ready: false, labels: null, samples: [], schema: null, failed: null, build: null, model: null, startModel: null,
  },
  input: { current: null, seq: 0, pending: null },
  page: {},
};
const listeners = { engine: new Set(), input: new Set(), page: new Set() };

const refuse = (name, key) => {
  throw new Error(`${name}.${String(key)} is changed only through the store (www/store.js: update, setSetting, replacePage)`);
};

// Read-only views: a slice's top level, and for `page` also each method's settings object, whose values the
// panels' controller sets through `setSetting`. Nested values are the stored objects themselves (not copies).
const settingsViews = new WeakMap();
function settingsView(values, prefix) {
  if (!settingsViews.has(values)) {
    settingsViews.set(values, new Proxy(values, {
      set: (_, key) => refuse(`page.${prefix}`, key),
      deleteProperty: (_, key) => refuse(`page.${prefix}`, key),
      defineProperty: (_, key) => refuse(`page.${prefix}`, key),
    }));
  }
  return settingsViews.get(values);
}

function view(name) {
  return new Proxy(data[name], {
    get(target, key) {
      const v = target[key];
      const settings = name === 'page' && typeof key === 'string' && key !== 'image' && v !== null
        && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
      return settings ? settingsView(v, key) : v;
    },
    set: (_, key) => refuse(name, key),
    deleteProperty: (_, key) => refuse(name, key),
    defineProperty: (_, key) => refuse(name, key),
  });
}

export const engine = view('engine');
export const input = view('input');
export const page = view('page');

function notify(name, keys) {
  for (const fn of [...listeners[name]]) fn(keys);
}

/** Sets some of a slice's fields; its subscribers hear which. */
export function update(name, patch) {
  if (!Object.hasOwn(data, name)) throw new Error(`the store has no slice '${name}'`);
  if (name === 'page' && Object.keys(patch).some((k) => k !== 'panel' && k !== 'image')) {
    throw new Error('a method\'s settings change through setSetting or replacePage');
  }
  Object.assign(data[name], patch);
  notify(name, Object.keys(patch));
}

/** One method's setting (by link prefix and key). */
export function setSetting(prefix, key, value) {
  if (!data.page[prefix]) throw new Error(`the page state has no method '${prefix}'`);
  data.page[prefix][key] = value;
  notify('page', [prefix]);
}

/** The whole page state at once (defaults from the schema, a link read): its own copy of every settings object. */
export function replacePage(next) {
  for (const k of Object.keys(data.page)) delete data.page[k];
  for (const [k, v] of Object.entries(next)) {
    data.page[k] = v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && k !== 'image'
      ? { ...v } : v;
  }
  notify('page', Object.keys(next));
}

/** Calls `fn(keys)` after each change of the slice; returns the function that stops it. */
export function subscribe(name, fn) {
  if (!Object.hasOwn(listeners, name)) throw new Error(`the store has no slice '${name}'`);
  listeners[name].add(fn);
  return () => listeners[name].delete(fn);
}
