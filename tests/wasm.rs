//! The wasm bindings on the real model, inside a wasm runtime (wasm-bindgen-test; `make test-wasm` runs it in
//! Node). The data is embedded at compile time from assets/, which `make assets` fills from ../shared.
#![cfg(target_arch = "wasm32")]

use js_sys::Uint8Array;
use netlens::wasm::{encode_png, schema, Image, NetLens};
use wasm_bindgen_test::wasm_bindgen_test;

const MODEL: &[u8] = include_bytes!("../assets/models/squeezenet1_1.onnx");
const CLASSES: &str = include_str!("../assets/models/imagenet_classes.txt");
const SYNSETS: &str = include_str!("../assets/models/imagenet_synset_words.txt");
const CHELSEA_224: &[u8] = include_bytes!("../assets/reference/chelsea_224.png");
// PyTorch autograd's saliency of motorcycle_left_224 for class 665 (shared/models/reference/gradients/index.json).
// This entry, not chelsea's: chelsea has a MaxPool near-tie on which tract's and PyTorch's float32 rounding
// choose different inputs (see tests/reference.rs), which the strict 1e-3 bar cannot absorb.
const MOTORCYCLE_224: &[u8] = include_bytes!("../assets/reference/motorcycle_left_224.png");
const SALIENCY_665: &[u8] = include_bytes!("../assets/reference/saliency_motorcycle_left_665.npy");

