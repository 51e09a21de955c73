//! Adversarial attacks (torchattacks' definitions), on the picture the network sees (its H×W, C channels) in
//! pixel space [0, 255] with ε and α in pixel units: the model's normalisation ([`Preprocess`]) is applied inside, and after every step the image is projected back
//! into the ε-ball around the original and into [0, 255]. The result is an 8-bit image, checked again, so
//! ‖x_adv − x‖∞ ≤ ε holds exactly.
//!
//! - [`linf`]: FGSM, BIM and PGD (L∞); [`l2`]: PGD in L2; [`robustness`]: P(class) against ε;
//! - [`survival`]: does the adversarial image survive PNG and JPEG re-encoding?

pub mod l2;
pub mod linf;
pub mod robustness;
pub mod survival;

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::{json, Value as Json};

use super::contract::{top5, Ctx, Input, OutputKind, OutputSpec, Panel, Progress, Run};
use super::settings::{Kind, SettingSpec, Settings};
use crate::engine::Objective;
use crate::error::{Error, Result};
use crate::network::Classifier;
use crate::preprocess::Preprocess;
use crate::render;
use crate::tensor::{argmax, Tensor};

/// An image as pixel values 0..=255 (f32), [1, C, H, W] in the model's channel order.
pub type Pixels = Tensor;

/// The norm an attack's ball is measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    Linf,
    L2,
}

/// One attack's parameters, in pixel units.
#[derive(Clone, Debug, PartialEq)]
pub struct AttackSettings {
    pub norm: Norm,
    pub eps: f32,
    pub alpha: f32,
    pub steps: usize,
    /// `None`: untargeted (raise the loss of the original's predicted class); `Some(t)`: lower the loss of t.
    pub target: Option<usize>,
    pub random_start: bool,
    pub seed: u64,
    /// Stop at the first step whose 8-bit image is misclassified (untargeted) or the target (targeted).
    pub early_stop: bool,
}

/// The network's input for pixel values: (p / 255 · scale − mean) / std per channel (the model's preprocessing).
pub fn normalise(net: &Classifier, p: &Pixels) -> Tensor {
    net.preprocess().from_pixels(p)
}

/// Pixel values of an RGBA picture, for a 3-channel RGB model (a model's own: [`Preprocess::pixels_of_rgba`]).
pub fn pixels_of_rgba(rgba: &[u8], h: usize, w: usize) -> Pixels {
    let plane = h * w;
    let mut data = vec![0f32; 3 * plane];
    for (i, px) in rgba.chunks_exact(4).enumerate() {
        for c in 0..3 {
            data[c * plane + i] = px[c] as f32;
        }
    }
    Tensor::new(vec![1, 3, h, w], data)
}

/// RGBA of 3-channel RGB pixel values (rounded, clamped); a model's own: [`Preprocess::rgba_of_pixels`].
pub fn rgba_of_pixels(p: &Pixels) -> Vec<u8> {
    let plane = p.len() / 3;
    let mut out = Vec::with_capacity(plane * 4);
    for i in 0..plane {
        for c in 0..3 {
            out.push(p.data[c * plane + i].round().clamp(0.0, 255.0) as u8);
        }
        out.push(255);
    }
    out
}

/// The logits at `p` and the gradient, with respect to the pixel values, of the attack's cost: the
/// cross-entropy of `label` (untargeted: to raise) or minus the cross-entropy of the target (targeted).
pub fn cost_gradient(net: &Classifier, p: &Pixels, label: usize, targeted: bool) -> Result<(Vec<f32>, Tensor)> {
    let engine = net.engine();
    let pre = net.preprocess();
    let acts = engine.forward(&pre.from_pixels(p))?;
    let logits = acts.output().data.clone();
    // d CE / d scores (softmax − onehot for logits), the targeted cost is −CE(z, t).
    let sign = if targeted { -1.0 } else { 1.0 };
    let dz: Vec<f32> = net.cross_entropy_grad(&logits, label).iter().map(|&d| sign * d).collect();
    let mut g = engine.backward(&acts, &Objective::OutputGrad(Tensor::new(acts.output().shape.clone(), dz)))?;
    // d x_norm / d p = scale / (255 · std_c); written as a division for scale 1 (SqueezeNet's values unchanged).
    let plane = g.len() / pre.channels;
    for (i, v) in g.data.iter_mut().enumerate() {
        let c = i / plane;
        *v = *v / (255.0 * pre.std[c]) * pre.scale;
    }
    Ok((logits, g))
}

