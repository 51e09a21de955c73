//! The attribution family (Captum's definitions, in the normalised input space the network sees): which input
//! values a class score depends on. Each method is a [`Stepper`] that does one forward(+backward) pass per
//! step, so the page shows progress and can cancel; [`AttributionRun`] turns any of them into a registry run.

pub mod cam;
pub mod guided;
pub mod ig;
pub mod ixg;
pub mod lrp;
pub mod occlusion;
pub mod rollout;
pub mod smoothgrad;

pub use super::contract::{MakeStepper, Stepper, Style};
pub use cam::gradcam;

use serde_json::{json, Value as Json};

use super::contract::{
    class_or_predicted, top5_of, Ctx, Input, MethodSpec, OutputKind, OutputSpec, Panel, Progress, Run,
};
use super::image_ops::{channel_max_abs, channel_sum, upsample_bilinear, Corners};
use super::settings::{Kind, SettingSpec, Settings};
use crate::error::Result;
use crate::network::Classifier;
use crate::render;
use crate::tensor::Tensor;

/// A finished attribution.
#[derive(Clone, Debug)]
pub struct Attribution {
    pub class: usize,
    /// The image's class scores.
    pub logits: Vec<f32>,
    /// Captum's shape: [3, H, W] for input attributions, [h, w] for Grad-CAM.
    pub map: Tensor,
    pub style: Style,
    /// Method-specific numbers (Integrated Gradients' completeness).
    pub extra: Json,
}

impl Attribution {
    /// One value per input pixel (H × W), as drawn: see [`Style`].
    pub fn pixel_map(&self, h: usize, w: usize) -> Vec<f32> {
        match self.style {
            Style::Signed => channel_sum(&self.map),
            Style::Magnitude => channel_max_abs(&self.map),
            Style::Coarse => {
                upsample_bilinear(&self.map.data, self.map.shape[0], self.map.shape[1], h, w, Corners::HalfPixel)
            }
        }
    }
}

/// The setting every attribution method has: which class to explain.
pub const CLASS: SettingSpec = SettingSpec {
    key: "class",
    link: "class",
    label: "Class",
    help: "The class whose score is explained; empty = the predicted class.",
    kind: Kind::Class { optional: true, default: None },
    live: false,
};

pub const SIGNED_OUTPUTS: &[OutputSpec] = &[
    OutputSpec { id: "map", title: "Attribution (blue −, red +)", kind: OutputKind::Diverging, download: true },
    OutputSpec { id: "overlay", title: "Over the image", kind: OutputKind::Overlay, download: false },
];

pub const MAGNITUDE_OUTPUTS: &[OutputSpec] = &[
    OutputSpec { id: "map", title: "Attribution", kind: OutputKind::Heatmap, download: true },
    OutputSpec { id: "overlay", title: "Over the image", kind: OutputKind::Overlay, download: false },
];

/// Runs a stepper to the end (CLI, tests).
pub fn attribute(
    net: &Classifier,
    x: &Tensor,
    class: Option<usize>,
    make: MakeStepper,
    settings: &Settings,
) -> Result<Attribution> {
    let logits = net.logits(x)?;
    let ctx = Ctx { net, name: &|k| format!("#{k}") };
    let class = class_or_predicted(&ctx, class, &logits)?;
    let (mut stepper, style) = make(net, x, class, settings)?;
    while stepper.done() < stepper.total() {
        stepper.step(net)?;
    }
    let (map, extra) = stepper.result()?;
    Ok(Attribution { class, logits, map, style, extra })
}

/// A registry run over any attribution stepper.
pub struct AttributionRun {
    title: &'static str,
    /// The map's and the overlay's output ids: the first two of the method's declared outputs.
    ids: (&'static str, &'static str),
    stepper: Box<dyn Stepper>,
    style: Style,
    class: usize,
    logits: Vec<f32>,
    /// Class probabilities of the image (the model's scores may already be probabilities).
    probs: Vec<f32>,
    image_rgba: Vec<u8>,
    hw: (usize, usize),
    result: Option<Attribution>,
}