fn lens() -> NetLens {
    NetLens::new(Uint8Array::from(MODEL), CLASSES, SYNSETS).unwrap_or_else(|_| panic!("the model must load"))
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

fn npy_f32(bytes: &[u8]) -> Vec<f32> {
    npyz::NpyFile::new(bytes).expect("npy header").into_vec::<f32>().expect("float32 npy")
}

#[wasm_bindgen_test]
fn classifies_the_cat_and_names_it() {
    let lens = lens();
    let image = Image::decode(CHELSEA_224).unwrap_or_else(|_| panic!("decode"));
    let probs = lens.classify(&image).unwrap_or_else(|_| panic!("classify"));
    assert_eq!(probs.len(), 1000);
    assert_eq!(argmax(&probs), 285);
    assert_eq!(lens.short_name(285).ok().as_deref(), Some("Egyptian cat"));
    assert!(
        lens.search("kitty", 10).contains(&285) || lens.search("kitty", 10).iter().any(|&c| (281..=285).contains(&c))
    );
}

#[wasm_bindgen_test]
fn tract_runs_our_f32_kernel_for_the_convolutions() {
    use netlens::forward::wasm_gemm::picked;
    // SqueezeNet's fire2 3×3 expand: 64 output channels, 16 × 3 × 3 inputs, 55 × 55 positions.
    assert_eq!(picked(64, 144, 3025).as_deref(), Some("netlens_wasm_f32_4x8"));
    // Matrix × vector stays with tract's own kernels.
    assert_ne!(picked(1000, 512, 1).as_deref(), Some("netlens_wasm_f32_4x8"));
}

#[wasm_bindgen_test]
fn saliency_in_wasm_matches_pytorch() {
    let lens = lens();
    let image = Image::decode(MOTORCYCLE_224).unwrap_or_else(|_| panic!("decode"));
    let mut run = lens.start("saliency", Some(image), r#"{"class": 665}"#).unwrap_or_else(|_| panic!("start"));
    let progress = run.step(&lens, r#"{"class": 665}"#).unwrap_or_else(|_| panic!("step"));
    assert!(progress.contains(r#""done":true"#), "{progress}");
    let panels = run.panels();
    assert_eq!(panels.length(), 2);
    let get = |o: &wasm_bindgen::JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).unwrap_or_else(|_| panic!("{k}"));
    let heatmap = panels.get(0);
    let ours = js_sys::Float32Array::from(get(&heatmap, "raw")).to_vec();
    let reference = npy_f32(SALIENCY_665);
    assert_eq!(ours.len(), reference.len());
    let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = ours.iter().zip(&reference).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst / scale <= 1e-3, "max |ours - pytorch| / max |pytorch| = {}", worst / scale);
    assert_eq!(js_sys::Uint8Array::from(get(&heatmap, "rgba")).length(), 224 * 224 * 4);
    assert_eq!(js_sys::Uint8Array::from(get(&panels.get(1), "rgba")).length(), 224 * 224 * 4);
}

#[wasm_bindgen_test]
fn class_visualization_is_deterministic_per_seed() {
    let lens = lens();
    let settings = r#"{"class": 76, "iters": 3, "seed": 1}"#;
    let run = |json: &str| {
        let mut viz = lens.start("classviz", None, json).unwrap_or_else(|_| panic!("start"));
        for i in 1..=3 {
            let p = viz.step(&lens, json).unwrap_or_else(|_| panic!("step"));
            assert!(p.contains(&format!(r#""step":{i}"#)) && p.contains(&format!(r#""done":{}"#, i == 3)), "{p}");
        }
        viz.frame().unwrap_or_else(|| panic!("class visualization has a live frame"))
    };
    let a = run(settings);
    assert_eq!(a, run(settings));
    assert_ne!(a, run(r#"{"class": 76, "iters": 3, "seed": 2}"#));
    let png = encode_png(&a, 224, 224).unwrap_or_else(|_| panic!("png"));
    let back = Image::decode(&png).unwrap_or_else(|_| panic!("decode png"));
    assert_eq!(back.rgba(), a, "a 224x224 PNG must come back pixel for pixel");
}

#[wasm_bindgen_test]
fn bad_inputs_are_errors_not_traps() {
    let lens = lens();
    assert!(Image::decode(b"this is a text file, not an image").is_err());
    assert!(Image::decode(&CHELSEA_224[..CHELSEA_224.len() / 3]).is_err());
    assert!(Image::decode(&[]).is_err());
    assert!(NetLens::new(Uint8Array::from(&b"not an onnx model"[..]), CLASSES, SYNSETS).is_err());
    assert!(NetLens::new(Uint8Array::from(MODEL), "only\nthree\nclasses\n", "").is_err());
    assert!(lens.start("classviz", None, r#"{"class": 5000}"#).is_err());
    assert!(lens.start("classviz", None, r#"{"lr": "NaN"}"#).is_err());
    assert!(lens.start("classviz", None, "not json").is_err());
    assert!(lens.start("no_such_method", None, "{}").is_err());
    let image = || Image::decode(CHELSEA_224).unwrap_or_else(|_| panic!("decode"));
    assert!(lens.start("fooling", None, r#"{"target": 76}"#).is_err(), "fooling needs an image");
    assert!(lens.start("fooling", Some(image()), r#"{"target": 76, "lr": -1}"#).is_err());
    assert!(lens.start("fooling", Some(image()), r#"{"target": 1000}"#).is_err());
    assert!(lens.start("saliency", Some(image()), r#"{"class": 1000}"#).is_err());
    assert!(lens.start("smoothgrad", Some(image()), r#"{"samples": 0}"#).is_err());
    assert!(lens.start("gradcam", Some(image()), r#"{"layer": "no_such_value"}"#).is_err());
}

#[wasm_bindgen_test]
fn the_schema_lists_every_method() {
    let schema: serde_json::Value = serde_json::from_str(&schema()).unwrap_or_else(|_| panic!("schema is JSON"));
    let ids: Vec<&str> = schema["methods"]
        .as_array()
        .unwrap_or_else(|| panic!("methods"))
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for id in
        ["saliency", "fooling", "classviz", "ixg", "ig", "smoothgrad", "gradcam", "gbp", "deconv", "ggc", "occlusion"]
    {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
}

/// The page's forward pass pools with wasm SIMD rows (src/forward/maxpool.rs: `max_into`, and `max3_stride2` for
/// SqueezeNet's 3-wide stride-2 pools); a plan whose pools also record each window's winner pools with the
/// window scan (src/window_max.rs), written independently. The three pools' outputs and the logits, bit for bit,
/// on two images.
#[wasm_bindgen_test]
fn the_simd_pool_pools_as_the_window_scan() {
    use netlens::forward::{analyse, view, Forward};
    use prost::Message;
    let proto = tract_onnx::pb::ModelProto::decode(MODEL).unwrap_or_else(|_| panic!("the model must decode"));
    let graph = proto.graph.as_ref().unwrap_or_else(|| panic!("a graph"));
    let pools = graph.node.iter().filter(|n| n.op_type == "MaxPool").map(|n| n.output[0].clone());
    let outputs: Vec<String> = std::iter::once(graph.output[0].name.clone()).chain(pools).collect();
    assert_eq!(outputs.len(), 4, "SqueezeNet 1.1 has three max pools");
    let analysed = analyse(&proto, &[]).unwrap_or_else(|_| panic!("analyse"));
    let simd = Forward::new(analysed.clone(), outputs.clone(), &[]).unwrap_or_else(|_| panic!("plan"));
    let scan = Forward::new(analysed, outputs, &[1, 2, 3]).unwrap_or_else(|_| panic!("recording plan"));
    assert_eq!(scan.winners, [1, 2, 3], "every pool of the recording plan records its winners");
    assert!(simd.winners.is_empty());
    for png in [CHELSEA_224, MOTORCYCLE_224] {
        let x = netlens::imageio::rgb_to_tensor(&netlens::imageio::decode(png).unwrap_or_else(|_| panic!("decode")));
        let (a, b) = (simd.run(&x).unwrap_or_else(|_| panic!("run")), scan.run(&x).unwrap_or_else(|_| panic!("run")));
        for (i, len) in [1000, 64 * 55 * 55, 128 * 27 * 27, 256 * 13 * 13].into_iter().enumerate() {
            let (p, q) = (view(&a[i]).unwrap_or_else(|_| panic!("f32")), view(&b[i]).unwrap_or_else(|_| panic!("f32")));
            assert_eq!((p.data.len(), q.data.len()), (len, len), "output {i}");
            let differ = p.data.iter().zip(q.data).filter(|(p, q)| p.to_bits() != q.to_bits()).count();
            assert_eq!(differ, 0, "output {i}: {differ} of {len} values differ between the two pools");
        }
    }
}
