// Lessons in the page (docs/lessons.md): the "Lessons" list (built-in lessons, drafts, a file), the player that steps
// through a lesson (a student's phone, or the presenter view: full screen, big text, arrow keys, the step's QR),
// the editor of a draft ("Add this view to the lesson"), export/import of .json files and lesson links.
// A step's view is a share link's hash: the page opens it exactly as it opens a share link (www/app.js hears
// 'lesson-view', www/protocol.js). Reading and checking lessons is www/lesson-format.js'; every text goes in with textContent.
import { validatorReady } from './core.js';
import { emit, on } from './bus.js';
import { engine } from './engine.js';
import { qrSvgOf, QR_MAX_BYTES } from './classroom.js';
import { MAX_LINK_CHARS, parseShareHash, pageMethods } from './share.js';
import {
  LINK_KEY, MAX_LESSON_BYTES, readLesson, lessonJson, lessonHash,
  readLessonHash, lessonAddress, parseMarkup, ownImageSteps,
} from './lesson-format.js';
import { $, el, showMessage } from './ui.js';

const DRAFTS_KEY = 'netlens.lesson-drafts';
// The lesson on show in this tab ({lesson, index, draftId}): a reload keeps the player (the view is in the address).
const CURRENT_KEY = 'netlens.lesson-current';
const BUILT_IN = new URL('lessons/index.json', import.meta.url);

let shareUrl = ''; // the page's current share link (www/state.js says it on the bus)
let shareProblem = null; // why there is none
on('share-url', ({ url }) => { shareUrl = url; });
on('share-problem', ({ problem }) => { shareProblem = problem; });

// The engine's schema and classes, and the settings validator (www/core.js) that checks each step's view.
const ready = Promise.all([new Promise((resolve) => {
  if (engine.ready) resolve();
  else {
    const off = on('ready', () => {
      off();
      resolve();
    });
  }
}), validatorReady().catch(() => {})]);
const context = () => ({ schema: engine.schema, numClasses: engine.labels.length, sampleIds: engine.samples.map((s) => s.id) });

// ---------- text markup -> DOM nodes (never innerHTML) ----------

function inlineNodes(parts) {
  return parts.map((p) => {
    if (p.t === 'text') return document.createTextNode(p.v);
    if (p.t === 'link') return el('a', { href: p.href, target: '_blank', rel: 'noopener noreferrer', text: p.v });
    return el(p.t === 'strong' ? 'strong' : 'em', { text: p.v });
  });
}

function markupNodes(text) {
  const { blocks, error } = parseMarkup(text ?? '');
  if (error) return [el('p', { text })];
  return blocks.map((b) => (b.t === 'p'
    ? el('p', {}, ...inlineNodes(b.c))
    : el(b.t, {}, ...b.items.map((item) => el('li', {}, ...inlineNodes(item))))));
}

// ---------- what a view is, in words ----------

function viewSummary(view) {
  const params = new URLSearchParams(view);
  const schema = engine.schema;
  const panel = params.get('panel') ?? '';
  const method = schema ? pageMethods(schema).find((m) => m.id === panel) : null;
  const img = params.get('img') ?? '';
  const image = img.startsWith('sample:') ? img.slice(7).replace(/_/g, ' ') : img.startsWith('jpeg:') ? 'your image' : 'no image';
  return `${method?.title ?? panel} · ${image}`;
}

/** The share link of a view: this page's address (without ?lesson=) with the view as its hash. */
function viewLink(view) {
  const u = new URL(location.href);
  u.searchParams.delete(LINK_KEY);
  u.hash = view;
  return u.href;
}

async function lessonLink(lesson, step = 1) {
  const u = new URL(location.href);
  u.searchParams.delete(LINK_KEY);
  u.hash = '';
  return `${u.href.replace(/#$/, '')}${await lessonHash(lesson, step)}`;
}

// ---------- QR images ----------

const qrUrls = new Map(); // img -> object URL

