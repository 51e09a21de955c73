//! `cargo bench --bench engine`: where the time of one optimisation step goes (native, release).
//! Median and minimum of RUNS timed runs after WARMUP untimed ones.

use std::path::PathBuf;
use std::time::Instant;

use netlens::engine::Objective;
use netlens::methods::classviz::{ClassVizRun, ClassVizSettings};
use netlens::methods::fooling::{FoolingRun, FoolingSettings};
use netlens::{imageio, Classifier};

const WARMUP: usize = 3;
const RUNS: usize = 15;

fn shared() -> PathBuf {
    match std::env::var_os("NETLENS_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

struct Timing {
    median_ms: f64,
    min_ms: f64,
}

/// `prepare` runs untimed before each timed `body`.
fn time<S>(mut prepare: impl FnMut() -> S, mut body: impl FnMut(S)) -> Timing {
    for _ in 0..WARMUP {
        body(prepare());
    }
    let mut ms: Vec<f64> = (0..RUNS)
        .map(|_| {
            let state = prepare();
            let start = Instant::now();
            body(state);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    Timing { median_ms: ms[RUNS / 2], min_ms: ms[0] }
}

fn main() {
    let model = std::fs::read(shared().join("models/squeezenet1_1.onnx")).expect("model in shared/models");
    let net = Classifier::from_onnx_bytes(&model).expect("model loads");
    let image = std::fs::read(shared().join("images/chelsea.png")).expect("chelsea.png in shared/images");
    let x = imageio::rgb_to_tensor(&imageio::load_224(&image).unwrap());
    let engine = net.engine();
    let seed = Objective::Class(285);

    let forward_only = time(|| (), |_| drop(engine.forward_only(&x).unwrap()));
    let forward_recording = time(|| (), |_| drop(engine.forward(&x).unwrap()));
    let backward = time(|| engine.forward(&x).unwrap(), |acts| drop(engine.backward(&acts, &seed).unwrap()));
    let forward_backward = time(|| (), |_| drop(net.logits_and_grad(&x, 285).unwrap()));

    let fooling = FoolingSettings { target: 76, ..FoolingSettings::default() };
    // A fresh run each time: its first step is a full ascent step (chelsea is not yet a tarantula).
    let fooling_step = time(|| FoolingRun::new(&net, &x, &fooling).unwrap(), |mut run| drop(run.step(&net).unwrap()));

    let viz = ClassVizSettings { iters: 10_000, ..ClassVizSettings::default() };
    let mut run = ClassVizRun::new(&viz).unwrap();
    let classviz_step = time(|| (), |_| run.step(&net, &viz).unwrap());

    println!("netlens engine benchmark: SqueezeNet 1.1, 1x3x224x224, {RUNS} runs after {WARMUP} warm-up");
    println!("{:<44} {:>10} {:>10}", "", "median ms", "min ms");
    for (name, t) in [
        ("forward (tract, no recording)", &forward_only),
        ("forward (recording activations)", &forward_recording),
        ("backward (our reverse pass)", &backward),
        ("forward + backward (logits_and_grad)", &forward_backward),
        ("one fooling iteration", &fooling_step),
        ("one class-visualization iteration", &classviz_step),
    ] {
        println!("{name:<44} {:>10.2} {:>10.2}", t.median_ms, t.min_ms);
    }
    println!(
        "ratio forward+backward / forward: {:.2} (median), {:.2} (min); goal <= 2.5",
        forward_backward.median_ms / forward_only.median_ms,
        forward_backward.min_ms / forward_only.min_ms
    );
    print_backward_by_op(&net, &x, &seed);
}

/// Time between consecutive `backward_timed` callbacks, summed per op type, averaged over RUNS passes.
fn print_backward_by_op(net: &Classifier, x: &netlens::Tensor, seed: &Objective) {
    let engine = net.engine();
    let mut per_op: Vec<(String, f64, usize)> = Vec::new();
    let mut total = 0.0;
    for run in 0..WARMUP + RUNS {
        let acts = engine.forward(x).unwrap();
        let start = Instant::now();
        let mut mark = start;
        let mut record = |op: &str, _node: usize| {
            let now = Instant::now();
            if run >= WARMUP {
                let ms = (now - mark).as_secs_f64() * 1e3;
                match per_op.iter_mut().find(|(name, _, _)| name == op) {
                    Some(entry) => {
                        entry.1 += ms;
                        entry.2 += 1;
                    }
                    None => per_op.push((op.to_string(), ms, 1)),
                }
            }
            mark = now;
        };
        engine.gradients_timed(&acts, seed, &netlens::backward::Wanted::input(), &mut record).unwrap();
        if run >= WARMUP {
            total += start.elapsed().as_secs_f64() * 1e3;
        }
    }
    per_op.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("backward time per op type (mean of {RUNS} passes):");
    println!("{:<24} {:>8} {:>10} {:>8}", "op", "nodes", "ms", "share");
    for (op, ms, count) in &per_op {
        let ms = ms / RUNS as f64;
        println!("{op:<24} {:>8} {:>10.2} {:>7.1}%", count / RUNS, ms, 100.0 * ms * RUNS as f64 / total);
    }
    let attributed: f64 = per_op.iter().map(|p| p.1).sum::<f64>() / RUNS as f64;
    println!("{:<24} {:>8} {:>10.2}  (whole pass {:.2} ms)", "sum", "", attributed, total / RUNS as f64);
}
