//! Layer-CAM (Jiang et al. 2021), pytorch-grad-cam's `LayerCAM`: ReLU(Σ_c ReLU(g_c) ⊙ A_c).

use super::super::{AttributionRun, Stepper, Style, CLASS};
use super::gradcam::CAM_OUTPUTS;
use super::{LayerValues, OnePass, LAYER};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "layercam",
    title: "Layer-CAM",
    summary:
        "Each location's activation weighted by its own positive gradient: finer maps, usable on earlier layers too.",
    paper: Paper { cite: "Jiang et al. 2021, LayerCAM", url: "https://ieeexplore.ieee.org/document/9462463" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "layercam",
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
    v.elementwise(|a, g| g.max(0.0) * a)
}
