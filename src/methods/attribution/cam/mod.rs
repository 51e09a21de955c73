//! The CAM family (pytorch-grad-cam's definitions): maps over a late 4-D layer A [C, h, w] (the `layer` setting;
//! SqueezeNet's `features.12`, a user model's last 4-D value). Most are Σ_c w_c · A_c for per-channel weights
//! w_c, then a ReLU; they differ in where the weights come from — the class gradient at the layer (Grad-CAM,
//! Grad-CAM++, XGrad-CAM), element-wise gradients (HiResCAM, Layer-CAM), the activations' first principal
//! component (Eigen-CAM), or extra forward passes (Score-CAM, Ablation-CAM). Each method is declared in its own
//! file; this module holds what they share: the layer setting, the layer's values, the one-pass stepper and the
//! library's scaling of a map to the input size. A transformer's token layer [1, T, C] with T = g² patches (or a
//! class token and g²) is read as a g×g grid of C channels, the class token dropped: pytorch-grad-cam's ViT
//! `reshape_transform`, found by itself (the report says which reshape it used).

pub mod ablationcam;
pub mod eigencam;
pub mod gradcam;
pub mod gradcampp;
pub mod hirescam;
pub mod layercam;
pub mod scorecam;
pub mod xgradcam;

use serde_json::Value as Json;

use super::Stepper;
use crate::backward::Wanted;
use crate::engine::Objective;
use crate::error::{Error, Result};
use crate::methods::attention::{cam_token_layer, token_layout};
use crate::methods::image_ops::{upsample_bilinear, Corners};
use crate::methods::settings::{Kind, SettingSpec, Settings, NAME_PATTERN};
use crate::network::Classifier;
use crate::rules::Rules;
use crate::tensor::Tensor;

pub const LAYER: SettingSpec = SettingSpec {
    key: "layer",
    link: "layer",
    label: "Layer",
    help: "The 4-D value (N, C, H, W) whose channels are weighted, by its ONNX name.",
    kind: Kind::Text { pattern: NAME_PATTERN, default: "features.12" },
    live: false,
};

/// Checks that `layer` names a 4-D value that depends on the input.
fn check_layer(net: &Classifier, layer: &str) -> Result<()> {
    let engine = net.engine();
    let id = engine
        .value_id(layer)
        .map_err(|_| Error::Invalid(format!("Layer (layer): the model has no value named '{layer}'")))?;
    if !engine.graph().depends_on_input[id] {
        return Err(Error::Invalid(format!("Layer (layer): '{layer}' does not depend on the input image")));
    }
    let shape = engine.graph().shape(id);
    if Layout::of(shape).is_none() {
        return Err(Error::Invalid(format!(
            "Layer (layer): '{layer}' has shape {shape:?}; CAM methods need a 4-D (1, C, H, W) value or a \
             transformer's tokens (1, T, C) on a square grid (T = g², or 1 + g² with a class token)"
        )));
    }
    Ok(())
}

/// How a layer's values are read as C channels over an h × w grid.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    /// [1, C, h, w] as it is.
    Maps { channels: usize, h: usize, w: usize },
    /// [1, T, C] tokens: `skip` class tokens first (0 or 1), then g × g patches.
    Tokens { tokens: usize, channels: usize, skip: usize, g: usize },
}

impl Layout {
    fn of(shape: &[usize]) -> Option<Layout> {
        match *shape {
            [1, channels, h, w] => Some(Layout::Maps { channels, h, w }),
            [1, tokens, channels] => token_layout(tokens).map(|(skip, g)| Layout::Tokens { tokens, channels, skip, g }),
            _ => None,
        }
    }

    /// `values` ([1, C, h, w] or [1, T, C]) as [C, h, w].
    fn channels_first(&self, values: &[f32]) -> Vec<f32> {
        match *self {
            Layout::Maps { .. } => values.to_vec(),
            Layout::Tokens { channels, skip, g, .. } => {
                let mut out = vec![0.0f32; channels * g * g];
                for p in 0..g * g {
                    let token = &values[(skip + p) * channels..(skip + p + 1) * channels];
                    for (c, &v) in token.iter().enumerate() {
                        out[c * g * g + p] = v;
                    }
                }
                out
            }
        }
    }

