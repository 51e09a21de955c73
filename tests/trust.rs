//! Issue 8, "which explanation can I trust?": the deletion/insertion method against a plain loop over the steps
//! with the engine's forward pass, map vs randomly permuted map on every sample, and the cascading model
//! randomization's mechanics (the new weights are the ones used, forward and backward; finite differences on the
//! randomized network). The paper's findings are measured (printed, README) but not asserted.

mod common;

use netlens::engine::Objective;
use netlens::methods::attribution::{self, gradcam, ig, ixg};
use netlens::methods::registry::{self, Ctx, Input, Run};
use netlens::methods::trust::faithfulness::Faithfulness;
use netlens::methods::trust::sanity::{self, Sanity};
use netlens::methods::trust::spearman;
use netlens::tensor::softmax;
use netlens::{imageio, Classifier, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::json;

const SAMPLES: &[&str] = &["chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "astronaut.png"];

fn net() -> Classifier {
    Classifier::from_onnx_bytes(&common::squeezenet_bytes()).unwrap()
}

fn sample(name: &str) -> Input {
    let rgb = imageio::load_224(&common::read_shared(&format!("images/{name}"))).unwrap();
    Input::new(imageio::rgb_to_tensor(&rgb), imageio::rgb_to_rgba(&rgb))
}

fn ctx(net: &Classifier) -> Ctx<'_> {
    Ctx { net, name: &|k| format!("#{k}") }
}

/// A curve the plain way: for each of the `steps + 1` points, start again from `start`, copy the first
/// ⌊i·HW/steps⌋ pixels of `order` (all channels) from `fill`, forward, softmax p_k.
fn plain_curve(net: &Classifier, start: &Tensor, fill: &Tensor, order: &[usize], steps: usize, k: usize) -> Vec<f32> {
    let plane = 224 * 224;
    (0..=steps)
        .map(|i| {
            let mut t = start.clone();
            for &px in &order[..i * plane / steps] {
                for c in 0..3 {
                    t.data[c * plane + px] = fill.data[c * plane + px];
                }
            }
            softmax(&net.logits(&t).unwrap())[k]
        })
        .collect()
}

/// Pixels by descending score, ties by index.
fn plain_order(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap().then(a.cmp(&b)));
    order
}

fn trapezoid(ys: &[f32]) -> f64 {
    let n = (ys.len() - 1) as f64;
    (0..ys.len() - 1).map(|i| (ys[i] as f64 + ys[i + 1] as f64) / 2.0 / n).sum()
}

fn run_faithfulness(net: &Classifier, input: &Input, settings: serde_json::Value) -> Faithfulness {
    let spec = registry::method("faithfulness").unwrap();
    let s = spec.settings(&settings, 1000).unwrap();
    let mut run = Faithfulness::start(&ctx(net), input, &s).unwrap();
    let mut last = 0;
    loop {
        let p = run.step(&ctx(net), &s).unwrap();
        assert!(p.step == last + 1 || p.done, "one unit of work per step ({} after {last})", p.step);
        last = p.step;
        if p.done {
            assert_eq!(p.step, p.total, "the total announced is the work done");
            return run;
        }
    }
}

#[test]
fn deletion_and_insertion_curves_match_a_plain_loop() {
    let net = net();
    let input = sample("chelsea.png");
    let x = &input.tensor;
    for (method, steps, baseline) in [("gradcam", 56, "blur"), ("ixg", 5, "zeros")] {
        let run = run_faithfulness(&net, &input, json!({ "methods": method, "steps": steps, "baseline": baseline }));
        let k = net.logits(x).unwrap().iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        // The map, computed by the attribution method on its own; the baseline written out here.
        let make = if method == "gradcam" { gradcam::make } else { ixg::make };
        let spec = registry::method(method).unwrap();
        let a = attribution::attribute(&net, x, Some(k), make, &spec.settings(&json!({}), 1000).unwrap()).unwrap();
        let order = plain_order(&a.pixel_map(224, 224));
        let base = if baseline == "blur" { ig::baseline(x, "blur", 10.0) } else { Tensor::zeros(&x.shape) };
        let deletion = plain_curve(&net, x, &base, &order, steps, k);
        let insertion = plain_curve(&net, &base, x, &order, steps, k);
        let c = &run.curves[0];
        assert_eq!(c.id, method);
        assert_eq!(c.deletion, deletion, "{method}: deletion curve");
        assert_eq!(c.insertion, insertion, "{method}: insertion curve");
        assert_eq!(c.deletion.len(), steps + 1);
        assert_eq!(c.deletion_auc(), trapezoid(&deletion));
        assert_eq!(c.insertion_auc(), trapezoid(&insertion));
        // p_k itself, by an f64 softmax of our own.
        let logits = net.logits(x).unwrap();
        let m = logits.iter().fold(f64::MIN, |m, &v| m.max(v as f64));
        let z: f64 = logits.iter().map(|&v| (v as f64 - m).exp()).sum();
        assert!(((logits[k] as f64 - m).exp() / z - deletion[0] as f64).abs() < 1e-6);
        println!(
            "chelsea {method} ({steps} steps, {baseline}): deletion AUC {:.4}, insertion AUC {:.4}",
            c.deletion_auc(),
            c.insertion_auc()
        );
    }
}

