// Line plots for the registry's `plot` outputs: panel.plot = {x_label, y_label, series: [{name, points: [[x, y], …],
// highlight}]}. SVG built node by node (text via textContent), with an HTML legend.
import { el } from './ui.js';

const NS = 'http://www.w3.org/2000/svg';
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

/** About five round tick values covering [lo, hi]. */
function ticks(lo, hi) {
  const span = hi - lo;
  const raw = span / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= 5) ?? 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-2)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** A figure body for one plot: the SVG chart and its legend. */
export function renderPlot(plot, { title = '', width = 448, height = 260 } = {}) {
  const series = (plot?.series ?? []).map((s, i) => ({
    ...s, colour: COLOURS[i % COLOURS.length],
    points: (s.points ?? []).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1])),
  }));
  const all = series.flatMap((s) => s.points);
  const names = series.map((s) => s.name).join(', ');
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'plot-svg',
    'aria-label': `${title}: ${plot?.y_label ?? 'y'} against ${plot?.x_label ?? 'x'} for ${names || 'no series'}`,
  });
  const m = { l: 52, r: 12, t: 10, b: 38 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  if (all.length === 0) {
    chart.append(svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'plot-empty' }, 'No data'));
    return el('div', { class: 'plot' }, chart);
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const sx = (x) => m.l + ((x - x0) / (x1 - x0)) * w;
  const sy = (y) => m.t + h - ((y - y0) / (y1 - y0)) * h;
  const axes = svg('g', { class: 'plot-axes' });
  axes.append(svg('line', { x1: m.l, y1: m.t + h, x2: m.l + w, y2: m.t + h }), svg('line', { x1: m.l, y1: m.t, x2: m.l, y2: m.t + h }));
  for (const t of ticks(x0, x1)) {
    axes.append(svg('line', { x1: sx(t), y1: m.t + h, x2: sx(t), y2: m.t + h + 4 }));
    axes.append(svg('text', { x: sx(t), y: m.t + h + 16, 'text-anchor': 'middle' }, label(t)));
  }
  for (const t of ticks(y0, y1)) {
    axes.append(svg('line', { x1: m.l - 4, y1: sy(t), x2: m.l, y2: sy(t) }));
    axes.append(svg('line', { x1: m.l, y1: sy(t), x2: m.l + w, y2: sy(t), class: 'plot-grid' }));
    axes.append(svg('text', { x: m.l - 6, y: sy(t) + 4, 'text-anchor': 'end' }, label(t)));
  }
  axes.append(svg('text', { x: m.l + w / 2, y: height - 4, 'text-anchor': 'middle', class: 'plot-label' }, plot.x_label ?? ''));
  axes.append(svg('text', { x: 12, y: m.t + h / 2, 'text-anchor': 'middle', class: 'plot-label', transform: `rotate(-90 12 ${m.t + h / 2})` }, plot.y_label ?? ''));
  chart.append(axes);
  // Highlighted series last, so they are drawn on top.
  for (const s of [...series.filter((x) => !x.highlight), ...series.filter((x) => x.highlight)]) {
    chart.append(svg('polyline', {
      points: s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' '),
      fill: 'none', stroke: s.colour, 'stroke-width': s.highlight ? 3 : 1.5, 'stroke-linejoin': 'round',
      ...(s.dashed ? { 'stroke-dasharray': '6 4' } : {}), // e.g. faithfulness's random-order curve
    }));
  }
  const legend = el('ul', { class: 'plot-legend' }, ...series.map((s) => {
    const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = s.colour;
    return el('li', { class: s.highlight ? 'highlight' : '' }, swatch, el('span', { text: s.name ?? '' }));
  }));
  return el('div', { class: 'plot' }, chart, legend);
}
