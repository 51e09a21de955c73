// Small DOM helpers. Every piece of text that could come from a user, a link or a file goes in with
// textContent, never innerHTML.
import { emit } from './bus.js';

export const SIZE = 224;
/** The model's input, width × height: the picture it sees and every map's size (www/models.js keeps it current). */
export const inputSize = { width: SIZE, height: SIZE };

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') node.textContent = v;
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** Draws RGBA pixels (width x height, the model's input size unless given), resizing the canvas's bitmap to match. */
export function drawRgba(canvas, rgba, width = inputSize.width, height = inputSize.height) {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  // A small model's 28×28 picture shown at the page's size: pixels as squares, not a blur.
  canvas.classList.toggle('pixelated', Math.max(width, height) < 112);
  // Not square (a grid of maps): keep its shape within the figure's width.
  canvas.classList.toggle('wide', width !== height);
  canvas.closest('figure')?.removeAttribute('data-empty');
  const data = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length);
  canvas.getContext('2d').putImageData(new ImageData(data, width, height), 0, 0);
}

/** Blanks a canvas; its figure says what will appear there (www/ux.css shows the figure's data-empty). */
export function clearCanvas(canvas, placeholder = 'appears here after the run') {
  canvas.closest('figure')?.setAttribute('data-empty', placeholder);
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
}

/** FNV-1a over bytes: a cheap fingerprint the tests compare across page loads. */
export function fnv1a(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

const MAX_MESSAGES = 6;

/** A dismissable message; kind is 'error', 'warn' or 'info'. */
export function showMessage(kind, text) {
  const box = $('messages');
  const close = el('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss message', text: '×' });
  const item = el('div', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, el('span', { text }), close);
  close.addEventListener('click', () => item.remove());
  box.append(item);
  // Errors and warnings stay until dismissed; notes go away on their own.
  if (kind === 'info') setTimeout(() => item.remove(), 8000);
  while (box.children.length > MAX_MESSAGES) box.firstElementChild.remove();
  emit('message', { kind, text });
}

export function percent(p) {
  return `${(p * 100).toFixed(p >= 0.1 ? 1 : 2)}%`;
}

/** Fills the five fixed rows of a top-5 list (rows exist from the start so nothing shifts). */
export function renderTop5(list, top, labels) {
  if (list.children.length !== 5) {
    list.replaceChildren();
    for (let i = 0; i < 5; i++) {
      list.append(
        el('li', {},
          el('div', { class: 'label' }, el('span', { class: 'name' }), el('span', { class: 'pct' })),
          el('div', { class: 'bar' }, el('div', { class: 'fill' })),
          el('div', { class: 'syn' })),
      );
    }
  }
  [...list.children].forEach((li, i) => {
    const entry = top?.[i];
    const label = entry ? labels?.[entry.class] : null;
    li.querySelector('.name').textContent = entry ? `${label?.name ?? `class ${entry.class}`}` : '–';
    li.querySelector('.pct').textContent = entry ? percent(entry.prob) : '';
    li.querySelector('.fill').style.width = entry ? `${Math.max(0, Math.min(1, entry.prob)) * 100}%` : '0';
    const syn = label ? label.synonyms.filter((s) => s !== label.name).join(', ') : '';
    li.querySelector('.syn').textContent = entry ? `#${entry.class}${syn ? ` · ${syn}` : ''}` : '';
    li.title = syn;
  });
}

export function classText(c, labels) {
  return `${labels?.[c]?.name ?? 'class'} (#${c})`;
}

/**
 * A class search box: typing asks the worker (search(query) -> Promise<number[]>), results go in a listbox shown
 * only while there is a query; Enter in the box takes the best match, Enter or a click in the list takes that
 * entry. A query that matches no class is an error in the field, and onInvalid(true) tells the owner to disable
 * its run until a class is chosen or the box is cleared (issue 31: Compute used to run the old class).
 */
export function classPicker(prefix, { search, labels, onChoose, onInvalid = () => {} }) {
  const input = $(`${prefix}-search`);
  const list = $(`${prefix}-results`);
  const chosen = $(`${prefix}-chosen`);
  const error = $(`${prefix}-error`);
  let latest = 0;
  let invalid = false;

  function setInvalid(on, text = '') {
    input.setAttribute('aria-invalid', String(on));
    if (error) {
      error.textContent = text;
      error.hidden = !on;
    }
    if (on !== invalid) {
      invalid = on;
      onInvalid(on);
    }
  }

  async function refresh() {
    const q = input.value.trim();
    const mine = ++latest;
    const classes = q === '' ? [] : await search(q);
    if (mine !== latest) return; // an older query answered late
    list.replaceChildren(
      ...classes.map((c) => {
        const l = labels()[c];
        const syn = l.synonyms.filter((s) => s !== l.name).slice(0, 3).join(', ');
        return el('option', { value: String(c), text: `${l.name}${syn ? ` — ${syn}` : ''} (#${c})` });
      }),
    );
    list.hidden = classes.length === 0;
    if (q !== '' && classes.length === 0) {
      setInvalid(true, `No class matches “${q.length > 40 ? `${q.slice(0, 40)}…` : q}”: type another name or number, or clear the box.`);
    } else {
      setInvalid(false);
    }
  }

  function take(value) {
    if (value === '' || value === undefined) return;
    list.hidden = true;
    setInvalid(false);
    onChoose(Number(value));
  }

  list.hidden = true;
  input.addEventListener('input', refresh);
  input.addEventListener('keydown', async (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      await refresh();
      const first = list.querySelector('option:not([disabled])');
      if (first) take(first.value);
    } else if (e.key === 'ArrowDown' && list.options.length) {
      e.preventDefault();
      list.focus();
      if (list.selectedIndex < 0) list.selectedIndex = 0;
    }
  });
  list.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      take(list.value);
    }
  });
  list.addEventListener('click', (e) => {
    if (e.target instanceof HTMLOptionElement && !e.target.disabled) take(e.target.value);
  });

  return {
    show(c, note = '') {
      chosen.textContent = c === null ? note : `Chosen: ${classText(c, labels())}${note}`;
    },
    /** Back to no query (the predicted class was asked for). */
    clear() {
      ++latest;
      input.value = '';
      list.replaceChildren();
      list.hidden = true;
      setInvalid(false);
    },
    get invalid() {
      return invalid;
    },
  };
}
