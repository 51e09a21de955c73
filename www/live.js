// Live camera mode (issue 26): the camera's frames go to the engine one at a time, each preprocessed exactly as a
// dropped image (in Rust: NetLens.frameImage), and the network's top-5 and the chosen method's map over the crop
// it saw come back. The latest frame wins: while the engine works on one frame nothing is captured or queued; when
// it answers, the newest camera frame is taken (so latency stays one frame). Freeze makes the frame on show the
// page's image; the camera stops when the page is hidden, the tab or the model changes, or live mode is left.
// Design notes and measurements: docs/live.md.
//
// Its worker messages (live-frame, live-result, live-stop) and page events (live-*) are in www/protocol.js.
import { emit, on } from './bus.js';
import { engine, request } from './engine.js';
import { input, useFile } from './input.js';
import { pickerFor } from './panel-view.js';
import { classSetting, settingsJson } from './share.js';
import { state } from './state.js';
import { $, el, drawRgba, showMessage, renderTop5, classPicker, classText, inputSize } from './ui.js';

/** The cost (forward + backward passes, the registry's `passes`) a method may have to run on every frame. */
const MAX_LIVE_PASSES = 2;
/** The frames the fps and the median latency are taken over. */
const WINDOW_MS = 2000;

/**
 * Methods the live mode offers: the registry's with a map drawn over the image and at most MAX_LIVE_PASSES passes,
 * less those the loaded model cannot run (`notHere`: the engine's not_for_model, e.g. the attention methods on a CNN).
 */
export function liveMethods(schema, notHere = {}) {
  return (schema?.methods ?? []).filter((m) => m.needs_image !== false && Number.isInteger(m.passes)
    && m.passes <= MAX_LIVE_PASSES && (m.outputs ?? []).some((o) => o.kind === 'overlay') && !(m.id in notHere));
}

const modelMethods = () => liveMethods(engine.schema, engine.model?.info?.not_for_model);

/** The one sentence each way a camera can fail says (getUserMedia's DOMException names). */
export function cameraError(e) {
  switch (e?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return { kind: 'denied', text: 'Live mode needs the camera, and permission to use it was denied: allow the camera for this page in the browser’s site settings, then try again.' };
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return { kind: 'no-camera', text: 'No camera was found: connect one (or use “Choose a file”) and try again.' };
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return { kind: 'in-use', text: 'The camera could not be started: another app or tab is probably using it; close that and try again.' };
    default:
      return { kind: 'no-camera', text: `The camera could not be started (${e?.message || e?.name || 'unknown error'}).` };
  }
}

const live = {
  session: 0, // counts starts: a result or a stream of an older session is ignored
  on: false,
  stream: null,
  busy: false, // a frame is with the engine
  fresh: false, // the video has a frame newer than the last one sent
  frameAt: 0, // when that frame was captured (performance.now() timebase)
  last: null, // the last result drawn (its crop is what Freeze keeps)
  times: [], // [drawnAt, latencyMs] within WINDOW_MS
  cls: null, // the chosen class, or null for the predicted one
  panel: null, // the page's tab when live mode started
  picker: null,
};

const video = () => $('live-video');

function methodById(id) {
  return modelMethods().find((m) => m.id === id) ?? null;
}

/** The method chooser: "Top-5 only" and the registry's live methods (their titles). */
function fillMethods() {
  const select = $('live-method');
  const keep = select.options.length ? select.value : 'saliency'; // saliency at first, then the user's choice
  const methods = modelMethods();
  select.replaceChildren(el('option', { value: '', text: 'Top-5 only' }),
    ...methods.map((m) => el('option', { value: m.id, text: m.title })));
  select.value = methods.some((m) => m.id === keep) ? keep : (methods[0]?.id ?? '');
}

/** The settings of a live run: the method's own (as its panel has them), the class the live picker's (or predicted). */
function runSettings(method) {
  if (!method) return '{}';
  const cs = classSetting(method);
  const over = {};
  if (cs && (live.cls !== null || cs.optional)) over[cs.key] = live.cls;
  return settingsJson(method, state[method.link_prefix], over);
}

function setStats(text) {
  $('live-stats').textContent = text;
}

