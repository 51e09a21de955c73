// The activation browser on top of the `activations` method's panel: click a channel of the grid (or pick it from
// the list) to see its map over the image, then visualize that channel or DeepDream its layer. The grid geometry is
// the engine's: tiles of H × W with a 1-pixel gap, ceil(√C) columns, in `report.channels` order.
import { emit, on } from './bus.js';
import { input } from './input.js';
import { updateShareLink } from './state.js';
import { $, el, showMessage, SIZE, inputSize } from './ui.js';

// Inferno, 6 stops (as the engine's heatmaps).
const STOPS = [[0, 0, 4], [66, 10, 104], [147, 38, 103], [221, 81, 58], [252, 165, 10], [252, 255, 164]];

function inferno(t) {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  return STOPS[i].map((a, k) => a + (STOPS[i + 1][k] - a) * f);
}

/** One channel's h × w values upsampled (bilinear, half-pixel centres) over the W × H input image. */
function overlay(values, h, w, image) {
  const [W, H] = [inputSize.width, inputSize.height];
  let max = 0;
  for (const v of values) max = Math.max(max, v);
  const out = new Uint8ClampedArray(W * H * 4);
  const at = (o, n, N) => {
    const s = Math.max(0, ((o + 0.5) * n) / N - 0.5);
    const i0 = Math.min(n - 1, Math.floor(s));
    return [i0, Math.min(n - 1, i0 + 1), s - i0];
  };
  for (let y = 0; y < H; y++) {
    const [y0, y1, fy] = at(y, h, H);
    for (let x = 0; x < W; x++) {
      const [x0, x1, fx] = at(x, w, W);
      const top = values[y0 * w + x0] * (1 - fx) + values[y0 * w + x1] * fx;
      const bottom = values[y1 * w + x0] * (1 - fx) + values[y1 * w + x1] * fx;
      const t = max > 0 ? Math.max(0, top * (1 - fy) + bottom * fy) / max : 0;
      const [r, g, b] = inferno(t);
      const k = (y * W + x) * 4;
      const a = 0.25 + 0.65 * t; // strong activations cover the image, weak ones let it show
      out[k] = image[k] * (1 - a) + r * a;
      out[k + 1] = image[k + 1] * (1 - a) + g * a;
      out[k + 2] = image[k + 2] * (1 - a) + b * a;
      out[k + 3] = 255;
    }
  }
  return out;
}

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

  let last = null; // {raw, c, h, w, cols, order: [channel…], layer}
  let shown = null;

  function showChannel(channel) {
    if (!last || !input.current) return;
    const { raw, h, w } = last;
    const values = raw.subarray(channel * h * w, (channel + 1) * h * w);
    const rgba = overlay(values, h, w, input.current.rgba);
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
      raw: g.raw, c, h, w, cols: Math.ceil(Math.sqrt(c)), order, layer: report.layer,
      info: new Map((report.channels ?? []).map((x) => [x.channel, x])),
    };
    pick.replaceChildren(...(report.channels ?? []).map((x) => el('option', { value: String(x.channel), text: `#${x.channel} (mean ${x.mean.toFixed(2)})` })));
    pick.disabled = false;
    layers.replaceChildren(...(report.layers ?? []).map((l) => el('option', { value: l.name, label: `${l.name} [${l.shape.join('×')}]` })));
    if (order.length) showChannel(order[0]);
  });

  grid.addEventListener('click', (e) => {
    if (!last) return;
    const r = grid.getBoundingClientRect();
    const x = Math.floor(((e.clientX - r.left) / r.width) * grid.width);
    const y = Math.floor(((e.clientY - r.top) / r.height) * grid.height);
    const col = Math.floor(x / (last.w + 1));
    const row = Math.floor(y / (last.h + 1));
    if (x % (last.w + 1) >= last.w || y % (last.h + 1) >= last.h || col >= last.cols) return; // a gap
    const slot = row * last.cols + col;
    if (slot < last.order.length) showChannel(last.order[slot]);
  });
  grid.style.cursor = 'crosshair';
  pick.addEventListener('change', () => showChannel(Number(pick.value)));

  function runWith(target, values) {
    Object.assign(target.values, values);
    target.writeFields();
    show(target.method.id);
    updateShareLink();
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
