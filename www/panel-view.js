// A method panel's view (www/panels.js is its controller): the DOM built from the registry's schema — the summary
// and paper link, one field per setting (label, bounds, step, help, default), the run controls, one figure per
// output kind (image / heatmap / diverging / overlay in a row, the live image with its strip of frames, plots,
// stats lines) — and how a run's progress and result are drawn there. It reads no page state and starts nothing.
import { checkpoints } from './frames.js';
import { classSetting } from './share.js';
import { renderPlot } from './plot.js';
import { el, drawRgba, clearCanvas, SIZE } from './ui.js';

const MAP_KINDS = ['image', 'heatmap', 'diverging', 'overlay'];
const FRAME_SLOTS = 5;
// Settings shown first; the rest are folded under "More settings" (closed on a phone, where room is short).
const FIRST_SETTINGS = 3;
const PHONE = '(max-width: 600px)';
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

function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

const objectUrls = new Map();

/** A download link's bytes (null: disabled), as an object URL it owns. */
export function setDownload(a, bytes, name, type = 'image/png') {
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
export function fieldFor(method, s) {
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

export function readControl(f) {
  if (f.setting.type === 'bool') return f.control.checked ? 'true' : 'false';
  return f.control.value;
}

export function writeControl(f, v) {
  // A layer the chooser does not list (yet: a link read before the model's layers are known) is offered as it is.
  if (f.control.hasAttribute('data-layers') && v !== null && v !== undefined
    && ![...f.control.options].some((o) => o.value === String(v))) {
    f.control.append(el('option', { value: String(v), text: String(v) }));
  }
  if (f.setting.type === 'bool') f.control.checked = Boolean(v);
  else f.control.value = v === null || v === undefined ? '' : String(v);
  f.control.setAttribute('aria-invalid', 'false');
}

/** An attack's optional target: left empty, the attack is untargeted and moves away from the predicted class. */
export function untargeted(setting) {
  return setting.optional === true && setting.key === 'target';
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


/** The elements of one method's panel, and the drawing of its runs. */
export class PanelView {
  constructor(method) {
    this.method = method;
    this.prefix = method.link_prefix;
    this.fields = [];
    this.node = this.build();
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

  /** Nothing on show: empty figures, no report, no downloads, the status line saying `status`. */
  clear(status) {
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
    this.status.textContent = status;
  }

  /** A report line; `key` (the line's third element, when the engine gives one) names it for the page and tests. */
  addStat(label, text, key) {
    const id = key ? `${this.prefix}-${key}` : `${this.prefix}-stat-${slug(label)}`;
    const dd = el('dd', { id, text });
    this.stats.append(el('div', {}, el('dt', { text: label }), dd));
    return dd;
  }

  /** A step of a run: the progress bar and line, and its frame (live figure, strip) when it has one. */
  showProgress(m) {
    this.progress.max = m.total || 1;
    this.progress.value = m.step;
    this.status.textContent = m.text || `Step ${m.step} / ${m.total}`;
    if (!m.frame) return;
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

  /** A finished run: its panels, plots, CSV, conclusion and report lines, and the status line `status`. */
  showResult(m, status) {
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
    this.status.textContent = status;
  }

  /** The result sentence under the figures (a method explaining a class), or none. */
  showSentence(text) {
    if (!this.result) return;
    this.result.hidden = text === null;
    if (text !== null) this.result.textContent = text;
  }

  /** The "Download PNG" link's bytes (null: nothing to download). */
  setPng(bytes) {
    if (this.downloadLink) setDownload(this.downloadLink, bytes);
  }
}
