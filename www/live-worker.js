// The worker's side of live camera mode (www/protocol.js declares the messages): one camera frame in, its top-5 and
// the method's map over the crop out. The frame's pixels are preprocessed by the engine (NetLens.frameImage: the
// model's own resize and crop, as for a dropped image); nothing is kept between frames but a canvas to read
// pixels with, dropped by `live-stop`. The page sends a frame only when the previous one is answered, so no
// frame waits here.

import { topOf } from './protocol.js';

let canvas = null; // an OffscreenCanvas the frames are read through, reused while live mode runs

/** The RGBA pixels of a transferred ImageBitmap (closed here). */
function pixelsOf(bitmap) {
  const { width, height } = bitmap;
  if (!canvas || canvas.width !== width || canvas.height !== height) canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const data = ctx.getImageData(0, 0, width, height).data;
  return { rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
}


/** {type: 'live-frame', reqId, session, bitmap, method, settingsJson} → {type: 'live-result', …}. */
export function liveFrame(lens, msg, post) {
  const t0 = performance.now();
  let frame;
  try {
    frame = pixelsOf(msg.bitmap);
  } catch (e) {
    msg.bitmap?.close?.();
    throw new Error(`the camera frame could not be read (${e?.message ?? e})`);
  }
  const image = lens.frameImage(frame.rgba, frame.width, frame.height);
  let top = [];
  let overlay = null;
  let cls = null;
  let handle = null;
  try {
    if (msg.method) {
      // The method's own forward pass gives the top-5 too (Progress.top): no separate classification.
      handle = lens.start(msg.method, image.copy(), msg.settingsJson);
      let step;
      do step = JSON.parse(handle.step(lens, msg.settingsJson));
      while (!step.done);
      top = topOf(step);
      cls = JSON.parse(handle.report()).class ?? null;
      const panel = handle.panels().find((p) => p.kind === 'overlay');
      if (panel) overlay = { rgba: panel.rgba, width: panel.width, height: panel.height };
    }
    if (top.length === 0) top = topOf({ top: JSON.parse(lens.top(image, 5)) });
    const crop = image.rgba(); // the model's input size (the page knows it: www/ui.js inputSize)
    const out = {
      type: 'live-result', reqId: msg.reqId, session: msg.session, crop, top, overlay, class: cls,
      engineMs: performance.now() - t0,
    };
    post(out, [crop.buffer, overlay?.rgba.buffer].filter(Boolean));
  } finally {
    handle?.free();
    image.free();
  }
}

/** Live mode ended: nothing of it stays in the worker. */
export function liveStop(msg, post) {
  canvas = null;
  post({ type: 'live-stopped', reqId: msg.reqId });
}
