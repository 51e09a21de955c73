// For a class: the share link's QR code ("Show QR", big enough to project) and length, offline use (the
// published build's service worker, www/sw.js; with it, threads on hosts without headers: www/isolation.js) and a
// "take a photo" input for phones. It needs only the share
// link from the rest of the page, which it hears on the bus ('share-url' {url}, 'share-problem' {problem}).
import { emit, on } from './bus.js';
import { loadCore } from './core.js';
import { setupIsolation } from './isolation.js';

const $ = (id) => document.getElementById(id);

// Byte-mode capacity of the largest QR code (version 40, error correction L); src/qr.rs says the same.
export const QR_MAX_BYTES = 2953;

let link = ''; // the current share link; '' while there is none
let linkProblem = null; // why there is none (e.g. an image too large for a link)
let copyAskedFor = null; // the too-long link a QR-sized copy of the photo was asked for
let copyNote = null; // {link, text}: what the QR of a link with a smaller copy of the photo carries
let copyPending = null; // that text, until the link with the copy arrives
let copyProblem = null; // why no copy fits

// ---------- share link: length, QR code ----------

function setLink(url, problem) {
  link = url || '';
  if (copyPending && link && link !== copyAskedFor) {
    copyNote = { link, text: copyPending };
    copyPending = null;
  }
  linkProblem = problem || null;
  $('show-qr').disabled = !link && !linkProblem;
  if ($('qr-dialog').open) renderQr();
}

// The QR encoder is the crate's (src/qr.rs, `qrcode`), from the page's main-thread wasm (www/core.js).

/** The QR code of `text` as SVG (the same encoder); throws when it does not fit. Lessons (www/lesson.js) use it. */
export async function qrSvgOf(text) {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > QR_MAX_BYTES) throw new Error(`${bytes} bytes do not fit in a QR code (at most ${QR_MAX_BYTES})`);
  return (await loadCore()).qrSvg(text);
}

let qrUrl = null; // object URL of the SVG on show
let qrSeq = 0;

async function renderQr() {
  const mine = ++qrSeq;
  const img = $('qr-image');
  const error = $('qr-error');
  $('qr-link').textContent = link || '(no link yet)';
  $('qr-length').textContent = link ? `${link.length} characters` : '';
  $('qr-note').textContent = copyNote?.link === link ? copyNote.text : '';
  let svg = null;
  let why = null;
  if (!link) {
    why = linkProblem ?? 'There is no link yet: wait for the model to load.';
  } else if (new TextEncoder().encode(link).length > QR_MAX_BYTES) {
    // Your own photo travels inside the link: ask for a link with a copy small enough (www/linkimage.js); its
    // 'share-url' draws the code, or 'qr-link-made' says why there is none.
    why = copyAskedFor === link && copyPending === null && copyProblem ? copyProblem
      : `This link is ${link.length} characters, a QR code holds at most ${QR_MAX_BYTES}: making a smaller copy of your photo for it…`;
    if (copyAskedFor !== link) {
      copyAskedFor = link;
      copyProblem = null;
      emit('qr-link-wanted', { maxBytes: QR_MAX_BYTES });
    }
  } else {
    try {
      svg = (await loadCore()).qrSvg(link);
    } catch (e) {
      why = `Could not make the QR code: ${e?.message ?? e}`;
    }
  }
  if (mine !== qrSeq) return; // the link changed meanwhile; a newer call draws
  if (qrUrl) URL.revokeObjectURL(qrUrl);
  qrUrl = null;
  img.hidden = svg === null;
  error.hidden = svg !== null;
  error.textContent = why ?? '';
  if (svg !== null) {
    qrUrl = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
    img.src = qrUrl;
    img.alt = `QR code of the share link (${link.length} characters)`;
    await img.decode().catch(() => {});
  } else {
    img.removeAttribute('src');
  }
  if (mine === qrSeq) $('qr-dialog').dataset.link = svg !== null ? link : '';
}

async function showQr() {
  const dialog = $('qr-dialog');
  if (!dialog.open) dialog.showModal();
  await renderQr();
}

