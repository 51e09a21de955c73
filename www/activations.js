// The activation browser on top of the `activations` method's panel: click a channel of the grid (or pick it from
// the list) to see its map over the image, then visualize that channel or DeepDream its layer. The grid's geometry
// and the overlay's resampling and colours are the engine's (wasm `gridSlot`, `channelOverlay`; www/core.js).
import { emit, on } from './bus.js';
import { loadCore } from './core.js';
import { input } from './input.js';
import { setSetting } from './store.js';
import { $, el, showMessage, SIZE, inputSize } from './ui.js';

/** Returns a function that detaches it (the panels are rebuilt). */
export function attachActivations({ panels, show }) {
  const panel = panels.get('activations');
  if (!panel) return () => {};
  const channelPanel = panels.get('channel');
  const dreamPanel = panels.get('dream');
  const grid = $(`${panel.prefix}-grid`);
  const canvas = el('canvas', { id: 'act-channel', width: String(SIZE), height: String(SIZE), role: 'img', 'aria-label': 'The chosen channel over the image' });
  const caption = el('figcaption', { id: 'act-channel-caption', text: 'Click a channel in the grid' });
  const pick = el('select', { id: 'act-pick', disabled: '' });
  const visualize = el('button', { type: 'button', id: 'act-visualize', disabled: '', text: 'Visualize this channel' });
  const dream = el('button', { type: 'button', id: 'act-dream', disabled: '', text: 'DeepDream this layer' });
  const layers = el('datalist', { id: 'act-layers' });
  const detail = el('div', { class: 'act-detail' },
    el('figure', {}, canvas, caption),
    el('div', { class: 'buttons' },
      el('label', { for: 'act-pick', text: 'Channel (strongest first)' }), pick,
      ...(channelPanel ? [visualize] : []), ...(dreamPanel ? [dream] : [])));
  panel.node.append(detail, layers);
  // The layer field offers the layers the last run listed.
  const layerField = panel.fields.find((f) => f.setting.key === 'layer')?.control;
  layerField?.setAttribute('list', 'act-layers');

  let last = null; // {raw, c, h, w, order: [channel…], layer, info}
  let shown = null;

  async function showChannel(channel) {
    if (!last || !input.current) return;
    const { raw, h, w } = last;
    const values = raw.subarray(channel * h * w, (channel + 1) * h * w);
    const core = await loadCore();
    const rgba = new Uint8ClampedArray(core.channelOverlay(values, h, w, input.current.rgba, inputSize.width, inputSize.height));
    [canvas.width, canvas.height] = [inputSize.width, inputSize.height];
    canvas.getContext('2d').putImageData(new ImageData(rgba, inputSize.width, inputSize.height), 0, 0);
    const info = last.info.get(channel);
    caption.textContent = `${last.layer} channel #${channel}${info ? ` · mean ${info.mean.toFixed(2)}, max ${info.max.toFixed(2)}` : ''}`;
    pick.value = String(channel);
    shown = channel;
    visualize.disabled = false;
    dream.disabled = false;
    emit('activation-channel', { layer: last.layer, channel });
  }

  const off = on('run-done', ({ method, report, panels: out }) => {
    if (method !== 'activations') return;
    const g = out.find((p) => p.id === 'grid');
    if (!g?.raw || !g.rawShape || g.rawShape.length !== 3) return;
    const [c, h, w] = g.rawShape;
    const order = (report.channels ?? []).map((x) => x.channel);
    last = {
      raw: g.raw, c, h, w, order, layer: report.layer,
      info: new Map((report.channels ?? []).map((x) => [x.channel, x])),
    };
    pick.replaceChildren(...(report.channels ?? []).map((x) => el('option', { value: String(x.channel), text: `#${x.channel} (mean ${x.mean.toFixed(2)})` })));
    pick.disabled = false;
    layers.replaceChildren(...(report.layers ?? []).map((l) => el('option', { value: l.name, label: `${l.name} [${l.shape.join('×')}]` })));
    if (order.length) showChannel(order[0]);
  });

  grid.addEventListener('click', async (e) => {
    if (!last) return;
    const r = grid.getBoundingClientRect();
    const x = Math.floor(((e.clientX - r.left) / r.width) * grid.width);
    const y = Math.floor(((e.clientY - r.top) / r.height) * grid.height);
    if (x < 0 || y < 0) return;
    const slot = (await loadCore()).gridSlot(last.c, last.h, last.w, x, y);
    if (slot !== undefined && slot < last.order.length) showChannel(last.order[slot]);
  });
  grid.style.cursor = 'crosshair';
  pick.addEventListener('change', () => showChannel(Number(pick.value)));

  function runWith(target, values) {
    for (const [key, value] of Object.entries(values)) setSetting(target.prefix, key, value);
    target.writeFields();
    show(target.method.id);
    target.start();
  }
  visualize.addEventListener('click', () => {
    if (shown === null) return;
    if (last.layer === undefined) {
      showMessage('warn', 'Show the activations of a layer first.');
      return;
    }
    runWith(channelPanel, { layer: last.layer, channel: shown });
  });
  dream.addEventListener('click', () => {
    if (last?.layer === undefined) return;
    runWith(dreamPanel, { layer: last.layer });
  });
  return off;
}
