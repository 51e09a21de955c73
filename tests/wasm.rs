//! The wasm bindings on the real model, inside a wasm runtime (wasm-bindgen-test; `make test-wasm` runs it in
//! Node). The data is embedded at compile time from assets/, which `make assets` fills from ../shared.
#![cfg(target_arch = "wasm32")]

use netlens::wasm::{encode_png, ClassViz, Image, NetLens};
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
    NetLens::new(MODEL, CLASSES, SYNSETS).unwrap_or_else(|_| panic!("the model must load"))
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
    assert!(lens.search("kitty", 10).contains(&285) || lens.search("kitty", 10).iter().any(|&c| (281..=285).contains(&c)));
}

#[wasm_bindgen_test]
fn saliency_in_wasm_matches_pytorch() {
    let lens = lens();
    let image = Image::decode(MOTORCYCLE_224).unwrap_or_else(|_| panic!("decode"));
    let s = lens.saliency(&image, Some(665)).unwrap_or_else(|_| panic!("saliency"));
    let reference = npy_f32(SALIENCY_665);
    let ours = s.map();
    assert_eq!(ours.len(), reference.len());
    let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = ours.iter().zip(&reference).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst / scale <= 1e-3, "max |ours - pytorch| / max |pytorch| = {}", worst / scale);
    assert_eq!(s.heatmap().len(), 224 * 224 * 4);
    assert_eq!(s.overlay().len(), 224 * 224 * 4);
}

#[wasm_bindgen_test]
fn class_visualization_is_deterministic_per_seed() {
    let lens = lens();
    let settings = r#"{"class": 76, "iters": 3, "seed": 1}"#;
    let run = |json: &str| {
        let mut viz: ClassViz = lens.start_class_viz(json).unwrap_or_else(|_| panic!("start"));
        for _ in 0..3 {
            viz.step(&lens, json).unwrap_or_else(|_| panic!("step"));
        }
        assert_eq!(viz.iteration(), 3);
        viz.rgba()
    };
    let a = run(settings);
    assert_eq!(a, run(settings));
    assert_ne!(a, run(r#"{"class": 76, "iters": 3, "seed": 2}"#));
    let png = encode_png(&a).unwrap_or_else(|_| panic!("png"));
    let back = Image::decode(&png).unwrap_or_else(|_| panic!("decode png"));
    assert_eq!(back.rgba(), a, "a 224x224 PNG must come back pixel for pixel");
}

#[wasm_bindgen_test]
fn bad_inputs_are_errors_not_traps() {
    let lens = lens();
    assert!(Image::decode(b"this is a text file, not an image").is_err());
    assert!(Image::decode(&CHELSEA_224[..CHELSEA_224.len() / 3]).is_err());
    assert!(Image::decode(&[]).is_err());
    assert!(NetLens::new(b"not an onnx model", CLASSES, SYNSETS).is_err());
    assert!(NetLens::new(MODEL, "only\nthree\nclasses\n", "").is_err());
    assert!(lens.start_class_viz(r#"{"class": 5000}"#).is_err());
    assert!(lens.start_class_viz(r#"{"lr": "NaN"}"#).is_err());
    assert!(lens.start_class_viz("not json").is_err());
    let image = Image::decode(CHELSEA_224).unwrap_or_else(|_| panic!("decode"));
    assert!(lens.start_fooling(&image, r#"{"target": 76, "lr": -1}"#).is_err());
    assert!(lens.start_fooling(&image, r#"{"target": 1000}"#).is_err());
    assert!(lens.saliency(&image, Some(1000)).is_err());
}
