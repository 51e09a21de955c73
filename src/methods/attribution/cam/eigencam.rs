//! Eigen-CAM (Muhammad & Yeasin 2020), pytorch-grad-cam's `EigenCAM`: the projection of the layer's activations
//! (positions × channels, each channel centred) on their first right singular vector, then the ReLU. The sign of a
//! singular vector is arbitrary (NumPy's SVD picks one); we flip the projection when |min| > |max|, as
//! Seg-Eigen-CAM (Chung & Ying 2025, pytorch-grad-cam's `get_2d_projection_with_sign_correction`) does, so the
//! salient region is the positive one. Class-agnostic: the class setting only names the class in the report.

use super::super::{AttributionRun, Stepper, Style, CLASS};
use super::gradcam::CAM_OUTPUTS;
use super::{LayerValues, OnePass, LAYER};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, FORWARD};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::Tensor;
use crate::vjp::gemm::gemm;

pub static SPEC: MethodSpec = MethodSpec {
    id: "eigencam",
    title: "Eigen-CAM",
    summary: "The layer's first principal component: where its activations vary most. Class-agnostic, no gradients.",
    paper: Paper { cite: "Muhammad & Yeasin 2020, Eigen-CAM", url: "https://arxiv.org/abs/2008.00299" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "eigencam",
    cost: "1 forward",
    passes: Some(1),
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[CLASS, LAYER],
    outputs: CAM_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    attribution: Some(Attributor { make, pass_cost: FORWARD }),
    sharding: None,
    requires: None,
};

pub fn make(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    Ok((Box::new(OnePass::new(net, x, class, s, false, map)?), Style::Coarse))
}

/// The signed projection on the first principal component (before the ReLU), sign-corrected.
pub fn map(v: &LayerValues) -> Vec<f32> {
    let mut p = first_component(&v.acts, v.channels, v.plane());
    let (min, max) = p.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    if min.abs() > max.abs() {
        p.iter_mut().for_each(|x| *x = -*x);
    }
    p
}

/// X v₁ for X the [positions, channels] matrix of `acts` ([channels, positions] in memory) with each channel
/// centred, v₁ its first right singular vector. With X = U S Vᵀ, X v₁ = s₁ u₁, and u₁ is the top eigenvector of
/// the positions × positions Gram matrix X Xᵀ (169 × 169 at features.12, smaller than the channels' 512 × 512):
/// found there by power iteration in f64, its sign arbitrary as the SVD's. The Gram matrix itself is one f32 GEMM
/// of the centred activations (the library's SVD works in the activations' f32 too): in f64 it was most of the
/// method's own time.
pub fn first_component(acts: &[f32], channels: usize, positions: usize) -> Vec<f32> {
    // Xᵀ as `acts` has it, [channels, positions], each channel centred (its mean taken in f64).
    let mut xt = Vec::with_capacity(acts.len());
    for ch in acts.chunks(positions) {
        let mean = ch.iter().map(|&a| a as f64).sum::<f64>() / positions as f64;
        xt.extend(ch.iter().map(|&a| (a as f64 - mean) as f32));
    }
    // X Xᵀ: X is Xᵀ read with its strides swapped.
    let mut gram32 = vec![0.0f32; positions * positions];
    gemm(positions, channels, positions, &xt, (1, positions), &xt, (positions, 1), &mut gram32, 1.0);
    let gram: Vec<f64> = gram32.iter().map(|&g| g as f64).collect();
    let u = top_eigenvector(&gram, positions);
    // X v₁ = X Xᵀ u₁ / s₁ = s₁ u₁, s₁ = √λ₁ = ‖X Xᵀ u₁‖^(1/2).
    let gu = mat_vec(&gram, &u, positions);
    let lambda = dot(&gu, &u);
    let s = lambda.max(0.0).sqrt();
    u.iter().map(|&v| (v * s) as f32).collect()
}

/// A dot product summed in eight independent lanes, which the compiler can keep in SIMD registers (one running
/// sum cannot be: float addition is not associative, so it may not reorder it).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (ca, cb) in a8.zip(b8) {
        for k in 0..8 {
            lanes[k] += ca[k] * cb[k];
        }
    }
    lanes.iter().sum::<f64>() + tail
}

fn mat_vec(m: &[f64], v: &[f64], n: usize) -> Vec<f64> {
    m.chunks(n).map(|row| dot(row, v)).collect()
}

/// The unit eigenvector of the largest eigenvalue of a symmetric positive semi-definite n × n matrix, by power
/// iteration from a start with a component along every direction, until it turns by less than 1e-12.
fn top_eigenvector(m: &[f64], n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64 * 0.618_033_988_749).fract()).collect();
    let norm = |v: &mut Vec<f64>| {
        let l = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if l > 0.0 {
            v.iter_mut().for_each(|x| *x /= l);
        }
    };
    norm(&mut v);
    for _ in 0..20_000 {
        let mut next = mat_vec(m, &v, n);
        norm(&mut next);
        let change: f64 = next.iter().zip(&v).map(|(a, b)| (a - b) * (a - b)).sum();
        v = next;
        if change < 1e-24 {
            break;
        }
    }
    v
}