impl AttributionRun {
    /// Starts `spec`'s run (an attribution method: its [`MethodSpec::attribution`] makes the map).
    pub fn start(ctx: &Ctx, input: &Input, settings: &Settings, spec: &'static MethodSpec) -> Result<Box<dyn Run>> {
        let make = spec.attribution.expect("an attribution method declares its map maker").make;
        let title = spec.title;
        let ids = (spec.outputs[0].id, spec.outputs[1].id);
        let logits = input.logits(ctx.net)?.to_vec();
        let class = class_or_predicted(ctx, settings.class("class"), &logits)?;
        let (stepper, style) = make(ctx.net, &input.tensor, class, settings)?;
        let hw = (input.tensor.shape[2], input.tensor.shape[3]);
        Ok(Box::new(AttributionRun {
            title,
            ids,
            stepper,
            style,
            class,
            probs: ctx.net.probabilities(&logits),
            logits,
            image_rgba: input.rgba.clone(),
            hw,
            result: None,
        }))
    }

    pub fn attribution(&self) -> Option<&Attribution> {
        self.result.as_ref()
    }
}

impl Run for AttributionRun {
    fn step(&mut self, ctx: &Ctx, _settings: &Settings) -> Result<Progress> {
        if self.result.is_none() {
            self.stepper.step(ctx.net)?;
            if self.stepper.done() >= self.stepper.total() {
                let (map, extra) = self.stepper.result()?;
                self.result =
                    Some(Attribution { class: self.class, logits: self.logits.clone(), map, style: self.style, extra });
            }
        }
        let (step, total) = (self.stepper.done(), self.stepper.total());
        Ok(Progress {
            done: self.result.is_some(),
            step,
            total,
            text: format!("{}: pass {step} / {total} for {}", self.title, (ctx.name)(self.class)),
            frame: false,
            top: top5_of(&self.probs),
        })
    }

    fn panels(&self) -> Vec<Panel> {
        let Some(a) = &self.result else { return vec![] };
        let (h, w) = self.hw;
        let pixels = a.pixel_map(h, w);
        let ((map_rgba, overlay), kind) = match a.style {
            Style::Signed => (render::diverging_and_overlay_rgba(&self.image_rgba, &pixels), OutputKind::Diverging),
            Style::Magnitude | Style::Coarse => {
                (render::heatmap_and_overlay_rgba(&self.image_rgba, &pixels), OutputKind::Heatmap)
            }
        };
        let (w, h) = (w as u32, h as u32);
        vec![
            Panel {
                id: self.ids.0,
                kind,
                title: format!("{} of #{}", self.title, a.class),
                width: w,
                height: h,
                rgba: map_rgba,
                raw: Some(a.map.clone()),
                plot: None,
            },
            Panel {
                id: self.ids.1,
                kind: OutputKind::Overlay,
                title: "Over the image".into(),
                width: w,
                height: h,
                rgba: overlay,
                raw: None,
                plot: None,
            },
        ]
    }

    fn report(&self) -> Json {
        let Some(a) = &self.result else { return json!({}) };
        let p = self.probs[a.class];
        let mut lines = vec![json!(["Class", format!("#{} (p = {:.1}%)", a.class, p * 100.0), "class"])];
        // A method's own checks ({"completeness": {"label": "Completeness", "text": …}}) become report lines.
        for check in a.extra.as_object().into_iter().flat_map(|m| m.values()) {
            if let (Some(label), Some(text)) = (check.get("label"), check.get("text")) {
                lines.push(json!([label, text]));
            }
        }
        json!({ "class": a.class, "passes": self.stepper.total(), "extra": a.extra, "lines": lines })
    }
}

/// A [1, C, H, W] tensor as Captum's [C, H, W].
pub fn drop_batch(t: Tensor) -> Tensor {
    let shape = t.shape[1..].to_vec();
    t.reshaped(&shape)
}