async function copyFromDialog() {
  if (!link) return;
  try {
    await navigator.clipboard.writeText(link);
    $('qr-copy').textContent = 'Copied';
  } catch {
    const range = document.createRange();
    range.selectNodeContents($('qr-link'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $('qr-copy').textContent = 'Press Ctrl+C';
  }
  setTimeout(() => { $('qr-copy').textContent = 'Copy link'; }, 2000);
}

// ---------- offline use ----------

function setOffline(state, text) {
  const status = $('offline-status');
  status.dataset.state = state;
  status.textContent = text;
}

/** Asks a service worker which build it saved and whether it isolates: {version, files, isolation} or null. */
function askWorker(worker) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), 5000);
    channel.port1.onmessage = (e) => {
      clearTimeout(timer);
      resolve(e.data ?? null);
    };
    worker.postMessage({ type: 'version' }, [channel.port2]);
  });
}

async function setupOffline() {
  // `make dist` stamps the build; the development server (`make run`) has neither the stamp nor a service worker.
  const build = document.querySelector('meta[name="netlens-build"]')?.content;
  if (!build) {
    setOffline('dev', 'Development build: no offline copy (make dist)');
    return;
  }
  if (!('serviceWorker' in navigator)) {
    setOffline('unavailable', window.isSecureContext
      ? 'Offline use: not supported by this browser'
      : 'Offline use needs https (or localhost)');
    return;
  }
  setOffline('saving', 'Saving for offline use…');
  let reg;
  try {
    reg = await navigator.serviceWorker.register('sw.js');
  } catch (e) {
    setOffline('failed', `Offline use unavailable: ${e?.message ?? e}`);
    return;
  }
  setupIsolation(askWorker);
  const check = async () => {
    const active = reg.active;
    if (!active) return;
    const saved = (await askWorker(active))?.version ?? null;
    if (saved === build) setOffline('ready', 'Ready for offline use');
    else if (saved) setOffline('updated', 'A new version is saved for offline use: reload to use it');
  };
  const watch = (w) => w?.addEventListener('statechange', () => {
    if (w.state === 'activated') check();
    if (w.state === 'redundant' && !reg.active) setOffline('failed', 'Offline use unavailable: saving the files failed');
  });
  watch(reg.installing);
  watch(reg.waiting);
  reg.addEventListener('updatefound', () => watch(reg.installing));
  // A new build on the server is saved on this visit, not some later one: every navigation to a controlled page
  // makes the browser check sw.js (a soft update). No reg.update() of our own on top: racing the browser's check, it
  // left the new worker installed but waiting, skipWaiting() or not, for minutes in Chromium 156, and the old
  // build's copy in place (tests/browser/classroom.test.mjs, "offline").
  await navigator.serviceWorker.ready;
  await check();
}

// ---------- camera ----------

// The photo goes through the ordinary file input, so it takes exactly the path of a chosen file.
function setupCamera() {
  const camera = $('camera-input');
  camera.addEventListener('change', () => {
    const file = camera.files?.[0];
    camera.value = '';
    if (!file) return;
    const files = new DataTransfer();
    files.items.add(file);
    const input = $('file-input');
    input.files = files.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

// ---------- start ----------

function init() {
  // 'share-problem' (the image cannot go in a link, or null) comes before the 'share-url' it affects.
  on('share-problem', ({ problem }) => setLink(problem ? '' : link, problem));
  on('share-url', ({ url }) => setLink(linkProblem ? '' : url, linkProblem));
  on('qr-link-made', ({ note, problem }) => {
    if (problem) {
      copyProblem = problem;
      if ($('qr-dialog').open) renderQr();
    } else {
      copyPending = note;
      if (link && link !== copyAskedFor) setLink(link, linkProblem); // the copy's link came first
    }
  });
  $('show-qr').addEventListener('click', showQr);
  $('qr-close').addEventListener('click', () => $('qr-dialog').close());
  $('qr-copy').addEventListener('click', copyFromDialog);
  // A click on the backdrop (outside the dialog's box) closes it too.
  $('qr-dialog').addEventListener('click', (e) => {
    if (e.target === e.currentTarget) {
      const r = e.currentTarget.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) e.currentTarget.close();
    }
  });
  setupCamera();
  setupOffline();
}

init();
