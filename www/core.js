// The engine's pure functions on the page's main thread — the validators of settings (src/methods/settings.rs,
// `checkSetting`) and of a user model's preprocessing choice (src/preprocess.rs, `checkChoice`), and QR codes
// (src/qr.rs) — from the page's own wasm (the single-thread build), in an instance of its own: independent of the
// engine worker, whose runs, restarts and protocol it never touches. Loaded once.
import { setValidator } from './share.js';

let core = null;
let validator = null;

/** The wasm module's exports, once loaded (a promise; the same one for every caller). */
export function loadCore() {
  core ??= import('../pkg/netlens.js').then(async (m) => {
    await m.default({ module_or_path: new URL('../pkg/netlens_bg.wasm', import.meta.url) });
    return m;
  });
  return core;
}

/** Loads the core and makes it www/share.js's validator (links, forms, lessons); the same promise for all. */
export function validatorReady() {
  validator ??= loadCore().then((m) => setValidator(m.checkSetting, m.checkChoice));
  return validator;
}
