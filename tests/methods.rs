//! The three methods on the real model: CS231n's acceptance checks, plus their building blocks against
//! independently written references.

use std::path::PathBuf;

use netlens::methods::classviz::{class_visualization, ClassVizRun, ClassVizSettings, Update};
use netlens::methods::fooling::{fool, FoolingRun, FoolingSettings, FoolingStep};
use netlens::methods::image_ops::{gaussian_blur_hw, gaussian_kernel, roll};
use netlens::methods::saliency::saliency;
use netlens::tensor::{argmax, softmax, Tensor};
use netlens::{imageio, Classifier, Error};

const TARANTULA: usize = 76;
const EGYPTIAN_CAT: usize = 285;

fn shared() -> PathBuf {
    match std::env::var_os("NETLENS_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

fn read(rel: &str) -> Vec<u8> {
    let path = shared().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn net() -> Classifier {
    Classifier::from_onnx_bytes(&read("models/squeezenet1_1.onnx")).expect("the model loads")
}

fn chelsea_rgb() -> image::RgbImage {
    imageio::load_224(&read("images/chelsea.png")).expect("chelsea decodes")
}

fn chelsea() -> Tensor {
    imageio::rgb_to_tensor(&chelsea_rgb())
}

/// Classify an 8-bit image the way a user would meet it: as a PNG file written by another encoder.
fn classify_as_png(rgb: &image::RgbImage, net: &Classifier) -> Vec<f32> {
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(rgb.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let decoded = imageio::decode(&png).unwrap();
    assert_eq!(decoded.dimensions(), (224, 224));
    net.logits(&imageio::rgb_to_tensor(&decoded)).unwrap()
}

#[test]
fn fooling_turns_chelsea_into_a_tarantula_that_survives_8_bit_rounding() {
    let net = net();
    let x = chelsea();
    let settings = FoolingSettings { target: TARANTULA, ..FoolingSettings::default() };
    let mut seen = 0;
    let report = fool(&net, &x, &settings, |p| {
        seen += 1;
        assert_eq!(p.iteration, seen);
        assert_eq!(p.original_class, EGYPTIAN_CAT);
        true
    })
    .unwrap();
    println!(
        "fooling: {} iterations, p(76) {} -> {}, L2 {} Linf {}",
        report.iterations,
        report.target_prob_before,
        report.target_prob_after,
        report.perturbation_l2,
        report.perturbation_linf
    );
    assert!(report.success && !report.cancelled);
    assert!(report.iterations >= 1 && report.iterations <= 100, "took {} iterations", report.iterations);
    assert_eq!(report.original_class, EGYPTIAN_CAT);
    assert_eq!(report.final_class, TARANTULA);

    // Independently: the result is an 8-bit image that, saved and decoded again, is still a tarantula.
    let fooled_rgb = imageio::tensor_to_rgb(&report.fooled);
    let requantised = imageio::rgb_to_tensor(&fooled_rgb);
    let max_change = report.fooled.data.iter().zip(&requantised.data).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(max_change < 1e-5, "the reported tensor is not on the 8-bit grid (off by {max_change})");
    let logits = classify_as_png(&fooled_rgb, &net);
    assert_eq!(argmax(&logits), TARANTULA);
    let p_after = softmax(&logits)[TARANTULA];
    assert!((p_after - report.target_prob_after).abs() < 1e-4, "{p_after} vs {}", report.target_prob_after);
    let p_before = softmax(&net.logits(&x).unwrap())[TARANTULA];
    assert!((p_before - report.target_prob_before).abs() < 1e-6);

    // The perturbation, counted again in pixel units from the two 8-bit images.
    let original = chelsea_rgb();
    let diffs: Vec<f64> =
        original.as_raw().iter().zip(fooled_rgb.as_raw()).map(|(&a, &b)| f64::from(a) - f64::from(b)).collect();
    let l2 = diffs.iter().map(|d| d * d).sum::<f64>().sqrt();
    let linf = diffs.iter().map(|d| d.abs()).fold(0.0, f64::max);
    assert!(linf >= 1.0, "fooling changed no pixel");
    assert!((l2 - f64::from(report.perturbation_l2)).abs() < 1e-3 * l2.max(1.0));
    assert_eq!(linf as f32, report.perturbation_linf);
}

#[test]
fn fooling_can_be_cancelled_and_stepped() {
    let net = net();
    let x = chelsea();
    let settings = FoolingSettings { target: TARANTULA, ..FoolingSettings::default() };
    let report = fool(&net, &x, &settings, |p| p.iteration < 3).unwrap();
    assert!(report.cancelled);
    assert_eq!(report.iterations, 3);

    // A run out of steps reports failure instead of going on.
    let settings = FoolingSettings { target: TARANTULA, max_iters: 2, ..FoolingSettings::default() };
    let mut run = FoolingRun::new(&net, &x, &settings).unwrap();
    let mut steps = 0;
    let report = loop {
        match run.step(&net).unwrap() {
            FoolingStep::Running(_) => steps += 1,
            FoolingStep::Done(r) => break r,
        }
        assert!(steps <= 2);
    };
    assert_eq!(report.iterations, 2);
    assert!(!report.success && !report.cancelled);
    assert_eq!(report.final_class, argmax(&net.logits(&report.fooled).unwrap()));
}

#[test]
fn fooling_rejects_bad_settings() {
    let net = net();
    let x = chelsea();
    for settings in [
        FoolingSettings { target: 1000, ..Default::default() },
        FoolingSettings { lr: f32::NAN, ..Default::default() },
        FoolingSettings { lr: -1.0, ..Default::default() },
        FoolingSettings { max_iters: 0, ..Default::default() },
        FoolingSettings { max_iters: 1_000_000, ..Default::default() },
    ] {
        assert!(matches!(FoolingRun::new(&net, &x, &settings), Err(Error::Invalid(_))), "{settings:?} accepted");
    }
    let mut nan_image = x.clone();
    nan_image.data[7] = f32::NAN;
    assert!(matches!(FoolingRun::new(&net, &nan_image, &FoolingSettings::default()), Err(Error::Invalid(_))));
}

fn viz_bytes(net: &Classifier, settings: &ClassVizSettings) -> Vec<u8> {
    let image = class_visualization(net, settings, 0, |_, _| true).unwrap().expect("not cancelled");
    image.data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn class_visualization_of_a_tarantula_is_a_tarantula_and_reproducible() {
    let net = net();
    let settings = ClassVizSettings { class: TARANTULA, seed: 0, iters: 100, ..ClassVizSettings::default() };
    let mut snapshots = Vec::new();
    let image = class_visualization(&net, &settings, 25, |done, _| {
        snapshots.push(done);
        true
    })
    .unwrap()
    .unwrap();
    assert_eq!(snapshots, vec![25, 50, 75, 100]);
    let logits = net.logits(&imageio::quantize(&image)).unwrap();
    let p = softmax(&logits);
    println!("class viz 76: p(76) = {} after 8-bit rounding", p[TARANTULA]);
    assert_eq!(argmax(&logits), TARANTULA);
    // Every value stays a pixel value.
    let plane = 224 * 224;
    for (c, chunk) in image.data.chunks(plane).enumerate() {
        let (lo, hi) = imageio::valid_range(c);
        assert!(chunk.iter().all(|&v| v >= lo && v <= hi));
    }

    let again = viz_bytes(&net, &settings);
    let first: Vec<u8> = image.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert!(first == again, "two runs with the same seed differ");
    let other_seed = viz_bytes(&net, &ClassVizSettings { seed: 1, iters: 3, ..settings.clone() });
    let same_seed_short = viz_bytes(&net, &ClassVizSettings { iters: 3, ..settings.clone() });
    assert!(other_seed != same_seed_short, "seed 1 gives the same image as seed 0");
}

#[test]
fn class_visualization_stepper_takes_new_settings_and_can_be_cancelled() {
    let net = net();
    let settings = ClassVizSettings { class: TARANTULA, iters: 4, ..ClassVizSettings::default() };
    assert_eq!(class_visualization(&net, &settings, 1, |done, _| done < 2).unwrap(), None);

    // Changing a setting mid-run changes what the next step does.
    let mut a = ClassVizRun::new(&settings).unwrap();
    let mut b = ClassVizRun::new(&settings).unwrap();
    assert_eq!(a.image(), b.image());
    a.step(&net, &settings).unwrap();
    b.step(&net, &settings).unwrap();
    assert_eq!(a.image(), b.image());
    a.step(&net, &settings).unwrap();
    b.step(&net, &ClassVizSettings { update: Update::Plain, lr: 1.0, ..settings.clone() }).unwrap();
    assert_ne!(a.image(), b.image());
    assert_eq!((a.iteration(), b.iteration()), (2, 2));
    assert!(matches!(a.step(&net, &ClassVizSettings { class: 1000, ..settings.clone() }), Err(Error::Invalid(_))));
}

#[test]
fn class_visualization_settings_are_validated_and_default_from_json() {
    let d = ClassVizSettings::default();
    assert_eq!(
        (d.class, d.l2_reg, d.lr, d.iters, d.blur_every, d.blur_sigma, d.max_jitter, d.seed),
        (76, 1e-3, 25.0, 100, 10, 0.5, 16, 0)
    );
    assert_eq!(d.update, Update::Normalized);
    let parsed: ClassVizSettings = serde_json::from_str(r#"{"lr": 10, "update": "plain"}"#).unwrap();
    assert_eq!(parsed, ClassVizSettings { lr: 10.0, update: Update::Plain, ..d.clone() });
    let fooling: FoolingSettings = serde_json::from_str(r#"{"target": 3}"#).unwrap();
    assert_eq!(fooling, FoolingSettings { target: 3, lr: 1.0, max_iters: 200 });
    for bad in [
        ClassVizSettings { lr: f32::NAN, ..d.clone() },
        ClassVizSettings { lr: 0.0, ..d.clone() },
        ClassVizSettings { l2_reg: -1.0, ..d.clone() },
        ClassVizSettings { l2_reg: f32::INFINITY, ..d.clone() },
        ClassVizSettings { iters: 0, ..d.clone() },
        ClassVizSettings { iters: 10_001, ..d.clone() },
        ClassVizSettings { max_jitter: 512, ..d.clone() },
        ClassVizSettings { blur_sigma: f32::NAN, ..d.clone() },
        ClassVizSettings { blur_sigma: 0.0, ..d.clone() },
    ] {
        assert!(matches!(ClassVizRun::new(&bad), Err(Error::Invalid(_))), "{bad:?} accepted");
    }
    // Without blurring the sigma does not matter.
    assert!(ClassVizRun::new(&ClassVizSettings { blur_every: 0, blur_sigma: 0.0, ..d.clone() }).is_ok());
    // The jitter's bound is the model's input side − 1 (the registry's bound is the largest input's), checked
    // against the network at every step.
    let wide = ClassVizSettings { max_jitter: 224, ..d };
    let msg = ClassVizRun::new(&wide).unwrap().step(&net(), &wide).unwrap_err().to_string();
    assert!(msg.contains("max_jitter") && msg.contains("224×224") && msg.contains("223"), "{msg}");
}

#[test]
fn saliency_is_the_channel_max_of_the_absolute_gradient() {
    let net = net();
    let x = chelsea();
    let s = saliency(&net, &x, Some(EGYPTIAN_CAT)).unwrap();
    assert_eq!(s.class, EGYPTIAN_CAT);
    assert_eq!(s.map.len(), 224 * 224);
    assert!(s.map.iter().all(|&v| v >= 0.0 && v.is_finite()));
    let (logits, grad) = net.logits_and_grad(&x, EGYPTIAN_CAT).unwrap();
    assert_eq!(grad.shape, vec![1, 3, 224, 224]);
    let peak = s.map.iter().cloned().fold(0.0f32, f32::max);
    assert!(peak > 0.0);
    for y in 0..224 {
        for x_ in 0..224 {
            let at = |c: usize| grad.data[c * 224 * 224 + y * 224 + x_].abs();
            let expected = at(0).max(at(1)).max(at(2));
            let got = s.map[y * 224 + x_];
            assert!((got - expected).abs() <= 1e-6 * peak, "({y},{x_}): {got} vs {expected}");
        }
    }
    for (a, b) in s.logits.iter().zip(&logits) {
        assert!((a - b).abs() < 1e-4);
    }

    let predicted = saliency(&net, &x, None).unwrap();
    assert_eq!(predicted.class, EGYPTIAN_CAT);
    assert!(matches!(saliency(&net, &x, Some(1000)), Err(Error::Invalid(_))));
}

/// scipy's 'reflect' mode written out: the line mirrored on both sides, edge values repeated.
fn reflected(line: &[f64], radius: usize) -> Vec<f64> {
    let mut mirrored: Vec<f64> = line.iter().rev().cloned().collect();
    let mut out = Vec::new();
    let before = mirrored.len() - radius.min(mirrored.len());
    out.extend_from_slice(&mirrored[before..]);
    out.extend_from_slice(line);
    mirrored.truncate(radius);
    out.extend_from_slice(&mirrored);
    out
}

fn filter_1d(line: &[f64], weights: &[f64]) -> Vec<f64> {
    let radius = weights.len() / 2;
    let padded = reflected(line, radius);
    (0..line.len()).map(|i| weights.iter().enumerate().map(|(k, w)| w * padded[i + k]).sum()).collect()
}

/// The blur as a loop per pixel in float32 (kernel weights × reflected neighbours, added in kernel order): the
/// row-wise blur must give these very values (share links and the class visualization rely on them).
fn blur_per_pixel(values: &[f32], (c, h, w): (usize, usize, usize), kernel: &[f32]) -> Vec<f32> {
    let r = (kernel.len() / 2) as i64;
    let reflect = |i: i64, n: usize| {
        let m = i.rem_euclid(2 * n as i64);
        (if m < n as i64 { m } else { 2 * n as i64 - 1 - m }) as usize
    };
    let mut out = values.to_vec();
    for plane in out.chunks_mut(h * w) {
        let src = plane.to_vec();
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0f32;
                for (k, wk) in kernel.iter().enumerate() {
                    acc += wk * src[reflect(y as i64 + k as i64 - r, h) * w + x];
                }
                plane[y * w + x] = acc;
            }
        }
        let src = plane.to_vec();
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0f32;
                for (k, wk) in kernel.iter().enumerate() {
                    acc += wk * src[y * w + reflect(x as i64 + k as i64 - r, w)];
                }
                plane[y * w + x] = acc;
            }
        }
    }
    assert_eq!(out.len(), c * h * w);
    out
}

#[test]
fn blur_gives_exactly_the_per_pixel_sums() {
    // Faithfulness's σ = 10 baseline on a 224 × 224 image; the class visualization's σ = 0.5; a kernel longer
    // than the image (reflections of reflections).
    for (sigma, c, h, w) in [(10.0f32, 3, 224, 224), (0.5, 3, 224, 224), (3.0, 2, 5, 6), (1.0, 1, 1, 7)] {
        let values: Vec<f32> = (0..c * h * w).map(|i| ((i * 7919 % 1013) as f32) / 101.0 - 5.0).collect();
        let mut x = Tensor::new(vec![1, c, h, w], values.clone());
        gaussian_blur_hw(&mut x, sigma, &mut Vec::new());
        let want = blur_per_pixel(&values, (c, h, w), &gaussian_kernel(sigma));
        assert!(x.data == want, "σ {sigma} on {c}×{h}×{w}: the row-wise blur differs from the per-pixel sums");
    }
}

#[test]
fn blur_matches_scipy_gaussian_filter1d_on_both_axes() {
    for sigma in [0.5f64, 1.0] {
        let radius = (4.0 * sigma + 0.5).floor() as i64;
        let raw: Vec<f64> = (-radius..=radius).map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp()).collect();
        let total: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / total).collect();
        let kernel = gaussian_kernel(sigma as f32);
        assert_eq!(kernel.len(), weights.len());
        for (a, b) in kernel.iter().zip(&weights) {
            assert!((f64::from(*a) - b).abs() < 1e-7);
        }

        let (c, h, w) = (2usize, 6usize, 5usize);
        let values: Vec<f32> = (0..c * h * w).map(|i| ((i * 37 % 23) as f32) - 11.0).collect();
        let mut x = Tensor::new(vec![1, c, h, w], values.clone());
        gaussian_blur_hw(&mut x, sigma as f32, &mut Vec::new());

        for ch in 0..c {
            let plane: Vec<f64> = values[ch * h * w..][..h * w].iter().map(|&v| f64::from(v)).collect();
            // axis 2 (rows vary), then axis 3.
            let mut along_h = vec![0.0; h * w];
            for col in 0..w {
                let line: Vec<f64> = (0..h).map(|r| plane[r * w + col]).collect();
                for (r, v) in filter_1d(&line, &weights).into_iter().enumerate() {
                    along_h[r * w + col] = v;
                }
            }
            for r in 0..h {
                let expected = filter_1d(&along_h[r * w..][..w], &weights);
                for (col, want) in expected.iter().enumerate() {
                    let got = f64::from(x.data[ch * h * w + r * w + col]);
                    assert!((got - want).abs() < 1e-4, "sigma {sigma} c{ch} ({r},{col}): {got} vs {want}");
                }
            }
        }
    }
    // The notebook's sigma 0.5 kernel, from exp(-x^2 / 2 sigma^2) normalised.
    let k = gaussian_kernel(0.5);
    let expected: [f64; 5] = [0.000263865, 0.106450772, 0.786570726, 0.106450772, 0.000263865];
    for (a, b) in k.iter().zip(expected) {
        assert!((f64::from(*a) - b).abs() < 1e-7);
    }
}

#[test]
fn roll_is_torch_roll_and_rolling_back_restores() {
    let (h, w) = (3usize, 4usize);
    let src = Tensor::new(vec![1, 2, h, w], (0..2 * h * w).map(|i| i as f32).collect());
    let mut dst = Tensor::zeros(&[1, 2, h, w]);
    let (ox, oy) = (3usize, 1usize);
    roll(&src, &mut dst, ox, oy);
    for c in 0..2 {
        for y in 0..h {
            for x in 0..w {
                let from = c * h * w + ((y + h - oy) % h) * w + (x + w - ox) % w;
                assert_eq!(dst.data[c * h * w + y * w + x], src.data[from]);
            }
        }
    }
    let mut back = Tensor::zeros(&[1, 2, h, w]);
    roll(&dst, &mut back, w - ox, h - oy);
    assert_eq!(back, src);
}
