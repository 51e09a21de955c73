//! Class visualization (Simonyan et al. 2014 with Yosinski et al. 2015's regularisers, as in CS231n):
//! gradient ascent from noise on `logit_class - l2_reg * ||I||^2`, with random jitter, pixel-range clamping
//! and a periodic Gaussian blur.
//!
//! Randomness comes from ChaCha8 seeded with `seed`, drawn in a fixed order (the whole noise image, then per
//! iteration `ox` then `oy` as u32), so native and wasm builds draw the same numbers.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::contract::{top5, Ctx, Group, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run};
use super::image_ops::{gaussian_blur_hw, roll};
use super::settings::{ChoiceOption, Kind, SettingSpec, Settings};
use super::MAX_ITERS;
use crate::error::{Error, Result};
use crate::network::Classifier;
use crate::preprocess::{Preprocess, MAX_SIDE};
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "classviz",
    title: "Class visualization",
    summary: "An image grown from noise to maximise one class score, with L2 decay, jitter and blur as regularisers.",
    paper: Paper { cite: "Simonyan et al. 2014; Yosinski et al. 2015", url: "https://arxiv.org/abs/1506.06579" },
    group: Group::Cs231n,
    needs_image: false,
    link_prefix: "viz",
    cost: "iterations × forward + backward",
    passes: None,
    compare: false,
    run_label: "Visualize",
    auto_run: false,
    settings: &[
        SettingSpec {
            key: "class",
            link: "class",
            label: "Class to visualize",
            help: "The class whose score the image maximises (76 = tarantula).",
            kind: Kind::Class { optional: false, default: Some(76) },
            live: true,
        },
        SettingSpec {
            key: "l2_reg",
            link: "l2",
            label: "λ (L2)",
            help: "Weight of the L2 penalty on the image: the objective is score − λ‖I‖².",
            kind: Kind::Float { min: 0.0, max: 10.0, min_exclusive: false, default: 1e-3 },
            live: true,
        },
        SettingSpec {
            key: "lr",
            link: "lr",
            label: "Learning rate",
            help: "Step size of the gradient ascent.",
            kind: Kind::Float { min: 0.0, max: 1e4, min_exclusive: true, default: 25.0 },
            live: true,
        },
        SettingSpec {
            key: "iters",
            link: "iters",
            label: "Iterations",
            help: "How many ascent steps in all.",
            kind: Kind::Int { min: 1, max: MAX_ITERS as i64, default: 100 },
            live: true,
        },
        SettingSpec {
            key: "blur_every",
            link: "blur",
            label: "Blur every",
            help: "Blur the image every this many iterations (0 = never).",
            kind: Kind::Int { min: 0, max: MAX_ITERS as i64, default: 10 },
            live: true,
        },
        SettingSpec {
            key: "blur_sigma",
            link: "sigma",
            label: "Blur σ",
            help: "Standard deviation of the Gaussian blur, in pixels (above 0 whenever the image is blurred).",
            kind: Kind::Float { min: 0.0, max: MAX_BLUR_SIGMA as f64, min_exclusive: false, default: 0.5 },
            live: true,
        },
        SettingSpec {
            key: "max_jitter",
            link: "jitter",
            label: "Jitter (px)",
            help: "Each iteration shifts the image by up to this many pixels along each axis (less than the input's side).",
            // The bound for the model in use (side − 1) is checked when the run starts and at every step.
            kind: Kind::Int { min: 0, max: MAX_SIDE as i64 - 1, default: 16 },
            live: true,
        },
        SettingSpec {
            key: "update",
            link: "update",
            label: "Update",
            help: "Normalised steps all have length lr; plain steps are lr times the gradient.",
            kind: Kind::Choice {
                options: &[
                    ChoiceOption { value: "normalized", label: "lr · g / ‖g‖" },
                    ChoiceOption { value: "plain", label: "lr · g" },
                ],
                default: "normalized",
            },
            live: true,
        },
        crate::methods::settings::seed("Seeds the starting noise and the jitter: the same seed gives the same image."),
    ],
    outputs: &[
        OutputSpec { id: "live", title: "Current", kind: OutputKind::Live, download: true },
        OutputSpec { id: "strip", title: "Frames", kind: OutputKind::Strip, download: false },
        OutputSpec { id: "image", title: "Result", kind: OutputKind::Image, download: false },
    ],
    start: |ctx, _, s| {
        let settings = ClassVizSettings::from_settings(s);
        ctx.net.check_class(settings.class)?;
        check_jitter(ctx.net, &settings)?;
        Ok(Box::new(ClassVizMethodRun { run: ClassVizRun::new(&settings)?, preprocess: ctx.net.preprocess().clone() }))
    },
    attribution: None,
    sharding: None,
    requires: None,
};