/** Draws `text`'s QR code into img, or says in `why` (a <p>) why it cannot. */
async function drawQr(img, why, text, what) {
  let svg = null;
  let problem = null;
  if (new TextEncoder().encode(text).length > QR_MAX_BYTES) {
    problem = `This ${what} is ${text.length} characters: a QR code holds at most ${QR_MAX_BYTES}. Share the lesson file or the link instead.`;
  } else {
    try {
      svg = await qrSvgOf(text);
    } catch (e) {
      problem = `Could not make the QR code: ${e?.message ?? e}`;
    }
  }
  if (qrUrls.has(img)) URL.revokeObjectURL(qrUrls.get(img));
  qrUrls.delete(img);
  img.hidden = svg === null;
  why.hidden = svg !== null;
  why.textContent = problem ?? '';
  if (svg !== null) {
    const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
    qrUrls.set(img, url);
    img.src = url;
    img.alt = `QR code of the ${what} (${text.length} characters)`;
    img.dataset.link = text;
  } else {
    img.removeAttribute('src');
    img.dataset.link = '';
  }
}

// ---------- drafts (localStorage) ----------

function loadDrafts() {
  try {
    const list = JSON.parse(localStorage.getItem(DRAFTS_KEY) ?? '[]');
    return Array.isArray(list) ? list.filter((d) => d && typeof d.id === 'string' && Array.isArray(d.steps)) : [];
  } catch {
    return [];
  }
}

function saveDrafts(list) {
  try {
    localStorage.setItem(DRAFTS_KEY, JSON.stringify(list));
    return true;
  } catch {
    showMessage('warn', 'The lesson draft could not be saved in this browser (its storage is full, and your own images take room): export it as a file to keep it.');
    return false;
  }
}

function saveDraft(draft) {
  const list = loadDrafts().filter((d) => d.id !== draft.id);
  list.unshift(draft);
  saveDrafts(list);
}

