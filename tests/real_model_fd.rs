//! The reverse pass on the real SqueezeNet against finite differences of tract's own forward pass:
//! the function we differentiate is the one tract computes, so this check needs no other framework
//! and is immune to kink decisions (ReLU/MaxPool near-ties) on which PyTorch and tract may differ.

mod common;

use netlens::engine::{Engine, Objective};
use netlens::Tensor;

fn input() -> Tensor {
    // A real photo, not noise: activations then have realistic sparsity and pooling ties.
    let img =
        image::load_from_memory(&common::read_shared("models/reference/gradients/coffee_224.png")).unwrap().to_rgb8();
    let (mean, std) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
    let mut data = vec![0.0f32; 3 * 224 * 224];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            data[c * 224 * 224 + y as usize * 224 + x as usize] = (p[c] as f32 / 255.0 - mean[c]) / std[c];
        }
    }
    Tensor::new(vec![1, 3, 224, 224], data)
}

/// d/dt f(x + t·v) at t = 0 by central differences, f = logit `class`.
fn directional_fd(engine: &Engine, x: &Tensor, v: &[f32], class: usize, eps: f32) -> f64 {
    let at = |t: f32| {
        let moved = Tensor::new(x.shape.clone(), x.data.iter().zip(v).map(|(a, b)| a + t * b).collect());
        engine.forward_only(&moved).unwrap().data[class] as f64
    };
    (at(eps) - at(-eps)) / (2.0 * eps as f64)
}

#[test]
fn gradient_of_real_model_matches_finite_differences_along_several_directions() {
    let engine = Engine::from_onnx_bytes(&common::squeezenet_bytes()).unwrap();
    let x = input();
    let mut rng = common::rng(7);
    for class in [967usize, 76] {
        let acts = engine.forward(&x).unwrap();
        let g = engine.backward(&acts, &Objective::Class(class)).unwrap();
        let norm = g.l2_norm();
        // Directions: the gradient itself, and the gradient masked to random quarters of the image,
        // so each region's gradient is checked on its own.
        let mut directions = vec![g.data.iter().map(|v| v / norm).collect::<Vec<f32>>()];
        for _ in 0..3 {
            use rand::Rng;
            let (cy, cx) = (rng.gen_range(0..112usize), rng.gen_range(0..112usize));
            let masked: Vec<f32> = g
                .data
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let (y, xx) = ((i % 50176) / 224, i % 224);
                    if (cy..cy + 112).contains(&y) && (cx..cx + 112).contains(&xx) {
                        *v
                    } else {
                        0.0
                    }
                })
                .collect();
            let n = masked.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt() as f32;
            directions.push(masked.iter().map(|v| v / n).collect());
        }
        for (k, v) in directions.iter().enumerate() {
            let ours: f64 = g.data.iter().zip(v).map(|(a, b)| *a as f64 * *b as f64).sum();
            let fd = directional_fd(&engine, &x, v, class, 1e-2);
            let rel = (ours - fd).abs() / fd.abs().max(1e-3);
            println!("class {class} direction {k}: ours {ours:.5} fd {fd:.5} rel {rel:.2e}");
            assert!(rel < 2e-2, "class {class} direction {k}: ours {ours} vs finite differences {fd}");
        }
    }
}
