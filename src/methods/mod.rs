//! The three CS231n "NetworkVisualization" methods, ported from their PyTorch semantics.
//!
//! Each long-running method is a stepper (`FoolingRun`, `ClassVizRun`) so that the browser worker can do one
//! iteration per message-loop turn, report progress and be cancelled; the convenience functions just loop over it.

pub mod classviz;
pub mod fooling;
pub mod saliency;

use crate::error::{Error, Result};
use crate::imageio;
use crate::tensor::Tensor;

/// Upper bound on iteration counts: the page sends user-typed numbers, and 10k steps is already minutes.
pub const MAX_ITERS: usize = 10_000;

/// Settings come from a form (NaN, negative, huge): reject them with text a page can show as it is.
fn check_finite(name: &str, value: f32) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::Invalid(format!("{name} must be a finite number, got {value}")))
    }
}

fn check_positive(name: &str, value: f32) -> Result<()> {
    check_finite(name, value)?;
    if value > 0.0 {
        Ok(())
    } else {
        Err(Error::Invalid(format!("{name} must be greater than 0, got {value}")))
    }
}

fn check_iters(name: &str, value: usize) -> Result<()> {
    if (1..=MAX_ITERS).contains(&value) {
        Ok(())
    } else {
        Err(Error::Invalid(format!("{name} must be between 1 and {MAX_ITERS}, got {value}")))
    }
}

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