function newDraft(from = null) {
  const draft = {
    id: `d${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    title: from ? `${from.title} (copy)` : 'New lesson',
    steps: from ? from.steps.map((s) => ({ ...s, question: s.question ? { ...s.question } : undefined })) : [],
  };
  saveDraft(draft);
  return draft;
}

// ---------- the player: a student's steps, and the presenter view ----------

const player = { lesson: null, index: 0, draftId: null, presenting: false, nodes: null };

function buildPlayer() {
  const n = {};
  n.title = el('h2', { id: 'lesson-title' });
  n.count = el('p', { class: 'lesson-count', id: 'lesson-count', 'aria-live': 'polite' });
  n.prev = el('button', { type: 'button', id: 'lesson-prev', text: 'Previous' });
  n.next = el('button', { type: 'button', id: 'lesson-next', class: 'primary', text: 'Next' });
  n.stepTitle = el('h3', { id: 'lesson-step-title' });
  n.text = el('div', { class: 'lesson-text', id: 'lesson-text' });
  n.question = el('div', { class: 'lesson-question', id: 'lesson-question' });
  n.qrImg = el('img', { id: 'lesson-qr-image', alt: '' });
  n.qrWhy = el('p', { class: 'qr-error', id: 'lesson-qr-error', hidden: '' });
  n.qr = el('figure', { class: 'lesson-qr', id: 'lesson-qr', hidden: '' }, n.qrImg, n.qrWhy,
    el('figcaption', { text: 'Scan to open this step' }));
  n.present = el('button', { type: 'button', id: 'lesson-present', 'aria-pressed': 'false', text: 'Present' });
  n.share = el('button', { type: 'button', id: 'lesson-share', 'aria-haspopup': 'dialog', text: 'Share lesson…' });
  n.edit = el('button', { type: 'button', id: 'lesson-edit', text: 'Edit' });
  n.close = el('button', { type: 'button', id: 'lesson-close', text: 'Close lesson' });
  n.root = el('section', { class: 'lesson-player', id: 'lesson-player', 'aria-labelledby': 'lesson-title', hidden: '' },
    el('div', { class: 'lesson-head' }, n.title, n.count, el('div', { class: 'lesson-nav' }, n.prev, n.next)),
    el('div', { class: 'lesson-body' }, el('div', { class: 'lesson-main' }, n.stepTitle, n.text, n.question), n.qr),
    el('div', { class: 'lesson-tools' }, n.present, n.share, n.edit, n.close));
  n.prev.addEventListener('click', () => go(player.index - 1));
  n.next.addEventListener('click', () => go(player.index + 1));
  n.present.addEventListener('click', () => setPresenting(!player.presenting));
  n.share.addEventListener('click', () => openShare(player.lesson, player.index + 1));
  n.edit.addEventListener('click', () => {
    const draft = player.draftId ? loadDrafts().find((d) => d.id === player.draftId) : null;
    closePlayer();
    editDraft(draft ?? newDraft(player.lessonForCopy));
  });
  n.close.addEventListener('click', closePlayer);
  document.querySelector('main').before(n.root);
  player.nodes = n;
}

function questionNodes(q) {
  const nodes = [el('h4', { text: 'Question' }), el('p', { class: 'prompt', text: q.prompt })];
  const verdict = el('p', { class: 'verdict', role: 'status' });
  let explanation = null;
  let reveal = null;
  if (q.explanation) {
    explanation = el('div', { class: 'explanation', id: 'lesson-explanation', hidden: '' }, ...markupNodes(q.explanation));
    reveal = el('button', { type: 'button', id: 'lesson-reveal', 'aria-expanded': 'false', 'aria-controls': 'lesson-explanation', text: 'Show an answer' });
    reveal.addEventListener('click', () => {
      const open = explanation.hidden;
      explanation.hidden = !open;
      reveal.setAttribute('aria-expanded', String(open));
      reveal.textContent = open ? 'Hide the answer' : 'Show an answer';
    });
  }
  if (q.choices) {
    const buttons = q.choices.map((c, i) => {
      const b = el('button', { type: 'button', class: 'choice', 'data-choice': String(i), text: c });
      b.addEventListener('click', () => {
        for (const x of buttons) {
          x.dataset.result = '';
          x.setAttribute('aria-pressed', 'false');
        }
        b.setAttribute('aria-pressed', 'true');
        b.dataset.result = i === q.answer ? 'right' : 'wrong';
        buttons[q.answer].dataset.correct = 'true';
        verdict.textContent = i === q.answer ? `Right: “${c}”.` : `Not quite: the answer is “${q.choices[q.answer]}”.`;
        if (explanation) {
          explanation.hidden = false;
          reveal.setAttribute('aria-expanded', 'true');
          reveal.textContent = 'Hide the answer';
        }
      });
      return b;
    });
    nodes.push(el('div', { class: 'choices', role: 'group', 'aria-label': 'Choices' }, ...buttons), verdict);
  }
  if (reveal) nodes.push(reveal, explanation);
  return nodes;
}

function renderStep() {
  const n = player.nodes;
  const { lesson, index } = player;
  const step = lesson.steps[index];
  n.title.textContent = lesson.title;
  n.count.textContent = `Step ${index + 1} of ${lesson.steps.length}`;
  n.stepTitle.textContent = step.title ?? '';
  n.stepTitle.hidden = !step.title;
  n.text.replaceChildren(...markupNodes(step.text));
  n.question.replaceChildren(...(step.question ? questionNodes(step.question) : []));
  n.question.hidden = !step.question;
  n.prev.disabled = index === 0;
  n.next.disabled = index === lesson.steps.length - 1;
  n.edit.textContent = player.draftId ? 'Edit' : 'Edit a copy';
  if (player.presenting) drawQr(n.qrImg, n.qrWhy, viewLink(step.view), 'step\'s link');
}

function go(index, { follow = true } = {}) {
  if (!player.lesson) return;
  const i = Math.max(0, Math.min(player.lesson.steps.length - 1, index));
  player.index = i;
  renderStep();
  const step = player.lesson.steps[i];
  try {
    sessionStorage.setItem(CURRENT_KEY, JSON.stringify({ lesson: lessonJson(player.lesson), index: i, draftId: player.draftId }));
  } catch {
    // no session storage (private mode, full): a reload forgets the lesson, nothing else
  }
  if (follow) emit('lesson-view', { hash: `#${step.view}` });
  emit('lesson-step', { index: i, count: player.lesson.steps.length, view: step.view, title: player.lesson.title, lesson: lessonJson(player.lesson) });
}

/** Plays a checked lesson (readLesson's) from step `step` (1-based); follow: false keeps the page's view. */
function play(lesson, { step = 1, draftId = null, follow = true } = {}) {
  if (!player.nodes) buildPlayer();
  closeEditor();
  player.lesson = lesson;
  player.lessonForCopy = lesson;
  player.draftId = draftId;
  player.nodes.root.hidden = false;
  document.body.classList.add('lesson-open');
  go(step - 1, { follow });
}

function closePlayer() {
  if (!player.nodes) return;
  setPresenting(false);
  player.lesson = null;
  player.nodes.root.hidden = true;
  document.body.classList.remove('lesson-open');
  try {
    sessionStorage.removeItem(CURRENT_KEY);
  } catch {
    // nothing kept
  }
  emit('lesson-step', { index: -1, count: 0, view: null, title: null, lesson: null });
}

function setPresenting(on) {
  if (!player.nodes) return;
  player.presenting = on && !!player.lesson;
  document.body.classList.toggle('lesson-presenting', player.presenting);
  player.nodes.present.setAttribute('aria-pressed', String(player.presenting));
  player.nodes.present.textContent = player.presenting ? 'Stop presenting' : 'Present';
  player.nodes.qr.hidden = !player.presenting;
  if (player.presenting) {
    document.documentElement.requestFullscreen?.().catch(() => {}); // refused without a user gesture: big text anyway
    renderStep();
  } else if (document.fullscreenElement) {
    document.exitFullscreen().catch(() => {});
  }
}

// The presenter's keys: → / PageDown / Space next, ← / PageUp previous, Escape stops presenting. Not while typing.
document.addEventListener('keydown', (e) => {
  if (!player.presenting || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
  const t = e.target;
  if (t.closest?.('input, textarea, select, [role=tab], [contenteditable], dialog')) return;
  const step = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 }[e.key];
  if (step) {
    e.preventDefault();
    go(player.index + step);
  } else if (e.key === 'Escape') {
    setPresenting(false);
  }
});
document.addEventListener('fullscreenchange', () => {
  if (!document.fullscreenElement && player.presenting) setPresenting(false);
});

// ---------- opening lessons ----------

/** Checks and plays a lesson's JSON text; says every problem. */
async function openLessonText(text, name, { step = 1 } = {}) {
  await ready;
  const { lesson, problems } = readLesson(text, context(), { name });
  for (const p of problems) showMessage(lesson ? 'warn' : 'error', p);
  if (!lesson) return false;
  play(lesson, { step: Math.min(step, lesson.steps.length) });
  return true;
}

async function openLessonFile(file) {
  const name = `“${file.name}”`;
  if (file.size > MAX_LESSON_BYTES) {
    showMessage('error', `${name} is ${(file.size / 1048576).toFixed(1)} MB; a lesson may be at most ${MAX_LESSON_BYTES / 1048576} MB.`);
    return false;
  }
  let text;
  try {
    text = await file.text();
  } catch (e) {
    showMessage('error', `${name} could not be read: ${e?.message ?? e}.`);
    return false;
  }
  closeDialog();
  return openLessonText(text, name);
}

async function openLessonUrl(href, name) {
  let text;
  try {
    const res = await fetch(href);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const size = Number(res.headers.get('content-length'));
    if (size > MAX_LESSON_BYTES) throw new Error(`it is ${(size / 1048576).toFixed(1)} MB, over the ${MAX_LESSON_BYTES / 1048576} MB a lesson may take`);
    text = await res.text();
  } catch (e) {
    showMessage('error', `Could not fetch the lesson ${name}: ${e?.message ?? e}.`);
    return false;
  }
  return openLessonText(text, name);
}

on('lesson-files', ({ files }) => {
  const file = files.find((f) => /\.json$/i.test(f.name));
  if (file) openLessonFile(file);
});

// ---------- the Lessons list ----------

let dialog = null;

function closeDialog() {
  if (dialog?.open) dialog.close();
}

async function builtInList() {
  try {
    const res = await fetch(BUILT_IN);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const index = await res.json();
    return (index.lessons ?? []).filter((l) => typeof l.file === 'string' && /^[a-z0-9_-]+\.json$/.test(l.file) && typeof l.title === 'string');
  } catch {
    return null;
  }
}

async function fillDialog() {
  const builtIns = await builtInList();
  const drafts = loadDrafts();
  const builtInItems = (builtIns ?? []).map((l) => {
    const open = el('button', { type: 'button', class: 'primary', 'data-lesson': l.file, text: 'Open' });
    open.addEventListener('click', () => {
      closeDialog();
      openLessonUrl(new URL(`lessons/${l.file}`, import.meta.url).href, `“${l.title}”`);
    });
    return el('li', {}, el('span', { class: 'lesson-name', text: l.title }), el('span', { class: 'hint', text: l.summary ?? '' }), open);
  });
  const draftItems = drafts.map((d) => {
    const open = el('button', { type: 'button', text: 'Play', 'data-draft': d.id });
    const edit = el('button', { type: 'button', class: 'primary', text: 'Edit', 'data-draft-edit': d.id });
    const del = el('button', { type: 'button', text: 'Delete', 'aria-label': `Delete the draft “${d.title}”` });
    open.disabled = d.steps.length === 0;
    open.addEventListener('click', async () => {
      closeDialog();
      await ready;
      const { lesson, problems } = readLesson(lessonJson(d), context(), { name: `“${d.title}”` });
      for (const p of problems) showMessage(lesson ? 'warn' : 'error', p);
      if (lesson) play(lesson, { draftId: d.id });
    });
    edit.addEventListener('click', () => {
      closeDialog();
      editDraft(d);
    });
    del.addEventListener('click', () => {
      saveDrafts(loadDrafts().filter((x) => x.id !== d.id));
      if (editor.draft?.id === d.id) closeEditor();
      fillDialog();
    });
    return el('li', {}, el('span', { class: 'lesson-name', text: d.title }),
      el('span', { class: 'hint', text: `${d.steps.length} step${d.steps.length === 1 ? '' : 's'}` }), open, edit, del);
  });
  dialog.querySelector('#lessons-built-in').replaceChildren(...(builtIns === null
    ? [el('li', { class: 'hint', text: 'The built-in lessons could not be fetched.' })] : builtInItems));
  dialog.querySelector('#lessons-drafts').replaceChildren(...(draftItems.length ? draftItems
    : [el('li', { class: 'hint', text: 'No drafts yet: start one with “New lesson”, then add views to it.' })]));
}

function buildDialog() {
  const file = el('input', { type: 'file', id: 'lesson-file-input', accept: '.json,application/json' });
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    file.value = '';
    if (f) openLessonFile(f);
  });
  const create = el('button', { type: 'button', id: 'lesson-new', class: 'primary', text: 'New lesson' });
  create.addEventListener('click', () => {
    closeDialog();
    closePlayer();
    editDraft(newDraft());
  });
  const close = el('button', { type: 'button', id: 'lessons-close', text: 'Close' });
  close.addEventListener('click', closeDialog);
  dialog = el('dialog', { class: 'lessons-dialog', id: 'lessons-dialog', 'aria-labelledby': 'lessons-dialog-title' },
    el('h2', { id: 'lessons-dialog-title', text: 'Lessons' }),
    el('h3', { text: 'Built in' }), el('ul', { class: 'lesson-list', id: 'lessons-built-in' }),
    el('h3', { text: 'Your drafts' }), el('ul', { class: 'lesson-list', id: 'lessons-drafts' }),
    el('div', { class: 'buttons' }, create, el('label', { class: 'file-button' }, 'Open a lesson file…', file), close));
  document.body.append(dialog);
}

