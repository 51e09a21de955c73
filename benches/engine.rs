//! `cargo bench --bench engine`: where the time of one optimisation step goes (native, release).
//! Median and minimum of RUNS timed runs after WARMUP untimed ones; then every attribution method (and saliency) at
//! its defaults through the registry, against its passes × the forward+backward (occlusion: forward) time.
//! With `NETLENS_BENCH_VIT=path/to/vit_b_16.onnx` (bench/bench.mk sets it), last: a ViT-B/16's forward at 1 and 2
//! threads (issue 24), its logits written to `NETLENS_BENCH_VIT_LOGITS` for the onnxruntime peer to be checked
//! against (bench/native_vit_peer.py); unset, its rows say "not run". `NETLENS_BENCH_ONLY=vit` runs those rows alone.

use std::path::PathBuf;
use std::time::Instant;

use netlens::engine::Objective;
use netlens::methods::classviz::{ClassVizRun, ClassVizSettings};
use netlens::methods::fooling::{FoolingRun, FoolingSettings};
use netlens::methods::registry::{self, Ctx, Group, Input};
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
fn time<S>(prepare: impl FnMut() -> S, body: impl FnMut(S)) -> Timing {
    time_n(WARMUP, RUNS, prepare, body)
}

fn time_n<S>(warmup: usize, runs: usize, mut prepare: impl FnMut() -> S, mut body: impl FnMut(S)) -> Timing {
    for _ in 0..warmup {
        body(prepare());
    }
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let state = prepare();
            let start = Instant::now();
            body(state);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    Timing { median_ms: ms[runs / 2], min_ms: ms[0] }
}

fn main() {
    if std::env::var("NETLENS_BENCH_ONLY").is_ok_and(|v| v == "vit") {
        print_vit();
        return;
    }
    let model = std::fs::read(shared().join("models/squeezenet1_1.onnx")).expect("model in shared/models");
    let net = Classifier::from_onnx_bytes(&model).expect("model loads");
    let image = std::fs::read(shared().join("images/chelsea.png")).expect("chelsea.png in shared/images");
    let rgb = imageio::load_224(&image).unwrap();
    let x = imageio::rgb_to_tensor(&rgb);
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
    // Issue 10: one channel-visualization iteration (Fourier, transforms, Adam) at each depth; the reverse pass
    // starts at the layer, so shallow layers should cost less than a full forward + backward.
    let ctx = Ctx { net: &net, name: &|k| format!("#{k}") };
    let spec = registry::method("channel").expect("registered");
    for layer in ["features.4", "features.7", "features.10", "features.12"] {
        let s = spec
            .settings(&serde_json::json!({ "layer": layer, "channel": 0, "iters": 10_000 }), 1000)
            .expect("settings");
        let mut run = spec.start(&ctx, None, &s).expect("starts");
        let t = time(|| (), |_| drop(run.step(&ctx, &s).unwrap()));
        println!("{:<44} {:>10.2} {:>10.2}", format!("channel-viz iteration at {layer}"), t.median_ms, t.min_ms);
    }
    println!(
        "ratio forward+backward / forward: {:.2} (median), {:.2} (min); goal <= 2.5",
        forward_backward.median_ms / forward_only.median_ms,
        forward_backward.min_ms / forward_only.min_ms
    );
    print_threads(&net, &x);
    let input = Input::new(x.clone(), imageio::rgb_to_rgba(&rgb));
    print_methods(&net, &input, &forward_only, &forward_backward);
    print_backward_by_op(&net, &x, &seed);
    print_vit();
}

