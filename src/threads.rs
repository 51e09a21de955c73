//! How many cores the build uses: tract's matrix products (the forward pass) and our VJPs share rayon's global
//! pool. Natively the count comes from `NETLENS_THREADS`, else the machine (`available_parallelism`); the CLI's
//! `--threads` sets it before the model loads. The page's single-thread wasm build has no threads: everything here
//! runs on the caller. The threaded wasm build (feature `wasm-threads`, pkg/threads/) gets its pool from
//! wasm-bindgen-rayon: the worker awaits `initThreadPool(n)`, then calls `useThreads(n)` (src/wasm.rs), which
//! lands in [`set_threads`]; until then it runs on one thread, and rayon is never touched (asking rayon anything
//! first would start a one-thread global pool that `initThreadPool` could then not replace).
//!
//! Determinism: work is split only where every output element is still computed by one task, in the same order
//! as with one thread (the VJPs' matrix products: bands of columns; col2im, pools and ReLU: planes / element
//! ranges; the forward's max pool: planes), so results are
//! bit-identical whatever the thread count (tests/threads.rs checks 1 against 2 and 3 threads; the browser tests
//! check the page's threaded build against the CLI).
//!
//! Callers outside the pool (the CLI's main thread, the page's engine worker) run their work through
//! [`on_pool`], so that the splits inside it cost a hand-over between pool threads, not a wake-up of the pool.

/// Elements below which a split does not pay for waking the other threads.
pub const MIN_SPLIT: usize = 32 * 1024;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use tract_linalg::multithread::{set_default_executor, Executor};

    static CONFIGURED: Mutex<bool> = Mutex::new(false);
    static THREADS: AtomicUsize = AtomicUsize::new(0);

    /// The count asked for: `NETLENS_THREADS` when it is a positive integer, else the machine's cores.
    pub fn wanted() -> usize {
        std::env::var("NETLENS_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Sets up rayon's global pool with `n` threads (once per process; later calls keep the first count) and
    /// points tract at it. Returns the count in use.
    pub fn set(n: usize) -> usize {
        let mut configured = CONFIGURED.lock().unwrap_or_else(|e| e.into_inner());
        if !*configured {
            *configured = true;
            // Fails only if something already started the global pool; then it keeps the size it has.
            // The main thread's stack size: the CLI runs its commands on a pool thread (`on_pool`).
            let _ = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).stack_size(8 << 20).build_global();
            let got = rayon::current_num_threads();
            set_default_executor(if got > 1 { Executor::RayonGlobal } else { Executor::SingleThread });
            THREADS.store(got, Ordering::Relaxed);
        }
        THREADS.load(Ordering::Relaxed)
    }

    /// Threads available to the current computation: the global pool's, or a local pool's inside its `install`.
    pub fn current() -> usize {
        if !*CONFIGURED.lock().unwrap_or_else(|e| e.into_inner()) {
            set(wanted());
        }
        rayon::current_num_threads()
    }
}

