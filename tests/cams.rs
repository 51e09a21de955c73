//! The CAM family against pytorch-grad-cam 1.5.7 on the same weights (../shared/models/reference/cams/index.json):
//! every method the index lists (a `METHOD_raw` file) on every entry and class, both the layer-resolution map
//! (`METHOD_raw`, to 1e-4 of its largest value) and what the library's call returns (`METHOD`: resized to the
//! input and min-max scaled, to 1e-3 absolute). Eigen-CAM's sign is NumPy's SVD's: ours may be the negation.

mod common;

use common::*;
use netlens::methods::attribution::cam::library_map;
use netlens::methods::attribution::{self, Attribution};
use netlens::methods::registry;
use netlens::{Classifier, Tensor};

const DIR: &str = "models/reference/cams";
const IMAGES: &str = "models/reference/gradients";

fn index() -> serde_json::Value {
    serde_json::from_slice(&read_shared(&format!("{DIR}/index.json"))).expect("cams/index.json")
}

/// The registry's method `id` run to the end on `x` for `class` at its default settings (the layer: features.12,
/// the index's target layer).
fn run(net: &Classifier, x: &Tensor, id: &str, class: usize) -> Attribution {
    let spec = registry::method(id).unwrap_or_else(|e| panic!("the index lists {id}: {e}"));
    let make = spec.attribution.unwrap_or_else(|| panic!("{id} is not an attribution method")).make;
    let settings = spec.settings(&serde_json::json!({ "class": class }), net.num_classes()).unwrap();
    attribution::attribute(net, x, Some(class), make, &settings).unwrap_or_else(|e| panic!("{id}: {e}"))
}

fn ratio(ours: &[f32], want: &[f32]) -> f32 {
    max_abs_diff(ours, want) / max_abs(want)
}

#[test]
fn cam_family_matches_pytorch_grad_cam() {
    let net = Classifier::from_onnx_bytes(&squeezenet_bytes()).expect("squeezenet loads");
    let index = index();
    let (mut failures, mut checked) = (vec![], 0);
    for entry in index["entries"].as_array().expect("entries") {
        let image = entry["image"].as_str().expect("image");
        let x = png_224_to_tensor(&format!("{IMAGES}/{image}"));
        let proj = entry["eigencam_proj"].as_str().map(|f| read_npy(&format!("{DIR}/{f}")));
        for (class, files) in entry["files"].as_object().expect("files") {
            let class: usize = class.parse().expect("class keys are indices");
            let methods = files.as_object().unwrap().keys().filter_map(|k| k.strip_suffix("_raw"));
            for id in methods {
                let raw_want = read_npy(&format!("{DIR}/{}", files[format!("{id}_raw")].as_str().unwrap()));
                let full_want = read_npy(&format!("{DIR}/{}", files[id].as_str().expect("the full map")));
                let ours = run(&net, &x, id, class);
                assert_eq!(ours.map.shape, raw_want.shape, "{image} {class} {id}: shape");
                // Eigen-CAM: the reference's raw map is max(proj, 0) with NumPy's sign; ours max(±proj, 0).
                let (raw_ref, full_ref) = match (&proj, id) {
                    (Some(p), "eigencam") if ratio(&ours.map.data, &raw_want.data) > 1e-4 => {
                        let flipped: Vec<f32> = p.data.iter().map(|v| (-v).max(0.0)).collect();
                        let t = Tensor::new(raw_want.shape.clone(), flipped.clone());
                        eprintln!("{image} {id}: our sign is the negation of NumPy's");
                        (flipped, library_map(&t, 224, 224))
                    }
                    _ => (raw_want.data.clone(), full_want.data.clone()),
                };
                let raw_ratio = ratio(&ours.map.data, &raw_ref);
                let full = library_map(&ours.map, 224, 224);
                let full_abs = max_abs_diff(&full, &full_ref);
                eprintln!("{image} class {class} {id:12}: raw max|Δ|/max {raw_ratio:.2e}, full max|Δ| {full_abs:.2e}");
                if !(raw_ratio <= 1e-4 && full_abs <= 1e-3) {
                    failures.push(format!("{image} {class} {id}: raw {raw_ratio:.3e}, full {full_abs:.3e}"));
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 8 * 5, "the index lists only {checked} (image, class, method) cases");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The reference files of relevance propagation and the `lrp` settings that define them (index.json's
/// definitions: Zennit's two composites at their defaults; Captum's default rules, ε = 1e-9).
const LRP: &[(&str, &str)] = &[
    ("lrp_epf", r#"{"composite": "epsilon-plus-flat"}"#),
    ("lrp_egb", r#"{"composite": "epsilon-gamma-box"}"#),
    ("captum_lrp", r#"{"composite": "epsilon", "epsilon": 1e-9}"#),
];

#[test]
fn relevance_propagation_matches_zennit_and_captum() {
    let net = Classifier::from_onnx_bytes(&squeezenet_bytes()).expect("squeezenet loads");
    let spec = registry::method("lrp").expect("lrp is registered");
    let make = spec.attribution.expect("an attribution method").make;
    let index = index();
    let (mut failures, mut checked) = (vec![], 0);
    for entry in index["entries"].as_array().expect("entries") {
        let image = entry["image"].as_str().expect("image");
        let x = png_224_to_tensor(&format!("{IMAGES}/{image}"));
        for (class, files) in entry["files"].as_object().expect("files") {
            let class: usize = class.parse().expect("class keys are indices");
            for (key, settings) in LRP {
                let Some(file) = files[*key].as_str() else { continue };
                let want = read_npy(&format!("{DIR}/{file}"));
                let mut json: serde_json::Value = serde_json::from_str(settings).unwrap();
                json["class"] = serde_json::json!(class);
                let s = spec.settings(&json, net.num_classes()).unwrap();
                let ours =
                    attribution::attribute(&net, &x, Some(class), make, &s).unwrap_or_else(|e| panic!("{key}: {e}"));
                assert_eq!(ours.map.shape, want.shape, "{image} {class} {key}: shape");
                let r = ratio(&ours.map.data, &want.data);
                let scale = max_abs(&want.data);
                let off = ours.map.data.iter().zip(&want.data).filter(|(a, b)| (*a - *b).abs() > 1e-3 * scale).count();
                let off = off as f64 / want.data.len() as f64;
                let l2 = |v: &mut dyn Iterator<Item = f32>| v.map(|d| (d as f64).powi(2)).sum::<f64>().sqrt();
                let l2 = l2(&mut ours.map.data.iter().zip(&want.data).map(|(a, b)| a - b))
                    / l2(&mut want.data.iter().copied());
                let conservation = &ours.extra["conservation"]["text"];
                eprintln!(
                    "{image} class {class} {key:10}: max|Δ|/max {r:.2e}, {:.3}% off, L2 {l2:.2e}; {conservation}",
                    off * 100.0
                );
                // 1e-4 of the largest value, or the kink-flip rule (tests/attribution.rs): one ReLU/MaxPool decision
                // taken the other way changes one receptive field: ≤ 1% of values off by > 1e-3·max, L2 ≤ 1%.
                if !(r <= 1e-4 || (off <= 1e-2 && l2 <= 1e-2)) {
                    failures
                        .push(format!("{image} {class} {key}: ratio {r:.3e}, off {:.3}%, L2 {l2:.3e}", off * 100.0));
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 3 * 5, "the index lists only {checked} relevance cases");
    assert!(failures.is_empty(), "{failures:#?}");
}
