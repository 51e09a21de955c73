// Image input: a file chosen, dropped or pasted, a sample, or the JPEG a link carries. An image that arrives
// before the model is ready is kept (the latest one wins) and used as soon as the model is ready.
import { emit } from './bus.js';
import { engine, request } from './engine.js';
import { input, update } from './store.js';
import { MAX_JPEG_BYTES } from './share.js';
import { $, el, drawRgba, showMessage, renderTop5, inputSize } from './ui.js';

// Larger files are refused before reading them; the core's pixel limit guards the decode itself.
const MAX_FILE_BYTES = 64 * 1024 * 1024;

// The store's input slice (www/store.js), kept by this module: current ({bytes, source, rgba, top} of the image in
// use), seq (counts images taken into use: output made from another image is stale), pending ({kind: 'file', file,
// how} | {kind: 'sample', id} | {kind: 'jpeg', bytes}: waiting for the model).
export { input };

let inputSeq = 0; // counts input requests, so a slow sample download cannot override a later choice
let sampleLoad = null; // {id, promise} of the sample being fetched and decoded

export function describe(source) {
  if (source.kind === 'sample') return `sample “${source.id}”`;
  if (source.kind === 'jpeg' && source.copy) {
    const { width, height, bytes } = source.copy;
    return `${source.name ? `“${source.name}”` : 'your photo'} as the link carries it (a ${width}×${height} JPEG copy, ${(bytes / 1024).toFixed(1)} KB)`;
  }
  if (source.kind === 'jpeg') return source.name ? `“${source.name}” (as shared JPEG)` : 'the shared image';
  return source.name ? `“${source.name}”` : 'the pasted image';
}

function pendingName(p) {
  if (p.kind === 'file') return `“${p.file.name || `${p.how} image`}”`;
  if (p.kind === 'sample') return `sample “${p.id}”`;
  return 'the shared image';
}

/** Says where the image will appear that it is on its way. */
export function showWaiting(name) {
  $('crop-caption').textContent = `Waiting for the model: ${name} will be used as soon as it is ready`;
  $('drop-zone').classList.add('waiting');
}

/** No image came after all (a bad link): back to the plain state. */
export function clearWaiting() {
  $('drop-zone').classList.remove('waiting');
  if (!input.current) $('crop-caption').textContent = 'Your image appears here, as the network sees it';
}

/** Before the model is ready: keep the image and say so where the image will appear. */
function keepForLater(p) {
  ++inputSeq;
  update('input', { pending: p });
  showWaiting(pendingName(p));
  if (p.kind === 'file') preview(p.file);
  emit('input-waiting', { name: pendingName(p) });
}

