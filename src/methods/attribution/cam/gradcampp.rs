//! Grad-CAM++ (Chattopadhyay et al. 2018), pytorch-grad-cam's `GradCAMPlusPlus`: w_c = Σ_ij α_ij · ReLU(g_ij) with
//! α = g² / (2g² + Σ_ij A · g³ + 1e-6) (0 where g = 0), then ReLU(Σ_c w_c A_c).

use super::super::{AttributionRun, Stepper, Style, CLASS};
use super::gradcam::CAM_OUTPUTS;
use super::{LayerValues, OnePass, LAYER};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "gradcampp",
    title: "Grad-CAM++",
    summary: "Grad-CAM with each location's positive gradient weighted by higher-order terms: better when the class appears several times.",
    paper: Paper { cite: "Chattopadhyay et al. 2018, Grad-CAM++", url: "https://arxiv.org/abs/1710.11063" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "gradcampp",
    cost: "1 forward + partial backward",
    passes: Some(2),
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[CLASS, LAYER],
    outputs: CAM_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    attribution: Some(Attributor { make, pass_cost: BACKWARD }),
    sharding: None,
    requires: None,
};

pub fn make(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    Ok((Box::new(OnePass::new(net, x, class, s, true, map)?), Style::Coarse))
}

pub fn map(v: &LayerValues) -> Vec<f32> {
    let weights: Vec<f32> = (0..v.channels)
        .map(|c| {
            let sum_a: f32 = v.act(c).iter().map(|&a| a as f64).sum::<f64>() as f32;
            let w: f64 = v
                .grad(c)
                .iter()
                .map(|&g| {
                    if g == 0.0 {
                        return 0.0;
                    }
                    let g2 = g * g;
                    let alpha = g2 / (2.0 * g2 + sum_a * g2 * g + 1e-6);
                    (g.max(0.0) * alpha) as f64
                })
                .sum();
            w as f32
        })
        .collect();
    v.weighted(&weights)
}
