//! Ablation-CAM (Desai & Ramaswamy 2020), pytorch-grad-cam's `AblationCAM`: each channel of the layer is ablated
//! in turn — set to 0 when the layer's minimum is 0 (after a ReLU), else to that minimum − 1e7 — and the rest of
//! the network run from the layer on; a channel's weight is the class logit's relative drop, (y − y_c) / y:
//! ReLU(Σ_c w_c A_c). One forward pass from the layer on per channel, no gradients.

use serde_json::Value as Json;

use super::super::{AttributionRun, Stepper, Style, CLASS};
use super::gradcam::CAM_OUTPUTS;
use super::{channels, extra, layer, relu_map, LayerValues, LAYER};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "ablationcam",
    title: "Ablation-CAM",
    summary: "Switch off each channel of a late layer in turn and see how far the class score falls: no gradients.",
    paper: Paper {
        cite: "Desai & Ramaswamy 2020, Ablation-CAM",
        url: "https://openaccess.thecvf.com/content_WACV_2020/html/Desai_Ablation-CAM_Visual_Explanations_for_Deep_Convolutional_Network_via_Gradient-free_Localization_WACV_2020_paper.html",
    },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "ablationcam",
    cost: "1 forward + channels passes from the layer on (512 at features.12)",
    passes: None,
    compare: true,
    run_label: "Compute",
    auto_run: false,
    settings: &[CLASS, LAYER],
    outputs: CAM_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    attribution: Some(Attributor { make, pass_cost: PARTIAL }),
    sharding: None,
    requires: None,
};

/// A pass from the layer on, in forward passes: SqueezeNet's classifier after `features.12` is a 1×1 convolution
/// and a pool, a small share of the whole pass.
const PARTIAL: f64 = 0.1;

pub fn make(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    let layer = layer(net, s)?;
    let channels = channels(net, &layer)?;
    let cam = AblationCam { x: x.clone(), class, layer, channels, values: None, score: 0.0, scores: vec![] };
    Ok((Box::new(cam), Style::Coarse))
}

struct AblationCam {
    x: Tensor,
    class: usize,
    layer: String,
    channels: usize,
    values: Option<LayerValues>,
    /// The class logit of the image as it is.
    score: f32,
    scores: Vec<f32>,
}

impl Stepper for AblationCam {
    fn total(&self) -> usize {
        1 + self.channels
    }
    fn done(&self) -> usize {
        usize::from(self.values.is_some()) + self.scores.len()
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        let Some(values) = &self.values else {
            self.values = Some(LayerValues::of(net, &self.x, self.class, &self.layer, false)?);
            self.score = net.logits(&self.x)?[self.class];
            return Ok(());
        };
        let min = values.acts.iter().copied().fold(f32::INFINITY, f32::min);
        let ablated = if min == 0.0 { 0.0 } else { min - 1e7 };
        let value = values.ablated(self.scores.len(), ablated);
        self.scores.push(net.engine().forward_from(&self.x, &self.layer, &value)?.data[self.class]);
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        let values = self.values.as_ref().expect("every pass done");
        let weights: Vec<f32> = self.scores.iter().map(|&s| (self.score - s) / self.score).collect();
        Ok((relu_map(values, values.weighted(&weights)), extra(values)))
    }
}