/// The map's order against the same map randomly permuted (each value moved to a random pixel), with the plain
/// loop: Gradient × Input deletes the class faster than its permutation, and Grad-CAM brings it back faster.
/// (Not every method beats chance on every curve: see the README's table.)
#[test]
fn a_map_beats_its_random_permutation_on_every_sample() {
    let net = net();
    let steps = 28;
    let mut rng = common::rng(8);
    for name in SAMPLES {
        let x = &sample(name).tensor;
        let logits = net.logits(x).unwrap();
        let k = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let base = ig::baseline(x, "blur", 10.0);
        for (method, make, deletion) in
            [("ixg", ixg::make as attribution::MakeStepper, true), ("gradcam", gradcam::make, false)]
        {
            let spec = registry::method(method).unwrap();
            let a = attribution::attribute(&net, x, Some(k), make, &spec.settings(&json!({}), 1000).unwrap()).unwrap();
            let scores = a.pixel_map(224, 224);
            let mut permuted = scores.clone();
            permuted.shuffle(&mut rng);
            let auc = |s: &[f32]| {
                let order = plain_order(s);
                let curve = if deletion {
                    plain_curve(&net, x, &base, &order, steps, k)
                } else {
                    plain_curve(&net, &base, x, &order, steps, k)
                };
                trapezoid(&curve)
            };
            let (ours, chance) = (auc(&scores), auc(&permuted));
            let which = if deletion { "deletion" } else { "insertion" };
            println!("{name} {method}: {which} AUC {ours:.4}, permuted {chance:.4}");
            if deletion {
                assert!(ours < chance, "{name} {method}: deletion AUC {ours} vs permuted {chance}");
            } else {
                assert!(ours > chance, "{name} {method}: insertion AUC {ours} vs permuted {chance}");
            }
        }
    }
}

#[test]
fn bad_settings_name_the_setting() {
    let net = net();
    let input = sample("chelsea.png");
    let start = |id: &str, s: serde_json::Value| -> String {
        let spec = registry::method(id).unwrap();
        match spec.settings(&s, 1000) {
            Err(e) => e.to_string(),
            Ok(s) => match spec.start(&ctx(&net), Some(&input), &s) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{id} {s:?} was accepted"),
            },
        }
    };
    let m = start("faithfulness", json!({ "steps": 0 }));
    assert!(m.contains("Steps (steps)") && m.contains("got 0"), "{m}");
    let m = start("faithfulness", json!({ "methods": "ixg,nope" }));
    assert!(m.contains("Methods (methods)") && m.contains("'nope'"), "{m}");
    // Saliency is an attribution method (issue 29); fooling is not.
    let m = start("faithfulness", json!({ "methods": "fooling" }));
    assert!(m.contains("Methods (methods)") && m.contains("'fooling'"), "{m}");
    let m = start("faithfulness", json!({ "methods": "ixg,ixg" }));
    assert!(m.contains("twice"), "{m}");
    let m = start("faithfulness", json!({ "methods": "ixg", "highlight": "gradcam" }));
    assert!(m.contains("Highlight (highlight)"), "{m}");
    let m = start("sanity", json!({ "depth": 11 }));
    assert!(m.contains("Depth (depth)") && m.contains("beyond the network") && m.contains("10 modules"), "{m}");
    let m = start("sanity", json!({ "depth": 65 }));
    assert!(m.contains("Depth (depth)"), "{m}");
    let m = start("sanity", json!({ "methods": "gbp;rm" }));
    assert!(m.contains("Methods (methods)"), "{m}");
}

