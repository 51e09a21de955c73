//! Saliency map (Simonyan et al. 2014, as in CS231n): how much each pixel moves one class score.

use crate::engine::Seed;
use crate::error::Result;
use crate::network::Classifier;
use crate::tensor::{argmax, Tensor};

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
    let grad = engine.backward(&acts, &Seed::Class(class))?;
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
