//! Saliency map (Simonyan et al. 2014, as in CS231n): how much each pixel moves one class score. An attribution
//! method like the others (the trust tests and Compare score it), shown in the CS231n tab: the map is
//! max over colour channels of |∂ score / ∂ pixel|, one value per pixel.

use serde_json::Value as Json;

use super::attribution::ixg::OnePass;
use super::attribution::{self, AttributionRun, Stepper, Style, CLASS};
use super::contract::{Attributor, Group, MethodSpec, OutputKind, OutputSpec, Paper, BACKWARD};
use super::image_ops::channel_max_abs;
use super::settings::Settings;
use crate::error::Result;
use crate::network::Classifier;
use crate::rules::Rules;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "saliency",
    title: "Saliency",
    summary: "Which pixels move the class score most: |∂ score / ∂ pixel|, the largest over the colour channels.",
    paper: Paper {
        cite: "Simonyan et al. 2014, Deep Inside Convolutional Networks",
        url: "https://arxiv.org/abs/1312.6034",
    },
    group: Group::Cs231n,
    needs_image: true,
    link_prefix: "sal",
    cost: "1 forward + backward",
    passes: Some(2),
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[CLASS],
    outputs: &[
        OutputSpec { id: "heatmap", title: "Saliency", kind: OutputKind::Heatmap, download: true },
        OutputSpec { id: "overlay", title: "Overlay", kind: OutputKind::Overlay, download: false },
    ],
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    attribution: Some(Attributor { make, pass_cost: BACKWARD }),
    sharding: None,
    requires: None,
};

pub fn make(_: &Classifier, x: &Tensor, class: usize, _: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    Ok((Box::new(MaxOverChannels(OnePass::new(x, class, |_| Rules::none(), false))), Style::Magnitude))
}

/// The input gradient's one pass, its map reduced to max_c |g| ([H, W]): CS231n's map, and what `--npy` writes.
struct MaxOverChannels(OnePass);

impl Stepper for MaxOverChannels {
    fn total(&self) -> usize {
        self.0.total()
    }
    fn done(&self) -> usize {
        self.0.done()
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        self.0.step(net)
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        let (g, extra) = self.0.result()?;
        let (h, w) = (g.shape[1], g.shape[2]);
        Ok((Tensor::new(vec![h, w], channel_max_abs(&g)), extra))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Saliency {
    /// The class whose score was differentiated.
    pub class: usize,
    /// The image's class scores (before softmax).
    pub logits: Vec<f32>,
    /// max over the colour channels of |d logit_class / d x|, row-major H x W.
    pub map: Vec<f32>,
}

/// Saliency of `class` for image `x` ([1,3,224,224], normalised); `None` means the predicted class.
pub fn saliency(net: &Classifier, x: &Tensor, class: Option<usize>) -> Result<Saliency> {
    let a = attribution::attribute(net, x, class, make, &SPEC.defaults())?;
    Ok(Saliency { class: a.class, logits: a.logits, map: a.map.data })
}