/** A faded preview of a kept photo (centre crop, as the network will see it) until the real crop arrives. */
async function preview(file) {
  try {
    const bmp = await createImageBitmap(file);
    if (input.pending?.file !== file) return;
    const canvas = $('crop-canvas');
    const side = Math.min(bmp.width, bmp.height);
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 0.5;
    ctx.drawImage(bmp, (bmp.width - side) / 2, (bmp.height - side) / 2, side, side, 0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 1;
    bmp.close();
  } catch {
    // Not decodable by the browser: the engine will say why once it is ready.
  }
}

/** Called once the model is ready: uses the image kept meanwhile. Resolves to false when there was none. */
export async function usePending() {
  const p = input.pending;
  update('input', { pending: null });
  $('drop-zone').classList.remove('waiting');
  if (!p) return false;
  if (p.kind === 'file') await useFile(p.file, p.how);
  else if (p.kind === 'sample') await useSample(p.id);
  else await useJpeg(p.bytes);
  return true;
}

/** Decodes and classifies; on success draws the crop and top-5 and emits 'image'. */
async function loadInput(bytes, source) {
  let reply;
  try {
    reply = await request({ type: 'image', bytes: bytes.slice(0), source });
  } catch (e) {
    if (!e.fatal) showMessage('error', `Could not use ${describe(source)}: ${e.message}`);
    return false;
  }
  $('drop-zone').classList.remove('waiting');
  update('input', { current: { bytes, source, rgba: reply.rgba, top: reply.top }, seq: input.seq + 1 });
  drawRgba($('crop-canvas'), reply.rgba);
  renderTop5($('top5'), reply.top, engine.labels);
  $('crop-caption').textContent = `${describe(source)}, as the model sees it (${inputSize.width}×${inputSize.height})`;
  emit('image', { source, rgba: reply.rgba, top: reply.top });
  return true;
}

/**
 * A user's own image goes into share links as a 224×224 JPEG (the crop, compressed until the link is short
 * enough). The page itself keeps working on the exact file, so a downloaded fooling PNG is judged as it is.
 */
async function toShareableJpeg() {
  const canvas = $('crop-canvas');
  for (const quality of [0.92, 0.85, 0.75, 0.6, 0.5]) {
    const blob = await new Promise((r) => canvas.toBlob(r, 'image/jpeg', quality));
    if (blob && blob.size <= MAX_JPEG_BYTES) {
      const bytes = new Uint8Array(await blob.arrayBuffer());
      return { bytes, quality, copy: { width: canvas.width, height: canvas.height, quality, bytes: bytes.length } };
    }
  }
  return null;
}

export async function useFile(file, how) {
  if (file.size > MAX_FILE_BYTES) {
    showMessage('error', `“${file.name}” is ${(file.size / 1e6).toFixed(0)} MB; netlens takes image files up to ${MAX_FILE_BYTES / 1e6} MB.`);
    return false;
  }
  if (!engine.ready) {
    keepForLater({ kind: 'file', file, how });
    return false;
  }
  const mine = ++inputSeq;
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (mine !== inputSeq) return false;
  const name = file.name || `${how} image`;
  if (!(await loadInput(bytes, { kind: 'file', name }))) return false;
  const jpeg = await toShareableJpeg();
  if (jpeg) {
    emit('input-changed', {
      link: { kind: 'jpeg', bytes: jpeg.bytes, copy: jpeg.copy },
      note: `“${name}” travels in the link as a 224×224 JPEG (${(jpeg.bytes.length / 1024).toFixed(1)} KB, ` +
        `quality ${jpeg.quality}); runs on it can differ slightly from runs on the original file.`,
    });
  } else {
    emit('input-changed', {
      link: null,
      problem: `“${name}” cannot go in a link: even as a low-quality 224×224 JPEG it is over ${Math.floor(MAX_JPEG_BYTES / 1024)} KB. Use a sample image to share.`,
    });
  }
  return true;
}

/** The image a share link carries. `auto`: the page loads it by itself (following a link), not the user. */
export async function useJpeg(bytes, { auto = false } = {}) {
  if (!engine.ready) {
    keepForLater({ kind: 'jpeg', bytes });
    return false;
  }
  ++inputSeq;
  if (!(await loadInput(bytes, { kind: 'jpeg' }))) return false;
  emit('input-changed', { link: { kind: 'jpeg', bytes }, auto });
  return true;
}

/**
 * The page switches to the very image a link carries (issue 31): the link holds a JPEG copy of a user's photo,
 * whose numbers differ a little from the file's; after this this page and the link's receiver show the same.
 * `copy` ({width, height, quality, bytes}) is what the crop's caption says about it. The photo's own crop is kept,
 * so a smaller copy later (a QR code) is made from it, not from a copy of a copy.
 */
export async function useLinkCopy(bytes, copy) {
  const c = input.current;
  if (!c || !engine.ready) return false;
  ++inputSeq;
  const original = c.original ?? { rgba: c.rgba, width: inputSize.width, height: inputSize.height, name: c.source.name };
  if (!(await loadInput(bytes, { kind: 'jpeg', name: original.name, copy }))) return false;
  update('input', { current: { ...input.current, original } });
  emit('input-changed', { link: { kind: 'jpeg', bytes, copy } });
  return true;
}

/**
 * A JPEG without its APP2 segments: the sRGB colour profile the browser writes (~600 bytes, a fifth of what a QR
 * code holds) says what a JPEG without one means anyway. The segments before the scan are walked by their lengths.
 */
function withoutIcc(jpeg) {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return jpeg;
  const parts = [jpeg.subarray(0, 2)];
  let i = 2;
  while (i + 4 <= jpeg.length && jpeg[i] === 0xff) {
    const marker = jpeg[i + 1];
    if (marker === 0xda) break; // start of scan: the rest is image data
    const end = i + 2 + ((jpeg[i + 2] << 8) | jpeg[i + 3]);
    if (marker !== 0xe2) parts.push(jpeg.subarray(i, end));
    i = end;
  }
  parts.push(jpeg.subarray(i));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// A QR-sized copy: the largest side first, then lower quality, until it fits.
const COPY_SIDES = [160, 128, 112, 96, 80, 64, 48];
const COPY_QUALITIES = [0.8, 0.65, 0.5, 0.35];

/**
 * The user's photo (its crop as the model saw it) re-encoded as a smaller JPEG, side and quality stepped down
 * until fits(byteLength): {bytes, copy} or null when even the smallest does not fit.
 */
export async function smallerCopy(fits) {
  const c = input.current;
  if (!c) return null;
  const { rgba, width, height } = c.original ?? { rgba: c.rgba, width: inputSize.width, height: inputSize.height };
  const src = new OffscreenCanvas(width, height);
  src.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  for (const side of COPY_SIDES) {
    const scale = Math.min(1, side / Math.max(width, height));
    const [w, h] = [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
    const dst = new OffscreenCanvas(w, h);
    const ctx = dst.getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(src, 0, 0, w, h);
    for (const quality of COPY_QUALITIES) {
      const bytes = withoutIcc(new Uint8Array(await (await dst.convertToBlob({ type: 'image/jpeg', quality })).arrayBuffer()));
      if (fits(bytes.length)) return { bytes, copy: { width: w, height: h, quality, bytes: bytes.length } };
    }
  }
  return null;
}

// Clicking the sample that is already the input (or already on its way) does nothing: reloading it would
// cancel a run started meanwhile on the very same image.
export function useSample(id, { auto = false } = {}) {
  if (!engine.ready) {
    keepForLater({ kind: 'sample', id });
    return Promise.resolve(false);
  }
  if (sampleLoad?.id === id) return sampleLoad.promise;
  // (Unless another image is on its way: it would replace this one, so this one is loaded again after it.)
  if (!sampleLoad && input.current?.source.kind === 'sample' && input.current.source.id === id) return Promise.resolve(true);
  const promise = loadSample(id, auto).finally(() => {
    if (sampleLoad?.promise === promise) sampleLoad = null;
  });
  sampleLoad = { id, promise };
  return promise;
}

async function loadSample(id, auto) {
  const mine = ++inputSeq;
  const sample = engine.samples.find((s) => s.id === id);
  if (!sample) {
    showMessage('error', `There is no sample image called “${id}”.`);
    return false;
  }
  let bytes;
  try {
    const res = await fetch(`assets/${sample.file}`);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    showMessage('error', `Could not fetch the sample “${id}”: ${e.message}`);
    return false;
  }
  if (mine !== inputSeq) return false; // the user chose another image while this one downloaded
  if (!(await loadInput(bytes, { kind: 'sample', id }))) return false;
  emit('input-changed', { link: { kind: 'sample', id }, auto });
  return true;
}

/** After a worker restart or a model switch: the same input again (no new share state, no re-run requests). */
export async function reloadCurrent() {
  const c = input.current;
  if (!c) return false;
  return loadInput(c.bytes, c.source);
}

export function setupInputs() {
  $('file-input').addEventListener('change', (e) => {
    const file = e.target.files?.[0];
    if (file) useFile(file, 'chosen');
    e.target.value = '';
  });
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) document.body.classList.remove('dragging');
  });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const files = [...(e.dataTransfer?.files ?? [])];
    // An .onnx (with or without its labels .txt) is a model, not an image, and so is a .txt while a user's model
    // is in use (new labels for it): www/models.js takes them.
    const model = files.some((f) => /\.onnx$/i.test(f.name));
    if (model || (engine.model?.user && files.some((f) => /\.txt$/i.test(f.name)))) {
      emit('model-files', { files });
      return;
    }
    // A lesson file (www/lesson.js) is not an image either.
    if (files.some((f) => /\.json$/i.test(f.name))) {
      emit('lesson-files', { files });
      return;
    }
    const file = files[0];
    if (file) useFile(file, 'dropped');
    else showMessage('warn', 'Drop an image file (PNG, JPEG, WebP, GIF or BMP).');
  });
  document.addEventListener('paste', (e) => {
    const item = [...(e.clipboardData?.items ?? [])].find((i) => i.kind === 'file');
    if (!item) return; // ordinary text pasted into a field
    e.preventDefault();
    const file = item.getAsFile();
    if (file) useFile(file, 'pasted');
  });
  renderTop5($('top5'), null, null);
  // A file chosen before this module ran (slow network, fast hand) is not lost either.
  const early = $('file-input').files?.[0];
  if (early) {
    useFile(early, 'chosen');
    $('file-input').value = '';
  }
}

export function buildGallery(samples) {
  const gallery = $('gallery');
  gallery.replaceChildren(
    ...samples.map((s) => {
      const name = s.id.replace(/_/g, ' ');
      const button = el('button', { type: 'button', class: 'sample', 'data-sample': s.id, title: `Sample: ${name}`, 'aria-label': `Sample image: ${name}` },
        el('img', { src: `assets/${s.file}`, alt: '', width: '40', height: '40' }));
      button.addEventListener('click', () => useSample(s.id));
      return button;
    }),
  );
  if (samples.length === 0) gallery.append(el('p', { class: 'hint', text: 'No sample images (see docs/architecture.md: Where the data comes from).' }));
}
