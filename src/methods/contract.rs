//! The method contract: what a method declares ([`MethodSpec`]: id, title, what it shows, paper, settings,
//! outputs, how to start it, its family's hooks) and the types a run implements ([`Run`], and for the attribution
//! family [`Stepper`]). It names no method: the catalogue of methods is [`super::registry::METHODS`], and the
//! CLI, the wasm layer, the worker, the page and share links are all built from it (docs/architecture.md).

use serde::Serialize;
use serde_json::Value as Json;

use super::settings::{self, SettingSpec, Settings};
use super::shard::{PartResult, Sharding};
use crate::error::{Error, Result};
use crate::network::Classifier;
use crate::tensor::Tensor;

#[derive(Debug, Serialize)]
pub struct Paper {
    pub cite: &'static str,
    pub url: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// The CS231n "NetworkVisualization" experiments.
    Cs231n,
    /// Attribution maps: which input values a class score depends on.
    Attribution,
    /// Tests of attribution maps: faithfulness (deletion/insertion) and model randomization (issue 8).
    Trust,
    /// Adversarial attacks: the smallest changes that flip the prediction.
    Adversarial,
    /// Inside the network: activations, channel visualization, DeepDream.
    Inside,
}

/// How a page shows an output (docs/architecture.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    Image,
    Heatmap,
    Diverging,
    Overlay,
    Live,
    Strip,
    Stats,
    /// Curves: the panel's `plot` holds `{x_label, y_label, series: [{name, points: [[x, y], …], highlight}]}`.
    Plot,
}

#[derive(Debug, Serialize)]
pub struct OutputSpec {
    pub id: &'static str,
    pub title: &'static str,
    pub kind: OutputKind,
    /// The output the page offers as "Download PNG" (and re-classifies from those PNG bytes).
    pub download: bool,
}

/// What a method needs from its caller, besides the settings.
pub struct Ctx<'a> {
    pub net: &'a Classifier,
    /// A class's display name ("Egyptian cat (#285)"), for report lines.
    pub name: &'a (dyn Fn(usize) -> String + Sync),
}

/// The input image: the normalised tensor the network sees and its RGBA picture (for overlays).
#[derive(Clone)]
pub struct Input {
    pub tensor: Tensor,
    pub rgba: Vec<u8>,
    /// The class scores, computed once: the page classifies every image it loads, and a method that needs the
    /// prediction then does not pay for another forward pass.
    logits: std::sync::OnceLock<Vec<f32>>,
}

impl Input {
    pub fn new(tensor: Tensor, rgba: Vec<u8>) -> Input {
        Input { tensor, rgba, logits: std::sync::OnceLock::new() }
    }

    /// Image bytes (any format `imageio` reads) as `net` sees them: its size, its preprocessing.
    pub fn from_bytes(net: &Classifier, bytes: &[u8]) -> Result<Input> {
        let pre = net.preprocess();
        let rgb = pre.load(bytes)?;
        Ok(Input::new(pre.to_tensor(&rgb), crate::imageio::rgb_to_rgba(&rgb)))
    }

    /// The image's class scores (one forward pass the first time).
    pub fn logits(&self, net: &Classifier) -> Result<&[f32]> {
        if self.logits.get().is_none() {
            let _ = self.logits.set(net.logits(&self.tensor)?);
        }
        Ok(self.logits.get().expect("set above"))
    }
}

/// One finished output.
#[derive(Clone, Debug)]
pub struct Panel {
    pub id: &'static str,
    pub kind: OutputKind,
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    /// The raw values behind a map (attributions), for `--npy` and tests.
    pub raw: Option<Tensor>,
    /// A `plot` output's curves (see [`OutputKind::Plot`]).
    pub plot: Option<Json>,
}

/// Where a run stands after a step.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    pub done: bool,
    pub step: usize,
    pub total: usize,
    pub text: String,
    /// A new live image is available from [`Run::frame`].
    pub frame: bool,
    /// Top-5 (class, probability) of what the step looked at.
    pub top: Vec<(usize, f32)>,
}

/// A method in progress. The worker calls `step` once per event-loop turn, so it can report progress, apply
/// changed settings (`live` ones) and be cancelled between steps.
pub trait Run: Send {
    fn step(&mut self, ctx: &Ctx, settings: &Settings) -> Result<Progress>;
    /// The live image (methods with a `live` output).
    fn frame(&self) -> Option<Vec<u8>> {
        None
    }
    /// Stop early where that still gives a result (fooling: the image reached so far).
    fn finish(&mut self, _ctx: &Ctx) -> Result<()> {
        Ok(())
    }
    /// The outputs, once done.
    fn panels(&self) -> Vec<Panel>;
    /// Method-specific numbers, plus `lines: [[label, text]]` for a `stats` output; a line the page treats apart
    /// carries a third element, its key (`"class"`: the class explained; `"recheck"`: fooling's PNG check).
    fn report(&self) -> Json;
    /// A finished part's raw results, for [`Sharding::merge`] (runs started as a part only).
    fn part(&self) -> Option<PartResult> {
        None
    }
}

pub type StartFn = fn(&Ctx, Option<&Input>, &Settings) -> Result<Box<dyn Run>>;

