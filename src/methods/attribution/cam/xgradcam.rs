//! XGrad-CAM (Fu et al. 2020), pytorch-grad-cam's `XGradCAM`: w_c = Σ_ij g_ij · A_ij / (Σ_ij A_ij + 1e-7), then
//! ReLU(Σ_c w_c A_c).

use super::super::{AttributionRun, Stepper, Style, CLASS};
use super::gradcam::CAM_OUTPUTS;
use super::{LayerValues, OnePass, LAYER};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "xgradcam",
    title: "XGrad-CAM",
    summary: "Grad-CAM with gradients weighted by the activations they act on: channel weights that sum the map's own sensitivity.",
    paper: Paper { cite: "Fu et al. 2020, Axiom-based Grad-CAM", url: "https://arxiv.org/abs/2008.02312" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "xgradcam",
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
            let sum_a = v.act(c).iter().map(|&a| a as f64).sum::<f64>() as f32 + 1e-7;
            v.grad(c).iter().zip(v.act(c)).map(|(&g, &a)| (g * a / sum_a) as f64).sum::<f64>() as f32
        })
        .collect();
    v.weighted(&weights)
}
