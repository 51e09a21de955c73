//! Fooling images (Szegedy et al. 2014, as in CS231n): nudge an image until the network calls it `target`.
//!
//! Each iteration climbs the target's logit with a step of fixed length, `x += lr * g / ||g||_2`, in
//! normalised-tensor space, and stops at the first image the network classifies as the target. An image lives
//! as 8-bit pixels, so the candidate is rounded to 8 bits and classified again; if rounding undid the fooling
//! the ascent goes on from the unrounded image.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::contract::{top5, Ctx, Group, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run};
use super::settings::{Kind, SettingSpec, Settings};
use super::MAX_ITERS;
use crate::error::Result;
use crate::network::Classifier;
use crate::render;
use crate::tensor::{argmax, Tensor};

pub static SPEC: MethodSpec = MethodSpec {
    id: "fooling",
    title: "Fooling image",
    summary: "The smallest nudge that makes the network see another class: normalised gradient ascent on its score.",
    paper: Paper {
        cite: "Szegedy et al. 2014, Intriguing properties of neural networks",
        url: "https://arxiv.org/abs/1312.6199",
    },
    group: Group::Cs231n,
    needs_image: true,
    link_prefix: "fool",
    cost: "≤ max iterations forward + backward",
    passes: None,
    compare: false,
    run_label: "Fool the network",
    auto_run: false,
    settings: &[
        SettingSpec {
            key: "target",
            link: "target",
            label: "Target class",
            help: "The class the network should be fooled into seeing (76 = tarantula).",
            kind: Kind::Class { optional: false, default: Some(76) },
            live: false,
        },
        SettingSpec {
            key: "lr",
            link: "lr",
            label: "Learning rate",
            help: "Length of each step, in the normalised input space.",
            kind: Kind::Float { min: 0.0, max: 1e4, min_exclusive: true, default: 1.0 },
            live: false,
        },
        SettingSpec {
            key: "max_iters",
            link: "iters",
            label: "Max iterations",
            help: "Give up after this many steps.",
            kind: Kind::Int { min: 1, max: MAX_ITERS as i64, default: 200 },
            live: false,
        },
    ],
    outputs: &[
        OutputSpec { id: "fooled", title: "Fooled", kind: OutputKind::Image, download: true },
        OutputSpec { id: "diff", title: "Difference", kind: OutputKind::Image, download: false },
        OutputSpec { id: "diff10", title: "10× difference", kind: OutputKind::Image, download: false },
        OutputSpec { id: "stats", title: "Result", kind: OutputKind::Stats, download: false },
    ],
    start: |ctx, input, s| {
        let input = input.expect("checked by the registry");
        let settings = FoolingSettings::from_settings(s);
        let run = FoolingRun::new(ctx.net, &input.tensor, &settings)?;
        Ok(Box::new(FoolingMethodRun {
            run,
            original: input.tensor.clone(),
            report: None,
            recheck: None,
            last: None,
            lines: Json::Null,
            preprocess: ctx.net.preprocess().clone(),
        }))
    },
    attribution: None,
    sharding: None,
    requires: None,
};

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
    /// The registry's defaults (the CS231n notebook's, with tarantula as the target).
    fn default() -> Self {
        FoolingSettings::from_settings(&SPEC.defaults())
    }
}

impl FoolingSettings {
    pub fn from_settings(s: &Settings) -> FoolingSettings {
        FoolingSettings {
            target: s.class("target").expect("the target is not optional"),
            lr: s.float("lr"),
            max_iters: s.usize("max_iters"),
        }
    }

