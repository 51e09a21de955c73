//! The methods: the three CS231n "NetworkVisualization" experiments, ported from their PyTorch semantics, and
//! the attribution family. Each is declared once in [`registry`] (settings, outputs, how to start it).
//!
//! Each long-running method is a stepper (`FoolingRun`, `ClassVizRun`, the attribution `Stepper`s) so that the
//! browser worker can do one step per message-loop turn, report progress and be cancelled.

pub mod attack;
pub mod attribution;
pub mod classviz;
pub mod features;
pub mod fooling;
pub mod registry;
pub mod saliency;
pub mod settings;
pub mod shard;
pub mod trust;

use crate::imageio;
use crate::tensor::Tensor;

/// Upper bound on iteration counts: the page sends user-typed numbers, and 10k steps is already minutes.
pub const MAX_ITERS: usize = 10_000;

/// Keep every value a pixel can represent, so that rounding to 8 bits changes each value by at most half a step.
fn clamp_to_pixels(x: &mut Tensor) {
    let plane = x.data.len() / 3;
    for (c, chunk) in x.data.chunks_mut(plane).enumerate() {
        let (lo, hi) = imageio::valid_range(c);
        for v in chunk {
            *v = v.clamp(lo, hi);
        }
    }
}