/// How the ascent step is scaled.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Update {
    /// `I += lr * dI / ||dI||_2`: every step has length `lr`.
    #[default]
    Normalized,
    /// `I += lr * dI`.
    Plain,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ClassVizSettings {
    pub class: usize,
    /// lambda in `logit - lambda * ||I||^2`.
    pub l2_reg: f32,
    pub lr: f32,
    pub iters: usize,
    /// Blur at iterations 0, k, 2k, ...; 0 never blurs.
    pub blur_every: usize,
    pub blur_sigma: f32,
    /// Each iteration rolls the image by up to this many pixels along each axis.
    pub max_jitter: usize,
    pub update: Update,
    pub seed: u64,
}

impl Default for ClassVizSettings {
    /// The registry's defaults: the CS231n notebook's values (class 76 = tarantula).
    fn default() -> Self {
        ClassVizSettings::from_settings(&SPEC.defaults())
    }
}

/// Past this the blur kernel (radius 4 sigma) spans most of the image and only greys it out.
pub const MAX_BLUR_SIGMA: f32 = 20.0;

impl ClassVizSettings {
    pub fn from_settings(s: &Settings) -> ClassVizSettings {
        ClassVizSettings {
            class: s.class("class").expect("the class is not optional"),
            l2_reg: s.float("l2_reg"),
            lr: s.float("lr"),
            iters: s.usize("iters"),
            blur_every: s.usize("blur_every"),
            blur_sigma: s.float("blur_sigma"),
            max_jitter: s.usize("max_jitter"),
            update: if s.text("update") == "plain" { Update::Plain } else { Update::Normalized },
            seed: s.int("seed") as u64,
        }
    }

    /// The registry's bounds; the class range needs the network and is checked by `step`.
    pub fn validate(&self) -> Result<()> {
        let json = serde_json::to_value(self).expect("settings serialise");
        SPEC.settings(&json, usize::MAX)?;
        if self.blur_every > 0 && self.blur_sigma <= 0.0 {
            return Err(Error::Invalid(format!(
                "Blur σ (blur_sigma) must be greater than 0 when blurring, got {}",
                self.blur_sigma
            )));
        }
        Ok(())
    }
}

/// The jitter must be below the input's sides (a roll by the whole side is no roll, and the page's bound
/// is SqueezeNet-independent).
fn check_jitter(net: &Classifier, settings: &ClassVizSettings) -> Result<()> {
    let [_, _, h, w] = net.input_shape();
    if settings.max_jitter >= h.min(w) {
        return Err(Error::Invalid(format!(
            "Jitter (px) (max_jitter) of {} is too large for this model's {h}×{w} input: at most {}",
            settings.max_jitter,
            h.min(w) - 1
        )));
    }
    Ok(())
}

/// One class visualization, advanced one iteration per `step` call.
pub struct ClassVizRun {
    rng: ChaCha8Rng,
    image: Tensor,
    /// The jittered image the network sees, then the updated one before it is rolled back.
    rolled: Tensor,
    /// Blur scratch: one row or column.
    line: Vec<f32>,
    iteration: usize,
    last_logits: Vec<f32>,
}

impl ClassVizRun {
    /// Seeds the run; the starting noise is drawn at the first step, at the network's input shape.
    pub fn new(settings: &ClassVizSettings) -> Result<ClassVizRun> {
        settings.validate()?;
        Ok(ClassVizRun {
            rng: ChaCha8Rng::seed_from_u64(settings.seed),
            image: Tensor::zeros(&[0]),
            rolled: Tensor::zeros(&[0]),
            line: Vec::new(),
            iteration: 0,
            last_logits: Vec::new(),
        })
    }

