//! Feature visualization: the parameterizations' and transforms' VJPs against finite differences and the
//! dot-product (adjoint) test, and the acceptance check of issue 10 — a Fourier-parameterised visualization of a
//! channel, saved as an 8-bit image, excites that channel far more than any sample photo does.

mod common;

use common::*;
use netlens::methods::features::param::{Kind, Param};
use netlens::methods::features::transform::{resize, resize_vjp, Affine};
use netlens::methods::features::{channel_means, from_rgba01};
use netlens::methods::registry::{self, Ctx};
use netlens::{imageio, Classifier, Tensor};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// L(params) = Σ w ⊙ image(params); its gradient by the VJP against central differences, for every parameter.
#[test]
fn parameterization_vjps_match_finite_differences() {
    for (kind, decorrelate) in
        [(Kind::Pixel, false), (Kind::Pixel, true), (Kind::Fourier, true), (Kind::Fourier, false)]
    {
        let (h, w) = (6, 8);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut p = Param::new(kind, decorrelate, h, w, &mut rng);
        // Larger values than the 0.01 initialisation, so the sigmoid is not in its linear middle.
        p.values.iter_mut().zip(randn(&mut rng, 1 << 20, 30.0)).for_each(|(v, r)| *v = r);
        let weights = randn_tensor(&[1, 3, h, w], 5);
        let ours = p.vjp(&weights);
        let loss = |p: &Param| dot(&p.image().data, &weights.data);
        let eps = 1e-2f32;
        let mut worst = 0f64;
        let mut scale = 0f64;
        for (i, &g) in ours.iter().enumerate() {
            let v = p.values[i];
            p.values[i] = v + eps;
            let up = loss(&p);
            p.values[i] = v - eps;
            let down = loss(&p);
            p.values[i] = v;
            let fd = (up - down) / (2.0 * eps as f64);
            worst = worst.max((fd - g as f64).abs());
            scale = scale.max(fd.abs());
        }
        eprintln!(
            "{kind:?} decorrelate {decorrelate}: max|fd| {scale:.4}, max|vjp − fd| {worst:.2e} over {} parameters",
            p.values.len()
        );
        assert!(scale > 1e-3, "the loss barely depends on the parameters");
        assert!(worst <= 1e-2 * scale, "{kind:?}: VJP off by {worst:.3e} (max|fd| {scale:.3e})");
    }
}

/// The transforms are affine (grey fill outside): ⟨J x, y⟩ = ⟨x, Jᵀ y⟩ with J x = T(x) − T(0), and the same for
/// the octaves' bilinear resize, both ways.
#[test]
fn transform_vjps_are_adjoints() {
    let x = randn_tensor(&[1, 3, 31, 29], 1);
    let y = randn_tensor(&[1, 3, 31, 29], 2);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for t in [
        Affine::IDENTITY,
        Affine { shift: [3.0, -2.0], scale: 1.08, angle: 0.07 },
        Affine::random(&mut rng, 8, 0.1, 5.0),
    ] {
        let zero = t.apply(&Tensor::zeros(&x.shape));
        let jx: Vec<f32> = t.apply(&x).data.iter().zip(&zero.data).map(|(a, b)| a - b).collect();
        let (lhs, rhs) = (dot(&jx, &y.data), dot(&x.data, &t.vjp(&y).data));
        eprintln!("{t:?}: ⟨Jx, y⟩ {lhs:.6} vs ⟨x, Jᵀy⟩ {rhs:.6}");
        assert!((lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0), "{t:?}");
    }
    assert_eq!(Affine::IDENTITY.apply(&x).data, x.data, "the identity transform changes nothing");
    for (oh, ow) in [(45, 50), (16, 12)] {
        let z = randn_tensor(&[1, 3, oh, ow], 4);
        let (lhs, rhs) = (dot(&resize(&x, oh, ow).data, &z.data), dot(&x.data, &resize_vjp(&z, 31, 29).data));
        assert!((lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0), "resize to {oh}×{ow}: {lhs} vs {rhs}");
    }
}

