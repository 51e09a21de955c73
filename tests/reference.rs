//! The real model (SqueezeNet 1.1 from ../shared) against references that do not come from
//! this crate: the outputs published with the weights, the documented top-1 of the sample
//! photos, and input gradients computed by PyTorch autograd.

mod common;

use common::*;
use netlens::engine::Objective;
use netlens::{Classifier, Tensor};

fn classifier() -> Classifier {
    Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap_or_else(|e| panic!("squeezenet1_1.onnx does not load: {e}"))
}

/// Where two gradients differ most, and how many elements differ by more than `rel`·max|b|:
/// tells a local routing difference (a MaxPool tie) from a wrong VJP (differences everywhere).
fn worst_place(a: &[f32], b: &[f32], rel: f32) -> String {
    let scale = max_abs(b);
    let (mut at, mut worst) = (0, 0f32);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if (x - y).abs() > worst {
            (at, worst) = (i, (x - y).abs());
        }
    }
    let many = a.iter().zip(b).filter(|(x, y)| (*x - *y).abs() > rel * scale).count();
    let plane = 224 * 224;
    format!(
        "worst at [c {}, y {}, x {}] ours {:.5} ref {:.5}; {many} of {} elements off by > {rel:e}·max",
        at / plane,
        (at % plane) / 224,
        at % 224,
        a[at],
        b[at],
        a.len()
    )
}

fn channel_max_abs(g: &Tensor) -> Vec<f32> {
    let plane = 224 * 224;
    (0..plane).map(|i| (0..3).fold(0f32, |m, c| m.max(g.data[c * plane + i].abs()))).collect()
}

#[test]
fn forward_matches_published_outputs() {
    let net = classifier();
    for set in 0..3 {
        let x = read_npy(&format!("models/reference/test_data_set_{set}/input_0.npy"));
        let want = read_npy(&format!("models/reference/test_data_set_{set}/output_0.npy"));
        assert_eq!(x.shape, [1, 3, 224, 224]);
        let got = net.logits(&x).unwrap_or_else(|e| panic!("set {set}: {e}"));
        let diff = max_abs_diff(&got, &want.data);
        eprintln!(
            "test_data_set_{set}: max |ours - published| = {diff:.3e} (logits up to {:.1}), top-1 ours {} published {}",
            max_abs(&want.data),
            netlens::tensor::argmax(&got),
            want.argmax()
        );
        assert!(diff <= 2e-3, "test_data_set_{set}: logits differ by {diff} > 2e-3");
        assert_eq!(netlens::tensor::argmax(&got), want.argmax(), "test_data_set_{set}: top-1");
    }
}