async function openDialog() {
  if (!dialog) buildDialog();
  await fillDialog();
  if (!dialog.open) dialog.showModal();
}

// ---------- sharing a lesson: link (length, warnings), QR, file ----------

let shareDialog = null;

function download(lesson) {
  const json = JSON.stringify(lessonJson(lesson), null, 2);
  const a = el('a', { href: URL.createObjectURL(new Blob([json], { type: 'application/json' })),
    download: `${lesson.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'lesson'}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function openShare(lesson, step = 1) {
  if (!lesson) return;
  if (!shareDialog) {
    const copy = el('button', { type: 'button', id: 'lesson-link-copy', text: 'Copy link' });
    const file = el('button', { type: 'button', id: 'lesson-download', text: 'Download .json' });
    const close = el('button', { type: 'button', id: 'lesson-share-close', class: 'primary', text: 'Close' });
    shareDialog = el('dialog', { class: 'qr-dialog lesson-share', id: 'lesson-share-dialog', 'aria-labelledby': 'lesson-share-title' },
      el('h2', { id: 'lesson-share-title', text: 'Share this lesson' }),
      el('img', { id: 'lesson-link-qr', alt: '' }), el('p', { class: 'qr-error', id: 'lesson-link-qr-error', role: 'status', hidden: '' }),
      el('label', { class: 'visually-hidden', for: 'lesson-link', text: 'Lesson link' }),
      el('input', { id: 'lesson-link', type: 'text', readonly: '' }),
      el('p', { class: 'qr-meta', id: 'lesson-link-length' }),
      el('p', { class: 'lesson-warning', id: 'lesson-link-warning', role: 'status', hidden: '' }),
      el('div', { class: 'buttons' }, copy, file, close));
    copy.addEventListener('click', async () => {
      const input = $('lesson-link');
      try {
        await navigator.clipboard.writeText(input.value);
        copy.textContent = 'Copied';
      } catch {
        input.focus();
        input.select();
        copy.textContent = 'Press Ctrl+C';
      }
      setTimeout(() => { copy.textContent = 'Copy link'; }, 2000);
    });
    file.addEventListener('click', () => download(shareDialog.lesson));
    close.addEventListener('click', () => shareDialog.close());
    document.body.append(shareDialog);
  }
  shareDialog.lesson = lesson;
  const link = await lessonLink(lesson, step);
  $('lesson-link').value = link;
  $('lesson-link-length').textContent = `${link.length} characters`;
  shareDialog.dataset.length = String(link.length);
  const own = ownImageSteps(lesson);
  const warnings = [];
  if (own.length) {
    warnings.push(`Step${own.length > 1 ? 's' : ''} ${own.join(', ')} use${own.length > 1 ? '' : 's'} your own image, which travels inside the link and makes it long: share the .json file instead (Download .json), or use sample images.`);
  }
  if (link.length > MAX_LINK_CHARS) warnings.push(`Links over ${MAX_LINK_CHARS} characters may be cut by chat apps and mail clients.`);
  $('lesson-link-warning').textContent = warnings.join(' ');
  $('lesson-link-warning').hidden = warnings.length === 0;
  if (!shareDialog.open) shareDialog.showModal();
  await drawQr($('lesson-link-qr'), $('lesson-link-qr-error'), link, 'lesson link');
}

// ---------- the editor of a draft ----------

const editor = { draft: null, nodes: null, saveTimer: 0 };

function buildEditor() {
  const n = {};
  n.title = el('input', { type: 'text', id: 'lesson-edit-title', maxlength: '200' });
  n.add = el('button', { type: 'button', id: 'lesson-add', class: 'primary', text: 'Add this view to the lesson' });
  n.count = el('span', { class: 'hint', id: 'lesson-edit-count' });
  n.steps = el('ol', { class: 'lesson-steps', id: 'lesson-steps' });
  n.play = el('button', { type: 'button', id: 'lesson-play', text: 'Play' });
  n.share = el('button', { type: 'button', id: 'lesson-edit-share', 'aria-haspopup': 'dialog', text: 'Share…' });
  n.export = el('button', { type: 'button', id: 'lesson-export', text: 'Export .json' });
  n.close = el('button', { type: 'button', id: 'lesson-editor-close', text: 'Close editor' });
  n.root = el('section', { class: 'lesson-editor', id: 'lesson-editor', 'aria-labelledby': 'lesson-editor-title', hidden: '' },
    el('div', { class: 'lesson-head' }, el('h2', { id: 'lesson-editor-title', text: 'Lesson draft' }),
      el('label', {}, 'Title ', n.title), n.add, n.count),
    n.steps,
    el('div', { class: 'lesson-tools' }, n.play, n.share, n.export, n.close));
  n.title.addEventListener('input', () => {
    editor.draft.title = n.title.value;
    scheduleSave();
  });
  n.add.addEventListener('click', addView);
  n.play.addEventListener('click', async () => {
    const lesson = await checkedDraft();
    if (lesson) play(lesson, { draftId: editor.draft.id });
  });
  n.share.addEventListener('click', async () => {
    const lesson = await checkedDraft();
    if (lesson) openShare(lesson);
  });
  n.export.addEventListener('click', async () => {
    const lesson = await checkedDraft();
    if (lesson) download(lesson);
  });
  n.close.addEventListener('click', closeEditor);
  document.querySelector('main').before(n.root);
  editor.nodes = n;
}

/** The draft as a lesson, through the same checks a file gets; problems said. */
async function checkedDraft() {
  saveNow();
  await ready;
  const d = editor.draft;
  if (!d.steps.length) {
    showMessage('warn', 'The lesson has no steps yet: add a view first.');
    return null;
  }
  const { lesson, problems } = readLesson(lessonJson({ title: d.title.trim() || 'Untitled lesson', steps: d.steps }), context(), { name: `“${d.title}”` });
  for (const p of problems) showMessage(lesson ? 'warn' : 'error', p);
  return lesson;
}

function scheduleSave() {
  clearTimeout(editor.saveTimer);
  editor.saveTimer = setTimeout(saveNow, 300);
}

function saveNow() {
  clearTimeout(editor.saveTimer);
  if (editor.draft) saveDraft(editor.draft);
}

function addView() {
  if (shareProblem) {
    showMessage('warn', `This view cannot be a step: ${shareProblem}`);
    return;
  }
  if (!shareUrl) {
    showMessage('warn', 'There is no view to add yet: wait for the model to load.');
    return;
  }
  const view = new URL(shareUrl).hash.replace(/^#/, '');
  editor.draft.steps.push({ view, text: '' });
  if (new URLSearchParams(view).get('img')?.startsWith('jpeg:')) {
    showMessage('info', 'This step uses your own image: it travels inside the lesson, which makes a lesson link long (the .json file carries it as well).');
  }
  saveNow();
  renderSteps();
  editor.nodes.steps.lastElementChild?.querySelector('textarea')?.focus();
}

function field(label, node, hint = null) {
  return el('label', { class: 'lesson-field' }, el('span', { text: label }), node, ...(hint ? [el('span', { class: 'hint', text: hint })] : []));
}

function stepEditor(step, i, count) {
  const id = (what) => `lesson-step-${i + 1}-${what}`;
  const title = el('input', { type: 'text', id: id('title'), maxlength: '200', value: step.title ?? '' });
  const text = el('textarea', { id: id('text'), rows: '3', maxlength: '4000' });
  text.value = step.text ?? '';
  const error = el('p', { class: 'step-error', id: id('error'), role: 'status' });
  const q = step.question ?? {};
  const prompt = el('input', { type: 'text', id: id('prompt'), maxlength: '4000', value: q.prompt ?? '' });
  const choices = el('textarea', { id: id('choices'), rows: '2' });
  choices.value = (q.choices ?? []).join('\n');
  const answer = el('input', { type: 'number', id: id('answer'), min: '1', max: '8', step: '1', value: q.choices ? String(q.answer + 1) : '' });
  const explanation = el('textarea', { id: id('explanation'), rows: '2', maxlength: '4000' });
  explanation.value = q.explanation ?? '';
  const check = () => {
    const r = parseMarkup(text.value);
    error.textContent = r.error ? `This text cannot be used: ${r.error}.` : '';
    text.setAttribute('aria-invalid', String(!!r.error));
  };
  const update = () => {
    step.title = title.value || undefined;
    step.text = text.value;
    const lines = choices.value.split('\n').map((l) => l.trim()).filter(Boolean);
    if (prompt.value.trim()) {
      step.question = { prompt: prompt.value };
      if (lines.length) {
        step.question.choices = lines;
        step.question.answer = Number(answer.value) - 1;
      }
      if (explanation.value.trim()) step.question.explanation = explanation.value;
    } else {
      delete step.question;
    }
    check();
    scheduleSave();
  };
  for (const f of [title, text, prompt, choices, answer, explanation]) f.addEventListener('input', update);
  check();
  const button = (what, label, aria, fn, disabled = false) => {
    const b = el('button', { type: 'button', id: id(what), 'aria-label': `${aria} ${i + 1}`, text: label });
    b.disabled = disabled;
    b.addEventListener('click', fn);
    return b;
  };
  const move = (by) => () => {
    const steps = editor.draft.steps;
    [steps[i], steps[i + by]] = [steps[i + by], steps[i]];
    saveNow();
    renderSteps();
    $(`lesson-step-${i + 1 + by}-${by < 0 ? 'up' : 'down'}`)?.focus();
  };
  const questionBox = el('details', { class: 'step-question' }, el('summary', { text: 'Question (optional)' }),
    field('Question', prompt),
    field('Choices', choices, 'One per line; leave empty for a free-text question.'),
    field('Right choice (number)', answer),
    field('An answer, shown on request', explanation));
  if (step.question) questionBox.open = true;
  return el('li', { class: 'lesson-step', 'data-step': String(i + 1) },
    el('div', { class: 'step-head' },
      el('span', { class: 'step-view', text: `${i + 1}. ${viewSummary(step.view)}` }),
      button('preview', 'Preview', 'Preview step', () => emit('lesson-view', { hash: `#${step.view}` })),
      button('up', 'Up', 'Move up step', move(-1), i === 0),
      button('down', 'Down', 'Move down step', move(1), i === count - 1),
      button('delete', 'Delete', 'Delete step', () => {
        editor.draft.steps.splice(i, 1);
        saveNow();
        renderSteps();
      })),
    field('Step title', title),
    field('Text', text, 'Paragraphs (blank line), *emphasis*, **strong**, lists (- item), [links](https://…).'),
    error, questionBox);
}