#[test]
fn spearman_matches_hand_computed_values() {
    // No ties: 1 − 6 Σd² / (n(n² − 1)).
    let a = [3.0f32, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0];
    let b = [2.0f32, 7.0, 1.0, 8.0, 2.5, 8.5, 3.0];
    let rank = |v: &[f32]| -> Vec<f64> { v.iter().map(|x| v.iter().filter(|y| *y < x).count() as f64 + 1.0).collect() };
    let (ra, rb) = (rank(&a), rank(&b));
    let d2: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y).powi(2)).sum();
    let n = a.len() as f64;
    assert!((spearman(&a, &b) - (1.0 - 6.0 * d2 / (n * (n * n - 1.0)))).abs() < 1e-12);
    // Ties take their mean rank: [1, 2, 2, 3] ranks as [1, 2.5, 2.5, 4]; against [1, 2, 3, 4]:
    // Pearson([1, 2.5, 2.5, 4], [1, 2, 3, 4]) = 4.5 / sqrt(4.5 · 5).
    let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]);
    assert!((r - 4.5 / (4.5f64 * 5.0).sqrt()).abs() < 1e-12, "{r}");
    assert!(spearman(&[0.0; 4], &[1.0, 2.0, 3.0, 4.0]).is_nan(), "a constant map has no rank correlation");
}

#[test]
fn randomized_weights_are_the_ones_used_and_the_page_model_is_untouched() {
    let net = net();
    let x = sample("chelsea.png").tensor;
    let before = net.logits(&x).unwrap();
    let engine = net.engine();
    let blocks = sanity::cascade(engine);
    let names: Vec<&str> = blocks.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        names,
        [
            "classifier.1",
            "features.12",
            "features.11",
            "features.10",
            "features.9",
            "features.7",
            "features.6",
            "features.4",
            "features.3",
            "features.0"
        ]
    );
    assert_eq!(blocks.iter().map(|(_, l)| l.len()).sum::<usize>(), 26, "26 convs in SqueezeNet 1.1");

    // Depth 1: only the classifier conv. Its logits, recomputed here from the trained network's features.12
    // (unchanged below the classifier) and the new weights: mean over 13×13 of ReLU(W · f), bias 0.
    let rnd = sanity::randomized(&net, 1, 0).unwrap();
    let w = rnd.engine().constant("classifier.1.weight").unwrap().to_tensor();
    assert_eq!(w.shape, [1000, 512, 1, 1]);
    let old = engine.constant("classifier.1.weight").unwrap();
    assert!(w.data.iter().zip(old.data).all(|(a, b)| a != b), "every weight replaced");
    assert!(rnd.engine().constant("classifier.1.bias").unwrap().data.iter().all(|&b| b == 0.0));
    let mean = w.data.iter().map(|&v| v as f64).sum::<f64>() / w.len() as f64;
    let std = (w.data.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
    let kaiming = (2.0f64 / 512.0).sqrt();
    assert!(mean.abs() < 0.01 * kaiming && (std / kaiming - 1.0).abs() < 0.01, "mean {mean}, std {std} vs {kaiming}");
    let classifier = engine.graph().nodes.iter().find(|n| n.name == "classifier.1").unwrap();
    let feat_name = engine.graph().values[classifier.inputs[0]].name.clone();
    let acts = engine.forward_with(&x, &[feat_name.as_str()]).unwrap();
    let f = acts.get(&feat_name).unwrap();
    assert_eq!(f.shape, [1, 512, 13, 13]);
    let mut expected = vec![0f32; 1000];
    for (k, e) in expected.iter_mut().enumerate() {
        let mut sum = 0f64;
        for p in 0..169 {
            let z: f64 = (0..512).map(|c| w.data[k * 512 + c] as f64 * f.data[c * 169 + p] as f64).sum();
            sum += z.max(0.0);
        }
        *e = (sum / 169.0) as f32;
    }
    let got = rnd.logits(&x).unwrap();
    let err = got.iter().zip(&expected).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    println!("depth 1: logits max |Δ| {err:.2e} of max {scale:.3}; trained top logit {:.3}", before[285]);
    assert!(err <= 1e-4 * scale, "tract runs the new classifier weights: {err} of {scale}");

    // Every depth: the convs of the randomised modules hold Kaiming weights, the others the trained ones.
    let full = sanity::randomized(&net, blocks.len(), 0).unwrap();
    for (d, (_, layers)) in blocks.iter().enumerate() {
        for (ix, layer) in layers {
            let t = full.engine().constant(&layer.weight).unwrap().to_tensor();
            assert_eq!(t, sanity::kaiming_normal(layer, *ix, 0), "{} at full depth", layer.weight);
            if d >= 1 {
                assert_eq!(
                    rnd.engine().constant(&layer.weight).unwrap().data,
                    engine.constant(&layer.weight).unwrap().data
                );
            }
        }
    }
    let full_logits = full.logits(&x).unwrap();
    assert!(full_logits.iter().zip(&before).any(|(a, b)| a != b) && full_logits != got);
    // Another seed, other weights; the same seed, the same network.
    assert_ne!(sanity::randomized(&net, 1, 1).unwrap().logits(&x).unwrap(), got);
    assert_eq!(sanity::randomized(&net, 1, 0).unwrap().logits(&x).unwrap(), got);
    assert_eq!(net.logits(&x).unwrap(), before, "the page's model is unchanged");
}

