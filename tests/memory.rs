//! A large model's weights are in memory once (issue 24, Part 4): decoded a field at a time straight into
//! tract's tensors, shared by tract's model, its plan and the reverse pass, each packed just before its product
//! runs. Measured with a counting allocator (this test binary's own), on a model built here with 85.5 MB of
//! weights (above the 64 MiB from which a plan takes its weights as inputs).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use common::*;
use netlens::engine::{Engine, Objective};
use netlens::Tensor;
use prost::Message;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Bytes allocated while `f` runs above what was live before it: (still live after, at most at once).
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let out = f();
    (out, LIVE.load(Relaxed).saturating_sub(before), PEAK.load(Relaxed) - before)
}

#[test]
fn a_large_models_weights_are_in_memory_once() {
    // x → Flatten → 192 → 2048, six 2048 × 2048 layers with ReLU, → 10: seven weight matrices of 1.6–16.8 MB.
    const WIDTH: usize = 2048;
    let mut net = Net::new(&[1, 3, 8, 8], 13, 0);
    let mut h = net.node("Flatten", &["x"], "flat", vec![attr_i("axis", 1)]);
    let sizes = [192, WIDTH, WIDTH, WIDTH, WIDTH, WIDTH, WIDTH, 10];
    for (i, pair) in sizes.windows(2).enumerate() {
        let (rows, cols) = (pair[0], pair[1]);
        let scale = (2.0 / rows as f32).sqrt();
        let data =
            (0..rows * cols).map(|k| (((k * 7919 + i * 104_729) % 2001) as f32 / 1000.0 - 1.0) * scale).collect();
        let w = net.init(&format!("w{i}"), &[rows, cols], data);
        h = net.node("MatMul", &[&h, &w], &format!("mm{i}"), vec![]);
        if i + 2 < sizes.len() {
            h = net.node("Relu", &[&h], &format!("relu{i}"), vec![]);
        }
    }
    // As exporters write weights: raw little-endian bytes.
    let mut model = net.model(&h);
    for t in &mut model.graph.as_mut().unwrap().initializer {
        t.raw_data = t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect();
        t.float_data = vec![];
    }
    let bytes = model.encode_to_vec();
    drop((model, net));
    let weights = 4 * sizes.windows(2).map(|p| p[0] * p[1]).sum::<usize>();
    let largest = 4 * WIDTH * WIDTH;
    let mb = |b: usize| b as f64 / 1e6;

    let (engine, held, load_peak) = measure(|| Engine::from_onnx_bytes(&bytes).expect("the model loads"));
    eprintln!(
        "weights {:.1} MB: the engine holds {:.1} MB, loading took at most {:.1} MB",
        mb(weights),
        mb(held),
        mb(load_peak)
    );
    // Once: the file's bytes were read a field at a time (here from memory the test holds, as the page's array).
    assert!(held < weights + weights / 10, "the loaded engine holds {:.1} MB", mb(held));
    // Each initializer is read straight into its tensor: at no moment is any weight in memory twice.
    assert!(load_peak < weights + weights / 10, "loading took {:.1} MB at once", mb(load_peak));
    drop(bytes);

    let x = Tensor::new(vec![1, 3, 8, 8], (0..192).map(|i| (i % 13) as f32 / 13.0).collect());
    let (grad, _, run_peak) = measure(|| {
        let acts = engine.forward(&x).unwrap();
        engine.backward(&acts, &Objective::Class(3)).unwrap()
    });
    eprintln!("forward + backward took at most {:.1} MB more", mb(run_peak));
    // Each weight packed just before its product: one packed copy at a time, not all of them.
    assert!(run_peak < largest + largest / 2, "forward + backward took {:.1} MB at once", mb(run_peak));
    assert!(grad.data.iter().any(|&g| g != 0.0), "the class depends on the input");
}
