// The tabs and each method's panel, built from the registry's schema (docs/architecture.md): the summary and paper
// link, one field per setting (label, bounds, step, help, default), the run controls, and one figure per output
// kind (image / heatmap / diverging / overlay in a row, the live image with its strip of frames, stats lines).
import { emit } from './bus.js';
import { checkpoints } from './frames.js';
import { engine, request } from './engine.js';
import { startRun } from './pool.js';
import { input } from './input.js';
import { classSetting, checkSetting, settingsJson, COMPARE } from './share.js';
import { state, updateShareLink } from './state.js';
import { renderPlot } from './plot.js';
import { $, el, drawRgba, clearCanvas, showMessage, classPicker, classText, percent, SIZE, inputSize } from './ui.js';

const MAP_KINDS = ['image', 'heatmap', 'diverging', 'overlay'];
const FRAME_SLOTS = 5;
// Settings shown first; the rest are folded under "More settings" (closed on a phone, where room is short).
const FIRST_SETTINGS = 3;
const PHONE = '(max-width: 600px)';
// What a panel's status line says before anything ran.
const PLACEHOLDER_STATUS = ['Waiting for the model to load…', 'Load an image first', 'Not started'];
// Stats lines with this label keep the id the page always gave them.

/** The output offered as "Download PNG" (`download: true` in the schema). */
export function downloadOutput(method) {
  return (method.outputs ?? []).find((o) => o.download) ?? null;
}

/** The map a method shows in the compare view and its figure. */
export function mainOutput(method) {
  const outs = method.outputs ?? [];
  return outs.find((o) => o.compare) ?? outs.find((o) => o.kind === 'diverging' || o.kind === 'heatmap')
    ?? outs.find((o) => o.kind === 'overlay') ?? null;
}

/** Methods the page runs by itself when their panel shows and the image or a setting changes. */
export function isAuto(method) {
  return method.auto_run === true;
}

/** The CS231n experiments get a tab each; every other group shares one tab with a method chooser. */
export function tabOf(method) {
  return method.group === 'cs231n' ? method.id : method.group;
}

function groupTitle(group) {
  return group.charAt(0).toUpperCase() + group.slice(1).replace(/[_-]+/g, ' ');
}

function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

const objectUrls = new Map();

function setDownload(a, bytes, name, type = 'image/png') {
  if (objectUrls.has(a)) URL.revokeObjectURL(objectUrls.get(a));
  objectUrls.delete(a);
  if (!bytes) {
    a.removeAttribute('href');
    a.classList.add('disabled');
    a.setAttribute('aria-disabled', 'true');
    return;
  }
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  objectUrls.set(a, url);
  a.href = url;
  if (name) a.download = name;
  a.classList.remove('disabled');
  a.setAttribute('aria-disabled', 'false');
}

export { setDownload };

/** The summary line with its paper link (text only, never HTML). */
export function introOf(method) {
  const p = el('p', { class: 'summary' }, el('span', { text: method.summary ?? '' }));
  if (method.paper?.url) {
    p.append(' ', el('a', { href: method.paper.url, target: '_blank', rel: 'noopener noreferrer', text: method.paper.cite ?? 'paper' }));
  }
  if (method.cost) p.append(el('span', { class: 'cost', text: ` · cost: ${method.cost}` }));
  return p;
}

