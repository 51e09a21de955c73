//! Grad-CAM (Selvaraju et al. 2017) and Guided Grad-CAM, Captum's and pytorch-grad-cam's definition: at a 4-D
//! layer A, ReLU(Σ_c mean_ij(∂logit_k/∂A_c) · A_c); Guided Grad-CAM multiplies Guided Backprop by that map
//! upsampled to the input by nearest neighbour (Captum).

use serde_json::Value as Json;

use super::super::guided::guided;
use super::super::ixg::input_gradient;
use super::super::{AttributionRun, Stepper, Style, CLASS, SIGNED_OUTPUTS};
use super::{channel_sums, LayerValues, OnePass, LAYER};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, OutputKind, OutputSpec, Paper, BACKWARD};
use crate::methods::image_ops::upsample_nearest;
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::Tensor;

const PAPER: Paper = Paper { cite: "Selvaraju et al. 2017, Grad-CAM", url: "https://arxiv.org/abs/1610.02391" };

/// The outputs of every CAM: the layer's map drawn at the input size, and over the image.
pub const CAM_OUTPUTS: &[OutputSpec] = &[
    OutputSpec { id: "map", title: "Map", kind: OutputKind::Heatmap, download: true },
    OutputSpec { id: "overlay", title: "Over the image", kind: OutputKind::Overlay, download: false },
];

pub static SPEC: MethodSpec = MethodSpec {
    id: "gradcam",
    title: "Grad-CAM",
    summary: "A late layer's channels weighted by how much the class score gains from them: a coarse map of where the evidence is.",
    paper: PAPER,
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "gradcam",
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

pub static GGC: MethodSpec = MethodSpec {
    id: "ggc",
    title: "Guided Grad-CAM",
    summary: "Guided Backprop's fine detail, kept only where Grad-CAM finds the class.",
    paper: PAPER,
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "ggc",
    cost: "2 forward + backward",
    passes: Some(4),
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[CLASS, LAYER],
    outputs: SIGNED_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &GGC),
    attribution: Some(Attributor { make: make_ggc, pass_cost: BACKWARD }),
    sharding: None,
    requires: None,
};

/// Grad-CAM's weights: each channel's mean gradient.
pub fn map(v: &LayerValues) -> Vec<f32> {
    let grads = v.grads.as_ref().expect("Grad-CAM asks for the gradient");
    let weights: Vec<f32> =
        channel_sums(grads, v.channels).into_iter().map(|s| (s / v.plane() as f64) as f32).collect();
    v.weighted(&weights)
}

pub fn make(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    Ok((Box::new(OnePass::new(net, x, class, s, true, map)?), Style::Coarse))
}

pub fn make_ggc(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    let cam = OnePass::new(net, x, class, s, true, map)?;
    Ok((Box::new(Guided { x: x.clone(), class, cam, map: None }), Style::Signed))
}

/// Grad-CAM as the first pass, Guided Backprop as the second.
struct Guided {
    x: Tensor,
    class: usize,
    cam: OnePass,
    map: Option<Tensor>,
}

impl Stepper for Guided {
    fn total(&self) -> usize {
        2
    }
    fn done(&self) -> usize {
        self.cam.done() + usize::from(self.map.is_some())
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        let Some(cam) = self.cam.cam() else { return self.cam.step(net) };
        let mut gbp = input_gradient(net, &self.x, self.class, guided)?;
        let (h, w) = (gbp.shape[1], gbp.shape[2]);
        let up = upsample_nearest(&cam.data, cam.shape[0], cam.shape[1], h, w);
        for ch in gbp.data.chunks_mut(h * w) {
            ch.iter_mut().zip(&up).for_each(|(g, c)| *g *= c);
        }
        self.map = Some(gbp);
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        Ok((self.map.clone().expect("both passes done"), Json::Null))
    }
}