/** Starts (or restarts, on another camera) the stream and the frame loop. */
export async function startLive(deviceId = null) {
  if (!window.isSecureContext) return fail('insecure', 'Live mode needs a secure page: open netlens over https (or on localhost); browsers give the camera to no other page.');
  if (!navigator.mediaDevices?.getUserMedia) return fail('unsupported', 'This browser cannot give web pages a camera stream; use “Take a photo” or “Choose a file” instead.');
  if (!engine.ready) {
    showMessage('info', 'The model is still loading: live mode can start once it is ready.');
    return false;
  }
  stopLive(null);
  const session = ++live.session;
  showStage(true);
  setStats('Starting the camera…');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: deviceId
        ? { deviceId: { exact: deviceId }, width: { ideal: 640 }, height: { ideal: 480 } }
        : { facingMode: { ideal: 'environment' }, width: { ideal: 640 }, height: { ideal: 480 } },
    });
  } catch (e) {
    if (session !== live.session) return false;
    showStage(false);
    const { kind, text } = cameraError(e);
    return fail(kind, text);
  }
  if (session !== live.session) { // stopped (or restarted) while the browser asked
    for (const t of stream.getTracks()) t.stop();
    return false;
  }
  live.stream = stream;
  live.on = true;
  live.busy = false;
  live.fresh = false;
  live.times = [];
  live.last = null;
  live.panel = state.panel ?? null;
  const track = stream.getVideoTracks()[0];
  track.addEventListener('ended', () => {
    if (session !== live.session || !live.on) return;
    stopLive(null);
    fail('ended', 'The camera stream ended (the camera was unplugged or turned off), so live mode stopped.');
  });
  const v = video();
  v.srcObject = stream;
  try {
    await v.play();
  } catch {
    // muted + playsinline autoplay; a refusal still leaves frames flowing in Chromium and Safari
  }
  if (session !== live.session) return false;
  watchFrames(v, session);
  await listCameras(track);
  setStats('Waiting for the first frame…');
  emit('live-started', { session, camera: track.label });
  return true;
}

function fail(kind, text, say = true) {
  if (say) showMessage('error', text);
  emit('live-error', { kind, text });
  return false;
}

/** Every new video frame marks the video fresh (its capture time noted) and may start the next engine call. */
function watchFrames(v, session) {
  const mark = (now, meta) => {
    if (session !== live.session || !live.on) return;
    live.fresh = true;
    // The camera's capture time when the browser gives it (same clock as performance.now()), else when it showed.
    live.frameAt = meta?.captureTime ?? meta?.receiveTime ?? now;
    pump(session);
  };
  if ('requestVideoFrameCallback' in v) {
    const next = (now, meta) => {
      mark(now, meta);
      if (session === live.session && live.on) v.requestVideoFrameCallback(next);
    };
    v.requestVideoFrameCallback(next);
  } else {
    let lastTime = -1;
    const poll = () => {
      if (session !== live.session || !live.on) return;
      if (v.currentTime !== lastTime) {
        lastTime = v.currentTime;
        mark(performance.now(), null);
      }
      setTimeout(poll, 10);
    };
    poll();
  }
}

/** Sends the newest frame when the engine is free: the latest frame wins, nothing waits in a queue. */
async function pump(session) {
  if (!live.on || live.busy || !live.fresh || session !== live.session) return;
  live.busy = true;
  live.fresh = false;
  const frameAt = live.frameAt;
  const method = methodById($('live-method').value);
  let result;
  try {
    const bitmap = await createImageBitmap(video());
    if (session !== live.session || !live.on) {
      bitmap.close();
      return;
    }
    result = await request({ type: 'live-frame', session, bitmap, method: method?.id ?? null, settingsJson: runSettings(method) }, [bitmap]);
  } catch (e) {
    if (session === live.session && live.on) {
      const text = e.fatal ? `Live mode stopped: the engine stopped (${e.message}).` : `Live mode stopped: ${e.message}.`;
      stopLive(null);
      fail('engine', text, !e.fatal); // a restart is already said (www/app.js)
    }
    return;
  } finally {
    if (session === live.session) live.busy = false;
  }
  if (session !== live.session || !live.on) return;
  draw(result, method, frameAt);
  pump(session);
}

function draw(r, method, frameAt) {
  r.width = inputSize.width;
  r.height = inputSize.height;
  const canvas = $('live-canvas');
  if (r.overlay) drawRgba(canvas, r.overlay.rgba, r.overlay.width, r.overlay.height);
  else drawRgba(canvas, r.crop, r.width, r.height);
  renderTop5($('top5'), r.top, engine.labels);
  const now = performance.now();
  const latencyMs = now - frameAt;
  live.times.push([now, latencyMs]);
  while (live.times.length && live.times[0][0] < now - WINDOW_MS) live.times.shift();
  const span = live.times.length > 1 ? (now - live.times[0][0]) / 1000 : 0;
  const fps = span > 0 ? (live.times.length - 1) / span : 0;
  const lat = live.times.map((t) => t[1]).sort((a, b) => a - b);
  const median = lat[Math.floor(lat.length / 2)];
  live.last = r;
  const what = method ? `${method.title} of ${classText(r.class, engine.labels)}` : 'top-5 only';
  setStats(`${fps ? fps.toFixed(0) : '–'} fps · ${Math.round(median)} ms latency`);
  $('live-caption').textContent = `Live: ${what}`;
  $('live-freeze').disabled = false;
  emit('live-frame', {
    session: live.session, fps, latencyMs, medianLatencyMs: median, engineMs: r.engineMs, top: r.top,
    class: r.class, method: method?.id ?? null, crop: r.crop, overlay: r.overlay?.rgba ?? null, width: r.width, height: r.height,
  });
}

