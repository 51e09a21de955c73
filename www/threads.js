// Which wasm build the engine worker loads, and with how many threads (docs/performance.md: Threads in the page). One
// function, so that anything starting several engines (a worker pool) can divide the cores between them.
//
// The threaded build (pkg/threads/) needs shared memory, which browsers give only to cross-origin isolated pages
// (COOP same-origin + COEP require-corp, which `make run` sends); otherwise the single-thread build (pkg/) runs.
// Overrides in the page's address: ?threads=1 (the single-thread build), ?threads=N (N threads),
// ?build=single|threads (that build; ?build=threads&threads=1 is the threaded build on one thread, for the bench).

/** The most threads one engine uses: past this a 224×224 network's layers are too small to split further. */
export const MAX_THREADS = 8;

/**
 * @param {object} o
 * @param {boolean} o.isolated  crossOriginIsolated, and SharedArrayBuffer exists
 * @param {number} o.cores      navigator.hardwareConcurrency (0 or undefined when the browser hides it)
 * @param {string|null} [o.build]    the ?build= override
 * @param {string|null} [o.threads]  the ?threads= override
 * @param {number} [o.engines]  how many engines share the cores (a pool); each gets its part
 * @returns {{build: 'threads'|'single', threads: number, why: string}}
 */
export function pickEngine({ isolated, cores, build = null, threads = null, engines = 1 }) {
  const asked = Number.parseInt(threads ?? '', 10);
  const wanted = Number.isInteger(asked) && asked > 0 ? Math.min(asked, MAX_THREADS) : null;
  if (build === 'single') return { build: 'single', threads: 1, why: 'asked for (?build=single)' };
  if (!isolated) {
    return { build: 'single', threads: 1, why: 'the page is not cross-origin isolated (no COOP/COEP headers)' };
  }
  if (wanted === 1 && build !== 'threads') return { build: 'single', threads: 1, why: 'asked for (?threads=1)' };
  const share = Math.max(1, Math.floor((cores || 1) / Math.max(1, engines)));
  const n = wanted ?? Math.min(share, MAX_THREADS);
  if (n <= 1 && build !== 'threads') return { build: 'single', threads: 1, why: 'one core' };
  return { build: 'threads', threads: n, why: wanted ? 'asked for (?threads=)' : 'cores' };
}
