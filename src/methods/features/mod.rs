//! Inside the network: what each layer responds to in a photo ([`activations`]), what image one channel or neuron
//! wants to see ([`channel`], Lucid-style, with the [`param`]eterizations and [`transform`]s of Olah et al. 2017),
//! and DeepDream on the user's image ([`dream`]). All of them read or seed a named 4-D value ("layer"); the reverse
//! pass starts there, so shallow layers cost less.

pub mod activations;
pub mod attention_maps;
pub mod channel;
pub mod dream;
pub mod param;
pub mod transform;

use crate::backward::Wanted;
use crate::engine::Objective;
use crate::error::{Error, Result};
use crate::methods::settings::{Kind, SettingSpec, NAME_PATTERN};
use crate::network::Classifier;
use crate::tensor::Tensor;

pub const LAYER: SettingSpec = SettingSpec {
    key: "layer",
    link: "layer",
    label: "Layer",
    help: "A 4-D value of the network by its ONNX name (features.3 … features.12, classifier.1_relu).",
    kind: Kind::Text { pattern: NAME_PATTERN, default: "features.10" },
    live: false,
};

/// What is maximised at the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Mean activation of one channel.
    Channel(usize),
    /// The channel's centre neuron.
    Neuron(usize),
    /// Σ A² over one channel (DeepDream).
    ChannelSquares(usize),
    /// Σ A² over the whole layer (DeepDream).
    LayerSquares,
}

/// The settings' layer, or on a model without the method's default (a SqueezeNet layer), its last 4-D value.
pub fn layer_setting(net: &Classifier, s: &crate::methods::settings::Settings, spec: &SettingSpec) -> String {
    let Kind::Text { default, .. } = spec.kind else { unreachable!("layer settings are text") };
    net.layer_or_default(s.text("layer"), default)
}

/// The layer's shape [1, C, H, W], checked: it exists, is 4-D and depends on the input; `channel` in range.
pub fn check_layer(net: &Classifier, layer: &str, channel: Option<usize>) -> Result<Vec<usize>> {
    let engine = net.engine();
    let id = engine
        .value_id(layer)
        .map_err(|_| Error::Invalid(format!("Layer (layer): the model has no value named '{layer}'")))?;
    let shape = engine.graph().shape(id).to_vec();
    if shape.len() != 4 {
        return Err(Error::Invalid(format!(
            "Layer (layer): '{layer}' has shape {shape:?}, not a 4-D (N, C, H, W) value"
        )));
    }
    if !engine.graph().depends_on_input[id] {
        return Err(Error::Invalid(format!("Layer (layer): '{layer}' does not depend on the input image")));
    }
    if let Some(c) = channel {
        if c >= shape[1] {
            return Err(Error::Invalid(format!(
                "Channel (channel) {c} is out of range: '{layer}' has channels 0 to {}",
                shape[1] - 1
            )));
        }
    }
    Ok(shape)
}

/// The network input for an RGB image in [0, 1] (the model's preprocessing; a grey model sees its luma).
pub fn normalise01(net: &Classifier, img: &Tensor) -> Tensor {
    net.preprocess().from_unit_rgb(img)
}

/// Where channel `channel` of `layer` is before its ReLU: (value name, channel there, that value's shape). A
/// layer that is a ReLU output, or a Concat of ReLU outputs (SqueezeNet's Fire modules), has one.
///
/// A channel that is zero everywhere (a grey start image at a deep layer) has a zero ReLU gradient and would never
/// move; Lucid optimises pre-ReLU values for the same reason. The channel's value is still measured after its ReLU.
pub fn pre_relu(net: &Classifier, layer: &str, channel: usize) -> Option<(String, usize, Vec<usize>)> {
    let g = net.engine().graph();
    let id = g.value_id(layer)?;
    let node = g.nodes.iter().find(|n| n.output == id)?;
    let through_relu = |v: usize, ch: usize| {
        let n = g.nodes.iter().find(|n| n.output == v)?;
        (n.op_type == "Relu").then(|| (g.values[n.inputs[0]].name.clone(), ch, g.shape(n.inputs[0]).to_vec()))
    };
    match node.op_type.as_str() {
        "Relu" => through_relu(id, channel),
        "Concat" if node.op.shortcuts().concat_axis == Some(1) => {
            let mut offset = 0;
            for &input in &node.inputs {
                let c = g.shape(input)[1];
                if channel < offset + c {
                    return through_relu(input, channel - offset);
                }
                offset += c;
            }
            None
        }
        _ => None,
    }
}

