//! Score-CAM (Wang et al. 2020), pytorch-grad-cam's `ScoreCAM`: each channel of the layer, upsampled to the
//! input (bilinear, corners aligned: `UpsamplingBilinear2d`) and min-max scaled to [0, 1], masks the input; the
//! class logit of each masked input, softmaxed over the channels, weighs the channels: ReLU(Σ_c w_c A_c). One
//! forward pass per channel (512 at `features.12`), no gradients.

use serde_json::Value as Json;

use super::super::{AttributionRun, Stepper, Style, CLASS};
use super::gradcam::CAM_OUTPUTS;
use super::{channels, extra, layer, relu_map, LayerValues, LAYER};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, FORWARD};
use crate::methods::image_ops::{upsample_bilinear, Corners};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::{softmax, Tensor};

pub static SPEC: MethodSpec = MethodSpec {
    id: "scorecam",
    title: "Score-CAM",
    summary: "Each channel of a late layer used as a mask on the image; channels whose masked image keeps the class score count most. No gradients.",
    paper: Paper { cite: "Wang et al. 2020, Score-CAM", url: "https://arxiv.org/abs/1910.01279" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "scorecam",
    cost: "1 + channels forward passes (513 at features.12)",
    passes: None,
    compare: true,
    run_label: "Compute",
    auto_run: false,
    settings: &[CLASS, LAYER],
    outputs: CAM_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    attribution: Some(Attributor { make, pass_cost: FORWARD }),
    sharding: None,
    requires: None,
};

pub fn make(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    let layer = layer(net, s)?;
    let channels = channels(net, &layer)?;
    Ok((Box::new(ScoreCam { x: x.clone(), class, layer, channels, values: None, scores: vec![] }), Style::Coarse))
}

struct ScoreCam {
    x: Tensor,
    class: usize,
    layer: String,
    channels: usize,
    values: Option<LayerValues>,
    scores: Vec<f32>,
}

impl Stepper for ScoreCam {
    fn total(&self) -> usize {
        1 + self.channels
    }
    fn done(&self) -> usize {
        usize::from(self.values.is_some()) + self.scores.len()
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        let Some(values) = &self.values else {
            self.values = Some(LayerValues::of(net, &self.x, self.class, &self.layer, false)?);
            return Ok(());
        };
        let (h, w) = (self.x.shape[2], self.x.shape[3]);
        let mut mask = upsample_bilinear(values.act(self.scores.len()), values.h, values.w, h, w, Corners::Aligned);
        let (min, max) = mask.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        mask.iter_mut().for_each(|m| *m = (*m - min) / (max - min + 1e-8));
        let mut masked = self.x.clone();
        for plane in masked.data.chunks_mut(h * w) {
            plane.iter_mut().zip(&mask).for_each(|(v, m)| *v *= m);
        }
        self.scores.push(net.logits(&masked)?[self.class]);
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        let values = self.values.as_ref().expect("every pass done");
        let weights = softmax(&self.scores);
        Ok((relu_map(values, values.weighted(&weights)), extra(values)))
    }
}