#[test]
fn gradients_of_randomized_networks_match_finite_differences() {
    let net = net();
    let x = sample("coffee.png").tensor;
    let mut rng = common::rng(11);
    for depth in [3usize, 10] {
        let rnd = sanity::randomized(&net, depth, 0).unwrap();
        let engine = rnd.engine();
        let logits = rnd.logits(&x).unwrap();
        let k = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let acts = engine.forward(&x).unwrap();
        let g = engine.backward(&acts, &Objective::Class(k)).unwrap();
        let trained = net.engine().backward(&net.engine().forward(&x).unwrap(), &Objective::Class(k)).unwrap();
        assert!(g.data != trained.data, "depth {depth}: the gradient changed with the weights");
        // Directions: the gradient, and the gradient on a random 112×112 window.
        let mut dirs = vec![g.data.clone()];
        for _ in 0..2 {
            let (cy, cx) = (rng.gen_range(0..112usize), rng.gen_range(0..112usize));
            dirs.push(
                g.data
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let (y, xx) = ((i % 50176) / 224, i % 224);
                        if (cy..cy + 112).contains(&y) && (cx..cx + 112).contains(&xx) {
                            v
                        } else {
                            0.0
                        }
                    })
                    .collect(),
            );
        }
        for (j, v) in dirs.iter_mut().enumerate() {
            let n = v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt() as f32;
            v.iter_mut().for_each(|a| *a /= n);
            let ours: f64 = g.data.iter().zip(v.iter()).map(|(a, b)| *a as f64 * *b as f64).sum();
            let at = |t: f32| {
                let moved = Tensor::new(x.shape.clone(), x.data.iter().zip(v.iter()).map(|(a, b)| a + t * b).collect());
                rnd.logits(&moved).unwrap()[k] as f64
            };
            let eps = 1e-2;
            let fd = (at(eps) - at(-eps)) / (2.0 * eps as f64);
            let rel = (ours - fd).abs() / fd.abs().max(1e-6);
            println!("depth {depth} class {k} direction {j}: ours {ours:.6} fd {fd:.6} rel {rel:.2e}");
            assert!(rel < 2e-2, "depth {depth} direction {j}: ours {ours} vs finite differences {fd}");
        }
    }
}