/**
 * Stops the camera (every track), the frame loop and the worker's live state. `reason`: said to the user (a
 * note), or null. The top-5 goes back to the page's image.
 */
export function stopLive(reason = null) {
  const was = live.on || live.stream;
  live.session++;
  live.on = false;
  live.busy = false;
  for (const t of live.stream?.getTracks() ?? []) t.stop();
  live.stream = null;
  const v = video();
  if (v) v.srcObject = null;
  showStage(false);
  if (!was) return;
  request({ type: 'live-stop' }).catch(() => {}); // a restarting engine has no live state anyway
  renderTop5($('top5'), input.current?.top ?? null, engine.labels);
  if (reason) showMessage('info', reason);
  emit('live-stopped', { session: live.session, reason });
}

function showStage(on) {
  const stage = $('live');
  if (!stage) return;
  stage.hidden = !on;
  $('live-button').setAttribute('aria-pressed', String(on));
  $('live-button').textContent = on ? 'Stop live' : 'Live camera';
  $('crop-figure').hidden = on;
  if (!on) {
    $('live-freeze').disabled = true;
    setStats('');
  }
}

/** The camera chooser, once the browser names its cameras (after permission): shown when there are several. */
async function listCameras(track) {
  const select = $('live-camera');
  let cams = [];
  try {
    cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  } catch {
    cams = [];
  }
  const current = track.getSettings?.().deviceId ?? '';
  select.replaceChildren(...cams.map((c, i) => el('option', { value: c.deviceId, text: c.label || `Camera ${i + 1}` })));
  if (current) select.value = current;
  $('live-camera-label').hidden = cams.length < 2;
}

/** Freeze: the frame on show becomes the page's image (as a PNG of the very crop the model saw), camera off. */
async function freeze() {
  const r = live.last;
  if (!r) return;
  stopLive(null);
  const canvas = el('canvas', { width: String(r.width), height: String(r.height) });
  drawRgba(canvas, r.crop, r.width, r.height);
  const blob = await new Promise((ok) => canvas.toBlob(ok, 'image/png'));
  const file = new File([blob], 'camera frame.png', { type: 'image/png' });
  emit('live-frozen', { crop: r.crop, width: r.width, height: r.height });
  await useFile(file, 'camera');
}

export function setupLive() {
  const button = $('live-button');
  button.addEventListener('click', () => (live.on || live.stream || !$('live').hidden ? stopLive(null) : startLive()));
  $('live-stop').addEventListener('click', () => stopLive(null));
  $('live-freeze').addEventListener('click', freeze);
  $('live-camera').addEventListener('change', (e) => startLive(e.target.value));
  $('live-method').addEventListener('change', () => {
    live.times = [];
  });
  // The class the map explains: the predicted one unless one is chosen (the registry's class setting of a map).
  const pickerBox = $('live-class');
  pickerBox.replaceChildren(pickerFor('live', { label: 'Class', optional: true }, {}));
  live.picker = classPicker('live', {
    search: async (q) => (engine.ready ? (await request({ type: 'search', query: q })).classes : []),
    labels: () => engine.labels,
    onChoose: (c) => {
      live.cls = c;
      live.picker.show(c);
    },
  });
  live.picker.show(null, 'The predicted class of each frame');
  $('live-predicted').addEventListener('click', () => {
    live.cls = null;
    live.picker.clear();
    live.picker.show(null, 'The predicted class of each frame');
  });
  // Stops cleanly: page hidden, tab switch, model switch or restart, another image chosen.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden && live.on) stopLive('Live mode stopped: the page was hidden, so the camera was turned off.');
  });
  window.addEventListener('pagehide', () => stopLive(null));
  on('panel', ({ id }) => {
    if (live.on && live.panel !== null && id !== live.panel) stopLive('Live mode stopped: another tab was opened.');
  });
  on('model-loading', () => stopLive(live.on ? 'Live mode stopped: the model is changing.' : null));
  on('model-changed', () => { fillMethods(); stopLive(null); });
  on('restart', () => stopLive(null));
  // An image the user chooses replaces the camera; one the page loads by itself (the default sample arriving just
  // after a click on Live camera, a link) does not stop it.
  on('input-changed', ({ auto }) => { if (!auto) stopLive(null); });
  on('schema', fillMethods);
  on('ready', fillMethods);
}
