//! Precision on deep networks (issue 24): over every entry of both zoo indexes (../shared/models/zoo and
//! zoo-transformers), netlens's input gradient is compared with PyTorch's float64 autograd gradient (`grads_f64`,
//! the ground truth) and must be no further from it than twice PyTorch's own float32 gradient is (or within 1e-3
//! of max|g|): distance = max|g − g64| / max|g64|.

mod common;

use common::*;
use netlens::engine::{Engine, Objective};
use netlens::Tensor;

/// A float64 .npy file, C order.
fn read_npy_f64(rel: &str) -> Vec<f64> {
    let bytes = read_shared(rel);
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap_or_else(|e| panic!("{rel}: not a .npy file ({e})"));
    npy.into_vec::<f64>().unwrap_or_else(|e| panic!("{rel}: not float64 ({e})"))
}

/// max|ours − truth| / max|truth|.
fn distance(ours: &[f32], truth: &[f64]) -> f64 {
    assert_eq!(ours.len(), truth.len());
    let scale = truth.iter().fold(0f64, |m, v| m.max(v.abs()));
    ours.iter().zip(truth).fold(0f64, |m, (&a, &b)| m.max((a as f64 - b).abs())) / scale
}

fn check_index(dir: &str, failures: &mut Vec<String>) -> usize {
    let index: serde_json::Value =
        serde_json::from_slice(&read_shared(&format!("{dir}/index.json"))).expect("index.json");
    let entries = index["entries"].as_array().expect("entries");
    assert!(!entries.is_empty(), "{dir}: the index lists no model");
    let mut checked = 0;
    for entry in entries {
        let arch = entry["arch"].as_str().expect("arch");
        let engine = Engine::from_onnx_bytes(&read_shared(&format!("{dir}/{}", entry["onnx"].as_str().unwrap())))
            .unwrap_or_else(|e| panic!("{arch}: does not load: {e}"));
        let x = Tensor::new(engine.input_shape().to_vec(), read_npy(&format!("{dir}/{arch}_input.npy")).data);
        let acts = engine.forward(&x).unwrap_or_else(|e| panic!("{arch}: forward: {e}"));
        let truths = entry["grads_f64"].as_object().unwrap_or_else(|| panic!("{arch}: no grads_f64 in {dir}"));
        assert!(!truths.is_empty(), "{arch}: grads_f64 is empty");
        for (class, file) in truths {
            let k: usize = class.parse().expect("a class index");
            let truth = read_npy_f64(&format!("{dir}/{}", file.as_str().unwrap()));
            let torch32 = read_npy(&format!("{dir}/{}", entry["grads"][class.as_str()].as_str().expect("grads")));
            let ours = engine.backward(&acts, &Objective::Class(k)).unwrap_or_else(|e| panic!("{arch}: {e}"));
            let (d_ours, d_torch) = (distance(&ours.data, &truth), distance(&torch32.data, &truth));
            let bound = (2.0 * d_torch).max(1e-3);
            eprintln!(
                "{arch} class {k}: distance to float64: netlens {d_ours:.2e}, PyTorch float32 {d_torch:.2e} (bound {bound:.2e}) {}",
                if d_ours <= bound { "ok" } else { "FAIL" }
            );
            if d_ours > bound {
                failures.push(format!("{dir}/{arch} class {k}: netlens {d_ours:.3e} > {bound:.3e}"));
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn gradients_as_close_to_float64_as_pytorch_float32() {
    let mut failures = vec![];
    let checked = check_index("models/zoo", &mut failures) + check_index("models/zoo-transformers", &mut failures);
    eprintln!("{checked} gradients checked against float64");
    assert!(failures.is_empty(), "{failures:#?}");
}