/** One input per setting (the class setting has its picker instead). */
function fieldFor(method, s) {
  const id = `${method.link_prefix}-${s.link ?? s.key}`;
  const attrs = { id, name: `${method.link_prefix}.${s.link ?? s.key}`, 'data-key': s.key };
  // The registry's help as visible text under the field: touch screens and keyboards never show a tooltip.
  if (s.help) attrs['aria-describedby'] = `${id}-hint`;
  let control;
  if (s.type === 'text' && s.key === 'layer') {
    // A layer of the model: a chooser that www/layers.js fills with the model's layers (name and shape).
    control = el('select', { ...attrs, 'data-layers': String(s.default ?? '') }, el('option', { value: String(s.default ?? ''), text: String(s.default ?? '') }));
  } else if (s.type === 'choice') {
    control = el('select', attrs, ...(s.options ?? []).map((o) => (typeof o === 'object'
      ? el('option', { value: String(o.value), text: o.label ?? String(o.value) })
      : el('option', { value: String(o), text: String(o) }))));
  } else if (s.type === 'bool') {
    control = el('input', { ...attrs, type: 'checkbox' });
  } else if (s.type === 'text') {
    control = el('input', { ...attrs, type: 'text', spellcheck: 'false', ...(s.pattern ? { pattern: s.pattern } : {}) });
  } else {
    const num = { ...attrs, type: 'number', step: String(s.step ?? (s.type === 'int' ? 1 : 'any')) };
    if (s.min !== undefined && s.min !== null) num.min = String(s.min);
    if (s.max !== undefined && s.max !== null) num.max = String(s.max);
    num.inputmode = s.type === 'int' ? 'numeric' : 'decimal';
    control = el('input', num);
  }
  const label = el('label', {}, el('span', { text: s.label ?? s.key }), control);
  const box = el('div', { class: 'setting' }, label);
  if (s.help) box.append(el('small', { class: 'setting-hint', id: `${id}-hint`, text: s.help }));
  return { setting: s, control, label: box };
}

function readControl(f) {
  if (f.setting.type === 'bool') return f.control.checked ? 'true' : 'false';
  return f.control.value;
}

function writeControl(f, v) {
  // A layer the chooser does not list (yet: a link read before the model's layers are known) is offered as it is.
  if (f.control.hasAttribute('data-layers') && v !== null && v !== undefined
    && ![...f.control.options].some((o) => o.value === String(v))) {
    f.control.append(el('option', { value: String(v), text: String(v) }));
  }
  if (f.setting.type === 'bool') f.control.checked = Boolean(v);
  else f.control.value = v === null || v === undefined ? '' : String(v);
  f.control.setAttribute('aria-invalid', 'false');
}

/** Labels for a picker or a text; the worker answers class searches. */
export async function searchClasses(query) {
  if (!engine.ready) return [];
  try {
    return (await request({ type: 'search', query })).classes;
  } catch {
    return []; // the engine restarted mid-search; the next keystroke asks again
  }
}

/** An attack's optional target: left empty, the attack is untargeted and moves away from the predicted class. */
function untargeted(setting) {
  return setting.optional === true && setting.key === 'target';
}

/** What an optional class left empty means, said where the chosen class is. */
function predictedText(setting) {
  if (!untargeted(setting)) return 'Predicted class';
  const top = input.current?.top?.[0]?.class;
  return `No target. Class to move away from: ${top === undefined ? 'the predicted one' : `${classText(top, engine.labels)}, the predicted one`}`;
}

/** A class picker (search box, matches, chosen line, "Use predicted class" when optional). */
export function pickerFor(prefix, setting, { onChoose }) {
  const label = untargeted(setting) ? `${setting.label ?? 'Target class'} (optional)`
    : setting.optional ? `${setting.label ?? 'Class'} (default: the predicted one)` : (setting.label ?? 'Class');
  const wrap = el('div', { class: 'class-picker', 'data-picker': prefix },
    el('label', { for: `${prefix}-search`, text: label }),
    el('input', { id: `${prefix}-search`, type: 'search', autocomplete: 'off', placeholder: 'kitty, tabby, tarantula, 285…', ...(setting.help ? { 'aria-describedby': `${prefix}-hint` } : {}) }),
    ...(setting.help ? [el('small', { class: 'setting-hint', id: `${prefix}-hint`, text: setting.help })] : []),
    el('label', { class: 'visually-hidden', for: `${prefix}-results`, text: 'Matching classes' }),
    el('select', { id: `${prefix}-results`, size: '4', hidden: '' }),
    el('p', { class: 'picker-error', id: `${prefix}-error`, role: 'alert', hidden: '' }),
    el('div', { class: 'chosen', id: `${prefix}-chosen` }));
  return wrap;
}