#[cfg(all(target_arch = "wasm32", feature = "wasm-threads"))]
mod web {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};

    use tract_linalg::multithread::{set_default_executor, Executor};

    /// Rounds of finding no work after which a spinner stops ([`run_on_pool`]): a few milliseconds.
    const SPIN_IDLE_ROUNDS: u32 = 1 << 16;
    /// Whether [`run_on_pool`] spins the other threads ([`super::set_spinning`]).
    pub static SPIN: AtomicBool = AtomicBool::new(true);

    /// 1 until the page's pool is up; then rayon's global pool size.
    static THREADS: AtomicUsize = AtomicUsize::new(1);

    /// Called once wasm-bindgen-rayon's `initThreadPool(n)` has resolved (rayon's global pool exists); a second
    /// call keeps the pool it has. Returns the count in use.
    pub fn set(n: usize) -> usize {
        if n > 1 && THREADS.load(Ordering::Relaxed) == 1 {
            let got = rayon::current_num_threads();
            set_default_executor(if got > 1 { Executor::RayonGlobal } else { Executor::SingleThread });
            THREADS.store(got, Ordering::Relaxed);
        }
        THREADS.load(Ordering::Relaxed)
    }

    pub fn current() -> usize {
        THREADS.load(Ordering::Relaxed)
    }

    /// Set by the panic and allocation-failure hooks of any thread. A pool thread that traps (wasm has no
    /// unwinding) never finishes the job its caller waits for: the caller must stop waiting.
    static FAILED: AtomicBool = AtomicBool::new(false);
    /// Why, when a panic said (an allocation failure cannot: memory is what it lacks).
    static REASON: Mutex<Option<String>> = Mutex::new(None);
    static OUT_OF_MEMORY: AtomicUsize = AtomicUsize::new(0);
    /// Held while a waiter checks, and by whoever signals: no wake-up falls between a check and a wait.
    static GATE: Mutex<()> = Mutex::new(());
    /// Signalled when a job handed to the pool finishes, or a thread fails.
    static EVENT: Condvar = Condvar::new();

    fn signal() {
        let _gate = GATE.lock().unwrap_or_else(|e| e.into_inner());
        EVENT.notify_all();
    }

    pub fn note_panic(reason: String) {
        REASON.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(reason);
        FAILED.store(true, Ordering::SeqCst);
        signal();
    }

    /// Allocates nothing (it runs when an allocation failed).
    pub fn note_out_of_memory(bytes: usize) {
        OUT_OF_MEMORY.store(bytes, Ordering::SeqCst);
        FAILED.store(true, Ordering::SeqCst);
        signal();
    }

    fn failure() -> String {
        match REASON.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            Some(reason) => reason,
            None => format!("out of memory (an allocation of {} bytes failed)", OUT_OF_MEMORY.load(Ordering::SeqCst)),
        }
    }

    /// `f` on a pool thread while this (the page's engine worker, outside the pool) waits; if a pool thread
    /// traps meanwhile, this thread panics with the reason, so the page sees the engine stop (and restarts it)
    /// instead of waiting forever.
    pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
        let mut f = Some(f);
        let mut result = None;
        run_on_pool(&mut || result = f.take().map(|f| f()));
        result.expect("the job finished")
    }

    /// While `job` runs, the pool's other threads spin, taking the pieces its splits make as soon as they are
    /// made, instead of sleeping between splits: a sleeping Web Worker takes tens of microseconds to wake, and
    /// a forward pass has ~30 splits (as onnxruntime-web's pool spins). A spinner that finds nothing to do for
    /// `SPIN_IDLE_ROUNDS` rounds stops (a long stretch of work on one thread does not keep the others busy).
    /// Not generic, so that the engine code each caller passes in compiles as without it.
    #[inline(never)]
    fn run_on_pool(job: &mut (dyn FnMut() + Send)) {
        let owner = AtomicUsize::new(usize::MAX);
        let finished = AtomicBool::new(false);
        rayon::in_place_scope(|scope| {
            // Queued before `job`, in each thread's own queue, which a waking thread reads before it steals:
            // every thread starts its spinner idle, not inside a piece of `job` (a spinner nested in work that
            // `job` waits for would wait for `job` in turn: a hang, seen). `job` then runs inside one spinner.
            // Off while other engine workers of the page are busy (`set_spinning`).
            if SPIN.load(Ordering::Relaxed) {
                scope.spawn_broadcast(|_, ctx| {
                    if owner.load(Ordering::SeqCst) == ctx.index() {
                        return; // taken by `job`'s own thread while it waits inside a split
                    }
                    let mut idle = 0u32;
                    while idle < SPIN_IDLE_ROUNDS && !finished.load(Ordering::SeqCst) && !FAILED.load(Ordering::Relaxed)
                    {
                        if rayon::yield_now() == Some(rayon::Yield::Executed) {
                            idle = 0;
                        } else {
                            idle += 1;
                            std::hint::spin_loop();
                        }
                    }
                });
            }
            scope.spawn(|_| {
                owner.store(rayon::current_thread_index().unwrap_or(usize::MAX), Ordering::SeqCst);
                job();
                finished.store(true, Ordering::SeqCst);
                signal();
            });
            let mut gate = GATE.lock().unwrap_or_else(|e| e.into_inner());
            while !finished.load(Ordering::SeqCst) {
                if FAILED.load(Ordering::SeqCst) {
                    drop(gate);
                    panic!("an engine thread stopped: {}", failure());
                }
                gate = EVENT.wait(gate).unwrap_or_else(|e| e.into_inner());
            }
        });
    }
}

/// Sets the thread count for the rest of the process (the first call wins; in the threaded wasm build, only once
/// the page's pool is up). Returns the count in use.
pub fn set_threads(n: usize) -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return native::set(n);
    #[cfg(all(target_arch = "wasm32", feature = "wasm-threads"))]
    return web::set(n);
    #[cfg(all(target_arch = "wasm32", not(feature = "wasm-threads")))]
    {
        let _ = n;
        1
    }
}

/// Sets up the pool with the default count (`NETLENS_THREADS`, else the machine) unless already set.
pub fn init() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return native::set(native::wanted());
    #[cfg(target_arch = "wasm32")]
    threads()
}

/// Threads the current computation may use (1 in the single-thread wasm build).
pub fn threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return native::current();
    #[cfg(all(target_arch = "wasm32", feature = "wasm-threads"))]
    return web::current();
    #[cfg(all(target_arch = "wasm32", not(feature = "wasm-threads")))]
    1
}

/// Calls `f(i, chunk)` for the `chunk_len`-sized chunks of `data` (the last may be shorter), in parallel when
/// there is more than one thread and more than one chunk. `f` must only depend on its own chunk's index, so the
/// result is the same however the chunks are spread.
pub fn for_each_chunk<T: Send>(data: &mut [T], chunk_len: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let chunk_len = chunk_len.max(1);
    #[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
    if data.len() > chunk_len && threads() > 1 {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk_len).enumerate().for_each(|(i, c)| f(i, c));
        return;
    }
    data.chunks_mut(chunk_len).enumerate().for_each(|(i, c)| f(i, c));
}