/// The goal's value at `img` (in [0, 1]) and its gradient with respect to `img`.
pub fn goal_gradient(net: &Classifier, img: &Tensor, layer: &str, goal: Goal) -> Result<(f32, Tensor)> {
    let engine = net.engine();
    let acts = engine.forward_until(&normalise01(net, img), layer)?;
    let a = acts.get(layer).ok_or_else(|| Error::Forward(format!("'{layer}' was not recorded")))?;
    let (c, h, w) = (a.shape[1], a.shape[2], a.shape[3]);
    let plane = h * w;
    let mut seed = vec![0f32; a.data.len()];
    // Channel and neuron goals seed the value before the ReLU where there is one (see `pre_relu`).
    let pre = match goal {
        Goal::Channel(k) | Goal::Neuron(k) => pre_relu(net, layer, k),
        _ => None,
    };
    let value = match goal {
        Goal::Channel(k) => {
            let v = a.data[k * plane..(k + 1) * plane].iter().sum::<f32>() / plane as f32;
            if let Some((name, kk, shape)) = pre {
                let mut grad = Tensor::zeros(&shape);
                grad.data[kk * plane..(kk + 1) * plane].fill(1.0 / plane as f32);
                return seeded(net, &acts, name, grad, v);
            }
            seed[k * plane..(k + 1) * plane].fill(1.0 / plane as f32);
            v
        }
        Goal::Neuron(k) => {
            let at = k * plane + (h / 2) * w + w / 2;
            if let Some((name, kk, shape)) = pre {
                let mut grad = Tensor::zeros(&shape);
                grad.data[kk * plane + (h / 2) * w + w / 2] = 1.0;
                return seeded(net, &acts, name, grad, a.data[at]);
            }
            seed[at] = 1.0;
            a.data[at]
        }
        Goal::ChannelSquares(k) => {
            let range = k * plane..(k + 1) * plane;
            seed[range.clone()].iter_mut().zip(&a.data[range]).for_each(|(s, &v)| *s = 2.0 * v);
            a.data[k * plane..(k + 1) * plane].iter().map(|v| v * v).sum()
        }
        Goal::LayerSquares => {
            seed.iter_mut().zip(a.data).for_each(|(s, &v)| *s = 2.0 * v);
            a.data.iter().map(|v| v * v).sum::<f32>() / c as f32
        }
    };
    let grad = Tensor::new(a.shape.to_vec(), seed);
    seeded(net, &acts, layer.to_string(), grad, value)
}

/// The input gradient, in [0, 1] image units, of Σ grad ⊙ value.
fn seeded(
    net: &Classifier,
    acts: &crate::engine::Activations,
    value: String,
    grad: Tensor,
    reported: f32,
) -> Result<(f32, Tensor)> {
    let engine = net.engine();
    let mut store = engine.gradients(acts, &Objective::ValueGrad { value, grad }, &Wanted::input())?;
    let g = store.take(engine.graph().input).expect("the input gradient was asked for");
    Ok((reported, net.preprocess().unit_rgb_grad(&g)))
}

/// Per-channel mean activation of `layer` for an image in [0, 1].
pub fn channel_means(net: &Classifier, img: &Tensor, layer: &str) -> Result<Vec<f32>> {
    let acts = net.engine().forward_until(&normalise01(net, img), layer)?;
    let a = acts.get(layer).ok_or_else(|| Error::Forward(format!("'{layer}' was not recorded")))?;
    let plane = a.shape[2] * a.shape[3];
    Ok(a.data.chunks(plane).map(|ch| ch.iter().sum::<f32>() / plane as f32).collect())
}

/// [1, 3, H, W] values in [0, 1] as RGBA.
pub fn rgba01(img: &Tensor) -> Vec<u8> {
    let plane = img.len() / 3;
    let mut out = Vec::with_capacity(plane * 4);
    for i in 0..plane {
        for c in 0..3 {
            out.push((img.data[c * plane + i] * 255.0).round().clamp(0.0, 255.0) as u8);
        }
        out.push(255);
    }
    out
}

/// What a model sees of a [0, 1] RGB image, as RGBA: the image itself, or for a grey model its luma (the
/// feature methods optimise an RGB image; a grey model only ever sees its luma).
pub fn shown01(grey: bool, img: &Tensor) -> Vec<u8> {
    let mut rgba = rgba01(img);
    if grey {
        for p in rgba.chunks_exact_mut(4) {
            let l = ((19595 * p[0] as u32 + 38470 * p[1] as u32 + 7471 * p[2] as u32 + 0x8000) >> 16) as u8;
            p[..3].fill(l);
        }
    }
    rgba
}

/// An RGBA picture as [1, 3, H, W] values in [0, 1].
pub fn from_rgba01(rgba: &[u8], h: usize, w: usize) -> Tensor {
    let plane = h * w;
    let mut data = vec![0f32; 3 * plane];
    for (i, px) in rgba.chunks_exact(4).enumerate() {
        for c in 0..3 {
            data[c * plane + i] = px[c] as f32 / 255.0;
        }
    }
    Tensor::new(vec![1, 3, h, w], data)
}