export class MethodPanel {
  constructor(method, { showPanelOf }) {
    this.method = method;
    this.prefix = method.link_prefix;
    this.auto = isAuto(method);
    this.fields = [];
    this.run = null; // {handle, step, total}
    this.lastKey = null; // the image + settings of the output on show
    this.frame = null;
    this.showPanelOf = showPanelOf;
    this.node = this.build();
  }

  get values() {
    return state[this.prefix];
  }

  build() {
    const m = this.method;
    const p = this.prefix;
    const node = el('div', { class: 'method', 'data-method': m.id });
    node.append(introOf(m));
    const controls = el('div', { class: 'controls' });
    this.classSetting = classSetting(m);
    if (this.classSetting) controls.append(pickerFor(p, this.classSetting, {}));
    const others = m.settings.filter((s) => s !== this.classSetting);
    if (others.length) {
      this.fields = others.map((s) => fieldFor(m, s));
      const first = this.fields.slice(0, FIRST_SETTINGS);
      const rest = this.fields.slice(FIRST_SETTINGS);
      controls.append(el('div', { class: `fields${first.length > 2 ? ' grid' : ''}` }, ...first.map((f) => f.label)));
      if (rest.length) {
        const more = el('details', { class: 'more-settings', id: `${p}-more` },
          el('summary', { text: `More settings (${rest.length})` }),
          el('div', { class: `fields${rest.length > 1 ? ' grid' : ''}` }, ...rest.map((f) => f.label)));
        more.open = !matchMedia(PHONE).matches;
        controls.append(more);
      }
    }
    const buttons = el('div', { class: 'buttons' });
    if (this.classSetting?.optional) {
      this.predictedButton = el('button', { type: 'button', id: `${p}-predicted`, text: untargeted(this.classSetting) ? 'No target' : 'Use predicted class' });
      buttons.append(this.predictedButton);
    }
    this.runButton = el('button', { type: 'button', id: `${p}-run`, class: 'primary', text: m.run_label ?? 'Run', disabled: '' });
    this.cancelButton = el('button', { type: 'button', id: `${p}-cancel`, text: 'Cancel', disabled: '' });
    buttons.append(this.runButton, this.cancelButton);
    this.download = downloadOutput(m);
    if (this.download) {
      this.downloadLink = el('a', { id: `${p}-download`, class: 'button disabled', download: `${this.download.id}.png`, 'aria-disabled': 'true', text: 'Download PNG' });
      buttons.append(this.downloadLink);
    }
    this.plots = (m.outputs ?? []).filter((o) => o.kind === 'plot');
    if (this.plots.length) {
      this.csvLink = el('a', { id: `${p}-csv`, class: 'button disabled', download: `${m.id}.csv`, 'aria-disabled': 'true', text: 'Download CSV' });
      buttons.append(this.csvLink);
    }
    controls.append(buttons);
    node.append(controls);

    this.progress = el('progress', { id: `${p}-progress`, max: '1', value: '0', 'aria-label': `${m.title} progress` });
    this.status = el('span', { id: `${p}-status`, text: 'Not started' });
    node.append(el('div', { class: 'progress-line' }, this.progress, this.status));

    // Outputs, grouped as the page has always shown them.
    this.canvases = new Map();
    this.captions = new Map();
    const live = (m.outputs ?? []).find((o) => o.kind === 'live');
    // With a live output, an `image` output is its last frame: the live figure shows it.
    const maps = (m.outputs ?? []).filter((o) => MAP_KINDS.includes(o.kind) && !(live && o.kind === 'image'));
    if (maps.length) {
      // The input first, as the page always showed it: "Original" beside a changed image, else "Image".
      const withInput = m.needs_image !== false && !maps.some((o) => o.id === 'image' || o.id === 'original');
      const count = maps.length + (withInput ? 1 : 0);
      const row = el('div', { class: `images ${['one', 'two', 'three', 'four', 'five', 'six'][count - 1] ?? 'many'}` });
      if (withInput) {
        const title = maps.some((o) => o.kind === 'image') ? 'Original' : 'Image';
        this.inputCanvas = el('canvas', { id: `${p}-input`, width: String(SIZE), height: String(SIZE), role: 'img', 'aria-label': `${m.title}: the input image` });
        row.append(el('figure', { 'data-kind': 'input' }, this.inputCanvas, el('figcaption', { text: title })));
      }
      for (const o of maps) {
        const canvas = el('canvas', { id: `${p}-${o.id}`, width: String(SIZE), height: String(SIZE), role: 'img', 'aria-label': `${m.title}: ${o.title}` });
        const caption = el('figcaption', { text: o.title });
        this.canvases.set(o.id, canvas);
        this.captions.set(o.id, caption);
        row.append(el('figure', { 'data-kind': o.kind }, canvas, caption));
      }
      node.append(row);
      if (maps.some((o) => o.kind === 'heatmap')) {
        // The key of every heatmap: each is scaled to its own largest value (its caption may give that value).
        node.append(el('div', { class: 'legend heatmap', id: `${p}-heatmap-key` },
          el('span', { text: 'heatmap: 0' }), el('span', { class: 'ramp' }), el('span', { text: 'the map’s largest value' })));
      }
      if (maps.some((o) => o.kind === 'diverging')) {
        node.append(el('div', { class: 'legend diverging', 'aria-hidden': 'true' },
          el('span', { text: 'lowers the score' }), el('span', { class: 'ramp' }), el('span', { text: 'raises it' })));
      }
    }
    const strip = (m.outputs ?? []).find((o) => o.kind === 'strip');
    if (live || strip) {
      const row = el('div', { class: 'viz-row' });
      if (live) {
        const canvas = el('canvas', { id: `${p}-${live.id}`, width: String(SIZE), height: String(SIZE), role: 'img', 'aria-label': `${m.title}: ${live.title}` });
        this.canvases.set(live.id, canvas);
        this.liveCanvas = canvas;
        this.liveCaption = el('figcaption', { id: `${p}-${live.id}-caption`, text: live.title });
        row.append(el('figure', { class: 'live' }, canvas, this.liveCaption));
      }
      if (strip) {
        this.strip = el('div', { class: 'strip', id: `${p}-${strip.id}`, 'aria-label': strip.title });
        for (let i = 0; i < FRAME_SLOTS; i++) {
          this.strip.append(el('figure', {},
            el('canvas', { width: String(SIZE), height: String(SIZE), role: 'img', 'aria-label': `${strip.title} ${i + 1}` }),
            el('figcaption', { text: '–' })));
        }
        row.append(this.strip);
      }
      node.append(row);
    }
    if (this.plots.length) {
      this.plotBoxes = new Map();
      const row = el('div', { class: 'plots' });
      for (const o of this.plots) {
        const box = el('div', { class: 'plot-box', id: `${p}-${o.id}` });
        this.plotBoxes.set(o.id, box);
        row.append(el('figure', { 'data-kind': 'plot' }, box, el('figcaption', { text: o.title })));
      }
      node.append(row);
    }
    this.hasStats = (m.outputs ?? []).some((o) => o.kind === 'stats');
    // Report lines: every line for a `stats` output; otherwise the ones the result sentence does not say.
    this.stats = el('dl', { class: 'stats', id: `${p}-stats` });
    // The engine's one-sentence reading of a result (report.conclusion), above its numbers.
    this.conclusion = el('p', { class: 'conclusion', id: `${p}-conclusion`, hidden: '' });
    node.append(this.conclusion, this.stats);
    if (maps.length && this.classSetting?.optional) { // a method explaining a class: say which
      this.result = el('p', { class: 'result', id: `${p}-result`, text: `Load an image to see ${m.title.toLowerCase()}.` });
      node.append(this.result);
    }
    return node;
  }