/// A buffer of `len` zeros that `f` then writes chunk by chunk, as [`for_each_chunk`]: each task zeroes its own
/// chunk first, so the zeroing is split like the work instead of one pass by the caller before it.
pub fn zeroed_chunks(len: usize, chunk_len: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) -> Vec<f32> {
    let mut data: Vec<f32> = Vec::with_capacity(len);
    for_each_chunk(&mut data.spare_capacity_mut()[..len], chunk_len, |i, chunk| f(i, crate::tensor::zero_init(chunk)));
    // SAFETY: the chunks cover the first `len` elements, and each was zeroed.
    unsafe { data.set_len(len) };
    data
}

/// As [`for_each_chunk`] over two slices at once: `f(i, chunk i of a, chunk i of b)`, both `chunk_len` long.
pub fn for_each_chunk_pair<A: Send, B: Send>(
    a: &mut [A],
    b: &mut [B],
    chunk_len: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    let chunk_len = chunk_len.max(1);
    #[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
    if a.len() > chunk_len && threads() > 1 {
        use rayon::prelude::*;
        a.par_chunks_mut(chunk_len).zip(b.par_chunks_mut(chunk_len)).enumerate().for_each(|(i, (a, b))| f(i, a, b));
        return;
    }
    a.chunks_mut(chunk_len).zip(b.chunks_mut(chunk_len)).enumerate().for_each(|(i, (a, b))| f(i, a, b));
}

/// Runs `f` on one of the pool's threads (inline when there is one thread, or when already on one), so that the
/// splits inside it hand their work straight to the other threads: from a thread outside the pool, every split
/// queues its work on the pool and sleeps until the pool is done (natively ~12 µs more per split here, several
/// times that between Web Workers; a forward + reverse pass has ~80 splits). The CLI runs each command through
/// it, the page each engine call.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(not(target_arch = "wasm32"))]
    if threads() > 1 {
        // Natively a panic on the pool thread unwinds back to this caller.
        return rayon::scope(|_| f());
    }
    #[cfg(all(target_arch = "wasm32", feature = "wasm-threads"))]
    if threads() > 1 && rayon::current_thread_index().is_none() {
        return web::on_pool(f);
    }
    f()
}

/// Whether the page's pool threads spin while an engine call runs (the threaded wasm build; on by default). The
/// page turns it off while other engine workers of its pool are busy (www/pool.js): a spinning thread would then
/// take a core from them. Nothing to do elsewhere.
pub fn set_spinning(on: bool) {
    #[cfg(all(target_arch = "wasm32", feature = "wasm-threads"))]
    web::SPIN.store(on, std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(all(target_arch = "wasm32", feature = "wasm-threads")))]
    let _ = on;
}

/// Records that a thread is about to trap on a panic (the page's panic hook), so that a caller waiting in
/// [`on_pool`] stops waiting. Nothing to do without a pool.
pub fn note_panic(reason: String) {
    #[cfg(all(target_arch = "wasm32", feature = "wasm-threads"))]
    web::note_panic(reason);
    #[cfg(not(all(target_arch = "wasm32", feature = "wasm-threads")))]
    let _ = reason;
}

/// As [`note_panic`], for a failed allocation of `bytes` (the threaded page build's allocation-failure hook);
/// allocates nothing.
pub fn note_out_of_memory(bytes: usize) {
    #[cfg(all(target_arch = "wasm32", feature = "wasm-threads"))]
    web::note_out_of_memory(bytes);
    #[cfg(not(all(target_arch = "wasm32", feature = "wasm-threads")))]
    let _ = bytes;
}

/// Calls `f(i)` for every `i` in `0..count`, in parallel when there is more than one thread. As with
/// [`for_each_chunk`], `f` must only depend on `i`.
pub fn for_each_index(count: usize, f: impl Fn(usize) + Sync + Send) {
    #[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
    if count > 1 && threads() > 1 {
        use rayon::prelude::*;
        (0..count).into_par_iter().for_each(f);
        return;
    }
    (0..count).for_each(f);
}

/// How many of `units` (each `unit_len` elements long) go in a chunk so that there are about 2 chunks a thread,
/// none under [`MIN_SPLIT`] elements unless that is all there is.
pub fn units_per_chunk(units: usize, unit_len: usize) -> usize {
    let t = threads();
    if t <= 1 || units <= 1 {
        return units.max(1);
    }
    let by_threads = units.div_ceil(2 * t);
    let by_size = MIN_SPLIT.div_ceil(unit_len.max(1));
    by_threads.max(by_size).min(units)
}

/// Runs `f` with `n` threads (a pool of its own; tract's products and our VJPs inside `f` use it), whatever the
/// process-wide count: for benches and for the tests that compare thread counts.
#[cfg(not(target_arch = "wasm32"))]
pub fn with_threads<R: Send>(n: usize, f: impl FnOnce() -> R + Send) -> R {
    use tract_linalg::multithread::{multithread_tract_scope, Executor};
    init();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build().expect("a thread pool");
    pool.install(|| {
        let executor = if n > 1 { Executor::RayonGlobal } else { Executor::SingleThread };
        multithread_tract_scope(executor, f)
    })
}