    /// What the report says of a token layer's reshape (nothing for a 4-D layer).
    fn note(&self) -> Option<String> {
        match *self {
            Layout::Maps { .. } => None,
            Layout::Tokens { tokens, skip, g, .. } => Some(if skip == 1 {
                format!("{tokens} tokens read as a class token (dropped) and a {g}×{g} grid of patches")
            } else {
                format!("{tokens} tokens read as a {g}×{g} grid of patches")
            }),
        }
    }
}

/// The number of channels of `layer` (checked) as the CAM family reads it.
pub fn channels(net: &Classifier, layer: &str) -> Result<usize> {
    let shape = net.engine().graph().shape(net.engine().value_id(layer)?);
    match Layout::of(shape) {
        Some(Layout::Maps { channels, .. } | Layout::Tokens { channels, .. }) => Ok(channels),
        None => Err(Error::Invalid(format!("Layer (layer): '{layer}' has shape {shape:?}"))),
    }
}

/// The settings' layer, or on a model without SqueezeNet's default layer, its last 4-D value.
pub fn layer(net: &Classifier, s: &Settings) -> Result<String> {
    let Kind::Text { default, .. } = LAYER.kind else { unreachable!("the layer setting is text") };
    let asked = s.text("layer");
    // A transformer without the default's name: the token layer pytorch-grad-cam reads (the last block's norm).
    let token_layer =
        || (asked == default && net.engine().value_id(asked).is_err()).then(|| cam_token_layer(net.engine()));
    let layer = token_layer().flatten().unwrap_or_else(|| net.layer_or_default(asked, default));
    check_layer(net, &layer)?;
    Ok(layer)
}

/// A layer's activations A [C, h, w] for one image and, when asked for, the class logit's gradient there.
pub struct LayerValues {
    pub channels: usize,
    pub h: usize,
    pub w: usize,
    pub acts: Vec<f32>,
    pub grads: Option<Vec<f32>>,
    /// How a token layer was read as a grid (None for a 4-D layer).
    pub reshape: Option<String>,
    layout: Layout,
    /// The layer's value as the model has it ([1, C, h, w] or [1, T, C]).
    value: Tensor,
}

impl LayerValues {
    /// One forward pass recording `layer` (up to `layer` only, without `gradient`); with `gradient`, a reverse pass from `class`'s logit down to it.
    pub fn of(net: &Classifier, x: &Tensor, class: usize, layer: &str, gradient: bool) -> Result<LayerValues> {
        net.check_class(class)?;
        check_layer(net, layer)?;
        let engine = net.engine();
        let id = engine.value_id(layer)?;
        let layout = Layout::of(engine.graph().shape(id)).expect("checked above");
        let (channels, h, w) = match layout {
            Layout::Maps { channels, h, w } => (channels, h, w),
            Layout::Tokens { channels, g, .. } => (channels, g, g),
        };
        // Without a gradient, the forward pass stops at the layer.
        let acts = if gradient { engine.forward_with(x, &[layer])? } else { engine.forward_to(x, layer)? };
        let a = acts.get(layer).ok_or_else(|| Error::Forward(format!("'{layer}' was not recorded")))?;
        let values = layout.channels_first(a.data);
        let value = a.to_tensor();
        let grads = if gradient {
            let wanted = Wanted { at: vec![id], input: false, rules: Rules::none() };
            let mut store = engine.gradients(&acts, &Objective::Class(class), &wanted)?;
            Some(layout.channels_first(&store.take(id).expect("the layer's gradient was asked for").data))
        } else {
            None
        };
        Ok(LayerValues { channels, h, w, acts: values, grads, reshape: layout.note(), layout, value })
    }

    /// The layer's value as the model has it, with channel `c` set to `to` at every position (Ablation-CAM; a
    /// token layer's class token keeps its value).
    pub fn ablated(&self, c: usize, to: f32) -> Tensor {
        let mut t = self.value.clone();
        match self.layout {
            Layout::Maps { h, w, .. } => t.data[c * h * w..(c + 1) * h * w].fill(to),
            Layout::Tokens { channels, skip, g, .. } => {
                for p in 0..g * g {
                    t.data[(skip + p) * channels + c] = to;
                }
            }
        }
        t
    }

    pub fn plane(&self) -> usize {
        self.h * self.w
    }

    pub fn act(&self, c: usize) -> &[f32] {
        &self.acts[c * self.plane()..(c + 1) * self.plane()]
    }