    /// The registry's bounds.
    pub fn validate(&self, net: &Classifier) -> Result<()> {
        let json = serde_json::to_value(self).expect("settings serialise");
        SPEC.settings(&json, net.num_classes()).map(|_| ())
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
    /// Between the 8-bit original and the 8-bit result, in 0-255 pixel units over all of the picture's RGB values.
    pub perturbation_l2: f32,
    pub perturbation_linf: f32,
    /// The result, already rounded through 8-bit pixels (normalised, [1, C, H, W]).
    #[serde(skip)]
    pub fooled: Tensor,
}

pub enum FoolingStep {
    Running(FoolingProgress),
    Done(FoolingReport),
}

/// One fooling run, advanced one iteration per `step` call.
pub struct FoolingRun {
    pub(crate) settings: FoolingSettings,
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
        net.preprocess().clamp(&mut x);
        Ok(FoolingRun {
            settings: settings.clone(),
            original_rgb: net.preprocess().tensor_to_rgb(&x),
            original_class: argmax(&logits),
            target_prob_before: net.probabilities(&logits)[settings.target],
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
            let rounded = net.preprocess().quantize(&self.x);
            let rounded_logits = net.logits(&rounded)?;
            if argmax(&rounded_logits) == target || out_of_steps {
                let report = self.report_for(net, rounded, &rounded_logits, false);
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
            net.preprocess().clamp(&mut self.x);
        }
        self.iterations += 1;
        Ok(FoolingStep::Running(FoolingProgress {
            iteration: self.iterations,
            max_iters: self.settings.max_iters,
            original_class: self.original_class,
            class,
            target_prob: net.probabilities(&logits)[target],
        }))
    }

    /// Stop now: report on the current image rounded to 8 bits.
    pub fn finish(&mut self, net: &Classifier) -> Result<FoolingReport> {
        if let Some(report) = &self.report {
            return Ok(report.clone());
        }
        let rounded = net.preprocess().quantize(&self.x);
        let rounded_logits = net.logits(&rounded)?;
        let report = self.report_for(net, rounded, &rounded_logits, true);
        self.report = Some(report.clone());
        Ok(report)
    }

    fn report_for(&self, net: &Classifier, rounded: Tensor, rounded_logits: &[f32], cancelled: bool) -> FoolingReport {
        let final_class = argmax(rounded_logits);
        let fooled_rgb = net.preprocess().tensor_to_rgb(&rounded);
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
            target_prob_after: net.probabilities(rounded_logits)[self.settings.target],
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

/// The registry's fooling run: one iteration per step; at the end, the 8-bit PNG is decoded again and
/// classified, so the page can say whether the downloaded file still fools the network.
struct FoolingMethodRun {
    run: FoolingRun,
    original: Tensor,
    report: Option<FoolingReport>,
    /// Top-5 of the PNG bytes, decoded again.
    recheck: Option<Vec<(usize, f32)>>,
    last: Option<FoolingProgress>,
    /// The `stats` output: [label, text] pairs, with class names.
    lines: Json,
    /// The model's, to show the images.
    preprocess: crate::preprocess::Preprocess,
}

impl FoolingMethodRun {
    fn done(&mut self, ctx: &Ctx, r: FoolingReport) -> Result<()> {
        let pre = ctx.net.preprocess();
        let png = render::encode_png_rgba(&pre.tensor_to_rgba(&r.fooled), pre.width as u32, pre.height as u32)?;
        let again = pre.to_tensor(&pre.fit(&crate::imageio::decode_own(&png)?));
        let re = top5(ctx.net, &ctx.net.logits(&again)?);
        let pct = |p: f32| format!("{:.2}%", p * 100.0);
        let still = re[0].0 == r.target;
        self.lines = json!([
            ["Before", format!("{}; P(target) = {}", (ctx.name)(r.original_class), pct(r.target_prob_before))],
            ["After", format!("{}; P(target) = {}", (ctx.name)(r.final_class), pct(r.target_prob_after))],
            [
                "Change",
                format!(
                    "at most {:.0} of 255 per colour value (L∞) · {:.1} over the whole image (L2)",
                    r.perturbation_linf, r.perturbation_l2
                ),
            ],
            [
                "Downloaded PNG re-classified",
                format!(
                    "{} ({}) — {}",
                    (ctx.name)(re[0].0),
                    pct(re[0].1),
                    if still { "still fools the network ✓" } else { "no longer fools it ✗" }
                ),
                "recheck"
            ],
        ]);
        self.recheck = Some(re);
        self.report = Some(r);
        Ok(())
    }
}

impl Run for FoolingMethodRun {
    fn step(&mut self, ctx: &Ctx, _settings: &Settings) -> Result<Progress> {
        if self.report.is_none() {
            match self.run.step(ctx.net)? {
                FoolingStep::Running(p) => self.last = Some(p),
                FoolingStep::Done(r) => self.done(ctx, r)?,
            }
        }
        Ok(match (&self.report, &self.last) {
            (Some(r), _) => Progress {
                done: true,
                step: r.iterations,
                total: self.run.settings.max_iters,
                text: if r.success {
                    format!("Fooled after {} iterations: the network now sees {}.", r.iterations, (ctx.name)(r.target))
                } else {
                    format!(
                        "Not fooled within {} iterations; try more iterations or a larger learning rate.",
                        r.iterations
                    )
                },
                frame: false,
                top: self.recheck.clone().unwrap_or_default(),
            },
            (None, Some(p)) => Progress {
                done: false,
                step: p.iteration,
                total: p.max_iters,
                text: format!(
                    "Iteration {} / {} · predicted {} · P(target) = {:.2}%",
                    p.iteration,
                    p.max_iters,
                    (ctx.name)(p.class),
                    p.target_prob * 100.0
                ),
                frame: false,
                top: vec![],
            },
            (None, None) => unreachable!("a step either runs or finishes"),
        })
    }

    fn finish(&mut self, ctx: &Ctx) -> Result<()> {
        if self.report.is_none() {
            let r = self.run.finish(ctx.net)?;
            self.done(ctx, r)?;
        }
        Ok(())
    }

    fn panels(&self) -> Vec<Panel> {
        let Some(r) = &self.report else { return vec![] };
        let image = |id, title: &str, rgba| Panel {
            id,
            kind: OutputKind::Image,
            title: title.into(),
            width: self.preprocess.width as u32,
            height: self.preprocess.height as u32,
            rgba,
            raw: None,
            plot: None,
        };
        vec![
            image("fooled", "Fooled", self.preprocess.tensor_to_rgba(&r.fooled)),
            // Grey is no change; the change itself is at most L∞ of 255, too faint to see at this scale.
            image(
                "diff",
                &format!("Difference as is (grey = none; at most {:.0} of 255: too faint to see)", r.perturbation_linf),
                render::diff_rgba_for(&self.preprocess, &self.original, &r.fooled, 1.0),
            ),
            image("diff10", "10× difference", render::diff_rgba_for(&self.preprocess, &self.original, &r.fooled, 10.0)),
        ]
    }

    fn report(&self) -> Json {
        let (Some(r), Some(re)) = (&self.report, &self.recheck) else { return json!({}) };
        json!({ "report": r, "recheck": re, "lines": self.lines })
    }
}
