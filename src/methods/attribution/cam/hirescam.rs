//! HiResCAM (Draelos & Carin 2020), pytorch-grad-cam's `HiResCAM`: ReLU(Σ_c g_c ⊙ A_c) — Grad-CAM without the
//! spatial averaging of the gradient.

use super::super::{AttributionRun, Stepper, Style, CLASS};
use super::gradcam::CAM_OUTPUTS;
use super::{LayerValues, OnePass, LAYER};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "hirescam",
    title: "HiResCAM",
    summary: "The gradient times the activation at each location, summed over channels: no averaging, so the map shows exactly what raised the score.",
    paper: Paper { cite: "Draelos & Carin 2020, HiResCAM", url: "https://arxiv.org/abs/2011.08891" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "hirescam",
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
    v.elementwise(|a, g| g * a)
}