    /// Channel `c` of the gradient (only for values made with `gradient`).
    pub fn grad(&self, c: usize) -> &[f32] {
        let g = self.grads.as_ref().expect("this CAM asked for the gradient");
        &g[c * self.plane()..(c + 1) * self.plane()]
    }

    /// Σ_c w_c · A_c.
    pub fn weighted(&self, weights: &[f32]) -> Vec<f32> {
        let mut cam = vec![0.0f32; self.plane()];
        for (c, &wc) in weights.iter().enumerate() {
            cam.iter_mut().zip(self.act(c)).for_each(|(m, &a)| *m += wc * a);
        }
        cam
    }

    /// Σ_c f(A_c, G_c) element by element (HiResCAM, Layer-CAM).
    pub fn elementwise(&self, f: impl Fn(f32, f32) -> f32) -> Vec<f32> {
        let mut cam = vec![0.0f32; self.plane()];
        for c in 0..self.channels {
            for ((m, &a), &g) in cam.iter_mut().zip(self.act(c)).zip(self.grad(c)) {
                *m += f(a, g);
            }
        }
        cam
    }
}

/// What a CAM's report adds: the reshape of a token layer, as a report line.
pub fn extra(values: &LayerValues) -> Json {
    match &values.reshape {
        Some(text) => serde_json::json!({ "reshape": { "label": "Layer read as", "text": text } }),
        None => Json::Null,
    }
}

/// The layer-resolution map pytorch-grad-cam's `get_cam_image` gives after its ReLU, as a [h, w] tensor.
pub fn relu_map(values: &LayerValues, cam: Vec<f32>) -> Tensor {
    Tensor::new(vec![values.h, values.w], cam.into_iter().map(|v| v.max(0.0)).collect())
}

/// What a pytorch-grad-cam call returns for a one-layer map [h, w]: min-max scaled, resized to oh × ow by
/// OpenCV's bilinear `resize` (half-pixel centres, the same as [`upsample_bilinear`] when enlarging), and
/// min-max scaled again (`scale_cam_image`, then `aggregate_multi_layers`), each scaling as `(x − min) / (max +
/// 1e-7)` after the shift.
pub fn library_map(map: &Tensor, oh: usize, ow: usize) -> Vec<f32> {
    let scale = |v: &mut Vec<f32>| {
        let min = v.iter().copied().fold(f32::INFINITY, f32::min);
        v.iter_mut().for_each(|x| *x -= min);
        let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        v.iter_mut().for_each(|x| *x /= 1e-7 + max);
    };
    let mut raw = map.data.clone();
    scale(&mut raw);
    let mut up = upsample_bilinear(&raw, map.shape[0], map.shape[1], oh, ow, Corners::HalfPixel);
    scale(&mut up);
    up
}

/// A CAM whose map comes from one forward (+ partial reverse) pass: the layer's values to the map before the
/// ReLU.
pub type CamMap = fn(&LayerValues) -> Vec<f32>;

/// The stepper of every one-pass CAM.
pub struct OnePass {
    x: Tensor,
    class: usize,
    layer: String,
    gradient: bool,
    map: CamMap,
    cam: Option<(Tensor, Json)>,
}

impl OnePass {
    pub fn new(
        net: &Classifier,
        x: &Tensor,
        class: usize,
        s: &Settings,
        gradient: bool,
        map: CamMap,
    ) -> Result<OnePass> {
        Ok(OnePass { x: x.clone(), class, layer: layer(net, s)?, gradient, map, cam: None })
    }

    /// The map of a finished run (Guided Grad-CAM builds on Grad-CAM's).
    pub fn cam(&self) -> Option<&Tensor> {
        self.cam.as_ref().map(|(t, _)| t)
    }
}

impl Stepper for OnePass {
    fn total(&self) -> usize {
        1
    }
    fn done(&self) -> usize {
        usize::from(self.cam.is_some())
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        let values = LayerValues::of(net, &self.x, self.class, &self.layer, self.gradient)?;
        let cam = (self.map)(&values);
        self.cam = Some((relu_map(&values, cam), extra(&values)));
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        Ok(self.cam.clone().expect("the pass is done"))
    }
}

/// The per-channel spatial sum Σ_ij of each channel of `v` (a [C, h, w] buffer).
pub fn channel_sums(v: &[f32], channels: usize) -> Vec<f64> {
    let plane = v.len() / channels;
    v.chunks(plane).map(|ch| ch.iter().map(|&x| x as f64).sum()).collect()
}