/// What an attribution method gives the methods that run others (the trust tests, the CLI): its map maker and
/// what one of its passes costs, in forward passes (a forward + reverse pass ≈ [`BACKWARD`]; occlusion's are
/// forward passes, ≈ 1: per-step times of a deletion/insertion run in the page, 2026-11-28). The worker pool
/// balances the trust tests' parts by it (src/methods/shard.rs).
#[derive(Clone, Copy, Serialize)]
pub struct Attributor {
    #[serde(skip)]
    pub make: MakeStepper,
    pub pass_cost: f64,
}

/// The cost of a forward + reverse pass, in forward passes.
pub const BACKWARD: f64 = 2.0;
/// The cost of a forward pass.
pub const FORWARD: f64 = 1.0;

#[derive(Serialize)]
pub struct MethodSpec {
    pub id: &'static str,
    pub title: &'static str,
    /// One line: what the method shows.
    pub summary: &'static str,
    pub paper: Paper,
    pub group: Group,
    pub needs_image: bool,
    pub link_prefix: &'static str,
    /// Its cost in forward(+backward) passes, for the README and the page.
    pub cost: &'static str,
    /// The same cost as a number when it is fixed: forward passes plus backward passes (a backward from a layer
    /// counts one too). `None` when it grows with a setting (steps, samples, windows…). The page's live mode offers
    /// the methods of at most 2 (www/live.js).
    pub passes: Option<u32>,
    /// Part of the compare view.
    pub compare: bool,
    /// The run button's text.
    pub run_label: &'static str,
    /// Cheap enough that the page re-runs it by itself when the image or class changes.
    pub auto_run: bool,
    pub settings: &'static [SettingSpec],
    pub outputs: &'static [OutputSpec],
    #[serde(skip)]
    pub start: StartFn,
    /// Attribution methods: how others run it (None for every other method); the schema says its pass cost.
    pub attribution: Option<Attributor>,
    /// Runs that split into independent parts the page's worker pool runs at once (the trust tests); the schema
    /// says `shards: true`.
    #[serde(rename = "shards", serialize_with = "is_some")]
    pub sharding: Option<&'static Sharding>,
    /// What a model must have for this method, checked before any pass (attention for the attention methods):
    /// `Err(Invalid(sentence))` when it lacks it. The page leaves such methods out for that model
    /// (`applicable::not_for_model`); starting one anyway gives the same sentence.
    #[serde(skip)]
    pub requires: Option<fn(&Classifier) -> Result<()>>,
}

fn is_some<T, S: serde::Serializer>(v: &Option<T>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_bool(v.is_some())
}

impl MethodSpec {
    /// Checks settings JSON against this method's declaration (`classes`: the model's class count).
    pub fn settings(&self, json: &Json, classes: usize) -> Result<Settings> {
        settings::parse(self.title, self.settings, json, classes)
    }

    pub fn settings_str(&self, text: &str, classes: usize) -> Result<Settings> {
        settings::parse_str(self.title, self.settings, text, classes)
    }

    pub fn defaults(&self) -> Settings {
        settings::defaults(self.settings)
    }

    /// Starts a run; the image is required by methods that declare `needs_image`.
    pub fn start(&self, ctx: &Ctx, input: Option<&Input>, settings: &Settings) -> Result<Box<dyn Run>> {
        if self.needs_image && input.is_none() {
            return Err(Error::Invalid(format!("{} needs an image: load one first", self.title)));
        }
        if let Some(requires) = self.requires {
            requires(ctx.net)?;
        }
        (self.start)(ctx, input, settings)
    }
}

/// How an attribution map is read and drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Signed per-value attributions: summed over colour channels, blue (−) / white / red (+).
    Signed,
    /// Magnitudes: max over colour channels of |·|, the heatmap colormap.
    Magnitude,
    /// A coarse non-negative map over a layer's grid (Grad-CAM), upsampled bilinearly for display.
    Coarse,
}

/// An attribution method, one pass per step.
pub trait Stepper: Send {
    /// Passes in all.
    fn total(&self) -> usize;
    /// Passes done.
    fn done(&self) -> usize;
    fn step(&mut self, net: &Classifier) -> Result<()>;
    /// The map, once every pass is done.
    fn result(&self) -> Result<(Tensor, Json)>;
}

/// Builds an attribution method's stepper for image `x` and class `class`.
pub type MakeStepper = fn(&Classifier, &Tensor, usize, &Settings) -> Result<(Box<dyn Stepper>, Style)>;

/// Top-5 (class, probability) of some logits.
pub fn top5(net: &Classifier, scores: &[f32]) -> Vec<(usize, f32)> {
    top5_of(&net.probabilities(scores))
}

/// The five most probable classes of a probability vector, ties by index.
pub fn top5_of(probs: &[f32]) -> Vec<(usize, f32)> {
    crate::tensor::top_k(probs, 5)
}

/// The class a method explains: the one asked for, else the predicted one.
pub fn class_or_predicted(ctx: &Ctx, asked: Option<usize>, logits: &[f32]) -> Result<usize> {
    match asked {
        Some(k) => {
            ctx.net.check_class(k)?;
            Ok(k)
        }
        None => Ok(crate::tensor::argmax(logits)),
    }
}