    /// The first draws of the seeded stream: standard normal noise of the network's input shape.
    fn init(&mut self, net: &Classifier) {
        let shape = net.input_shape();
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| self.rng.sample(StandardNormal)).collect();
        self.image = Tensor::new(shape.to_vec(), data);
        self.rolled = Tensor::zeros(&shape);
        self.line = Vec::with_capacity(shape[2].max(shape[3]));
    }

    /// The current image, normalised [1, C, H, W] (empty before the first step).
    pub fn image(&self) -> &Tensor {
        &self.image
    }

    /// Iterations done.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// Class scores of the (jittered) image the last iteration started from.
    pub fn last_logits(&self) -> &[f32] {
        &self.last_logits
    }

    /// One iteration. Takes the settings each time so that a page can change them mid-run; the seed and `iters`
    /// are ignored here (the seed only shapes the starting noise; the caller decides when to stop).
    pub fn step(&mut self, net: &Classifier, settings: &ClassVizSettings) -> Result<()> {
        settings.validate()?;
        net.check_class(settings.class)?;
        check_jitter(net, settings)?;
        if self.iteration == 0 && self.image.data.is_empty() {
            self.init(net);
        }
        let t = self.iteration;
        let jitter = settings.max_jitter as u32;
        // u32, not usize: the draw must not depend on the pointer width (wasm32 vs 64-bit native).
        let ox = self.rng.gen_range(0..=jitter) as usize;
        let oy = self.rng.gen_range(0..=jitter) as usize;
        roll(&self.image, &mut self.rolled, ox, oy);

        let (logits, mut grad) = net.logits_and_grad(&self.rolled, settings.class)?;
        self.last_logits = logits;
        // d/dI (logit - lambda ||I||^2) = g - 2 lambda I
        let decay = 2.0 * settings.l2_reg;
        for (g, v) in grad.data.iter_mut().zip(&self.rolled.data) {
            *g -= decay * v;
        }
        let scale = match settings.update {
            Update::Plain => settings.lr,
            Update::Normalized => {
                let norm = grad.l2_norm();
                if norm > 0.0 && norm.is_finite() {
                    settings.lr / norm
                } else {
                    0.0
                }
            }
        };
        for (v, g) in self.rolled.data.iter_mut().zip(&grad.data) {
            *v += scale * g;
        }

        let (h, w) = (self.image.shape[2], self.image.shape[3]);
        roll(&self.rolled, &mut self.image, (w - ox) % w, (h - oy) % h);
        net.preprocess().clamp(&mut self.image);
        if settings.blur_every > 0 && t.is_multiple_of(settings.blur_every) {
            gaussian_blur_hw(&mut self.image, settings.blur_sigma, &mut self.line);
        }
        self.iteration += 1;
        Ok(())
    }
}

/// Run `settings.iters` iterations. After every `every`-th iteration (and the last) `callback(done, image)` sees
/// a snapshot; returning false cancels the run and gives `None`. `every == 0` only reports the end.
pub fn class_visualization(
    net: &Classifier,
    settings: &ClassVizSettings,
    every: usize,
    mut callback: impl FnMut(usize, &Tensor) -> bool,
) -> Result<Option<Tensor>> {
    let mut run = ClassVizRun::new(settings)?;
    while run.iteration() < settings.iters {
        run.step(net, settings)?;
        let done = run.iteration();
        let due = (every > 0 && done % every == 0) || done == settings.iters;
        if due && !callback(done, run.image()) {
            return Ok(None);
        }
    }
    Ok(Some(run.image))
}

/// The registry's class visualization: one iteration per step, a live frame after each; the live settings and
/// the iteration count are read at every step.
struct ClassVizMethodRun {
    run: ClassVizRun,
    /// The model's, to show the image.
    preprocess: Preprocess,
}

impl Run for ClassVizMethodRun {
    fn step(&mut self, ctx: &Ctx, settings: &Settings) -> Result<Progress> {
        let s = ClassVizSettings::from_settings(settings);
        if self.run.iteration() < s.iters {
            self.run.step(ctx.net, &s)?;
        }
        let top = top5(ctx.net, self.run.last_logits());
        // The class's own probability, whether or not it is in the top 5.
        let p = match self.run.last_logits() {
            [] => 0.0,
            scores => ctx.net.probabilities(scores)[s.class],
        };
        let done = self.run.iteration() >= s.iters;
        Ok(Progress {
            done,
            step: self.run.iteration(),
            total: s.iters,
            text: if done {
                format!("Done: {} iterations · P({}) = {:.2}%", self.run.iteration(), (ctx.name)(s.class), p * 100.0)
            } else {
                format!(
                    "Iteration {} / {} · P({}) = {:.2}%",
                    self.run.iteration(),
                    s.iters,
                    (ctx.name)(s.class),
                    p * 100.0
                )
            },
            frame: true,
            top,
        })
    }

    fn frame(&self) -> Option<Vec<u8>> {
        (!self.run.image().data.is_empty()).then(|| self.preprocess.tensor_to_rgba(self.run.image()))
    }

    fn panels(&self) -> Vec<Panel> {
        let (h, w) = (self.preprocess.height as u32, self.preprocess.width as u32);
        if self.run.image().data.is_empty() {
            return vec![];
        }
        vec![Panel {
            id: "image",
            kind: OutputKind::Image,
            title: "Result".into(),
            width: w,
            height: h,
            rgba: self.preprocess.tensor_to_rgba(self.run.image()),
            raw: None,
            plot: None,
        }]
    }

    fn report(&self) -> Json {
        json!({ "iterations": self.run.iteration(), "lines": [["Iterations", self.run.iteration().to_string()]] })
    }
}