#[test]
fn sanity_maps_are_the_methods_maps_on_each_randomized_network() {
    let net = net();
    let input = sample("chelsea.png");
    let spec = registry::method("sanity").unwrap();
    let s = spec.settings(&json!({ "methods": "gbp,gradcam", "depth": 2, "seed": 3 }), 1000).unwrap();
    let mut run = Sanity::start(&ctx(&net), &input, &s).unwrap();
    let mut steps = 0;
    while !run.step(&ctx(&net), &s).unwrap().done {
        steps += 1;
    }
    assert_eq!(run.columns(), ["trained", "classifier.1", "features.12"]);
    assert_eq!(steps + 1, 2 + 3 * 2, "2 rebuilds + 3 columns × (1 + 1) passes");
    let k = 285;
    for depth in 0..=2 {
        let rnd = sanity::randomized(&net, depth, 3).unwrap();
        for (row, (id, make)) in
            [("gbp", attribution::guided::make_gbp as attribution::MakeStepper), ("gradcam", gradcam::make)]
                .into_iter()
                .enumerate()
        {
            let settings = registry::method(id).unwrap().settings(&json!({}), 1000).unwrap();
            let a = attribution::attribute(&rnd, &input.tensor, Some(k), make, &settings).unwrap();
            assert_eq!(run.maps[depth][row], a.pixel_map(224, 224), "{id} at depth {depth}");
        }
    }
    let corr = run.correlations();
    assert_eq!(corr[0][0], (1.0, 1.0));
    let report = run.report();
    assert_eq!(report["methods"][1]["abs"][2].as_f64(), Some(corr[1][2].0));
    let panels = run.panels();
    let grid = panels.iter().find(|p| p.id == "grid").unwrap();
    // Cells of 112 px, 4 px apart; a left margin for the longest id (7 glyphs of 6 px at scale 2, plus 8 px) and
    // a top one for the depth numbers (9 rows at scale 2, plus 8 px).
    let (left, top) = (7 * 12 + 8, 9 * 2 + 8);
    assert_eq!((grid.width, grid.height), ((left + 3 * 112 + 2 * 4) as u32, (top + 2 * 112 + 4) as u32));
    assert_eq!(panels.iter().filter(|p| p.plot.is_some()).count(), 2);
}

fn cli(args: &[&str]) -> std::process::Output {
    let model = common::shared_file("models/squeezenet1_1.onnx");
    let classes = common::shared_file("models/imagenet_classes.txt");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--model", model.to_str().unwrap(), "--classes", classes.to_str().unwrap()]);
    std::process::Command::new(env!("CARGO_BIN_EXE_netlens")).args(&all).output().expect("netlens runs")
}