/// Projects `adv` onto the ε-ball around `x` (in `norm`) and then into [0, 255].
pub fn project(adv: &mut Pixels, x: &Pixels, norm: Norm, eps: f32) {
    match norm {
        Norm::Linf => {
            for (a, &o) in adv.data.iter_mut().zip(&x.data) {
                *a = (*a - o).clamp(-eps, eps) + o;
            }
        }
        Norm::L2 => {
            let n = adv.data.iter().zip(&x.data).map(|(a, o)| ((a - o) as f64).powi(2)).sum::<f64>().sqrt() as f32;
            let factor = if n > 0.0 { (eps / n).min(1.0) } else { 1.0 };
            for (a, &o) in adv.data.iter_mut().zip(&x.data) {
                *a = o + (*a - o) * factor;
            }
        }
    }
    adv.data.iter_mut().for_each(|a| *a = a.clamp(0.0, 255.0));
}

/// A random start in the ε-ball (torchattacks': uniform per value in L∞; a uniform radius along a Gaussian
/// direction in L2), then into [0, 255].
pub fn random_start(x: &Pixels, norm: Norm, eps: f32, seed: u64) -> Pixels {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut adv = x.clone();
    match norm {
        Norm::Linf => adv.data.iter_mut().for_each(|a| *a += rng.gen_range(-eps..=eps)),
        Norm::L2 => {
            let d: Vec<f32> = (0..x.len()).map(|_| rng.sample(StandardNormal)).collect();
            let n = d.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt() as f32;
            let r: f32 = rng.gen_range(0.0..1.0);
            adv.data.iter_mut().zip(&d).for_each(|(a, v)| *a += v * r / n * eps);
        }
    }
    adv.data.iter_mut().for_each(|a| *a = a.clamp(0.0, 255.0));
    adv
}

/// One step: L∞ moves every value by α·sign(g); L2 moves along g/‖g‖₂ by α.
pub fn ascend(adv: &mut Pixels, g: &Tensor, norm: Norm, alpha: f32) {
    match norm {
        Norm::Linf => adv.data.iter_mut().zip(&g.data).for_each(|(a, &g)| *a += alpha * sign(g)),
        Norm::L2 => {
            let n = g.data.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt() as f32 + 1e-10;
            adv.data.iter_mut().zip(&g.data).for_each(|(a, &g)| *a += alpha * g / n);
        }
    }
}