  /** Wires the controls; called once the elements are in the document. */
  attach() {
    const p = this.prefix;
    if (this.classSetting) {
      this.picker = classPicker(p, {
        search: searchClasses, labels: () => engine.labels,
        onChoose: (c) => this.setClass(c),
        onInvalid: () => this.setReady(engine.ready),
      });
    }
    this.predictedButton?.addEventListener('click', () => {
      this.picker.clear();
      this.setClass(null);
    });
    for (const f of this.fields) f.control.addEventListener('change', () => this.onFieldChange(f));
    this.runButton.addEventListener('click', () => this.start());
    this.cancelButton.addEventListener('click', () => this.cancel());
    this.reset();
  }

  setClass(c) {
    this.values[this.classSetting.key] = c;
    this.showClass();
    updateShareLink();
    this.changed(this.classSetting);
  }

  showClass() {
    if (!this.picker) return;
    const c = this.values[this.classSetting.key];
    if (c === null) $(`${this.prefix}-chosen`).textContent = predictedText(this.classSetting);
    else this.picker.show(c);
  }

  onFieldChange(f) {
    if (!this.readField(f)) return;
    updateShareLink();
    this.changed(f.setting);
  }

  /** A setting changed: a live one reaches the run in progress; otherwise it applies to the next run. */
  changed(setting) {
    if (this.run) {
      if (setting.live) {
        this.run.handle.settings(settingsJson(this.method, this.values));
      } else if (!this.auto) {
        showMessage('info', `${setting.label ?? setting.key} applies to the next run.`);
      }
    }
    if (this.auto) this.maybeAutoRun();
  }