/// Issue 24: a ViT-B/16 (346 MB, bench/vit_model.py) forward at 1 and 2 threads, each in a pool of its own, the
/// counts taking turns run by run; on the shared reference input (test_data_set_0/input_0.npy, which
/// bench/native_vit_peer.py feeds onnxruntime too). Last in the bench, so that the peer runs right after it.
fn print_vit() {
    let runs = std::env::var("NETLENS_BENCH_VIT_RUNS").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(5).max(1);
    let Some(path) = std::env::var_os("NETLENS_BENCH_VIT").map(PathBuf::from) else {
        println!("vit_b_16: not run (NETLENS_BENCH_VIT is not set; bench/bench.mk sets it)");
        return;
    };
    let Ok(bytes) = std::fs::read(&path) else {
        println!("vit_b_16: not run ({} is missing; `make {}` builds it)", path.display(), path.display());
        return;
    };
    let load = Instant::now();
    let net = Classifier::load_owned(bytes, &Default::default()).expect("the ViT loads");
    let load_s = load.elapsed().as_secs_f64();
    let x = read_npy_f32(&shared().join("models/reference/test_data_set_0/input_0.npy"));
    let logits = net.logits(&x).expect("a forward pass");
    let top1 = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
    if let Some(out) = std::env::var_os("NETLENS_BENCH_VIT_LOGITS") {
        let json = serde_json::json!({
            "model": path.display().to_string(),
            "input": "models/reference/test_data_set_0/input_0.npy",
            "logits": logits,
        });
        std::fs::write(&out, json.to_string()).expect("the logits file is written");
    }
    let counts = [1, 2];
    let mut ms = vec![Vec::new(); counts.len()];
    for round in 0..1 + runs {
        for (i, &n) in counts.iter().enumerate() {
            let t = netlens::threads::with_threads(n, || {
                let start = Instant::now();
                drop(net.engine().forward_only(&x).unwrap());
                start.elapsed().as_secs_f64() * 1e3
            });
            if round >= 1 {
                ms[i].push(t);
            }
        }
    }
    println!(
        "vit_b_16 ({}, {:.0} MB, loaded in {load_s:.1} s): top-1 {top1} on input_0.npy; {runs} runs after 1 warm-up, \
         thread counts taking turns",
        path.display(),
        std::fs::metadata(&path).map_or(0.0, |m| m.len() as f64 / 1e6)
    );
    for (i, n) in counts.iter().enumerate() {
        ms[i].sort_by(f64::total_cmp);
        let (median, min) = (ms[i][runs / 2], ms[i][0]);
        println!(
            "{:<44} {median:>10.2} {min:>10.2}",
            format!("vit_b_16 forward (tract), {n} thread{}", if *n > 1 { "s" } else { "" })
        );
    }
}

/// A float32 C-order .npy file (the shared references).
fn read_npy_f32(path: &std::path::Path) -> netlens::Tensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).expect("a .npy file");
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    netlens::Tensor::new(shape, npy.into_vec::<f32>().expect("float32"))
}

/// The unit timings again at 1, 2 (and the machine's count, if more) threads, each in a pool of its own; the
/// counts take turns run by run, so that the shared machine's load drifts over all of them alike.
fn print_threads(net: &Classifier, x: &netlens::Tensor) {
    let machine = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1, 2];
    if machine > 2 {
        counts.push(machine);
    }
    println!("threads (default here {}; NETLENS_THREADS or --threads set it):", netlens::threads::threads());
    println!(
        "{:<8} {:>12} {:>12} {:>12} {:>12}  (median ms, runs interleaved)",
        "threads", "forward", "backward", "fwd+bwd", "class-viz it"
    );
    let engine = net.engine();
    let seed = Objective::Class(285);
    let viz = ClassVizSettings { iters: 10_000, ..ClassVizSettings::default() };
    let mut viz_runs: Vec<ClassVizRun> = counts.iter().map(|_| ClassVizRun::new(&viz).unwrap()).collect();
    let mut ms = vec![[(); 4].map(|_| Vec::new()); counts.len()];
    for round in 0..WARMUP + RUNS {
        for (i, &n) in counts.iter().enumerate() {
            let run = &mut viz_runs[i];
            let t = netlens::threads::with_threads(n, || {
                let clock = |f: &mut dyn FnMut()| {
                    let start = Instant::now();
                    f();
                    start.elapsed().as_secs_f64() * 1e3
                };
                let acts = engine.forward(x).unwrap();
                [
                    clock(&mut || drop(engine.forward_only(x).unwrap())),
                    clock(&mut || drop(engine.backward(&acts, &seed).unwrap())),
                    clock(&mut || drop(net.logits_and_grad(x, 285).unwrap())),
                    clock(&mut || run.step(net, &viz).unwrap()),
                ]
            });
            if round >= WARMUP {
                for (k, v) in t.into_iter().enumerate() {
                    ms[i][k].push(v);
                }
            }
        }
    }
    for (i, n) in counts.iter().enumerate() {
        let [f, b, fb, cv] = [0, 1, 2, 3].map(|k| {
            let mut v = ms[i][k].clone();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        });
        println!("threads {n:<8} {f:>12.2} {b:>12.2} {fb:>12.2} {cv:>12.2}");
    }
}

