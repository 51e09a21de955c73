// Median and minimum of `runs` timed calls after `warmup` untimed ones. `prepare` (untimed) builds each call's state.
export async function measure(body, { warmup = 3, runs = 10, prepare = () => undefined, cleanup = () => {} } = {}) {
  for (let i = 0; i < warmup; i++) {
    const state = await prepare();
    await body(state);
    cleanup(state);
  }
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const state = await prepare();
    const start = performance.now();
    await body(state);
    ms.push(performance.now() - start);
    cleanup(state);
  }
  return summarize(ms);
}

export function summarize(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], runs: sorted.length, samples: ms };
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a) {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

export function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
