// The tabs and each method's panel as a controller: it reads and checks the settings, starts and cancels runs on
// the worker pool and hands their progress and results to the panel's view (www/panel-view.js, which builds the
// DOM from the registry's schema and draws); the tabs and method choosers are built here too.
import { emit } from './bus.js';
import { engine, request } from './engine.js';
import { startRun } from './pool.js';
import { input } from './input.js';
import { PanelView, mainOutput, readControl, untargeted, writeControl } from './panel-view.js';
import { checkSetting, settingsJson, COMPARE } from './share.js';
import { state, updateShareLink } from './state.js';
import { setSetting, update } from './store.js';
import { $, el, drawRgba, showMessage, classPicker, classText, percent, inputSize } from './ui.js';

// What a panel's status line says before anything ran.
const PLACEHOLDER_STATUS = ['Waiting for the model to load…', 'Load an image first', 'Not started'];

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

/** Labels for a picker or a text; the worker answers class searches. */
export async function searchClasses(query) {
  if (!engine.ready) return [];
  try {
    return (await request({ type: 'search', query })).classes;
  } catch {
    return []; // the engine restarted mid-search; the next keystroke asks again
  }
}

/** What an optional class left empty means, said where the chosen class is. */
function predictedText(setting) {
  if (!untargeted(setting)) return 'Predicted class';
  const top = input.current?.top?.[0]?.class;
  return `No target. Class to move away from: ${top === undefined ? 'the predicted one' : `${classText(top, engine.labels)}, the predicted one`}`;
}

export class MethodPanel {
  constructor(method) {
    this.method = method;
    this.prefix = method.link_prefix;
    this.auto = isAuto(method);
    this.run = null; // {handle, step, total}
    this.lastKey = null; // the image + settings of the output on show
    this.frame = null;
    this.view = new PanelView(method);
  }

  get values() {
    return state[this.prefix];
  }

  /** The panel's element (the tabs place it; www/activations.js adds to it). */
  get node() {
    return this.view.node;
  }

  /** The setting fields: {setting, control, label}. */
  get fields() {
    return this.view.fields;
  }

  get classSetting() {
    return this.view.classSetting;
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
    const v = this.view;
    v.predictedButton?.addEventListener('click', () => {
      this.picker.clear();
      this.setClass(null);
    });
    for (const f of this.fields) f.control.addEventListener('change', () => this.onFieldChange(f));
    v.runButton.addEventListener('click', () => this.start());
    v.cancelButton.addEventListener('click', () => this.cancel());
    this.reset();
  }

  setClass(c) {
    setSetting(this.prefix, this.classSetting.key, c);
    this.showClass();
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
    setSetting(this.prefix, f.setting.key, r.ok);
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
    const text = this.view.status.textContent;
    if (why || PLACEHOLDER_STATUS.includes(text) || text === this.whyShown) this.view.status.textContent = this.idleStatus(ready);
    this.whyShown = why;
    this.view.runButton.disabled = !ready || Boolean(why) || (this.method.needs_image !== false && !input.current) || Boolean(this.picker?.invalid);
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
    this.view.clear(status ?? this.idleStatus(engine.ready));
    this.frame = null;
    this.lastKey = null;
  }

  idleStatus(ready) {
    if (!ready) return PLACEHOLDER_STATUS[0];
    const why = this.notForModel();
    if (why) return why;
    return this.method.needs_image !== false && !input.current ? PLACEHOLDER_STATUS[1] : PLACEHOLDER_STATUS[2];
  }

  /** The image changed: output on show is moot, a run on the old image stops. */
  imageChanged() {
    if (this.method.needs_image === false) return;
    if (this.run) this.cancel('Cancelled: the image changed');
    this.reset();
    if (this.view.inputCanvas && input.current) drawRgba(this.view.inputCanvas, input.current.rgba);
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
      this.view.status.textContent = this.idleStatus(true);
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
        this.view.cancelButton.disabled = true;
      },
    });
    this.run = me;
    this.view.cancelButton.disabled = false;
    emit('run-start', { method: this.method.id });
    updateShareLink();
  }

  cancel(status = undefined) {
    const r = this.run;
    if (!r) return;
    this.run = null;
    r.handle.cancel();
    if (status !== null) this.view.status.textContent = status ?? `Cancelled at step ${r.step}${r.total ? ` of ${r.total}` : ''}`;
    emit('run-cancelled', { method: this.method.id, step: r.step });
  }

  onProgress(me, m) {
    if (this.run !== me) return;
    me.step = m.step;
    me.total = m.total;
    if (m.frame) this.frame = m.frame;
    this.view.showProgress(m);
    emit('run-progress', { method: this.method.id, step: m.step, total: m.total, frame: m.frame ?? null });
  }

  async onDone(me, m) {
    if (this.run !== me && this.run !== null) return;
    this.view.showResult(m, m.text || `Done: ${me.step} / ${me.total}`);
    this.view.showSentence(this.resultSentence(m.report));
    this.lastKey = me.key;

    // The download: PNG bytes of the pixels on show (the engine re-classifies its own PNG: fooling's report).
    const download = this.view.download;
    if (download) {
      const panel = m.panels.find((p) => p.id === download.id);
      const rgba = panel?.rgba ?? (download.kind === 'live' ? this.frame : null);
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
          this.view.setPng(reply.bytes);
        } catch (e) {
          if (!e.fatal) showMessage('error', `${this.method.title}: the PNG could not be made: ${e.message}`);
        }
      }
    }
    emit('run-done', { method: this.method.id, report: m.report, panels: m.panels, frame: this.frame });
  }

  /** The sentence under a class-explaining method's figures: which class, its probability, the prediction. */
  resultSentence(report) {
    const c = report?.class;
    if (!this.view.result || c === undefined || c === null) return null;
    const chosen = this.values[this.classSetting.key];
    const top = input.current?.top ?? [];
    const predicted = top[0]?.class;
    const p = top.find((t) => t.class === c)?.prob;
    if (chosen === null) $(`${this.prefix}-chosen`).textContent = `Predicted class: ${classText(c, engine.labels)}`;
    return `${this.method.title} of ${classText(c, engine.labels)}${chosen === null ? ', the predicted class' : ''}` +
      (p !== undefined ? ` (p = ${percent(p)})` : '') +
      (predicted !== undefined && c !== predicted ? `. The network predicts ${classText(predicted, engine.labels)}.` : '.') +
      ({ heatmap: ' Brighter = changing that pixel moves the score more.', diverging: ' Red raises the score, blue lowers it.' }[mainOutput(this.method)?.kind] ?? '');
  }

  onError(me, message) {
    if (this.run !== me && this.run !== null) return;
    this.view.status.textContent = 'Stopped by an error';
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
    const panel = new MethodPanel(m);
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
    update('page', { panel: id }); // the share link follows (www/state.js)
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
