// The page's protocol, declared once: every event on the page's bus (www/bus.js) and every message between the
// page and its engine workers (www/worker.js), each with the fields it carries. bus.js refuses an event that is not
// here, the worker and its clients refuse a message type that is not here, and tests/browser/protocol.test.mjs
// checks that every name the modules use is declared (and every declared one used). No DOM, no imports: the
// worker, the page and node's test runner all load it.

/** The name the worker gives the default model (its `ready` and `model` messages carry it as `model.name`). */
export const DEFAULT_MODEL_NAME = 'SqueezeNet 1.1';

/**
 * Page events: name → what its detail holds. Views subscribe to these; controllers emit them.
 * @type {Readonly<Record<string, string>>}
 */
export const EVENTS = Object.freeze({
  // The engine worker (www/engine.js).
  'model-progress': '{loaded, total}: bytes of the model fetched so far',
  schema: '{schema}: the method registry, before the model is ready (panels can be built)',
  ready: '{labels, samples, schema, model, build}: the model is loaded, methods can run',
  'model-fallback': '{name, message}: a user model a restart should load failed; the default model is used',
  'engine-error': '{message}: the engine failed outside any run',
  'model-error': '{text}: the model could not be loaded',
  'model-starting': '{}: the engine (re)starts and loads the model',
  restart: '{reason}: the worker trapped and is being started again',
  // The image (www/input.js).
  'input-waiting': '{name}: an image arrived before the model; it is kept',
  image: '{source, rgba, top}: the image the network sees, and its top-5',
  'input-changed': '{link, auto}: the image to put in share links ({kind: sample, id} or {kind: jpeg, bytes}); auto: the page loaded it (a link, the default sample), not the user',
  'model-files': '{files}: ONNX / labels files dropped with (or instead of) an image',
  // Models (www/models.js) and links (www/state.js).
  'model-loading': '{name}: a user model is being built',
  'model-failed': '{name, message}: a user model was refused; the previous one keeps working',
  'model-changed': '{labels, model}: a new model is in use',
  state: '{state}: the page state (tab, settings, image) changed',
  'link-model': '{name, choice}: the opened link names a user model (and its preprocessing)',
  'share-problem': '{problem}: a sentence about a link that could not be used as it is',
  'share-url': '{url}: the page address now holds the current state',
  isolation: '{state, text}: cross-origin isolation (threads) status, www/isolation.js',
  message: '{kind, text}: a message shown to the user (www/ui.js)',
  // Method panels (www/panels.js).
  panel: '{id}: the tab on show',
  'setting-error': '{method, key, message}: a setting field holds a value the validator refuses',
  'run-start': '{method}: a run started',
  'run-progress': '{method, step, total, frame}: a run advanced',
  'run-done': '{method, report, panels, frame}: a run finished',
  'run-cancelled': '{method, step}: a run was cancelled',
  'run-superseded': '{method}: a run was replaced by a newer one (image or class changed)',
  'run-error': '{method, message}: a run failed',
  // The worker pool (www/pool.js) and the compare view (www/compare.js).
  'pool-spin': '{on}: pool threads spin (fast hand-offs) or sleep',
  'pool-run': '{method, parts, workers}: a run was split over the pool',
  'compare-start': '{class, methods}: the compare view started its maps',
  'compare-progress': '{method, step, total}: one map advanced',
  'compare-cell': '{method, report, panel} or {method, error}: one map is done',
  'compare-done': '{class, seconds, workers, figure}: every map is done',
  'compare-cancelled': '{}: the compare view was cancelled',
  // A link small enough for a QR code (www/linkimage.js ⇄ www/classroom.js).
  'qr-link-wanted': '{maxBytes}: the QR dialog needs a link of at most this many bytes (your photo made smaller)',
  'qr-link-made': '{note, problem}: the page now shows the copy the link carries (note), or why there is none',
  // Lessons (www/lesson.js).
  'lesson-view': '{hash}: go to this view as if its share link were opened',
  'lesson-files': '{files}: a lesson .json dropped on the page',
  'lesson-step': '{index, count, view, title, lesson}: the lesson player shows this step (index -1: closed)',
  // Inside (www/activations.js) and live mode (www/live.js).
  'activation-channel': '{layer, channel}: a channel of the activation grid was chosen',
  'live-started': '{session, camera}: the camera is on',
  'live-frame': '{session, fps, latencyMs, engineMs, top, class, method, crop, overlay, width, height}: a live frame was drawn',
  'live-error': '{kind, text}: the camera could not be used',
  'live-stopped': '{session, reason}: the camera is off',
  'live-frozen': '{crop, width, height}: the frame on show became the page image',
});

/**
 * Messages the page sends to an engine worker: type → fields. Requests carry `reqId` and get a reply of the same
 * type (or `error`); runs carry `runId` and get `run-progress`* then `run-done` / `part-done` / `cancelled` / `error`.
 * @type {Readonly<Record<string, string>>}
 */