  readField(f) {
    const r = checkSetting(this.method, f.setting, readControl(f), engine.labels?.length ?? 1000);
    f.control.setAttribute('aria-invalid', r.error ? 'true' : 'false');
    if (r.error) {
      showMessage('error', r.error);
      emit('setting-error', { method: this.method.id, key: f.setting.key, message: r.error });
      return false;
    }
    this.values[f.setting.key] = r.ok;
    return true;
  }

  /** State -> controls (after a link was applied). */
  writeFields() {
    for (const f of this.fields) writeControl(f, this.values[f.setting.key]);
    this.showClass();
  }

  setReady(ready) {
    // A method this model cannot run (attention maps on a CNN) says why instead of offering a run.
    const why = ready ? this.notForModel() : null;
    // Until the model is ready the status line says so, not "Not started".
    const text = this.status.textContent;
    if (why || PLACEHOLDER_STATUS.includes(text) || text === this.whyShown) this.status.textContent = this.idleStatus(ready);
    this.whyShown = why;
    this.runButton.disabled = !ready || Boolean(why) || (this.method.needs_image !== false && !input.current) || Boolean(this.picker?.invalid);
  }

  /** The engine's sentence when the loaded model cannot run this method (src/methods/applicable.rs), else null. */
  notForModel() {
    return engine.model?.info?.not_for_model?.[this.method.id] ?? null;
  }

  key() {
    return `${this.method.needs_image !== false ? input.seq : ''}|${settingsJson(this.method, this.values)}`;
  }

  visible() {
    return !this.node.closest('[hidden]') && !this.node.hidden;
  }

  /** Auto methods: run when shown and the image or settings differ from what is on show. */
  maybeAutoRun() {
    if (!this.auto || !engine.ready || !this.visible() || this.notForModel()) return;
    if (this.method.needs_image !== false && !input.current) return;
    if (this.key() === this.lastKey && !this.failedKey) return;
    this.start();
  }

  reset(status) {
    for (const [, canvas] of this.canvases) clearCanvas(canvas);
    if (this.strip) {
      for (const f of this.strip.children) {
        clearCanvas(f.querySelector('canvas'));
        f.querySelector('figcaption').textContent = '–';
      }
    }
    this.stats.replaceChildren();
    this.stats.hidden = true;
    this.conclusion.hidden = true;
    if (this.plotBoxes) for (const box of this.plotBoxes.values()) box.replaceChildren();
    if (this.csvLink) setDownload(this.csvLink, null);
    if (this.result) this.result.hidden = true;
    if (this.downloadLink) setDownload(this.downloadLink, null);
    this.progress.value = 0;
    this.status.textContent = status ?? this.idleStatus(engine.ready);
    this.frame = null;
    this.lastKey = null;
  }