#[test]
fn cli_prints_a_line_per_method_and_writes_the_curves() {
    let img = common::shared_file("images/chelsea.png");
    let img = img.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("netlens-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join("faith.json");
    let out = cli(&[
        "faithfulness",
        img,
        "--class",
        "tabby",
        "--methods",
        "ixg,gradcam",
        "--set",
        "steps=4",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("ixg") || l.starts_with("gradcam")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(text.contains("281 tabby"), "{text}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let methods = report["report"]["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 3, "two methods and the random order");
    for m in methods {
        let del: Vec<f64> = m["deletion"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(del.len(), 5);
        let auc: f64 = (0..4).map(|i| (del[i] + del[i + 1]) / 8.0).sum();
        assert!((auc - m["deletion_auc"].as_f64().unwrap()).abs() < 1e-6, "the AUC is the curve's trapezoid");
        assert!(text.contains(&format!("{:.3}", m["deletion_auc"].as_f64().unwrap())), "{text}");
    }
    let grid = dir.join("grid.png");
    let out = cli(&["sanity", img, "--methods", "gradcam", "--set", "depth=1", "-o", grid.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = image::open(&grid).unwrap();
    assert_eq!((png.width(), png.height()), (7 * 12 + 8 + 2 * 112 + 4, 9 * 2 + 8 + 112), "labels, then 2 cells");
    for (args, want) in [
        (vec!["faithfulness", img, "--set", "steps=0"], "Steps (steps)"),
        (vec!["faithfulness", img, "--methods", "ixg,bogus"], "'bogus'"),
        (vec!["sanity", img, "--set", "depth=11"], "beyond the network"),
    ] {
        let out = cli(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A panel as shown: id, title, width, height, pixels, plot.
type Shown = (String, String, u32, u32, Vec<u8>, Option<serde_json::Value>);

/// Everything a finished run shows: its report and its panels (pixels, plots, titles).
fn shown(run: &dyn Run) -> (serde_json::Value, Vec<Shown>) {
    let panels =
        run.panels().into_iter().map(|p| (p.id.to_string(), p.title, p.width, p.height, p.rgba, p.plot)).collect();
    (run.report(), panels)
}

#[test]
fn runs_split_into_parts_merge_into_exactly_the_whole_run() {
    use netlens::methods::shard;
    let net = net();
    let input = sample("chelsea.png");
    let c = ctx(&net);
    for (id, settings) in [
        ("faithfulness", json!({ "methods": "ixg,smoothgrad,gradcam,occlusion", "steps": 14, "baseline": "blur" })),
        ("sanity", json!({ "methods": "gbp,gradcam,ixg", "depth": 3, "seed": 5 })),
    ] {
        let spec = registry::method(id).unwrap();
        let s = spec.settings(&settings, 1000).unwrap();
        let mut whole = registry::run_to_end(&c, spec, Some(&input), &s, |_, _| true).unwrap();
        let want = shown(whole.as_ref());
        let end = whole.step(&c, &s).unwrap();
        assert!(!want.1.is_empty(), "{id}: the whole run has panels");
        let sharding = spec.sharding.unwrap();
        let units = (sharding.units)(&c, &input, &s).unwrap();
        let n = units.len();
        // The page's queue (with each part's steps as the page counts them), every unit alone (a map computed
        // once per curve), and the even and odd units (every group split over two parts).
        let queue = shard::shard_plan(&c, spec, &input, &s).unwrap().unwrap();
        assert!(queue.len() >= 2, "{id}: the pool's queue has several parts");
        for shard::QueuedPart { units: list, steps } in &queue {
            let mut part = (sharding.part)(&c, &input, &s, list).unwrap();
            let mut last = part.step(&c, &s).unwrap();
            while !last.done {
                last = part.step(&c, &s).unwrap();
            }
            assert_eq!((last.step, last.total), (*steps, *steps), "{id}: part {list:?} takes the steps the plan says");
        }
        let splits: Vec<Vec<Vec<usize>>> = vec![
            queue.iter().map(|p| p.units.clone()).collect(),
            (0..n).map(|u| vec![u]).collect(),
            vec![(0..n).step_by(2).collect(), (1..n).step_by(2).collect()],
        ];
        for lists in &splits {
            let mut merged = shard::run_sharded(&c, spec, &input, &s, Some(lists)).unwrap();
            let got = shown(merged.as_ref());
            assert_eq!(got.0, want.0, "{id} in parts {lists:?}: the same report");
            assert_eq!(got.1, want.1, "{id} in parts {lists:?}: the same panels");
            let p = merged.step(&c, &s).unwrap();
            assert_eq!(
                (p.done, p.step, p.total, &p.text),
                (true, end.step, end.total, &end.text),
                "{id}: ends as the whole"
            );
        }
    }
}

#[test]
fn the_pool_queue_puts_costly_parts_first_and_splits_groups_with_a_cheap_set_up() {
    use netlens::methods::shard::{cover, queue, steps, Unit};
    let unit = |cost: f64, group: usize, setup: f64, setup_steps: usize| Unit {
        id: String::new(),
        cost,
        steps: cost as usize,
        group,
        setup,
        setup_steps,
    };
    // A cheap map (set-up 2 < 55 / 10): its two curves are two parts, each paying the map. A costly one (50):
    // one part. No set-up (the random order): two parts. A randomised network (10) with cheap maps (2): one part.
    let units = [
        unit(55.0, 0, 2.0, 1),
        unit(55.0, 0, 2.0, 1),
        unit(55.0, 1, 50.0, 25),
        unit(55.0, 1, 50.0, 25),
        unit(55.0, 2, 0.0, 0),
        unit(55.0, 2, 0.0, 0),
        unit(2.0, 3, 10.0, 1),
        unit(2.0, 3, 10.0, 1),
    ];
    // Loads 160, 57, 57, 55, 55, 14: costliest first, equal loads in run order.
    assert_eq!(queue(&units), vec![vec![2, 3], vec![0], vec![1], vec![4], vec![5], vec![6, 7]]);
    assert_eq!(steps(&units, &[0, 1]), 111, "a group's set-up steps once per part");
    assert_eq!(steps(&units, &[0]), 56);
    assert_eq!(steps(&units, &[2, 3, 6]), 25 + 110 + 1 + 2);
    let all: Vec<Vec<usize>> = queue(&units);
    assert!(cover(units.len(), &all).is_ok(), "the queue covers every unit once");
    assert!(cover(3, &[vec![0, 2], vec![1]]).is_ok());
    assert!(cover(3, &[vec![0, 2]]).unwrap_err().to_string().contains("no part computed unit 1"));
    assert!(cover(3, &[vec![0, 1], vec![1, 2]]).unwrap_err().to_string().contains("unit 1 is in two parts"));
    assert!(cover(3, &[vec![0, 1, 2, 7]]).unwrap_err().to_string().contains("names unit 7"));
}

#[test]
fn a_missing_or_damaged_part_is_refused_with_a_message() {
    use netlens::methods::shard::{self, PartResult};
    let net = net();
    let input = sample("chelsea.png");
    let c = ctx(&net);
    let spec = registry::method("faithfulness").unwrap();
    let s = spec.settings(&json!({ "methods": "ixg,gradcam", "steps": 4 }), 1000).unwrap();
    let sharding = spec.sharding.unwrap();
    let plan = shard::shard_plan(&c, spec, &input, &s).unwrap().unwrap();
    let mut parts = vec![];
    for shard::QueuedPart { units, .. } in &plan {
        let mut run = (sharding.part)(&c, &input, &s, units).unwrap();
        assert!(run.part().is_none(), "no result before the part is done");
        while !run.step(&c, &s).unwrap().done {}
        parts.push(run.part().unwrap());
    }
    assert!((sharding.merge)(&c, &input, &s, &parts).is_ok());
    let err = (sharding.merge)(&c, &input, &s, &parts[..1]).err().unwrap().to_string();
    assert!(err.contains("no part computed unit"), "{err}");
    let err = (sharding.merge)(&c, &input, &s, &[parts[0].clone(), parts[0].clone(), parts[1].clone()]);
    assert!(err.err().unwrap().to_string().contains("is in two parts"));
    let bytes = parts[0].to_bytes();
    assert_eq!(PartResult::from_bytes(&bytes).unwrap(), parts[0], "bytes round-trip exactly");
    for cut in [2, 10, bytes.len() - 1] {
        let err = PartResult::from_bytes(&bytes[..cut]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("damaged"), "cut at {cut}: {err}");
    }
    let err = (sharding.part)(&c, &input, &s, &[7]).err().unwrap().to_string();
    assert!(err.contains("a part names curve 7"), "{err}");
    let sanity = registry::method("sanity").unwrap();
    let ss = sanity.settings(&json!({ "methods": "ixg", "depth": 1 }), 1000).unwrap();
    let err = (sanity.sharding.unwrap().part)(&c, &input, &ss, &[2]).err().unwrap().to_string();
    assert!(err.contains("a part names map 2"), "{err}");
    assert!(registry::method("ig").unwrap().sharding.is_none(), "single runs do not shard");
}

/// Saliency is an attribution method like the others (issue 29): the trust tests score it, `all` includes it, and
/// its map is the one CS231n's saliency computes (max over colour channels of |∂ score / ∂ pixel|).
#[test]
fn saliency_is_scored_like_every_attribution_method() {
    use netlens::methods::trust::parse_methods;
    let all: Vec<&str> = parse_methods("all", |_| true).unwrap().iter().map(|m| m.id).collect();
    assert!(all.contains(&"saliency") && all.contains(&"ixg"), "{all:?}");
    let net = net();
    let input = sample("chelsea.png");
    let c = ctx(&net);
    let spec = registry::method("faithfulness").unwrap();
    let s = spec.settings(&json!({ "methods": "saliency", "class": 285, "steps": 8 }), 1000).unwrap();
    let run = registry::run_to_end(&c, spec, Some(&input), &s, |_, _| true).unwrap();
    let report = run.report();
    let scored = &report["methods"][0];
    assert_eq!(scored["id"], "saliency", "{report}");
    let (del, ins) = (scored["deletion_auc"].as_f64().unwrap(), scored["insertion_auc"].as_f64().unwrap());
    assert!((0.0..=1.0).contains(&del) && (0.0..=1.0).contains(&ins), "AUCs {del} {ins}");
    // The registry's saliency map, computed independently here from the engine's plain input gradient.
    let x = &input.tensor;
    let engine = net.engine();
    let grad = engine.backward(&engine.forward(x).unwrap(), &Objective::Class(285)).unwrap();
    let plane = 224 * 224;
    let want: Vec<f32> =
        (0..plane).map(|i| (0..3).map(|ch| grad.data[ch * plane + i].abs()).fold(0.0f32, f32::max)).collect();
    let got = netlens::methods::saliency::saliency(&net, x, Some(285)).unwrap();
    assert_eq!(got.map, want, "saliency = max_c |∂ score / ∂ x|");
}