#[test]
fn sample_images_top1_as_documented() {
    // From ../shared/models/PROVENANCE.md (onnxruntime on the full photos, resize 256 + crop 224).
    let expected = [
        ("chelsea.png", 285),
        ("coffee.png", 967),
        ("rocket.jpg", 657),
        ("motorcycle_left.png", 665),
        ("astronaut.png", 823),
    ];
    let net = classifier();
    let mut wrong = vec![];
    for (file, class) in expected {
        let img = netlens::imageio::load_224(&read_shared(&format!("images/{file}")))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(img.dimensions(), (224, 224), "{file}");
        let x = netlens::imageio::rgb_to_tensor(&img);
        let logits = net.logits(&x).unwrap();
        let p = netlens::tensor::softmax(&logits);
        let top = netlens::tensor::argmax(&logits);
        eprintln!("{file}: top-1 {top} (p {:.3}), expected {class} (p {:.3})", p[top], p[class]);
        if top != class {
            wrong.push(format!("{file}: got {top}, expected {class}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[test]
fn input_gradients_match_pytorch_autograd() {
    let index: serde_json::Value =
        serde_json::from_slice(&read_shared("models/reference/gradients/index.json")).expect("index.json");
    let entries = index["entries"].as_array().expect("entries");
    assert!(!entries.is_empty());
    let net = classifier();
    let engine = net.engine();
    let mut failures = vec![];
    let mut checked = 0;
    let mut strict_passes = 0;
    for entry in entries {
        let image = entry["image"].as_str().unwrap();
        let x = png_224_to_tensor(&format!("models/reference/gradients/{image}"));
        let acts = engine.forward(&x).unwrap_or_else(|e| panic!("{image}: {e}"));
        let logits = &acts.output().data;

        let pred = entry["pred"].as_u64().unwrap() as usize;
        assert_eq!(netlens::tensor::argmax(logits), pred, "{image}: predicted class");
        for pair in entry["top5"].as_array().unwrap() {
            let (k, want) = (pair[0].as_u64().unwrap() as usize, pair[1].as_f64().unwrap() as f32);
            let diff = (logits[k] - want).abs();
            assert!(diff <= 2e-3, "{image}: logit {k} is {} , PyTorch {want} (diff {diff:.2e})", logits[k]);
        }

        for grad in entry["grads"].as_array().unwrap() {
            let class = grad["class"].as_u64().unwrap() as usize;
            let want = read_npy(&format!("models/reference/gradients/{}", grad["grad"].as_str().unwrap()));
            let want_sal = read_npy(&format!("models/reference/gradients/{}", grad["saliency"].as_str().unwrap()));
            assert_eq!(want.shape, [3, 224, 224]);
            assert_eq!(want_sal.shape, [224, 224]);
            let scale = max_abs(&want.data);
            assert!((scale - grad["max_abs_grad"].as_f64().unwrap() as f32).abs() <= 1e-6 * scale.max(1.0));

            let ours = engine
                .backward(&acts, &Objective::Class(class))
                .unwrap_or_else(|e| panic!("{image} class {class}: {e}"));
            assert_eq!(ours.shape, [1, 3, 224, 224]);
            let grad_ratio = max_abs_diff(&ours.data, &want.data) / scale;
            let l2 = |v: &mut dyn Iterator<Item = f32>| v.map(|d| (d as f64).powi(2)).sum::<f64>().sqrt();
            let l2_ratio =
                l2(&mut ours.data.iter().zip(&want.data).map(|(a, b)| a - b)) / l2(&mut want.data.iter().copied());

            let sal = channel_max_abs(&ours);
            let sal_ratio = max_abs_diff(&sal, &want_sal.data) / max_abs(&want_sal.data);

            // The same through the public methods.
            let (_, via_classifier) = net.logits_and_grad(&x, class).unwrap();
            let classifier_ratio = max_abs_diff(&via_classifier.data, &want.data) / scale;
            let s = netlens::methods::saliency::saliency(&net, &x, Some(class)).unwrap();
            assert_eq!(s.class, class);
            assert_eq!(s.map.len(), 224 * 224);
            let method_ratio = max_abs_diff(&s.map, &want_sal.data) / max_abs(&want_sal.data);

            eprintln!(
                "{image} class {class}: max|ref| {scale:.4}, grad ratio {grad_ratio:.2e} (L2 {l2_ratio:.2e}), saliency ratio {sal_ratio:.2e}, \
                 Classifier::logits_and_grad ratio {classifier_ratio:.2e}, methods::saliency ratio {method_ratio:.2e}"
            );
            if grad_ratio > 1e-3 {
                eprintln!("  {}", worst_place(&ours.data, &want.data, 1e-3));
            }
            // The bar is max|ours-ref|/max|ref| <= 1e-3. Where it is missed, the cause has been a
            // single ReLU or MaxPool decision taken the other way: a value within ~1e-7 relative of a kink
            // or tie, on which tract's and PyTorch's float32 rounding disagree (chelsea: one MaxPool window
            // with 12.159992 vs 12.159986; swapping it gives 2.7e-7). Such a flip changes the gradient in
            // one receptive field only, so those entries must still agree everywhere else: at most 1% of
            // elements off by more than 1e-3·max|ref|, and an L2 error under 1%. A wrong VJP (padding,
            // stride, routing) would spread over the image and fail this. tests/real_model_fd.rs checks the
            // same gradients against finite differences of tract's own forward pass, where no such
            // disagreement can arise.
            let off =
                |a: &[f32], b: &[f32], m: f32| a.iter().zip(b).filter(|(x, y)| (*x - *y).abs() > 1e-3 * m).count();
            let off_fraction = off(&ours.data, &want.data, scale) as f64 / want.data.len() as f64;
            let sal_off = off(&sal, &want_sal.data, max_abs(&want_sal.data)) as f64 / sal.len() as f64;
            let strict = [grad_ratio, sal_ratio, classifier_ratio, method_ratio].iter().all(|r| *r <= 1e-3);
            eprintln!(
                "  elements off by > 1e-3·max: gradient {:.3}%, saliency {:.3}%",
                off_fraction * 100.0,
                sal_off * 100.0
            );
            if strict {
                strict_passes += 1;
            } else if !(off_fraction <= 1e-2 && sal_off <= 1e-2 && l2_ratio <= 1e-2) {
                failures.push(format!(
                    "{image} class {class}: ratio {grad_ratio:.3e}, saliency {sal_ratio:.3e}, off {:.3}% / {:.3}%, L2 {l2_ratio:.3e}",
                    off_fraction * 100.0,
                    sal_off * 100.0
                ));
            }
            // The public paths must give exactly the engine's gradient.
            assert_eq!(via_classifier.data, ours.data, "{image} class {class}: Classifier::logits_and_grad");
            assert_eq!(s.map, sal, "{image} class {class}: methods::saliency map");
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} gradients in index.json");
    assert!(failures.is_empty(), "{failures:#?}");
    // Entries without a kink flip meet the bar outright (motorcycle_left: ~4e-7).
    eprintln!("{strict_passes} of {checked} entries within 1e-3 everywhere");
    assert!(strict_passes >= 2, "only {strict_passes} entries meet max ratio <= 1e-3");
}