  idleStatus(ready) {
    if (!ready) return PLACEHOLDER_STATUS[0];
    const why = this.notForModel();
    if (why) return why;
    return this.method.needs_image !== false && !input.current ? PLACEHOLDER_STATUS[1] : PLACEHOLDER_STATUS[2];
  }

  /** A report line; `key` (the line's third element, when the engine gives one) names it for the page and tests. */
  addStat(label, text, key) {
    const id = key ? `${this.prefix}-${key}` : `${this.prefix}-stat-${slug(label)}`;
    const dd = el('dd', { id, text });
    this.stats.append(el('div', {}, el('dt', { text: label }), dd));
    return dd;
  }

  /** The image changed: output on show is moot, a run on the old image stops. */
  imageChanged() {
    if (this.method.needs_image === false) return;
    if (this.run) this.cancel('Cancelled: the image changed');
    this.reset();
    if (this.inputCanvas && input.current) drawRgba(this.inputCanvas, input.current.rgba);
    this.showClass(); // "Class to move away from" names the new image's prediction
    this.setReady(engine.ready);
    this.maybeAutoRun();
  }

  readAll() {
    return this.fields.map((f) => this.readField(f)).every(Boolean);
  }

  start() {
    if (!engine.ready || this.picker?.invalid) return;
    // A link or a lesson may ask for a method this model cannot run: its panel says why (setReady), nothing starts.
    if (this.notForModel()) {
      this.status.textContent = this.idleStatus(true);
      return;
    }
    if (this.method.needs_image !== false && !input.current) {
      showMessage('warn', 'Load an image first.');
      return;
    }
    if (!this.readAll()) return;
    if (this.run) this.cancel(null);
    this.reset(`Starting ${this.method.title.toLowerCase()}…`);
    const key = this.key();
    this.failedKey = false;
    const json = settingsJson(this.method, this.values);
    const me = { total: null, step: 0, handle: null, key };
    me.handle = startRun(this.method, json, {
      onProgress: (m) => this.onProgress(me, m),
      onDone: (m) => this.onDone(me, m),
      onError: (message) => this.onError(me, message),
      onEnd: () => {
        if (this.run === me) this.run = null;
        this.cancelButton.disabled = true;
      },
    });
    this.run = me;
    this.cancelButton.disabled = false;
    emit('run-start', { method: this.method.id });
    updateShareLink();
  }

  cancel(status = undefined) {
    const r = this.run;
    if (!r) return;
    this.run = null;
    r.handle.cancel();
    if (status !== null) this.status.textContent = status ?? `Cancelled at step ${r.step}${r.total ? ` of ${r.total}` : ''}`;
    emit('run-cancelled', { method: this.method.id, step: r.step });
  }

  onProgress(me, m) {
    if (this.run !== me) return;
    me.step = m.step;
    me.total = m.total;
    this.progress.max = m.total || 1;
    this.progress.value = m.step;
    this.status.textContent = m.text || `Step ${m.step} / ${m.total}`;
    if (m.frame) {
      this.frame = m.frame;
      if (this.liveCanvas) {
        drawRgba(this.liveCanvas, m.frame);
        this.liveCaption.textContent = `Iteration ${m.step}`;
      }
      const slot = checkpoints(m.total).indexOf(m.step);
      if (this.strip && slot >= 0) {
        const f = this.strip.children[slot];
        drawRgba(f.querySelector('canvas'), m.frame);
        f.querySelector('figcaption').textContent = `Iteration ${m.step}`;
      }
    }
    emit('run-progress', { method: this.method.id, step: m.step, total: m.total, frame: m.frame ?? null });
  }