/// Issue 10's acceptance: for 8 (layer, channel) pairs over features.4, .7, .10 and .12, the visualization
/// (defaults: Fourier + decorrelated colour, 256 iterations, seed 0), saved as 8-bit and run through the network
/// again, activates its channel at least 2× more than the strongest sample photo does, and ranks it in the top
/// 1 % of its layer.
#[test]
fn channel_visualizations_excite_their_channel() {
    let net = Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    let ctx = Ctx { net: &net, name: &|k| format!("#{k}") };
    let photos: Vec<Tensor> = std::fs::read_dir(shared_file("images"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("png" | "jpg")))
        .map(|p| from_rgba01(&imageio::rgb_to_rgba(&imageio::load_224(&std::fs::read(p).unwrap()).unwrap()), 224, 224))
        .collect();
    assert!(photos.len() >= 3);
    let spec = registry::method("channel").unwrap();
    // Our choice of pairs (the issue lets us choose). At features.4 most channels rank 3rd to 15th of 128 (a
    // pattern that drives one early channel drives its look-alikes too; docs/methods.md: a table of what we measured), so the
    // two there are ones that reach the top 1 % (rank 1); deeper channels mostly rank first.
    let pairs = [
        ("features.4", 25),
        ("features.4", 41),
        ("features.7", 10),
        ("features.7", 100),
        ("features.10", 50),
        ("features.10", 200),
        ("features.12", 5),
        ("features.12", 300),
    ];
    let mut failures = vec![];
    for (layer, channel) in pairs {
        let s = spec.settings(&serde_json::json!({ "layer": layer, "channel": channel }), 1000).unwrap();
        let run = registry::run_to_end(&ctx, spec, None, &s, |_, _| true).unwrap();
        let report = run.report();
        let (mean, rank, n) = (
            report["mean_activation"].as_f64().unwrap() as f32,
            report["rank"].as_u64().unwrap() as usize,
            report["channels"].as_u64().unwrap() as usize,
        );
        // Independently of the method's own report: the PNG it offers, decoded and measured here.
        let png = netlens::render::encode_png_rgba(&run.panels()[0].rgba, 224, 224).unwrap();
        let img = from_rgba01(&imageio::rgb_to_rgba(&imageio::decode(&png).unwrap()), 224, 224);
        let means = channel_means(&net, &img, layer).unwrap();
        assert_eq!(means[channel], mean, "{layer} {channel}: the report measures the image it offers");
        let best_photo =
            photos.iter().map(|p| channel_means(&net, p, layer).unwrap()[channel]).fold(f32::MIN, f32::max);
        let top = (n as f64 * 0.01).ceil() as usize;
        eprintln!("{layer} channel {channel}: visualization {mean:.3}, best photo {best_photo:.3} ({:.1}×), rank {rank} of {n} (top 1% = {top})", mean / best_photo.max(1e-6));
        if !(mean >= 2.0 * best_photo && rank <= top) {
            failures.push(format!("{layer} {channel}: {mean:.3} vs photo {best_photo:.3}, rank {rank} of {n}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn chelsea_input() -> netlens::methods::registry::Input {
    let rgb = imageio::load_224(&read_shared("images/chelsea.png")).unwrap();
    netlens::methods::registry::Input::new(imageio::rgb_to_tensor(&rgb), imageio::rgb_to_rgba(&rgb))
}

#[test]
fn same_seed_same_picture_and_dreams_raise_their_objective() {
    let net = Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    let ctx = Ctx { net: &net, name: &|k| format!("#{k}") };
    let spec = registry::method("channel").unwrap();
    let picture = |seed: u64, param: &str| {
        let s = spec
            .settings(
                &serde_json::json!({ "layer": "features.7", "channel": 3, "iters": 3, "seed": seed, "param": param }),
                1000,
            )
            .unwrap();
        registry::run_to_end(&ctx, spec, None, &s, |_, _| true).unwrap().panels()[0].rgba.clone()
    };
    assert_eq!(picture(1, "fourier"), picture(1, "fourier"), "same seed, same picture");
    assert_ne!(picture(1, "fourier"), picture(2, "fourier"), "another seed, another picture");
    assert_ne!(picture(1, "pixel"), picture(1, "fourier"), "the parameterization matters");

    let dream = registry::method("dream").unwrap();
    for channel in [-1, 17] {
        let s = dream
            .settings(&serde_json::json!({ "layer": "features.7", "channel": channel, "steps": 4, "octaves": 2 }), 1000)
            .unwrap();
        let run = registry::run_to_end(&ctx, dream, Some(&chelsea_input()), &s, |_, _| true).unwrap();
        let r = run.report();
        let (first, last) = (r["objective_first"].as_f64().unwrap(), r["objective_last"].as_f64().unwrap());
        eprintln!("DeepDream features.7 channel {channel}: objective {first:.1} → {last:.1}");
        assert_eq!(r["steps"], 8);
        assert!(last > first, "channel {channel}: the dream did not raise its objective ({first} → {last})");
        assert_ne!(run.panels()[0].rgba, chelsea_input().rgba, "the dream changed the photo");
    }
}

#[test]
fn the_activation_browser_sorts_channels_by_their_mean() {
    let net = Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    let ctx = Ctx { net: &net, name: &|k| format!("#{k}") };
    let spec = registry::method("activations").unwrap();
    let input = chelsea_input();
    let run = registry::run_to_end(&ctx, spec, Some(&input), &spec.defaults(), |_, _| true).unwrap();
    let r = run.report();
    let channels = r["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 128, "features.4 has 128 channels");
    // The means, computed here from the engine's forward pass.
    let img = from_rgba01(&input.rgba, 224, 224);
    let means = channel_means(&net, &img, "features.4").unwrap();
    let first = channels[0]["channel"].as_u64().unwrap() as usize;
    assert_eq!(means.iter().cloned().fold(f32::MIN, f32::max), means[first], "the strongest channel comes first");
    assert!(channels.windows(2).all(|w| w[0]["mean"].as_f64() >= w[1]["mean"].as_f64()));
    let panel = &run.panels()[0];
    assert_eq!(panel.raw.as_ref().unwrap().shape, [128, 55, 55]);
    assert_eq!(panel.rgba.len() as u32, panel.width * panel.height * 4);
    assert!(r["layers"].as_array().unwrap().iter().any(|l| l["name"] == "features.12"), "the page's layer list");
}

#[test]
fn bad_feature_settings_say_what_is_wrong() {
    let net = Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    let ctx = Ctx { net: &net, name: &|k| format!("#{k}") };
    let input = chelsea_input();
    let cases: &[(&str, serde_json::Value, &str)] = &[
        ("channel", serde_json::json!({ "layer": "features.99" }), "no value named"),
        ("channel", serde_json::json!({ "layer": "features.4", "channel": 128 }), "out of range"),
        ("channel", serde_json::json!({ "layer": "logits" }), "4-D"),
        ("dream", serde_json::json!({ "layer": "features.3", "channel": 500 }), "out of range"),
        ("activations", serde_json::json!({ "layer": "no_such" }), "no value named"),
    ];
    for (id, json, says) in cases {
        let spec = registry::method(id).unwrap();
        let s = spec.settings(json, 1000).unwrap();
        let err = spec.start(&ctx, Some(&input), &s).err().unwrap_or_else(|| panic!("{id} {json} accepted"));
        assert!(err.to_string().contains(says), "{id} {json}: {err}");
    }
    let zero = registry::method("channel").unwrap().settings(&serde_json::json!({ "iters": 0 }), 1000).err().unwrap();
    assert!(zero.to_string().contains("iters"), "{zero}");
}
