//! Integrated Gradients (Sundararajan et al. 2017), Captum's definition:
//! (x − b) ⊙ Σᵢ wᵢ ∇f(b + αᵢ(x − b)), αᵢ = i/(n−1), Captum's `riemann_trapezoid` weights wᵢ = 1/n with the two
//! end weights halved. (Those sum to (n−1)/n rather than 1, so at 32 steps every attribution is 31/32 of the exact
//! trapezoid's; we keep Captum's weights so that maps compare with Captum's, and the completeness report shows
//! the gap shrinking as the steps grow.) Completeness: Σ attributions ≈ f(x) − f(b), reported with the map.

use serde_json::{json, Value as Json};

use super::{AttributionRun, Stepper, Style, CLASS, SIGNED_OUTPUTS};
use crate::engine::Objective;
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD};
use crate::methods::image_ops::gaussian_blur_hw;
use crate::methods::settings::{ChoiceOption, Kind, SettingSpec, Settings};
use crate::network::Classifier;
use crate::preprocess::Preprocess;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "ig",
    title: "Integrated Gradients",
    summary: "Gradients summed along a straight path from a baseline image to yours: the attributions add up to the score difference.",
    paper: Paper { cite: "Sundararajan et al. 2017, Axiomatic Attribution for Deep Networks", url: "https://arxiv.org/abs/1703.01365" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "ig",
    cost: "steps forward + backward",
    passes: None,
    compare: true,
    run_label: "Compute",
    auto_run: false,
    settings: &[
        CLASS,
        SettingSpec {
            key: "steps",
            link: "steps",
            label: "Steps",
            help: "Points on the path from the baseline to the image (trapezoid rule).",
            kind: Kind::Int { min: 2, max: 1024, default: 32 },
            live: false,
        },
        SettingSpec {
            key: "baseline",
            link: "baseline",
            label: "Baseline",
            help: "Where the path starts: a black image, or your image blurred.",
            kind: Kind::Choice {
                options: &[
                    ChoiceOption { value: "black", label: "black image" },
                    ChoiceOption { value: "blur", label: "blurred image" },
                ],
                default: "black",
            },
            live: false,
        },
        SettingSpec {
            key: "blur_sigma",
            link: "sigma",
            label: "Baseline blur σ (px)",
            help: "Gaussian blur of the blurred baseline, in pixels.",
            kind: Kind::Float { min: 0.0, max: 50.0, min_exclusive: true, default: 10.0 },
            live: false,
        },
    ],
    outputs: SIGNED_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    attribution: Some(Attributor { make, pass_cost: BACKWARD }),
    sharding: None,
    requires: None,
};

/// The baseline image for `x` ([1, 3, H, W]) under SqueezeNet's (ImageNet) preprocessing; [`baseline_for`] takes
/// the model's.
pub fn baseline(x: &Tensor, kind: &str, blur_sigma: f32) -> Tensor {
    baseline_for(&Preprocess::imagenet(), x, kind, blur_sigma)
}

/// The baseline image for `x` ([1, C, H, W], normalised by `pre`, the model's preprocessing).
pub fn baseline_for(pre: &Preprocess, x: &Tensor, kind: &str, blur_sigma: f32) -> Tensor {
    match kind {
        "blur" => {
            let mut b = x.clone();
            gaussian_blur_hw(&mut b, blur_sigma, &mut Vec::new());
            b
        }
        _ => {
            // Pixel 0 in every channel, normalised.
            let plane = x.len() / pre.channels;
            let data = (0..x.len()).map(|i| pre.valid_range(i / plane).0).collect();
            Tensor::new(x.shape.clone(), data)
        }
    }
}

pub fn make(net: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    let b = baseline_for(net.preprocess(), x, s.text("baseline"), s.float("blur_sigma"));
    Ok((Box::new(IntegratedGradients::new(x, b, class, s.usize("steps"))), Style::Signed))
}

pub struct IntegratedGradients {
    x: Tensor,
    baseline: Tensor,
    class: usize,
    steps: usize,
    done: usize,
    sum: Vec<f64>,
    point: Tensor,
    /// The class score at the baseline (α = 0) and at the image (α = 1).
    f_baseline: f32,
    f_image: f32,
}

impl IntegratedGradients {
    pub fn new(x: &Tensor, baseline: Tensor, class: usize, steps: usize) -> IntegratedGradients {
        IntegratedGradients {
            x: x.clone(),
            point: baseline.clone(),
            baseline,
            class,
            steps,
            done: 0,
            sum: vec![0.0; x.len()],
            f_baseline: 0.0,
            f_image: 0.0,
        }
    }
}

impl Stepper for IntegratedGradients {
    fn total(&self) -> usize {
        self.steps
    }
    fn done(&self) -> usize {
        self.done
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        let i = self.done;
        let n = self.steps;
        let alpha = i as f32 / (n - 1) as f32;
        let mut weight = 1.0 / n as f64;
        if i == 0 || i == n - 1 {
            weight *= 0.5;
        }
        for ((p, &x), &b) in self.point.data.iter_mut().zip(&self.x.data).zip(&self.baseline.data) {
            *p = b + alpha * (x - b);
        }
        net.check_class(self.class)?;
        let engine = net.engine();
        let acts = engine.forward(&self.point)?;
        let f = acts.output().data[self.class];
        if i == 0 {
            self.f_baseline = f;
        }
        if i == n - 1 {
            self.f_image = f;
        }
        let g = engine.backward(&acts, &Objective::Class(self.class))?;
        self.sum.iter_mut().zip(&g.data).for_each(|(s, &g)| *s += weight * g as f64);
        self.done += 1;
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        let data: Vec<f32> = self
            .sum
            .iter()
            .zip(self.x.data.iter().zip(&self.baseline.data))
            .map(|(s, (&x, &b))| ((x - b) as f64 * s) as f32)
            .collect();
        let total: f64 = data.iter().map(|&v| v as f64).sum();
        let delta = (self.f_image - self.f_baseline) as f64;
        let off = if delta != 0.0 { (total - delta).abs() / delta.abs() } else { f64::NAN };
        let text =
            format!("Σ attributions = {total:.3}, f(image) − f(baseline) = {delta:.3} ({:.1}% apart)", off * 100.0);
        let extra = json!({ "completeness": { "label": "Completeness", "sum": total, "delta": delta, "relative_error": off, "text": text } });
        Ok((Tensor::new(self.x.shape[1..].to_vec(), data), extra))
    }
}
