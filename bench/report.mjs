// `node bench/report.mjs [outdir]`: one table from the results bench/bench.mk collected in bench/out/:
// native.txt (`cargo bench --bench engine`), native_peers.json (bench/native_peers.py), native_vit_peer.json
// (bench/native_vit_peer.py) and browser.json (bench/run-browser.mjs). A missing or failed part shows as such in its rows; nothing is made up.
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = process.argv[2] ?? path.join(REPO, 'bench/out');

const readJson = (name) => {
  const file = path.join(OUT, name);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return { error: `${name}: ${e.message}` };
  }
};
const readText = (file) => (existsSync(file) ? readFileSync(file, 'utf8') : null);
const run = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
};

// ---------- machine and build ----------

function machine() {
  const cpuinfo = readText('/proc/cpuinfo') ?? '';
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const flags = /flags\s*:\s*(.+)/.exec(cpuinfo)?.[1].split(' ') ?? [];
  const simd = ['avx2', 'avx512f', 'fma'].filter((f) => flags.includes(f)).join(' ');
  return `${model}, ${os.cpus().length} cores (${simd || 'no avx2'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; `
    + `load average at report ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

/** The keys of one [section] of a TOML file, as written (enough for Cargo.toml's profiles). */
function tomlSection(text, name) {
  if (!text) return {};
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim() === `[${name}]`);
  if (at < 0) return {};
  const out = {};
  for (const line of lines.slice(at + 1)) {
    if (/^\s*\[/.test(line)) break;
    const m = /^\s*([\w-]+)\s*=\s*(.+?)\s*(#.*)?$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

function buildFlags() {
  const cargo = readText(path.join(REPO, 'Cargo.toml'));
  const config = readText(path.join(REPO, '.cargo/config.toml'));
  const fmt = (o) => Object.entries(o).map(([k, v]) => `${k}=${v}`).join(' ') || '(not found)';
  const wasmFlags = tomlSection(config, 'target.wasm32-unknown-unknown').rustflags ?? '(none)';
  const wasm = path.join(REPO, 'pkg/netlens_bg.wasm');
  let size = 'pkg/netlens_bg.wasm missing';
  if (existsSync(wasm)) {
    const bytes = readFileSync(wasm);
    size = `${(bytes.length / 1e6).toFixed(2)} MB, ${(gzipSync(bytes, { level: 9 }).length / 1e6).toFixed(2)} MB gzip -9`;
  }
  return [
    `rustc: ${run('rustc', ['--version']) ?? 'unknown'}; wasm-bindgen: ${run('wasm-bindgen', ['--version']) ?? 'not installed'}`,
    `native (cargo bench, profile release): ${fmt(tomlSection(cargo, 'profile.release'))}`,
    `wasm (profile wasm): ${fmt(tomlSection(cargo, 'profile.wasm'))}; rustflags ${wasmFlags}; ${size}`,
  ];
}

// ---------- native bench text ----------

function parseNative(text) {
  if (!text) return null;
  const rows = {};
  const ops = [];
  let inOps = false;
  const runsCount = Number(/(\d+) runs after/.exec(text)?.[1] ?? NaN) || '';
  const methods = {};
  // Issue 24's ViT-B/16 rows, last in native.txt (after the per-op table): their own runs, or why they did not run.
  const vit = { notRun: null, runs: null, top1: null, forward: {} };
  for (const line of text.split('\n')) {
    if (line.startsWith('vit_b_16')) {
      const notRun = /^vit_b_16: not run \((.+)\)\s*$/.exec(line);
      const head = /top-1 (\d+) on .*?; (\d+) runs after (\d+) warm-up/.exec(line);
      const fwd = /^vit_b_16 forward \(tract\), (\d+) threads?\s+([\d.]+)\s+([\d.]+)\s*$/.exec(line);
      if (notRun) vit.notRun = notRun[1];
      if (head) Object.assign(vit, { top1: Number(head[1]), runs: Number(head[2]), warmup: Number(head[3]) });
      if (fwd) vit.forward[fwd[1]] = { median: Number(fwd[2]), min: Number(fwd[3]), runs: vit.runs };
      continue;
    }
    const mm = /^method (\S+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+) (fwd\+bwd\+fwd|fwd\+bwd|fwd)\s+([\d.]+)\s+([\d.]+)x(?:\s+([\d.]+)\s+([\d.]+)x)?\s*$/.exec(line);
    if (mm) {
      methods[mm[1]] = {
        median: Number(mm[2]), min: Number(mm[3]), runs: Number(mm[4]), passes: Number(mm[5]), kind: mm[6],
        unitAfter: mm[9] != null ? Number(mm[9]) : null,
      };
      continue;
    }
    if (/backward time per op type/.test(line)) {
      inOps = true;
      continue;
    }
    if (inOps) {
      const m = /^(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)%/.exec(line);
      if (m) ops.push({ op: m[1], nodes: Number(m[2]), ms: Number(m[3]) });
      continue;
    }
    const m = /^(.+?)\s{2,}([\d.]+)\s+([\d.]+)\s*$/.exec(line);
    if (m) rows[m[1].trim()] = { median: Number(m[2]), min: Number(m[3]), runs: runsCount };
  }
  const find = (re) => Object.entries(rows).find(([k]) => re.test(k))?.[1] ?? null;
  const runs = /(\d+) runs after (\d+) warm-up/.exec(text);
  return {
    runs: runs ? `${runs[1]} runs after ${runs[2]} warm-up` : '?',
    forward: find(/^forward \(tract/),
    forwardRecording: find(/^forward \(recording/),
    backward: find(/^backward/),
    forwardBackward: find(/^forward \+ backward/),
    fooling: find(/fooling iteration/),
    classviz: find(/class-visualization iteration/),
    channelViz: Object.fromEntries(['features.4', 'features.7', 'features.10', 'features.12'].map((l) => [l, find(new RegExp(`channel-viz iteration at ${l.replace('.', '\\.')}$`))])),
    methods,
    ops,
    vit,
  };
}

// ---------- passes per method (issue 7) ----------

// Each method's row compares it with its passes × its unit (a forward + backward, or a forward where its
// declaration says a pass is one): both come from the run itself (`passes` in its report, `kind` from the
// declaration), never from a table here.
const scaled = (t, n) => (stat(t) ? { median: n * t.median, min: n * t.min, runs: t.runs } : t ?? missing('not measured'));
// A method's unit by its kind: a forward, a forward + backward, or a forward + backward and one more forward (LRP's
// z⁺ evaluates every convolution again: its declared pass cost is 3 forward passes).
const unitOf = (kind, fwd, fb) => {
  if (kind === 'fwd') return fwd;
  if (kind !== 'fwd+bwd+fwd') return fb;
  return stat(fwd) && stat(fb) ? { median: fb.median + fwd.median, min: fb.min + fwd.min, runs: fb.runs } : missing('not measured');
};

// ---------- table ----------

const rows = [];
const ms = (v) => (v == null ? '–' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);
const stat = (s) => (s && !s.error && s.median != null ? s : null);

/** One row; `peer` is [name, stats] or null; the ratio is netlens median / peer median. */
function row(what, ours, peer = null, goal = '') {
  const o = stat(ours);
  const p = peer && stat(peer[1]);
  rows.push([
    what,
    o ? ms(o.median) : (ours?.missing ?? 'not measured'),
    o ? ms(o.min) : '',
    o ? String(o.runs ?? '') : '',
    peer ? peer[0] : '',
    p ? ms(p.median) : (peer ? (peer[1]?.missing ?? 'not measured') : ''),
    p ? ms(p.min) : '',
    o && p ? `${(o.median / p.median).toFixed(2)}×` : '',
    goal,
  ]);
}
const section = (title) => rows.push([`— ${title}`, '', '', '', '', '', '', '', '']);
const missing = (why) => ({ missing: why });

function printTable() {
  const head = ['measurement', 'netlens median', 'min', 'n', 'peer', 'peer median', 'min', 'netlens/peer', 'goal'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

function main() {
  const browser = readJson('browser.json');
  const peersNative = readJson('native_peers.json');
  const torchPeer = readJson('pytorch_classviz.json');
  const native = parseNative(readText(path.join(OUT, 'native.txt')));
  const s = browser?.suites ?? {};
  const nl = s.netlens?.error ? null : s.netlens;
  const nlError = s.netlens?.error ?? '';
  const nlMissing = missing(nlError.startsWith('not built') ? 'not built' : nlError ? 'suite failed' : browser ? 'not run' : 'browser not run');
  const nlOr = (v, why = 'not in wasm API') => (nl ? (v ?? missing(why)) : nlMissing);
  // A peer whose output disagrees with the reference computes something else: its time is not shown.
  const ortOk = (o) => o?.checks && o.checks.top1 === o.checks.top1Ref && o.checks.maxAbsErr <= 1e-3 * o.checks.refMaxAbs;
  const ortTime = (o) => (o?.error ? missing('ORT failed') : !o ? missing('not run') : ortOk(o) ? o.forward : missing('CHECK FAILED'));
  const ort1 = ortTime(s.ort1);
  const ort2 = ortTime(s.ort2);
  const tfOk = (c) => c.top1 === c.top1Ref && c.chelseaTop1 === 285 && c.logitsMaxAbsErr <= 1e-3 * c.logitsRefMaxAbs
    && c.gradMaxAbsErr <= 1e-3 * c.gradRefMaxAbs;
  // The faster of TF.js's two builds of the same graph (fused conv+bias+relu as tfjs-converter does, or plain ops).
  const tfBest = (suite, key) => {
    const v = suite?.variants;
    if (!v) return [`TF.js wasm`, missing(suite?.error ? 'TF.js failed' : 'not run')];
    const trusted = Object.entries(v).filter(([, r]) => tfOk(r.checks));
    if (!trusted.length) return ['TF.js wasm', missing('CHECK FAILED')];
    const [name, best] = trusted.sort((a, b) => a[1][key].median - b[1][key].median)[0];
    return [`TF.js wasm 1t (${name})`, best[key]];
  };
  const tfFwd = tfBest(s.tfjs1, 'forward');
  const tfGrad = tfBest(s.tfjs1, 'forwardGradient');
  const st = s.startup?.error ? null : s.startup;
  for (const [name, suite] of Object.entries(s)) {
    if (suite?.error) console.error(`bench: suite ${name} failed: ${suite.error.split('\n')[0]}`);
  }

  console.log('netlens benchmark — SqueezeNet 1.1, 1×3×224×224, float32');
  console.log(`machine: ${machine()}`);
  const load = (l) => (l ? l.map((x) => x.toFixed(2)).join(' ') : '?');
  console.log(`browser: ${browser?.browser ?? 'not run'} (headless, playwright-core; one page per suite, wasm SIMD); `
    + `load average before/after the browser run ${load(browser?.loadBefore)} / ${load(browser?.loadAfter)}`);
  for (const l of buildFlags()) console.log(`build: ${l}`);
  console.log(`runs: browser median/min of ${browser?.runs ?? '?'} after 3 warm-up (class-viz iteration: 100 steps of one run; methods at defaults: 1 warm-up, n as shown; page compare view: n runs after the tab's first run); `
    + `native ${native?.runs ?? 'not run'}; times are wall clock on a shared 2-core machine`);
  console.log('');

  section('browser (headless Chromium)');
  row('wasm compile (WebAssembly.compile)', nlOr(nl?.wasmCompile));
  row('wasm start-up (init, fresh page, HTTP cache)', st ? st.wasmInit : missing('not run'));
  row('model load (new NetLens)', nlOr(nl?.modelLoad), ['ORT session create (n=1)', s.ort1?.createMs != null ? { median: s.ort1.createMs, min: s.ort1.createMs, runs: 1 } : missing('not run')]);
  row('bench page: navigation → first classification', st ? st.navigationToFirstClass : missing('not run'));
  row('page: load → first top-5 shown (HTTP cache)', browser?.page?.load?.warmCache ?? missing(browser?.page?.error ? 'page failed' : 'not run'), null, '≤ 2 s');
  row('forward (classify)', nlOr(nl?.forward), ['ORT web wasm 1t', ort1], '≤ 1.0× ORT (issue 13)');
  row('forward (classify)', nlOr(nl?.forward), ['ORT web wasm 2t (COI)', ort2]);
  row('forward (classify)', nlOr(nl?.forward), tfFwd);
  row('forward only (tract)', nlOr(nl?.forwardOnly));
  row('forward + backward', nlOr(nl?.forwardBackward), tfGrad, '≤ 57 ms (issue 13); ≤ 0.25× TF.js');
  if (stat(nl?.forwardBackward) && stat(nl?.forward)) {
    rows.push(['forward+backward / forward (browser)', `${(nl.forwardBackward.median / (nl.forwardOnly ?? nl.forward).median).toFixed(2)}×`, '', '', '', '', '', '', '≤ 2.5×']);
  }
  row('saliency end to end (incl. heatmap, overlay)', nlOr(nl?.saliency), tfGrad);
  row('one fooling iteration', nlOr(nl?.foolingIteration));
  const fbBrowserEarly = nl?.forwardBackward;
  row('one class-viz iteration (+frame, probs)', nlOr(nl?.classVizIteration));
  for (const [layer, t] of Object.entries(nl?.channelViz ?? {})) {
    row(`one channel-viz iteration at ${layer} (+frame)`, nlOr(t), ['fwd+bwd', fbBrowserEarly], 'shallow < deep, < fwd+bwd');
  }
  row('class viz 100 it., bench loop (n=1)', nlOr(nl?.classVizRun100Loop));
  row('class viz 100 it., page button → done (page\'s own build)', browser?.page?.classViz ?? missing(browser?.page?.error ? 'page failed' : 'not run'), null, '≤ 5 s (issue 13)');
  // The page per wasm build and thread count (docs/performance.md: Threads in the page), timed in its engine worker.
  const pageBuilds = browser?.page?.builds ?? [];
  if (!pageBuilds.length) row('page per build and thread count', missing(browser?.page?.error ? 'page failed' : 'not run'));
  for (const b of pageBuilds) {
    const label = `page ${b.build.build} build ×${b.build.threads}${b.query ? ` (${b.query})` : ' (its own choice)'}`;
    const ort = b.build.threads >= 2 ? ['ORT web wasm 2t (COI)', ort2] : ['ORT web wasm 1t', ort1];
    row(`${label}: forward`, b.forward, ort, '≤ 1.0× ORT, same threads');
    row(`${label}: forward + backward`, b.forwardBackward);
    row(`${label}: class viz 100 it., button → done`, b.classViz, null, '≤ 5 s');
    const mem = b.memory;
    if (mem?.afterFirst && mem?.afterLast) {
      rows.push([`${label}: wasm memory after ${mem.runs} class-viz runs / after 1`, `${(mem.afterLast / mem.afterFirst).toFixed(2)}×`,
        '', '', `${(mem.afterFirst / 2 ** 20).toFixed(0)} → ${(mem.afterLast / 2 ** 20).toFixed(0)} MiB`, '', '', '', '≤ 1.1×']);
    }
  }
  // Threads without headers (issue 28; docs/publish.md): `make dist` on a plain static server, cross-origin
  // isolated by its service worker, against the header-isolated page's own choice timed right before it.
  const hl = browser?.page?.headerless;
  if (hl) {
    const iso = pageBuilds[0];
    const isoName = iso ? `header-isolated page ${iso.build.build} ×${iso.build.threads}` : 'header-isolated page';
    const label = hl.error ? 'header-less page (make dist, service worker)'
      : `header-less page (make dist, plain server, service worker) ${hl.build.build} ×${hl.build.threads}`;
    row(`${label}: forward + backward`, hl.error ? missing('failed') : hl.forwardBackward, [isoName, iso?.forwardBackward], '≤ 1.1× header-isolated');
    row(`${label}: class viz 100 it., button → done`, hl.error ? missing('failed') : hl.classViz, [isoName, iso?.classViz], '≤ 1.1× header-isolated');
  }
  // Issue 13's forward goal, timed alternately with onnxruntime-web (run-browser.mjs forwardDuel).
  for (const d of browser?.page?.forwardDuels ?? []) {
    const label = `page forward ×${d.threads} (${d.query}), alternating with ORT, ${d.rounds ?? '?'} rounds`;
    if (d.error) row(label, missing('failed'));
    else row(label, d.page, [`ORT web wasm ${d.threads}t${d.threads > 1 ? ' (COI)' : ''}, alternating`, d.ort], '≤ 1.0× ORT, same threads (issue 13)');
  }
  row('image decode (a fresh Image per run)', nlOr(nl?.imageDecode));
  const fbBrowser = nl?.forwardBackward;
  const fwdBrowser = nl?.forwardOnly ?? nl?.forward;
  for (const [id, m] of Object.entries(nl?.methods ?? {}).filter(([, m]) => m.passes)) {
    const unit = unitOf(m.kind, fwdBrowser, fbBrowser);
    row(`${id} at defaults (start+steps+panels)`, m, [`${m.passes} × ${m.kind}`, scaled(unit, m.passes)], '≤ 1.2×');
  }
  const pageMissing = missing(browser?.page?.error ? 'page failed' : 'not run');
  const cmp = browser?.page?.compare;
  const workers = cmp?.workers ? `, ${cmp.workers} worker${cmp.workers > 1 ? 's' : ''}` : '';
  row(`compare view (${cmp?.methods?.length ?? '?'} methods${workers}), page button → all maps`, cmp ?? pageMissing, null, '≤ 15 s');
  row('compare view, page\'s own start → last map', cmp?.pageStartToLastMap ?? pageMissing);
  // Live camera mode (issue 26): frames/s drawn (as the period between frames, and as a rate) and the median
  // camera frame → overlay latency, from Chromium's fake camera showing chelsea.
  const live = browser?.page?.live;
  if (!live) row('live mode (fake camera)', pageMissing);
  for (const l of live ?? []) {
    if (l.error) {
      row(`live ${l.query}`, missing('failed'));
      continue;
    }
    const label = `live ${l.method ?? 'top-5 only'}, page ${l.build.build} ×${l.build.threads}`;
    const single = l.build.build === 'single';
    const goal = l.method === 'saliency' ? (single ? '≥ 8 fps' : '≥ 15 fps') : '';
    rows.push([`${label}: frames/s`, `${l.fps.toFixed(1)} fps`, '', String(l.frames), '', '', '', '', goal]);
    row(`${label}: camera frame → overlay latency`, l.latency, null, l.method === 'saliency' && !single ? '≤ 100 ms' : '');
    row(`${label}: engine time per frame (worker)`, l.engine);
  }
  const bo = nl?.backwardByOp;
  if (bo) {
    row('backward (per-op callbacks)', { median: bo.backwardMs, min: bo.backwardMs, runs: bo.runs });
    for (const o of bo.ops) row(`  backward ${o.op} ×${o.nodes} (mean)`, { median: o.ms, min: o.ms, runs: bo.runs });
  } else {
    row('backward per op type', nlOr(null, 'needs backwardTimed binding'));
  }
  const fo = nl?.forwardByOp;
  if (fo) {
    row('forward (per-op callbacks, tract\'s plan)', { median: fo.forwardMs, min: fo.forwardMs, runs: fo.runs });
    for (const o of fo.ops.filter((o) => o.ms >= 0.05)) row(`  forward ${o.op} ×${o.nodes} (mean)`, { median: o.ms, min: o.ms, runs: fo.runs });
  }

  section('native (cargo bench --bench engine; peer: onnxruntime CPU)');
  const nativeMissing = missing('native bench not run');
  const n = (v) => (native ? v ?? missing('not printed') : nativeMissing);
  const ortN = (t) => {
    const r = peersNative?.results?.[t];
    if (!r) return missing('native peer not run');
    const ok = r.top1 === r.top1_reference && r.max_abs_err_vs_reference <= 1e-3 * (r.reference_max_abs ?? NaN);
    return ok ? r.forward : missing('CHECK FAILED');
  };
  row('forward (tract)', n(native?.forward), [`onnxruntime ${peersNative?.onnxruntime ?? ''} 1t`, ortN('threads1')]);
  row('forward (tract)', n(native?.forward), [`onnxruntime ${peersNative?.onnxruntime ?? ''} 2t`, ortN('threads2')]);
  row('forward (recording activations)', n(native?.forwardRecording));
  row('backward', n(native?.backward));
  row('forward + backward', n(native?.forwardBackward), null, '≤ 2.5× forward');
  if (native?.forwardBackward && native?.forward) {
    rows.push(['forward+backward / forward (native)', `${(native.forwardBackward.median / native.forward.median).toFixed(2)}×`, '', '', '', '', '', '', '≤ 2.5×']);
  }
  row('one fooling iteration', n(native?.fooling));
  row('one class-viz iteration', n(native?.classviz), null, '≤ ~40 ms (PyTorch CPU)');
  // Issue 13: the CLI's whole 100-iteration class visualization (process start to PNG) vs PyTorch's loop alone.
  const torchOk = torchPeer && torchPeer.max_abs_err_vs_reference <= 1e-3 * torchPeer.reference_max_abs
    && torchPeer.class_score_after > torchPeer.class_score_noise;
  for (const t of [1, 2]) {
    const r = torchPeer?.results?.[`threads${t}`];
    const sec = (v) => v && { median: v.median * 1e3, min: v.min * 1e3, runs: torchPeer.runs };
    const peer = !torchPeer ? missing('PyTorch peer not run') : torchOk ? sec(r?.pytorch_s) : missing('CHECK FAILED');
    row(`CLI class viz 100 it. (whole process), ${t}t`, r ? sec(r.netlens_cli_s) : missing('not run'),
      [`PyTorch ${torchPeer?.torch ?? ''} loop ${t}t`, peer], '≤ 0.6× PyTorch, same threads');
  }
  // Issue 10: a channel-visualization iteration at each depth vs one full forward + backward.
  for (const [layer, t] of Object.entries(native?.channelViz ?? {})) {
    row(`one channel-viz iteration at ${layer}`, n(t), ['fwd+bwd', n(native?.forwardBackward)], 'shallow < deep, < fwd+bwd');
  }
  for (const [id, m] of Object.entries(native?.methods ?? {})) {
    const unit = unitOf(m.kind, native?.forward, native?.forwardBackward);
    row(`${id} at defaults (run_to_end+panels)`, n(m), [`${m.passes} × ${m.kind}`, scaled(unit, m.passes)], '≤ 1.2×');
  }
  for (const o of native?.ops ?? []) row(`  backward ${o.op} ×${o.nodes} (mean)`, { median: o.ms, min: o.ms, runs: native.runs.split(' ')[0] });

  // Issue 24: a ViT-B/16 (346 MB; torchvision's vit_b_16 with seeded random weights, bench/vit_model.py).
  section('ViT-B/16 (346 MB, random weights; issue 24)');
  const vit = browser?.vit;
  const vitOk = (c) => c && c.top1 === c.top1Netlens && c.maxAbsErr <= 1e-3 * c.netlensMaxAbs;
  const vitWhy = !browser ? 'browser not run' : !vit ? 'not run' : vit.error ? (vit.error.includes('missing') ? 'model missing' : 'failed') : null;
  if (vitWhy) row('page ViT forward', missing(vitWhy), ['ORT web wasm', missing(vitWhy)], '≤ 1.0× ORT, same threads');
  for (const r of vit?.error ? [] : vit?.rows ?? []) {
    if (r.error) {
      row(`page ViT forward ×${r.threads} (${r.query.replace(/^.*&/, '?')})`, missing('failed'));
      continue;
    }
    const label = `page ViT forward, ${r.build.build} build ×${r.threads}`;
    const ortOkAll = r.checks.length > 0 && r.checks.every(vitOk);
    row(`${label}, alternating with ORT, ${vit.rounds} rounds`, r.page.forward,
      [`ORT web wasm ${r.threads}t${r.threads > 1 ? ' (COI)' : ''}, alternating`, ortOkAll ? r.ort : missing('CHECK FAILED')], '≤ 1.0× ORT, same threads');
    row(`page ViT forward + input gradient, ${r.build.build} build ×${r.threads}`, r.page.forwardBackward,
      [`page ViT forward ×${r.threads}`, r.page.forward], '≤ 2.5× forward');
  }
  const vitPeer = readJson('native_vit_peer.json');
  const nv = native?.vit;
  const nvWhy = !native ? 'native bench not run' : nv?.notRun || nv?.runs == null ? 'not run' : null;
  const ortVit = (t) => {
    const r = vitPeer?.results?.[`threads${t}`];
    if (!vitPeer) return missing('native peer not run');
    if (vitPeer.error || !r?.forward) return missing('not run');
    if (r.top1_netlens == null) return missing('not checked');
    const ok = r.top1 === r.top1_netlens && r.max_abs_err_vs_netlens != null && r.max_abs_err_vs_netlens <= 1e-3 * r.netlens_max_abs;
    return ok ? r.forward : missing('CHECK FAILED');
  };
  for (const t of [1, 2]) {
    row(`ViT forward (tract, native), ${t} thread${t > 1 ? 's' : ''}`, nvWhy ? missing(nvWhy) : nv?.forward?.[t] ?? missing('not printed'),
      [`onnxruntime ${vitPeer?.onnxruntime ?? ''} ${t}t`, ortVit(t)]);
  }

  section('peers on their own (browser)');
  row('ORT web 1t forward', ort1);
  row('ORT web 2t forward (cross-origin isolated)', ort2);
  for (const [label, suite] of [['TF.js 1t', s.tfjs1], ['TF.js 2t req. (COI)', s.tfjs2]]) {
    for (const [variant, v] of Object.entries(suite?.variants ?? {})) {
      const ok = tfOk(v.checks);
      row(`${label} ${variant} forward`, ok ? v.forward : missing('CHECK FAILED'));
      row(`${label} ${variant} forward + input gradient`, ok ? v.forwardGradient : missing('CHECK FAILED'));
    }
  }
  printTable();

  console.log('');
  console.log('peer checks (before trusting their times):');
  for (const [name, o] of [['ORT web 1t', s.ort1], ['ORT web 2t', s.ort2]]) {
    if (o?.checks) console.log(`  ${name} ${o.version} ${ortOk(o) ? 'OK' : 'CHECK FAILED'}: logits max |Δ| vs output_0.npy ${o.checks.maxAbsErr.toExponential(2)} (max |logit| ${o.checks.refMaxAbs.toFixed(1)}), top-1 ${o.checks.top1} (ref ${o.checks.top1Ref}); threads ${o.threads}, crossOriginIsolated ${o.crossOriginIsolated}`);
    else if (o?.error) console.log(`  ${name}: FAILED ${o.error.split('\n')[0]}`);
  }
  for (const [name, o] of [['TF.js 1t', s.tfjs1], ['TF.js 2t req.', s.tfjs2]]) {
    if (o?.error) {
      console.log(`  ${name}: FAILED ${o.error.split('\n')[0]}`);
      continue;
    }
    for (const [variant, v] of Object.entries(o?.variants ?? {})) {
      const c = v.checks;
      console.log(`  ${name} ${variant} ${tfOk(c) ? 'OK' : 'CHECK FAILED'} (${o.env.version}, backend ${o.env.backend}, simd ${o.env.simd}, threads ${o.env.threads}): `
        + `logits max |Δ| ${c.logitsMaxAbsErr.toExponential(2)} (max |logit| ${c.logitsRefMaxAbs.toFixed(1)}), top-1 ${c.top1} (ref ${c.top1Ref}); `
        + `chelsea top-1 ${c.chelseaTop1}; grad_chelsea_285 max |Δ| ${c.gradMaxAbsErr.toExponential(2)} (max |grad| ${c.gradRefMaxAbs.toFixed(3)})`);
    }
  }
  for (const [t, r] of Object.entries(peersNative?.results ?? {})) {
    console.log(`  onnxruntime native ${t}: logits max |Δ| ${r.max_abs_err_vs_reference.toExponential(2)}, top-1 ${r.top1} (ref ${r.top1_reference})`);
  }
  if (vit?.error) console.log(`  ViT-B/16 in the browser: not run: ${vit.error.split('\n')[0]}`);
  for (const r of vit?.error ? [] : vit?.rows ?? []) {
    if (r.error) {
      console.log(`  ViT-B/16 page ×${r.threads} (${r.query}): FAILED ${r.error.split('\n')[0]}`);
      continue;
    }
    // One line per distinct outcome (each round's session gives the same numbers unless something is wrong).
    const c = [...new Set(r.checks.map((k) => `${vitOk(k) ? 'OK' : 'CHECK FAILED'}: top-1 ${k.top1} (netlens ${k.top1Netlens}), max |Δ| ${k.maxAbsErr.toExponential(2)} (max |logit| ${k.netlensMaxAbs.toFixed(2)})`))];
    console.log(`  ViT-B/16 ORT web ${r.ortInfo?.version} ×${r.ortInfo?.threads} (crossOriginIsolated ${r.ortInfo?.crossOriginIsolated}; ${r.ortInfo?.warmup} warm-up + ${vit.runs} runs a round), its centred logits vs netlens's (wasm, chelsea_224), ${r.checks.length} rounds: ${c.join('; ')}`);
    console.log(`  ViT-B/16 page ${r.query}: ${r.build.build} build ×${r.build.threads}, ready in ${r.readyS.toFixed(1)} s; ${vit.rounds} rounds of 3 warm-up + ${vit.runs} runs (forward, then forward + input gradient of class 285)`);
  }
  if (vit?.loadBefore) console.log(`  ViT-B/16 browser part: load average before/after ${load(vit.loadBefore)} / ${load(vit.loadAfter)}`);
  if (nv?.notRun) console.log(`  ViT-B/16 native: not run: ${nv.notRun}`);
  else if (native && nv?.runs == null) console.log('  ViT-B/16 native: not run: native.txt has no ViT-B/16 rows');
  else if (nv?.runs) console.log(`  ViT-B/16 native: netlens top-1 ${nv.top1} on input_0.npy, ${nv.runs} runs after ${nv.warmup} warm-up, 1 and 2 threads taking turns`);
  if (vitPeer?.error) console.log(`  ViT-B/16 onnxruntime native: not run: ${vitPeer.error}`);
  if (vitPeer?.netlens_logits) console.log(`  ViT-B/16 onnxruntime native: ${vitPeer.netlens_logits}`);
  for (const [t, r] of Object.entries(vitPeer?.error ? {} : vitPeer?.results ?? {})) {
    const checked = r.top1_netlens != null;
    console.log(`  ViT-B/16 onnxruntime native ${t} (${vitPeer.runs} runs after ${vitPeer.warmup} warm-up, taking turns): top-1 ${r.top1}`
      + (checked ? ` (netlens ${r.top1_netlens}), logits max |Δ| vs netlens ${r.max_abs_err_vs_netlens?.toExponential(2)} (max |logit| ${r.netlens_max_abs.toFixed(2)})` : ', not checked'));
  }
  if (nl?.methods) {
    const own = Object.entries(nl.methods).map(([id, m]) => `${id} ${m.passes ?? '–'}`);
    console.log(`  netlens methods: passes by their own report: ${own.join(', ')}; class explained: ${[...new Set(Object.values(nl.methods).map((m) => m.class))].join(', ')}`);
  }
  // The ratios again, each against its unit timed right next to it (the load of the shared machine drifts).
  const nearRatios = (get) => Object.keys({ ...nl?.methods, ...native?.methods }).map((id) => {
    const r = get(id);
    return r ? `${id} ${r.toFixed(2)}×` : null;
  }).filter(Boolean).join(', ');
  const nearB = nearRatios((id) => {
    const m = nl?.methods?.[id];
    return stat(m) && stat(m.unitJustBefore) && m.passes ? m.median / (m.passes * m.unitJustBefore.median) : null;
  });
  if (nearB) console.log(`  browser method ratios vs the unit timed just before each (5 runs): ${nearB}`);
  const nearN = nearRatios((id) => {
    const m = native?.methods?.[id];
    return m?.unitAfter && m.passes ? m.median / (m.passes * m.unitAfter) : null;
  });
  if (nearN) console.log(`  native method ratios vs the unit timed just after each (5 runs): ${nearN}`);
  if (cmp?.methods) console.log(`  page compare view: class ${cmp.class}, methods ${cmp.methods.join(', ')}`);
  if (nl) {
    console.log(`  netlens: chelsea top-1 ${nl.checks.top1}; bindings present: ${Object.entries(nl.available).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ')}`);
  }
  if (peersNative?.error) console.log(`  native peers: ${peersNative.error}`);
  if (torchPeer) {
    console.log(`  PyTorch ${torchPeer.torch} ${torchOk ? 'OK' : 'CHECK FAILED'}: the ONNX graph run with torch.nn.functional, logits max |Δ| vs output_0.npy ${torchPeer.max_abs_err_vs_reference.toExponential(2)} (max |logit| ${torchPeer.reference_max_abs.toFixed(1)}); class 76 score ${torchPeer.class_score_noise?.toFixed(1)} (noise) → ${torchPeer.class_score_after?.toFixed(1)} after its 100 iterations`);
  }
}

main();