function renderSteps() {
  const { steps } = editor.draft;
  editor.nodes.steps.replaceChildren(...steps.map((s, i) => stepEditor(s, i, steps.length)));
  editor.nodes.count.textContent = `${steps.length} step${steps.length === 1 ? '' : 's'}`;
}

function editDraft(draft) {
  if (!editor.nodes) buildEditor();
  editor.draft = draft;
  editor.nodes.title.value = draft.title;
  editor.nodes.root.hidden = false;
  renderSteps();
  editor.nodes.title.focus();
}

function closeEditor() {
  if (!editor.nodes) return;
  saveNow();
  editor.draft = null;
  editor.nodes.root.hidden = true;
}

// ---------- start: the header button, a lesson in the address ----------

/** This tab showed a lesson before a reload: the player comes back at the same step, on the address's view. */
function resumeAfterReload() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(CURRENT_KEY) ?? 'null');
  } catch {
    saved = null;
  }
  if (!saved?.lesson) return;
  ready.then(() => {
    const { lesson } = readLesson(saved.lesson, context());
    if (lesson) play(lesson, { step: Math.min((Number(saved.index) || 0) + 1, lesson.steps.length), draftId: saved.draftId ?? null, follow: false });
  });
}

function init() {
  $('lessons-button')?.addEventListener('click', openDialog);
  const params = new URLSearchParams(location.search);
  const fromQuery = params.get(LINK_KEY);
  const fromHash = new URLSearchParams(location.hash.replace(/^#/, '')).has(LINK_KEY) ? location.hash : null;
  if (fromQuery === null && fromHash === null) {
    resumeAfterReload();
    return;
  }
  // The lesson's first step is its view: the page shows no other (an empty share link) until the lesson is read.
  params.delete(LINK_KEY);
  const search = params.toString();
  history.replaceState(null, '', `${location.pathname}${search ? `?${search}` : ''}#v=1`);
  if (fromHash !== null) {
    readLessonHash(fromHash).then(({ text, step, error }) => {
      if (error) showMessage('error', error);
      else openLessonText(text, 'The lesson in this link', { step });
    });
  } else {
    const address = lessonAddress(fromQuery, location.href);
    if (address.error) showMessage('error', address.error);
    else openLessonUrl(address.url, `“${fromQuery}”`);
  }
}

init();
