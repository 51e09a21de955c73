//! Fooling images (Szegedy et al. 2014, as in CS231n): nudge an image until the network calls it `target`.
//!
//! Each iteration climbs the target's logit with a step of fixed length, `x += lr * g / ||g||_2`, in
//! normalised-tensor space, and stops at the first image the network classifies as the target. An image lives
//! as 8-bit pixels, so the candidate is rounded to 8 bits and classified again; if rounding undid the fooling
//! the ascent goes on from the unrounded image.

use serde::{Deserialize, Serialize};

use super::{check_iters, check_positive, clamp_to_pixels};
use crate::error::Result;
use crate::imageio;
use crate::network::Classifier;
use crate::tensor::{argmax, softmax, Tensor};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FoolingSettings {
    /// The class the network should be fooled into seeing.
    pub target: usize,
    /// Length of each step in normalised-tensor space (the L2 norm of the change).
    pub lr: f32,
    /// Give up after this many steps.
    pub max_iters: usize,
}

impl Default for FoolingSettings {
    /// The CS231n notebook's values (target 6 = stingray).
    fn default() -> Self {
        FoolingSettings { target: 6, lr: 1.0, max_iters: 200 }
    }
}

impl FoolingSettings {
    pub fn validate(&self, net: &Classifier) -> Result<()> {
        net.check_class(self.target)?;
        check_positive("learning rate", self.lr)?;
        check_iters("maximum iterations", self.max_iters)
    }
}

/// What the page shows while the run goes on.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FoolingProgress {
    /// Steps taken so far.
    pub iteration: usize,
    pub max_iters: usize,
    pub original_class: usize,
    /// The class of the image the last step started from.
    pub class: usize,
    /// softmax probability of the target for that image.
    pub target_prob: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct FoolingReport {
    pub target: usize,
    /// The 8-bit fooled image is classified as `target`.
    pub success: bool,
    /// The caller stopped the run early.
    pub cancelled: bool,
    /// Gradient steps taken.
    pub iterations: usize,
    pub original_class: usize,
    /// Class of the 8-bit result.
    pub final_class: usize,
    /// softmax probability of the target for the original image.
    pub target_prob_before: f32,
    /// ... and for the 8-bit result.
    pub target_prob_after: f32,
    /// Between the 8-bit original and the 8-bit result, in 0-255 pixel units over all 3x224x224 values.
    pub perturbation_l2: f32,
    pub perturbation_linf: f32,
    /// The result, already rounded through 8-bit pixels (normalised, [1,3,224,224]).
    #[serde(skip)]
    pub fooled: Tensor,
}

pub enum FoolingStep {
    Running(FoolingProgress),
    Done(FoolingReport),
}

/// One fooling run, advanced one iteration per `step` call.
pub struct FoolingRun {
    settings: FoolingSettings,
    original_rgb: image::RgbImage,
    original_class: usize,
    target_prob_before: f32,
    x: Tensor,
    iterations: usize,
    report: Option<FoolingReport>,
}

impl FoolingRun {
    /// Validates the settings and classifies the original (one forward pass).
    pub fn new(net: &Classifier, x: &Tensor, settings: &FoolingSettings) -> Result<FoolingRun> {
        settings.validate(net)?;
        let logits = net.logits(x)?;
        let mut x = x.clone();
        clamp_to_pixels(&mut x);
        Ok(FoolingRun {
            settings: settings.clone(),
            original_rgb: imageio::tensor_to_rgb(&x),
            original_class: argmax(&logits),
            target_prob_before: softmax(&logits)[settings.target],
            x,
            iterations: 0,
            report: None,
        })
    }

    pub fn original_class(&self) -> usize {
        self.original_class
    }

    pub fn iteration(&self) -> usize {
        self.iterations
    }

    /// The current (unrounded) image.
    pub fn image(&self) -> &Tensor {
        &self.x
    }

    /// Check the current image, then take one step unless it is done. After `Done` it keeps returning that report.
    pub fn step(&mut self, net: &Classifier) -> Result<FoolingStep> {
        if let Some(report) = &self.report {
            return Ok(FoolingStep::Done(report.clone()));
        }
        let target = self.settings.target;
        let out_of_steps = self.iterations >= self.settings.max_iters;
        let (logits, grad) = if out_of_steps {
            (net.logits(&self.x)?, None)
        } else {
            let (logits, grad) = net.logits_and_grad(&self.x, target)?;
            (logits, Some(grad))
        };
        let class = argmax(&logits);
        if class == target || out_of_steps {
            let rounded = imageio::quantize(&self.x);
            let rounded_logits = net.logits(&rounded)?;
            if argmax(&rounded_logits) == target || out_of_steps {
                let report = self.report_for(rounded, &rounded_logits, false);
                self.report = Some(report.clone());
                return Ok(FoolingStep::Done(report));
            }
        }
        let grad = grad.expect("a gradient is computed whenever steps remain");
        let norm = grad.l2_norm();
        // A zero gradient (every path through a dead ReLU) leaves nothing to climb; the run then just uses up its steps.
        if norm > 0.0 && norm.is_finite() {
            let scale = self.settings.lr / norm;
            for (v, g) in self.x.data.iter_mut().zip(&grad.data) {
                *v += scale * g;
            }
            clamp_to_pixels(&mut self.x);
        }
        self.iterations += 1;
        Ok(FoolingStep::Running(FoolingProgress {
            iteration: self.iterations,
            max_iters: self.settings.max_iters,
            original_class: self.original_class,
            class,
            target_prob: softmax(&logits)[target],
        }))
    }

    /// Stop now: report on the current image rounded to 8 bits.
    pub fn finish(&mut self, net: &Classifier) -> Result<FoolingReport> {
        if let Some(report) = &self.report {
            return Ok(report.clone());
        }
        let rounded = imageio::quantize(&self.x);
        let rounded_logits = net.logits(&rounded)?;
        let report = self.report_for(rounded, &rounded_logits, true);
        self.report = Some(report.clone());
        Ok(report)
    }

    fn report_for(&self, rounded: Tensor, rounded_logits: &[f32], cancelled: bool) -> FoolingReport {
        let final_class = argmax(rounded_logits);
        let fooled_rgb = imageio::tensor_to_rgb(&rounded);
        let (mut sum_sq, mut max_abs) = (0.0f64, 0u8);
        for (a, b) in self.original_rgb.as_raw().iter().zip(fooled_rgb.as_raw()) {
            let d = a.abs_diff(*b);
            sum_sq += f64::from(d) * f64::from(d);
            max_abs = max_abs.max(d);
        }
        FoolingReport {
            target: self.settings.target,
            success: final_class == self.settings.target,
            cancelled,
            iterations: self.iterations,
            original_class: self.original_class,
            final_class,
            target_prob_before: self.target_prob_before,
            target_prob_after: softmax(rounded_logits)[self.settings.target],
            perturbation_l2: sum_sq.sqrt() as f32,
            perturbation_linf: f32::from(max_abs),
            fooled: rounded,
        }
    }
}

/// Run to the end. `on_progress` sees every iteration; returning false stops the run and reports the current image.
pub fn fool(
    net: &Classifier,
    x: &Tensor,
    settings: &FoolingSettings,
    mut on_progress: impl FnMut(&FoolingProgress) -> bool,
) -> Result<FoolingReport> {
    let mut run = FoolingRun::new(net, x, settings)?;
    loop {
        match run.step(net)? {
            FoolingStep::Done(report) => return Ok(report),
            FoolingStep::Running(progress) => {
                if !on_progress(&progress) {
                    return run.finish(net);
                }
            }
        }
    }
}
