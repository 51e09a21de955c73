//! Grad-CAM (Selvaraju et al. 2017) and Guided Grad-CAM, Captum's definitions: at a 4-D layer A (default
//! `features.12`, the last Fire module), ReLU(Σ_c mean_ij(∂logit_k/∂A_c) · A_c); Guided Grad-CAM multiplies
//! Guided Backprop by that map upsampled to the input by nearest neighbour.

use serde_json::Value as Json;

use super::ixg::input_gradient;
use super::{upsample_nearest, AttributionRun, Stepper, Style, CLASS, SIGNED_OUTPUTS};
use crate::backward::Wanted;
use crate::engine::Objective;
use crate::error::{Error, Result};
use crate::methods::registry::{Group, MethodSpec, OutputKind, OutputSpec, Paper};
use crate::methods::settings::{Kind, SettingSpec, Settings, NAME_PATTERN};
use crate::network::Classifier;
use crate::tensor::Tensor;
use crate::vjp::ReluRule;

pub const LAYER: SettingSpec = SettingSpec {
    key: "layer",
    link: "layer",
    label: "Layer",
    help: "The 4-D value (N, C, H, W) whose channels are weighted, by its ONNX name.",
    kind: Kind::Text { pattern: NAME_PATTERN, default: "features.12" },
    live: false,
};

pub static SPEC: MethodSpec = MethodSpec {
    id: "gradcam",
    title: "Grad-CAM",
    summary: "A late layer's channels weighted by how much the class score gains from them: a coarse map of where the evidence is.",
    paper: Paper { cite: "Selvaraju et al. 2017, Grad-CAM", url: "https://arxiv.org/abs/1610.02391" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "gradcam",
    cost: "1 forward + partial backward",
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[CLASS, LAYER],
    outputs: &[
        OutputSpec { id: "map", title: "Grad-CAM", kind: OutputKind::Heatmap, download: true },
        OutputSpec { id: "overlay", title: "Over the image", kind: OutputKind::Overlay, download: false },
    ],
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, SPEC.title, make),
};

pub static GGC: MethodSpec = MethodSpec {
    id: "ggc",
    title: "Guided Grad-CAM",
    summary: "Guided Backprop's fine detail, kept only where Grad-CAM finds the class.",
    paper: Paper { cite: "Selvaraju et al. 2017, Grad-CAM", url: "https://arxiv.org/abs/1610.02391" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "ggc",
    cost: "2 forward + backward",
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[CLASS, LAYER],
    outputs: SIGNED_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, GGC.title, make_ggc),
};

/// Checks that `layer` names a 4-D value that depends on the input.
fn check_layer(net: &Classifier, layer: &str) -> Result<()> {
    let engine = net.engine();
    let id = engine
        .value_id(layer)
        .map_err(|_| Error::Invalid(format!("Layer (layer): the model has no value named '{layer}'")))?;
    let shape = engine.graph().shape(id);
    if shape.len() != 4 {
        return Err(Error::Invalid(format!(
            "Layer (layer): '{layer}' has shape {shape:?}; Grad-CAM needs a 4-D (N, C, H, W) value"
        )));
    }
    if !engine.graph().depends_on_input[id] {
        return Err(Error::Invalid(format!("Layer (layer): '{layer}' does not depend on the input image")));
    }
    Ok(())
}

/// The Grad-CAM map [h, w] of `class` at `layer`.
pub fn grad_cam(net: &Classifier, x: &Tensor, class: usize, layer: &str) -> Result<Tensor> {
    net.check_class(class)?;
    check_layer(net, layer)?;
    let engine = net.engine();
    let id = engine.value_id(layer)?;
    let acts = engine.forward_with(x, &[layer])?;
    let store = engine.gradients(
        &acts,
        &Objective::Class(class),
        &Wanted { at: vec![id], input: false, relu: ReluRule::Standard },
    )?;
    let grad = store.get(id).expect("the layer's gradient was asked for");
    let a = acts.get(layer).ok_or_else(|| Error::Forward(format!("'{layer}' was not recorded")))?;
    let (c, h, w) = (a.shape[1], a.shape[2], a.shape[3]);
    let plane = h * w;
    let mut cam = vec![0.0f32; plane];
    for ch in 0..c {
        let g = &grad.data[ch * plane..(ch + 1) * plane];
        let weight = g.iter().map(|&v| v as f64).sum::<f64>() as f32 / plane as f32;
        let act = &a.data[ch * plane..(ch + 1) * plane];
        cam.iter_mut().zip(act).for_each(|(m, &v)| *m += weight * v);
    }
    cam.iter_mut().for_each(|v| *v = v.max(0.0));
    Ok(Tensor::new(vec![h, w], cam))
}

/// The settings' layer, or on a model without SqueezeNet's default layer, its last 4-D value.
fn layer(net: &Classifier, s: &Settings) -> Result<String> {
    let Kind::Text { default, .. } = LAYER.kind else { unreachable!("the layer setting is text") };
    let layer = net.layer_or_default(s.text("layer"), default);
    check_layer(net, &layer)?;
    Ok(layer)
}

pub fn make(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    let layer = layer(net, s)?;
    Ok((Box::new(Cam { x: x.clone(), class, layer, guided: false, cam: None, map: None }), Style::Coarse))
}

pub fn make_ggc(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    let layer = layer(net, s)?;
    Ok((Box::new(Cam { x: x.clone(), class, layer, guided: true, cam: None, map: None }), Style::Signed))
}

/// Grad-CAM in one step; Guided Grad-CAM adds the Guided Backprop pass as a second.
struct Cam {
    x: Tensor,
    class: usize,
    layer: String,
    guided: bool,
    cam: Option<Tensor>,
    map: Option<Tensor>,
}

impl Stepper for Cam {
    fn total(&self) -> usize {
        if self.guided {
            2
        } else {
            1
        }
    }
    fn done(&self) -> usize {
        usize::from(self.cam.is_some()) + usize::from(self.map.is_some())
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        if self.cam.is_none() {
            self.cam = Some(grad_cam(net, &self.x, self.class, &self.layer)?);
            return Ok(());
        }
        let cam = self.cam.as_ref().expect("set above");
        let mut gbp = input_gradient(net, &self.x, self.class, ReluRule::Guided)?;
        let (h, w) = (gbp.shape[1], gbp.shape[2]);
        let up = upsample_nearest(&cam.data, cam.shape[0], cam.shape[1], h, w);
        for ch in gbp.data.chunks_mut(h * w) {
            ch.iter_mut().zip(&up).for_each(|(g, c)| *g *= c);
        }
        self.map = Some(gbp);
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        let map = if self.guided { self.map.clone() } else { self.cam.clone() };
        Ok((map.expect("every pass done"), Json::Null))
    }
}