/// torch.sign: 0 stays 0.
fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Rounds to 8-bit pixel values, then projects again in L∞ (rounding can step past an ε that is not a whole
/// number of pixels) so the bound holds exactly for the saved image.
pub fn to_8bit(adv: &Pixels, x: &Pixels, norm: Norm, eps: f32) -> Pixels {
    let mut out = adv.clone();
    out.data.iter_mut().for_each(|a| *a = a.round().clamp(0.0, 255.0));
    if norm == Norm::Linf {
        for (a, &o) in out.data.iter_mut().zip(&x.data) {
            if (*a - o).abs() > eps {
                *a = o + (eps.floor()).copysign(*a - o);
            }
        }
    }
    out
}

/// An attack in progress: one forward + backward per step.
pub struct Attack {
    pub settings: AttackSettings,
    /// The original image and its predicted class (the label an untargeted attack moves away from).
    pub x: Pixels,
    pub label: usize,
    pub original_logits: Vec<f32>,
    pub adv: Pixels,
    pub steps_done: usize,
    /// The 8-bit result and its logits, once done.
    pub result: Option<(Pixels, Vec<f32>)>,
}

impl Attack {
    /// Classifies the original (one forward pass) and checks the settings against it.
    pub fn new(net: &Classifier, x: &Pixels, settings: AttackSettings) -> Result<Attack> {
        let original_logits = net.logits(&normalise(net, x))?;
        Attack::classified(net, x, settings, original_logits)
    }

    /// As [`Attack::new`], for an original whose class scores are known (the robustness curve attacks the same
    /// image once per ε: one forward pass for all of them).
    pub fn classified(
        net: &Classifier,
        x: &Pixels,
        settings: AttackSettings,
        original_logits: Vec<f32>,
    ) -> Result<Attack> {
        let label = argmax(&original_logits);
        if let Some(t) = settings.target {
            net.check_class(t)?;
            if t == label {
                return Err(Error::Invalid(format!(
                    "Target class (target) {t} is already the predicted class: choose another target or none"
                )));
            }
        }
        let adv =
            if settings.random_start { random_start(x, settings.norm, settings.eps, settings.seed) } else { x.clone() };
        Ok(Attack { settings, x: x.clone(), label, original_logits, adv, steps_done: 0, result: None })
    }

    fn fooled(&self, logits: &[f32]) -> bool {
        match self.settings.target {
            Some(t) => argmax(logits) == t,
            None => argmax(logits) != self.label,
        }
    }

    pub fn done(&self) -> bool {
        self.result.is_some()
    }

    /// One step (or the final check).
    pub fn step(&mut self, net: &Classifier) -> Result<()> {
        if self.result.is_some() {
            return Ok(());
        }
        let s = self.settings.clone();
        let (class, targeted) = match s.target {
            Some(t) => (t, true),
            None => (self.label, false),
        };
        let (_, g) = cost_gradient(net, &self.adv, class, targeted)?;
        ascend(&mut self.adv, &g, s.norm, s.alpha);
        project(&mut self.adv, &self.x, s.norm, s.eps);
        self.steps_done += 1;
        let last = self.steps_done >= s.steps;
        if last || s.early_stop {
            let rounded = to_8bit(&self.adv, &self.x, s.norm, s.eps);
            let logits = net.logits(&normalise(net, &rounded))?;
            if last || self.fooled(&logits) {
                self.result = Some((rounded, logits));
            }
        }
        Ok(())
    }

    /// Stops now with the image reached so far.
    pub fn finish(&mut self, net: &Classifier) -> Result<()> {
        if self.result.is_none() {
            let rounded = to_8bit(&self.adv, &self.x, self.settings.norm, self.settings.eps);
            let logits = net.logits(&normalise(net, &rounded))?;
            self.result = Some((rounded, logits));
        }
        Ok(())
    }

    /// Runs to the end.
    pub fn run(net: &Classifier, x: &Pixels, settings: AttackSettings) -> Result<Attack> {
        let mut a = Attack::new(net, x, settings)?;
        while !a.done() {
            a.step(net)?;
        }
        Ok(a)
    }

    /// (L2, L∞, number of pixels with any channel changed) between the original and the result, in pixel units.
    pub fn norms(&self) -> (f32, f32, usize) {
        let Some((adv, _)) = &self.result else { return (0.0, 0.0, 0) };
        let l2 = adv.data.iter().zip(&self.x.data).map(|(a, o)| ((a - o) as f64).powi(2)).sum::<f64>().sqrt() as f32;
        let linf = adv.data.iter().zip(&self.x.data).fold(0f32, |m, (a, o)| m.max((a - o).abs()));
        let channels = self.x.shape[1];
        let plane = self.x.len() / channels;
        let changed = (0..plane)
            .filter(|&i| (0..channels).any(|c| adv.data[c * plane + i] != self.x.data[c * plane + i]))
            .count();
        (l2, linf, changed)
    }
}

// ---------------------------------------------------------------- settings and the registry run

pub const TARGET: SettingSpec = SettingSpec {
    key: "target",
    link: "target",
    label: "Target class",
    help: "Empty: untargeted (move away from the predicted class). A class: make the network see that class.",
    kind: Kind::Class { optional: true, default: None },
    live: false,
};

pub const EARLY_STOP: SettingSpec = SettingSpec {
    key: "early_stop",
    link: "stop",
    label: "Stop when fooled",
    help: "Stop at the first step whose 8-bit image is misclassified (or is the target).",
    kind: Kind::Bool { default: false },
    live: false,
};

pub const RANDOM_START: SettingSpec = SettingSpec {
    key: "random_start",
    link: "rs",
    label: "Random start",
    help: "Start from a random point of the ε-ball (seeded) instead of the image.",
    kind: Kind::Bool { default: false },
    live: false,
};

pub const SEED: SettingSpec =
    crate::methods::settings::seed("Seeds the random start: the same seed gives the same image.");

pub const fn eps_setting(default: f64, max: f64, help: &'static str) -> SettingSpec {
    SettingSpec {
        key: "eps",
        link: "eps",
        label: "ε (pixels)",
        help,
        kind: Kind::Float { min: 0.0, max, min_exclusive: true, default },
        live: false,
    }
}

pub const fn alpha_setting(default: f64, max: f64) -> SettingSpec {
    SettingSpec {
        key: "alpha",
        link: "alpha",
        label: "Step α (pixels)",
        help: "How far each step moves, in pixel units.",
        kind: Kind::Float { min: 0.0, max, min_exclusive: true, default },
        live: false,
    }
}

pub const fn steps_setting(default: i64) -> SettingSpec {
    SettingSpec {
        key: "steps",
        link: "steps",
        label: "Steps",
        help: "How many gradient steps.",
        kind: Kind::Int { min: 1, max: 1000, default },
        live: false,
    }
}

pub const OUTPUTS: &[OutputSpec] = &[
    OutputSpec { id: "adversarial", title: "Adversarial", kind: OutputKind::Image, download: true },
    OutputSpec { id: "diff10", title: "10× difference", kind: OutputKind::Image, download: false },
    OutputSpec { id: "delta", title: "|δ| per pixel", kind: OutputKind::Heatmap, download: false },
    OutputSpec { id: "stats", title: "Result", kind: OutputKind::Stats, download: false },
];

/// Reads an attack's settings; `norm`, and the settings an attack does not have, are given by the method.
pub fn settings_of(s: &Settings, norm: Norm, steps: Option<usize>, alpha: Option<f32>) -> AttackSettings {
    let has = |k: &str| s.has(k);
    AttackSettings {
        norm,
        eps: s.float("eps"),
        alpha: alpha.unwrap_or_else(|| s.float("alpha")),
        steps: steps.unwrap_or_else(|| s.usize("steps")),
        target: s.class("target"),
        random_start: has("random_start") && s.bool("random_start"),
        seed: if has("seed") { s.int("seed") as u64 } else { 0 },
        early_stop: has("early_stop") && s.bool("early_stop"),
    }
}

/// The registry's run of any attack.
pub struct AttackRun {
    attack: Attack,
    lines: Json,
    /// The model's, to show the images.
    preprocess: Preprocess,
}

/// An input's picture as pixel values, and their class scores: the input's own (computed once; the page
/// classifies every image it loads) when its tensor is exactly those pixels normalised, as for a picture the page
/// or the CLI decoded; else from a forward pass (a tensor given as is, whose picture is only its rendering).
pub fn original(net: &Classifier, input: &Input) -> Result<(Pixels, Vec<f32>)> {
    let x = net.preprocess().pixels_of_rgba(&input.rgba);
    let normalised = normalise(net, &x);
    let same = normalised.shape == input.tensor.shape
        && normalised.data.iter().zip(&input.tensor.data).all(|(a, b)| a.to_bits() == b.to_bits());
    let logits = if same { input.logits(net)?.to_vec() } else { net.logits(&normalised)? };
    Ok((x, logits))
}

impl AttackRun {
    pub fn start(ctx: &Ctx, input: &Input, settings: AttackSettings) -> Result<Box<dyn Run>> {
        let pre = ctx.net.preprocess();
        let (x, logits) = original(ctx.net, input)?;
        Ok(Box::new(AttackRun {
            attack: Attack::classified(ctx.net, &x, settings, logits)?,
            lines: Json::Null,
            preprocess: pre.clone(),
        }))
    }

    fn finished(&mut self, ctx: &Ctx) -> Result<()> {
        let a = &self.attack;
        let (adv, logits) = a.result.as_ref().expect("done");
        let (l2, linf, changed) = a.norms();
        let name = |k: usize| (ctx.name)(k);
        let top = |logits: &[f32]| {
            top5(ctx.net, logits)
                .iter()
                .map(|(c, p)| format!("{} {:.1}%", name(*c), p * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let fooled = a.fooled(logits);
        let verdict = |logits: &[f32]| {
            let c = argmax(logits);
            let still = a.fooled(logits);
            format!(
                "{} ({:.1}%) — {}",
                name(c),
                ctx.net.probabilities(logits)[c] * 100.0,
                if still { "still fools it ✓" } else { "no longer fools it ✗" }
            )
        };
        let rgba = self.preprocess.rgba_of_pixels(adv);
        let (h, w) = (adv.shape[2] as u32, adv.shape[3] as u32);
        let copies = survival::reencoded(&self.preprocess, &rgba, w, h)?;
        let plane = (w * h) as usize;
        let mut lines = vec![
            json!(["Before", top(&a.original_logits)]),
            json!(["After", top(logits)]),
            json!(["Result", if fooled { "fooled ✓" } else { "not fooled ✗" }]),
            json!(["Largest change (L∞)", format!("{linf:.0} of 255 per colour value")]),
            json!(["Whole change (L2)", format!("{l2:.1} pixel units over all values")]),
            json!([
                "Pixels changed",
                format!("{changed} of {plane} ({:.0}%)", 100.0 * changed as f64 / plane.max(1) as f64)
            ]),
            json!(["Steps", a.steps_done.to_string()]),
        ];
        for (label, x) in copies {
            let logits = ctx.net.logits(&normalise(ctx.net, &x))?;
            lines.push(json!([format!("Survives {label}?"), verdict(&logits)]));
        }
        self.lines = Json::Array(lines);
        Ok(())
    }
}

impl Run for AttackRun {
    fn step(&mut self, ctx: &Ctx, _settings: &Settings) -> Result<Progress> {
        if !self.attack.done() {
            self.attack.step(ctx.net)?;
            if self.attack.done() {
                self.finished(ctx)?;
            }
        }
        let a = &self.attack;
        let done = a.done();
        let text = if done {
            let fooled = a.result.as_ref().map(|(_, l)| a.fooled(l)).unwrap_or(false);
            format!(
                "{} after {} step{}: the 8-bit image is classified as {}",
                if fooled { "Fooled" } else { "Not fooled" },
                a.steps_done,
                if a.steps_done == 1 { "" } else { "s" },
                (ctx.name)(argmax(&a.result.as_ref().expect("done").1))
            )
        } else {
            format!("Step {} / {}", a.steps_done, a.settings.steps)
        };
        Ok(Progress {
            done,
            step: a.steps_done,
            total: a.settings.steps,
            text,
            frame: false,
            top: a.result.as_ref().map(|(_, l)| top5(ctx.net, l)).unwrap_or_default(),
        })
    }

    fn finish(&mut self, ctx: &Ctx) -> Result<()> {
        if !self.attack.done() {
            self.attack.finish(ctx.net)?;
            self.finished(ctx)?;
        }
        Ok(())
    }

    fn panels(&self) -> Vec<Panel> {
        let a = &self.attack;
        let Some((adv, _)) = &a.result else { return vec![] };
        let (h, w) = (adv.shape[2], adv.shape[3]);
        let plane = h * w;
        let pre = &self.preprocess;
        let delta: Vec<f32> = (0..plane)
            .map(|i| {
                (0..pre.channels).map(|c| (adv.data[c * plane + i] - a.x.data[c * plane + i]).abs()).fold(0.0, f32::max)
            })
            .collect();
        let (x_norm, adv_norm) = (pre.from_pixels(&a.x), pre.from_pixels(adv));
        let image = |id, title: &str, kind, rgba, raw| Panel {
            id,
            kind,
            title: title.into(),
            width: w as u32,
            height: h as u32,
            rgba,
            raw,
            plot: None,
        };
        vec![
            image("adversarial", "Adversarial", OutputKind::Image, pre.rgba_of_pixels(adv), Some(adv.clone())),
            image(
                "diff10",
                "10× difference",
                OutputKind::Image,
                render::diff_rgba_for(pre, &x_norm, &adv_norm, 10.0),
                None,
            ),
            image(
                "delta",
                // The key of a map scaled to its own largest value: what black and yellow stand for.
                &format!("|δ| per pixel: black 0 → yellow {:.0} of 255", delta.iter().fold(0f32, |m, &v| m.max(v))),
                OutputKind::Heatmap,
                render::heatmap_rgba(&delta),
                Some(Tensor::new(vec![h, w], delta.clone())),
            ),
        ]
    }

    fn report(&self) -> Json {
        let a = &self.attack;
        let Some((_, logits)) = &a.result else { return json!({}) };
        let (l2, linf, changed) = a.norms();
        json!({
            "label": a.label,
            "target": a.settings.target,
            "class_after": argmax(logits),
            "fooled": a.fooled(logits),
            "steps": a.steps_done,
            // Forward + reverse passes made (one per step), as attribution runs report theirs.
            "passes": a.steps_done,
            "l2": l2, "linf": linf, "changed_pixels": changed,
            "lines": self.lines,
        })
    }
}