  async onDone(me, m) {
    if (this.run !== me && this.run !== null) return;
    this.progress.value = this.progress.max;
    for (const panel of m.panels) {
      const canvas = this.canvases.get(panel.id);
      if (canvas && panel.rgba) drawRgba(canvas, panel.rgba, panel.width, panel.height);
      if (panel.title && this.captions.has(panel.id)) this.captions.get(panel.id).textContent = panel.title;
      if (panel.plot && this.plotBoxes?.has(panel.id)) this.plotBoxes.get(panel.id).replaceChildren(renderPlot(panel.plot, { title: panel.title }));
    }
    if (this.csvLink && typeof m.report?.csv === 'string') {
      setDownload(this.csvLink, new TextEncoder().encode(m.report.csv), `${this.method.id}.csv`, 'text/csv');
    }
    this.conclusion.textContent = m.report?.conclusion ?? '';
    this.conclusion.hidden = !m.report?.conclusion;
    // The class line is said by the result's own sentence unless the method has a stats panel; the conclusion has
    // its own line above the results.
    const lines = (m.report?.lines ?? []).filter(([, , key]) => key !== 'conclusion' && (this.hasStats || key !== 'class'));
    this.stats.replaceChildren();
    for (const [label, text, key] of lines) this.addStat(label, String(text ?? ''), key);
    this.stats.hidden = this.stats.children.length === 0;
    if (this.result) this.describeResult(m.report);
    this.status.textContent = m.text || `Done: ${me.step} / ${me.total}`;
    this.lastKey = me.key;

    // The download: PNG bytes of the pixels on show (the engine re-classifies its own PNG: fooling's report).
    if (this.download) {
      const panel = m.panels.find((p) => p.id === this.download.id);
      const rgba = panel?.rgba ?? (this.download.kind === 'live' ? this.frame : null);
      if (rgba) {
        try {
          const reply = await request({
            // A live frame is the model's input size (224×224 for SqueezeNet, 28×28 for an MNIST model).
            type: 'png', rgba, width: panel?.width ?? inputSize.width, height: panel?.height ?? inputSize.height,
          });
          if (this.lastKey !== me.key) { // a newer run started meanwhile: this result was replaced
            emit('run-superseded', { method: this.method.id });
            return;
          }
          setDownload(this.downloadLink, reply.bytes);
        } catch (e) {
          if (!e.fatal) showMessage('error', `${this.method.title}: the PNG could not be made: ${e.message}`);
        }
      }
    }
    emit('run-done', { method: this.method.id, report: m.report, panels: m.panels, frame: this.frame });
  }

  describeResult(report) {
    const c = report?.class;
    this.result.hidden = c === undefined || c === null;
    if (this.result.hidden) return;
    const chosen = this.values[this.classSetting.key];
    const top = input.current?.top ?? [];
    const predicted = top[0]?.class;
    const p = top.find((t) => t.class === c)?.prob;
    this.result.textContent = `${this.method.title} of ${classText(c, engine.labels)}${chosen === null ? ', the predicted class' : ''}` +
      (p !== undefined ? ` (p = ${percent(p)})` : '') +
      (predicted !== undefined && c !== predicted ? `. The network predicts ${classText(predicted, engine.labels)}.` : '.') +
      ({ heatmap: ' Brighter = changing that pixel moves the score more.', diverging: ' Red raises the score, blue lowers it.' }[mainOutput(this.method)?.kind] ?? '');
    if (chosen === null) $(`${this.prefix}-chosen`).textContent = `Predicted class: ${classText(c, engine.labels)}`;
  }

  onError(me, message) {
    if (this.run !== me && this.run !== null) return;
    this.status.textContent = 'Stopped by an error';
    this.failedKey = true;
    this.lastKey = me.key;
    showMessage('error', `${this.method.title}: ${message}`);
    emit('run-error', { method: this.method.id, message });
  }
}

