// The compare view: one image, one class, every method with `compare: true` in a grid. The methods run one
// after another on each worker of the pool (www/pool.js; the costliest first when there are several); each map
// appears as soon as it is done, and the whole grid exports as one labelled PNG.
import { emit } from './bus.js';
import { DEFAULT_MODEL_NAME } from './protocol.js';
import { engine } from './engine.js';
import { slots, costs, runOn } from './pool.js';
import { input, describe } from './input.js';
import { introOf, mainOutput, pickerFor, setDownload } from './panel-view.js';
import { searchClasses } from './panels.js';
import { classSetting, settingsJson, COMPARE } from './share.js';
import { state, updateShareLink } from './state.js';
import { setSetting } from './store.js';
import { $, el, drawRgba, clearCanvas, showMessage, classPicker, classText, SIZE } from './ui.js';

const PREFIX = COMPARE.link_prefix;

export function createCompare() {
  let methods = [];
  let cells = new Map(); // method id -> {canvas, progress, status, panel}
  let job = null; // {queue, running: Set of run handles, cls, key}
  let lastKey = null;
  let picker = null;
  let runButton;
  let cancelButton;
  let downloadLink;
  let statusLine;
  let grid;

  const values = () => state[PREFIX];

  function classOf() {
    const chosen = values().class;
    return chosen ?? input.current?.top?.[0]?.class ?? null;
  }

  function key() {
    const settings = methods.map((m) => settingsJson(m, state[m.link_prefix])).join('|');
    return `${input.seq}|${classOf()}|${settings}`;
  }

  function build(node, schema) {
    methods = schema.methods.filter((m) => m.compare);
    node.append(introOf(COMPARE));
    const setting = classSetting(COMPARE);
    runButton = el('button', { type: 'button', id: `${PREFIX}-run`, class: 'primary', text: 'Compare all', disabled: '' });
    cancelButton = el('button', { type: 'button', id: `${PREFIX}-cancel`, text: 'Cancel', disabled: '' });
    downloadLink = el('a', { id: `${PREFIX}-download`, class: 'button disabled', download: 'netlens-compare.png', 'aria-disabled': 'true', text: 'Download figure (PNG)' });
    const predicted = el('button', { type: 'button', id: `${PREFIX}-predicted`, text: 'Use predicted class' });
    node.append(el('div', { class: 'controls' }, pickerFor(PREFIX, setting, {}),
      el('div', { class: 'buttons' }, predicted, runButton, cancelButton, downloadLink)));
    statusLine = el('p', { class: 'result', id: `${PREFIX}-status`, text: `${methods.length} methods, each with its own settings (set in the Attribution tab).` });
    node.append(statusLine);
    grid = el('div', { class: 'compare-grid', id: `${PREFIX}-grid` });
    cells = new Map();
    for (const m of methods) {
      const out = mainOutput(m);
      const canvas = el('canvas', { id: `${PREFIX}-${m.id}`, width: String(SIZE), height: String(SIZE), role: 'img', 'aria-label': `${m.title}: ${out?.title ?? 'map'}` });
      const progress = el('progress', { max: '1', value: '0', 'aria-label': `${m.title} progress` });
      const status = el('span', { class: 'cell-status', text: 'Waiting' });
      const title = el('figcaption', { class: 'cell-title' }, el('span', { text: m.title }));
      if (m.paper?.url) title.append(' ', el('a', { href: m.paper.url, target: '_blank', rel: 'noopener noreferrer', text: m.paper.cite ?? 'paper', title: m.summary ?? '' }));
      const figure = el('figure', { class: 'cell', id: `${PREFIX}-cell-${m.id}`, 'data-method': m.id, 'data-kind': out?.kind ?? '' },
        title, canvas, el('div', { class: 'cell-progress' }, progress, status));
      cells.set(m.id, { method: m, output: out, canvas, progress, status, panel: null, figure });
      grid.append(figure);
    }
    node.append(grid);

    picker = classPicker(PREFIX, {
      search: searchClasses, labels: () => engine.labels,
      onChoose: (c) => setClass(c),
      onInvalid: () => api.setReady(engine.ready),
    });
    predicted.addEventListener('click', () => {
      picker.clear();
      setClass(null);
    });
    runButton.addEventListener('click', () => start());
    cancelButton.addEventListener('click', () => cancel('Cancelled'));
  }

  function setClass(c) {
    setSetting(PREFIX, 'class', c);
    writeFields();
    if (visible()) start();
  }

  function writeFields() {
    const c = values().class;
    if (c === null) $(`${PREFIX}-chosen`).textContent = input.current ? `Predicted class: ${classText(classOf(), engine.labels)}` : 'Predicted class';
    else picker.show(c);
  }

  function visible() {
    return !$(`panel-${COMPARE.id}`).hidden;
  }

  function resetCells() {
    for (const c of cells.values()) {
      clearCanvas(c.canvas);
      c.progress.value = 0;
      c.progress.max = 1;
      c.status.textContent = 'Waiting';
      c.panel = null;
    }
    setDownload(downloadLink, null);
  }

  function cancel(text) {
    if (!job) return;
    const j = job;
    job = null;
    for (const h of [...j.running]) h.cancel();
    for (const c of cells.values()) if (!c.panel) c.status.textContent = text;
    statusLine.textContent = `${text}.`;
    cancelButton.disabled = true;
    lastKey = null;
    emit('compare-cancelled', {});
  }

  function start() {
    if (!engine.ready || picker?.invalid) return;
    if (!input.current) {
      showMessage('warn', 'Load an image first.');
      return;
    }
    if (job) cancel('Cancelled');
    resetCells();
    const cls = classOf();
    // Methods that cannot map this model (the engine says why: attention rollout on a CNN) are left out.
    const notHere = engine.model?.info?.not_for_model ?? {};
    for (const [id, c] of cells) c.figure.style.display = id in notHere ? 'none' : ''; // .cell's display beats [hidden]
    const runnable = methods.filter((m) => !(m.id in notHere));
    const skipped = methods.filter((m) => m.id in notHere).map((m) => m.id);
    const left = skipped.length ? ` (not for this model: ${skipped.map((id) => cells.get(id).method.title).join(', ')})` : '';
    const j = { queue: runnable, running: new Set(), cls, key: key(), started: performance.now(), workers: 1, count: runnable.length, left };
    job = j;
    cancelButton.disabled = false;
    statusLine.textContent = `Explaining ${classText(cls, engine.labels)} with ${runnable.length} methods${left}…`;
    writeFields();
    emit('compare-start', { class: cls, methods: runnable.map((m) => m.id), skipped });
    updateShareLink();
    spread(j);
  }

  const jsonOf = (m, cls) => {
    const cs = classSetting(m);
    return settingsJson(m, state[m.link_prefix], cs ? { [cs.key]: cls } : {});
  };

  /** One queue per pool slot: with several workers, the costliest maps first (the engine's estimates). */
  async function spread(j) {
    const n = await slots();
    if (job !== j) return;
    if (n > 1) {
      try {
        const c = await costs(j.queue.map((m) => ({ method: m.id, settingsJson: jsonOf(m, j.cls) })));
        const cost = new Map(j.queue.map((m, i) => [m.id, c[i] ?? 0]));
        j.queue.sort((a, b) => cost.get(b.id) - cost.get(a.id));
      } catch {
        // no estimates: the registry's order
      }
      if (job !== j) return;
    }
    j.workers = n;
    for (let slot = 0; slot < n; slot++) next(j, slot);
  }

  function next(j, slot) {
    if (job !== j) return;
    if (!engine.ready) {
      cancel('Stopped: the engine restarted');
      return;
    }
    const m = j.queue.shift();
    if (!m) {
      if (j.running.size === 0) finish(j);
      return;
    }
    const cell = cells.get(m.id);
    cell.status.textContent = 'Starting…';
    const json = jsonOf(m, j.cls);
    const handle = runOn(slot, m, json, {
      onProgress: (p) => {
        if (job !== j) return;
        cell.progress.max = p.total || 1;
        cell.progress.value = p.step;
        cell.status.textContent = p.text || `Step ${p.step} / ${p.total}`;
        emit('compare-progress', { method: m.id, step: p.step, total: p.total });
      },
      onDone: (d) => {
        if (job !== j) return;
        const panel = d.panels.find((p) => p.id === cell.output?.id) ?? d.panels.find((p) => p.rgba);
        if (panel?.rgba) drawRgba(cell.canvas, panel.rgba, panel.width, panel.height);
        cell.panel = panel ?? null;
        cell.progress.value = cell.progress.max;
        cell.status.textContent = 'Done';
        emit('compare-cell', { method: m.id, report: d.report, panel });
      },
      onError: (message) => {
        if (job !== j) return;
        cell.status.textContent = 'Error';
        showMessage('error', `${m.title}: ${message}`);
        emit('compare-cell', { method: m.id, error: message });
      },
      onEnd: (how) => {
        j.running.delete(handle);
        if (how !== 'cancelled') next(j, slot);
      },
    });
    j.running.add(handle);
  }

  async function finish(j) {
    job = null;
    cancelButton.disabled = true;
    lastKey = j.key;
    const seconds = ((performance.now() - j.started) / 1000).toFixed(1);
    const on = j.workers > 1 ? ` on ${j.workers} workers` : '';
    statusLine.textContent = `${j.count} methods explaining ${classText(j.cls, engine.labels)} in ${seconds} s${on}${j.left}.`;
    const blob = await figure(j.cls);
    if (blob) setDownload(downloadLink, new Uint8Array(await blob.arrayBuffer()), 'netlens-compare.png');
    emit('compare-done', { class: j.cls, seconds: Number(seconds), workers: j.workers, figure: blob ? { size: blob.size } : null });
  }

  /** The grid as one PNG: a title line (class, image), then each method's map under its name. */
  function figure(cls) {
    const done = [...cells.values()].filter((c) => c.panel?.rgba);
    if (!done.length) return Promise.resolve(null);
    const cols = Math.min(4, done.length);
    const rows = Math.ceil(done.length / cols);
    const pad = 12;
    const titleH = 26;
    const headH = 58;
    const canvas = document.createElement('canvas');
    canvas.width = pad + cols * (SIZE + pad);
    canvas.height = headH + rows * (titleH + SIZE + pad) + pad;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#16202b';
    ctx.textBaseline = 'top';
    ctx.font = 'bold 20px system-ui, sans-serif';
    ctx.fillText(`Attribution of “${engine.labels[cls]?.name ?? 'class'}” (#${cls})`, pad, pad);
    ctx.font = '14px system-ui, sans-serif';
    ctx.fillStyle = '#5b6672';
    const source = input.current ? describe(input.current.source) : '';
    ctx.fillText(`${source} · ${engine.model?.name ?? DEFAULT_MODEL_NAME} · red raises the score, blue lowers it; heatmaps show magnitude · netlens`, pad, pad + 26, canvas.width - 2 * pad);
    done.forEach((c, i) => {
      const x = pad + (i % cols) * (SIZE + pad);
      const y = headH + Math.floor(i / cols) * (titleH + SIZE + pad);
      ctx.fillStyle = '#16202b';
      ctx.font = 'bold 15px system-ui, sans-serif';
      ctx.fillText(c.method.title, x, y + 4, SIZE);
      const tile = document.createElement('canvas');
      drawRgba(tile, c.panel.rgba, c.panel.width, c.panel.height);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(tile, x, y + titleH, SIZE, SIZE);
    });
    return new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  }

  const api = {
    build,
    writeFields,
    setReady(ready) {
      runButton.disabled = !ready || !input.current || Boolean(picker?.invalid);
    },
    shown() {
      if (!job && input.current && key() !== lastKey) start();
    },
    imageChanged() {
      if (job) cancel('Cancelled: the image changed');
      resetCells();
      lastKey = null;
      writeFields();
      runButton.disabled = !engine.ready || !input.current || Boolean(picker?.invalid);
      if (visible()) start();
    },
    restarted() {
      if (job) cancel('Stopped: the engine restarted');
    },
  };
  return api;
}