/// Each method run to the end as the CLI does (start, every step, panels, report), chelsea, class 285.
/// The one- and two-pass methods are timed RUNS times, the others (25–170 passes) 5 times; 1 warm-up each.
fn print_methods(net: &Classifier, input: &Input, forward: &Timing, forward_backward: &Timing) {
    let ctx = Ctx { net, name: &|k| format!("#{k}") };
    println!("attribution methods at their defaults, chelsea, class 285 (1 warm-up; n runs):");
    println!(
        "{:<22} {:>10} {:>10} {:>4} {:>13} {:>14} {:>8} {:>12} {:>8}",
        "method", "median ms", "min ms", "n", "passes", "passes x ms", "ratio", "unit after", "ratio"
    );
    // The methods whose runs report their passes: the attribution family and the attacks.
    // Not those this model cannot run (the attention methods on SqueezeNet).
    let not_here = netlens::methods::applicable::not_for_model(net);
    let included = |m: &&&registry::MethodSpec| {
        (m.attribution.is_some() || m.group == Group::Adversarial) && !not_here.contains_key(m.id)
    };
    for spec in registry::METHODS.iter().filter(included) {
        let json = if spec.settings.iter().any(|s| s.key == "class") {
            serde_json::json!({ "class": 285 })
        } else {
            serde_json::json!({})
        };
        let settings = spec.settings(&json, net.num_classes()).expect("settings");
        // One run first: its report says how many passes it made.
        let probe = registry::run_to_end(&ctx, spec, Some(input), &settings, |_, _| true).expect("method runs");
        let n = probe.report()["passes"].as_u64().expect("an attribution or attack run reports its passes") as usize;
        // A pass is a forward + reverse pass unless the method declares it cheaper (occlusion, Score-CAM…) or dearer
        // (LRP: z⁺ evaluates every convolution again, one more forward).
        let pass_cost = spec.attribution.map_or(registry::BACKWARD, |a| a.pass_cost);
        let kind = if pass_cost > registry::BACKWARD {
            "fwd+bwd+fwd"
        } else if pass_cost == registry::BACKWARD {
            "fwd+bwd"
        } else {
            "fwd"
        };
        let runs = if n <= 2 { RUNS } else { 5 };
        let t = time_n(
            1,
            runs,
            || (),
            |_| {
                let run = registry::run_to_end(&ctx, spec, Some(input), &settings, |_, _| true).expect("method runs");
                assert!(!run.panels().is_empty(), "{}: no panels", spec.id);
                drop(run.report());
            },
        );
        let unit = match kind {
            "fwd" => forward.median_ms,
            "fwd+bwd" => forward_backward.median_ms,
            _ => forward_backward.median_ms + forward.median_ms,
        };
        let expected = n as f64 * unit;
        // The unit timed again right after the method: the machine is shared and its load drifts.
        let x = &input.tensor;
        let forward_after = || time_n(1, 5, || (), |_| drop(net.engine().forward_only(x).unwrap())).median_ms;
        let backward_after = || time_n(1, 5, || (), |_| drop(net.logits_and_grad(x, 285).unwrap())).median_ms;
        let after = match kind {
            "fwd" => forward_after(),
            "fwd+bwd" => backward_after(),
            _ => backward_after() + forward_after(),
        };
        println!(
            "method {:<15} {:>10.2} {:>10.2} {:>4} {:>5} {:<7} {:>14.2} {:>7.2}x {:>12.2} {:>7.2}x",
            spec.id,
            t.median_ms,
            t.min_ms,
            runs,
            n,
            kind,
            expected,
            t.median_ms / expected,
            after,
            t.median_ms / (n as f64 * after)
        );
    }
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
