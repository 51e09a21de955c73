//! Transformer-era models people export (../shared/models/zoo-transformers: ViT, Swin, SwinV2, ConvNeXt and MaxViT
//! built from torchvision's own classes, random weights, opset 17) against PyTorch: forward outputs and autograd
//! input gradients over every entry of the index, as tests/zoo.rs does for the CNN zoo. The float64 autograd
//! gradient (`grads_f64`) is reported beside it; tests/precision_f64.rs holds the precision bound.

mod common;

use common::*;
use netlens::engine::{Engine, Objective};
use netlens::Tensor;

fn l2(v: impl Iterator<Item = f64>) -> f64 {
    v.map(|d| d.powi(2)).sum::<f64>().sqrt()
}

/// A float64 .npy file (the `grads_f64` ground truth), C order.
fn read_npy_f64(rel: &str) -> Vec<f64> {
    let bytes = read_shared(rel);
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap_or_else(|e| panic!("{rel}: not a .npy file ({e})"));
    npy.into_vec::<f64>().unwrap_or_else(|e| panic!("{rel}: not float64 ({e})"))
}

/// max|ours − ref| / max|ref|, the relative L2 error, and the fraction of elements off by more than 1e-3·max|ref|.
fn compare(ours: &[f32], want: &[f64]) -> (f64, f64, f64) {
    assert_eq!(ours.len(), want.len());
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    let ratio = ours.iter().zip(want).fold(0f64, |m, (&a, &b)| m.max((a as f64 - b).abs())) / scale;
    let l2 = l2(ours.iter().zip(want).map(|(&a, &b)| a as f64 - b)) / l2(want.iter().copied());
    let off = ours.iter().zip(want).filter(|(&a, &b)| (a as f64 - b).abs() > 1e-3 * scale).count();
    (ratio, l2, off as f64 / want.len() as f64)
}

#[test]
fn zoo_transformers_match_pytorch() {
    let dir = "models/zoo-transformers";
    let index: serde_json::Value =
        serde_json::from_slice(&read_shared(&format!("{dir}/index.json"))).expect("zoo-transformers/index.json");
    let entries = index["entries"].as_array().expect("entries");
    assert!(!entries.is_empty(), "the zoo-transformers index lists no model");
    let mut failures = vec![];
    let (mut checked, mut strict) = (0, 0);
    for entry in entries {
        let arch = entry["arch"].as_str().expect("arch");
        let bytes = read_shared(&format!("{dir}/{}", entry["onnx"].as_str().expect("onnx")));
        let engine = match Engine::from_onnx_bytes(&bytes) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{arch}: does not load: {e}"));
                continue;
            }
        };
        let shape: Vec<usize> =
            entry["input_shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        assert_eq!(engine.input_shape(), &shape[..], "{arch}: input shape");
        let x = Tensor::new(shape.clone(), read_npy(&format!("{dir}/{arch}_input.npy")).data);
        let want = read_npy(&format!("{dir}/{arch}_logits.npy"));
        let acts = engine.forward(&x).unwrap_or_else(|e| panic!("{arch}: forward: {e}"));
        let out = acts.output();
        assert_eq!(out.data.len(), want.data.len(), "{arch}: output size");
        let logit_ratio = max_abs_diff(&out.data, &want.data) / max_abs(&want.data);
        let pred = entry["pred"].as_u64().unwrap() as usize;
        // The op types the reverse pass walks (everything else was folded to constants).
        let mut walked: Vec<&str> = engine.graph().nodes.iter().map(|n| n.op_type.as_str()).collect();
        walked.sort_unstable();
        walked.dedup();
        eprintln!(
            "{arch}: {} nodes ({}), logits max|Δ|/max|ref| {logit_ratio:.2e}, top-1 ours {} ref {pred}",
            engine.graph().nodes.len(),
            walked.join(" "),
            out.argmax()
        );
        if logit_ratio > 1e-3 || out.argmax() != pred {
            failures.push(format!(
                "{arch}: logits differ by {logit_ratio:.3e} relative (top-1 {} vs {pred})",
                out.argmax()
            ));
            continue;
        }
        for (class, file) in entry["grads"].as_object().expect("grads") {
            let k: usize = class.parse().expect("a class index");
            let want = read_npy(&format!("{dir}/{}", file.as_str().unwrap()));
            let want: Vec<f64> = want.data.iter().map(|&v| v as f64).collect();
            let ours = engine.backward(&acts, &Objective::Class(k)).unwrap_or_else(|e| panic!("{arch}: {e}"));
            assert_eq!(ours.shape, shape, "{arch}: gradient shape");
            let (ratio, l2, off) = compare(&ours.data, &want);
            let f64_file = entry["grads_f64"][class.as_str()].as_str().expect("grads_f64 for every class");
            let truth = read_npy_f64(&format!("{dir}/{f64_file}"));
            let ours64 = compare(&ours.data, &truth).0;
            let theirs: Vec<f32> = want.iter().map(|&v| v as f32).collect();
            let torch64 = compare(&theirs, &truth).0;
            eprintln!(
                "{arch} class {k}: vs PyTorch f32 max|Δ|/max|ref| {ratio:.2e} (L2 {l2:.2e}, {:.3}% off by > 1e-3·max); \
                 vs float64: netlens {ours64:.2e}, PyTorch f32 {torch64:.2e}",
                off * 100.0
            );
            checked += 1;
            // The kink-flip rule of tests/zoo.rs: one ReLU decision flipped by float32 rounding changes the gradient
            // in one receptive field only.
            if ratio <= 1e-3 {
                strict += 1;
            } else if !(off <= 1e-2 && l2 <= 1e-2) {
                failures.push(format!("{arch} class {k}: ratio {ratio:.3e}, L2 {l2:.3e}, off {:.3}%", off * 100.0));
            }
        }
    }
    eprintln!("{strict} of {checked} gradients within 1e-3 everywhere");
    assert!(failures.is_empty(), "{failures:#?}");
}