/**
 * Builds the tab list and every panel inside `container` (index.html's empty panels section).
 * Returns {panels: Map id -> MethodPanel, show(id), tabs}.
 */
export function buildPanels(container, schema, { compare }) {
  const methods = schema.methods;
  const panels = new Map();
  const tabs = []; // {id, title, node}
  const tablist = el('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Method' });
  container.replaceChildren(tablist);

  const addTab = (id, title, summary) => {
    const button = el('button', { type: 'button', role: 'tab', id: `tab-${id}`, 'aria-controls': `panel-${id}`, 'aria-selected': 'false', tabindex: '-1', text: title });
    if (summary) button.title = summary;
    const node = el('div', { role: 'tabpanel', id: `panel-${id}`, 'aria-labelledby': `tab-${id}`, class: 'panel', hidden: '' });
    tablist.append(button);
    container.append(node);
    tabs.push({ id, title, button, node });
    return node;
  };

  const groups = new Map(); // tab id -> {node, chooser}
  for (const m of methods) {
    const panel = new MethodPanel(m, {});
    panels.set(m.id, panel);
    const tab = tabOf(m);
    if (tab !== m.id) {
      if (!groups.has(tab)) {
        const title = groupTitle(tab);
        const node = addTab(tab, title, `${title}: ${methods.filter((x) => tabOf(x) === tab).map((x) => x.title).join(', ')}`);
        const chooser = el('div', { class: 'method-list', role: 'group', 'aria-label': `${title} method` });
        node.append(chooser);
        groups.set(tab, { node, chooser });
      }
      const group = groups.get(tab);
      const button = el('button', { type: 'button', id: `method-${m.id}`, 'data-method': m.id, 'aria-pressed': 'false', title: m.summary ?? '', text: m.title });
      group.chooser.append(button);
      panel.node.id = `panel-${m.id}`;
      panel.node.hidden = true;
      group.node.append(panel.node);
      panel.chooserButton = button;
    } else {
      const node = addTab(m.id, m.title, m.summary);
      node.append(panel.node);
    }
  }
  const compareNode = addTab(COMPARE.id, COMPARE.title, COMPARE.summary);
  compare.build(compareNode, schema);

  for (const p of panels.values()) p.attach();

  function show(id, { focus = false } = {}) {
    const method = methods.find((m) => m.id === id);
    const tabId = method ? tabOf(method) : id;
    state.panel = id;
    for (const t of tabs) {
      const on = t.id === tabId;
      t.button.setAttribute('aria-selected', String(on));
      t.button.tabIndex = on ? 0 : -1;
      t.node.hidden = !on;
      if (on && focus) t.button.focus();
    }
    for (const p of panels.values()) {
      if (!p.chooserButton) continue;
      const on = p.method.id === id;
      p.node.hidden = !on;
      p.chooserButton.setAttribute('aria-pressed', String(on));
    }
    updateShareLink();
    panels.get(id)?.maybeAutoRun();
    if (id === COMPARE.id) compare.shown();
    emit('panel', { id });
  }

  // A group's tab remembers which of its methods it showed last.
  const lastOf = new Map();
  for (const m of methods) if (tabOf(m) !== m.id && !lastOf.has(tabOf(m))) lastOf.set(tabOf(m), m.id);
  const target = (tabId) => lastOf.get(tabId) ?? tabId;
  tabs.forEach((t, i) => {
    t.button.addEventListener('click', () => show(target(t.id)));
    t.button.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      show(target(tabs[(i + step + tabs.length) % tabs.length].id), { focus: true });
    });
  });
  for (const p of panels.values()) {
    p.chooserButton?.addEventListener('click', () => {
      lastOf.set(tabOf(p.method), p.method.id);
      show(p.method.id);
    });
  }
  const rememberedShow = (id, opts) => {
    const m = methods.find((x) => x.id === id);
    if (m && tabOf(m) !== m.id) lastOf.set(tabOf(m), id);
    show(id, opts);
  };
  return { panels, show: rememberedShow };
}
