//! Saliency map (Simonyan et al. 2014, as in CS231n): how much each pixel moves one class score.

use serde_json::{json, Value as Json};

use super::attribution::CLASS;
use super::registry::{top5_of, Ctx, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run};
use super::settings::Settings;
use crate::engine::Objective;
use crate::error::Result;
use crate::network::Classifier;
use crate::render;
use crate::tensor::{argmax, Tensor};

pub static SPEC: MethodSpec = MethodSpec {
    id: "saliency",
    title: "Saliency",
    summary: "Which pixels move the class score most: |∂ score / ∂ pixel|, the largest over the colour channels.",
    paper: Paper {
        cite: "Simonyan et al. 2014, Deep Inside Convolutional Networks",
        url: "https://arxiv.org/abs/1312.6034",
    },
    group: super::registry::Group::Cs231n,
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
    start: |_, input, _| {
        let input = input.expect("checked by the registry");
        Ok(Box::new(SaliencyRun {
            tensor: input.tensor.clone(),
            rgba: input.rgba.clone(),
            result: None,
            probs: vec![],
        }))
    },
    attribution: None,
};

/// The registry's saliency run: one step.
struct SaliencyRun {
    tensor: Tensor,
    rgba: Vec<u8>,
    result: Option<Saliency>,
    /// Class probabilities of the image (the model's scores may already be probabilities).
    probs: Vec<f32>,
}

impl Run for SaliencyRun {
    fn step(&mut self, ctx: &Ctx, settings: &Settings) -> Result<Progress> {
        if self.result.is_none() {
            let s = saliency(ctx.net, &self.tensor, settings.class("class"))?;
            self.probs = ctx.net.probabilities(&s.logits);
            self.result = Some(s);
        }
        let s = self.result.as_ref().expect("set above");
        Ok(Progress {
            done: true,
            step: 1,
            total: 1,
            text: format!("Saliency of {}", (ctx.name)(s.class)),
            frame: false,
            top: top5_of(&self.probs),
        })
    }

    fn panels(&self) -> Vec<Panel> {
        let Some(s) = &self.result else { return vec![] };
        let (h, w) = (self.tensor.shape[2], self.tensor.shape[3]);
        let raw = Tensor::new(vec![h, w], s.map.clone());
        vec![
            Panel {
                id: "heatmap",
                kind: OutputKind::Heatmap,
                title: "Saliency".into(),
                width: w as u32,
                height: h as u32,
                rgba: render::heatmap_rgba(&s.map),
                raw: Some(raw),
                plot: None,
            },
            Panel {
                id: "overlay",
                kind: OutputKind::Overlay,
                title: "Overlay".into(),
                width: w as u32,
                height: h as u32,
                rgba: render::overlay_rgba(&self.rgba, &s.map),
                raw: None,
                plot: None,
            },
        ]
    }

    fn report(&self) -> Json {
        let Some(s) = &self.result else { return json!({}) };
        let p = self.probs[s.class];
        json!({ "class": s.class, "lines": [["Class", format!("#{} (p = {:.1}%)", s.class, p * 100.0)]] })
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
    if let Some(c) = class {
        net.check_class(c)?;
    }
    // One forward serves both the prediction and the reverse pass.
    let engine = net.engine();
    let acts = engine.forward(x)?;
    let logits = acts.output().data.clone();
    let class = class.unwrap_or_else(|| argmax(&logits));
    let grad = engine.backward(&acts, &Objective::Class(class))?;
    Ok(Saliency { class, logits, map: channel_max_abs(&grad) })
}

/// max_c |g[0, c, h, w]| for a [1, C, H, W] gradient.
pub fn channel_max_abs(grad: &Tensor) -> Vec<f32> {
    assert!(grad.shape.len() == 4 && grad.shape[0] == 1, "expected a [1, C, H, W] gradient, got {:?}", grad.shape);
    let plane = grad.shape[2] * grad.shape[3];
    let mut map = vec![0.0f32; plane];
    for channel in grad.data.chunks(plane) {
        for (m, g) in map.iter_mut().zip(channel) {
            *m = m.max(g.abs());
        }
    }
    map
}