export const TO_WORKER = Object.freeze({
  start: '{model?, testing}: load the default (or a user) model',
  model: '{bytes | url, labels?, name, choice?}: build a user model beside the current one',
  image: '{bytes, source}: decode and classify an image',
  search: '{query, picker?}: classes matching a name, synonym or index',
  png: '{rgba, width, height}: PNG bytes of a picture (downloads)',
  run: '{method, needsImage, settingsJson}: run a method (runId)',
  settings: '{runId, settingsJson}: live settings for the run in progress',
  cancel: '{runId}: stop a run',
  'shard-plan': '{method, settingsJson, parts}: how a run splits over the pool',
  'run-part': '{method, settingsJson, units}: one part of a split run (runId)',
  merge: '{method, settingsJson, parts}: the whole run from its parts\' results (runId)',
  'map-costs': '{runs}: the estimated cost of compare-view maps',
  'pool-source': '{have}: the model and image an extra worker needs',
  'pool-start': '{model?, image?, testing}: start an extra worker with the page worker\'s model and image',
  spin: '{on}: pool threads spin or sleep',
  memory: '{}: the wasm memory size (tests)',
  bench: '{…}: bench passes (bench/)',
  'live-frame': '{session, bitmap, method, settingsJson}: one camera frame',
  'live-stop': '{}: end the live loop',
  'test-trap': '{}: run the engine out of memory (tests, with ?test)',
});

/**
 * Messages an engine worker sends: type → fields.
 * @type {Readonly<Record<string, string>>}
 */
export const FROM_WORKER = Object.freeze({
  progress: '{loaded, total}: model download progress',
  schema: '{schema}: the registry schema',
  ready: '{labels, samples, schema, model, build}: the model is loaded',
  'model-fallback': '{name, message}: the user model failed; the default is in use',
  model: '{reqId, labels, model}: a user model is in use',
  image: '{reqId, rgba, top, source}: the decoded image and its top-5',
  search: '{reqId, picker, classes}: matching classes',
  png: '{reqId, bytes}: PNG bytes',
  'run-progress': '{runId, step, total, text, top, frame?}: a run advanced',
  'run-done': '{runId, report, panels, text}: a run finished',
  'part-done': '{runId, bytes}: a part of a split run finished',
  cancelled: '{runId}: a run stopped',
  error: '{scope, reqId?, runId?, fatal, message}: a request or run failed',
  'shard-plan': '{reqId, plan}: the parts of a run (null: it runs whole)',
  'map-costs': '{reqId, costs}',
  'pool-source': '{reqId, model?, image?}',
  'pool-ready': '{reqId}: an extra worker is ready',
  spin: '{reqId, on}',
  memory: '{reqId, bytes}',
  bench: '{reqId, …}',
  'live-result': '{reqId, session, crop, top, overlay, class, engineMs}: one processed camera frame',
  'live-stopped': '{reqId}: the live loop ended',
});

/**
 * Messages the page sends to its service worker (www/sw.js); the reply goes to the transferred port.
 * @type {Readonly<Record<string, string>>}
 */
export const TO_SERVICE_WORKER = Object.freeze({
  version: '{}: reply {version, files, isolation} on the port (www/classroom.js)',
});

// ---------- live camera mode in detail (www/live.js, www/live-worker.js) ----------
/**
 * Page → worker: one camera frame to explain. The bitmap is transferred (no copy); the worker closes it.
 * @typedef {{type: 'live-frame', reqId: number, session: number, bitmap: ImageBitmap,
 *   method: string | null, settingsJson: string}} LiveFrameRequest
 *   `method`: a registry method id (its `overlay` output is drawn) or null for the top-5 only.
 */
/**
 * Worker → page, the reply to a LiveFrameRequest.
 * @typedef {{type: 'live-result', reqId: number, session: number, crop: Uint8Array,
 *   top: {class: number, prob: number}[], overlay: {rgba: Uint8Array, width: number, height: number} | null,
 *   class: number | null, engineMs: number}} LiveResult
 *   `crop`: the RGBA picture the model saw (its input size, www/ui.js inputSize); `class`: the class the map explains.
 */
/**
 * Page → worker: live mode ended; the worker drops what it kept for it (its frame canvas). Reply {type: 'live-stopped'}.
 * @typedef {{type: 'live-stop', reqId: number}} LiveStopRequest
 */
/**
 * Page events (www/bus.js):
 *   'live-started' {session, camera}               the stream plays (camera: the track's label)
 *   'live-frame'   {session, fps, latencyMs, engineMs, top, class, method, crop, overlay, width, height}
 *                                                  one frame's result drawn (latencyMs: camera frame → drawn)
 *   'live-stopped' {session, reason}               tracks stopped, the worker told; reason as said to the user
 *   'live-error'   {kind, text}                    kind: 'insecure' | 'unsupported' | 'no-camera' | 'denied' |
 *                                                  'in-use' | 'ended' | 'engine'; text: the sentence shown
 */
/** Throws when `type` is not a declared page event (a typo would otherwise be an event nobody hears). */
export function checkEvent(type) {
  if (!Object.hasOwn(EVENTS, type)) throw new Error(`undeclared page event '${type}' (www/protocol.js)`);
}

/** Throws when `type` is not a declared message in that direction (`TO_WORKER` or `FROM_WORKER`). */
export function checkMessage(declared, type) {
  if (!Object.hasOwn(declared, type)) throw new Error(`undeclared worker message '${type}' (www/protocol.js)`);
}

/** A step's or a reply's `top` ([[class, prob], …] from the engine) as the page's [{class, prob}, …]. */
export function topOf(step) {
  return Array.isArray(step.top) ? step.top.map((t) => (Array.isArray(t) ? { class: t[0], prob: t[1] } : t)) : [];
}
