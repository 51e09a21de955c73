//! DeepDream (Mordvintsev et al. 2015) on the user's image: gradient ascent on ‖A_L‖² (or one channel's) with
//! normalised steps and random jitter, over octaves: the first optimises a coarse copy of the image (the network
//! sees it upsampled, and the gradient flows back through the upsampling), each next one a finer copy plus the
//! detail found so far.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value as Json};

use super::transform::{resize, resize_vjp};
use super::{check_layer, from_rgba01, goal_gradient, shown01, Goal, LAYER};
use crate::error::Result;
use crate::methods::contract::{Ctx, Group, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run};
use crate::methods::image_ops::roll;
use crate::methods::settings::{Kind, SettingSpec, Settings};
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "dream",
    title: "DeepDream",
    summary:
        "Your photo, changed to excite a whole layer (or one channel) more: the patterns that layer looks for appear.",
    paper: Paper {
        cite: "Mordvintsev et al. 2015, Inceptionism",
        url: "https://research.google/blog/inceptionism-going-deeper-into-neural-networks/",
    },
    group: Group::Inside,
    needs_image: true,
    link_prefix: "dream",
    cost: "octaves × steps × (forward + backward from the layer)",
    passes: None,
    compare: false,
    run_label: "Dream",
    auto_run: false,
    settings: &[
        LAYER,
        SettingSpec {
            key: "channel",
            link: "c",
            label: "Channel",
            help: "One channel of the layer, or −1 for the whole layer.",
            kind: Kind::Int { min: -1, max: 4095, default: -1 },
            live: false,
        },
        SettingSpec {
            key: "octaves",
            link: "oct",
            label: "Octaves",
            help: "Coarse-to-fine passes, each 1.4× (the octave scale) finer than the last.",
            kind: Kind::Int { min: 1, max: 5, default: 3 },
            live: false,
        },
        SettingSpec {
            key: "octave_scale",
            link: "os",
            label: "Octave scale",
            help: "Size ratio between octaves.",
            kind: Kind::Float { min: 1.1, max: 2.0, min_exclusive: false, default: 1.4 },
            live: false,
        },
        SettingSpec {
            key: "steps",
            link: "steps",
            label: "Steps per octave",
            help: "Gradient steps in each octave.",
            kind: Kind::Int { min: 1, max: 100, default: 10 },
            live: false,
        },
        SettingSpec {
            key: "lr",
            link: "lr",
            label: "Step size",
            help: "Each step moves the image by this much (in [0, 1] units) per unit of mean |gradient|.",
            kind: Kind::Float { min: 0.0, max: 0.5, min_exclusive: true, default: 0.01 },
            live: true,
        },
        SettingSpec {
            key: "jitter",
            link: "jitter",
            label: "Jitter (px)",
            help: "Each step rolls the image by up to this many pixels.",
            kind: Kind::Int { min: 0, max: 64, default: 8 },
            live: true,
        },
        crate::methods::settings::seed("Seeds the jitter."),
    ],
    outputs: &[
        OutputSpec { id: "live", title: "Dream", kind: OutputKind::Live, download: true },
        OutputSpec { id: "strip", title: "Frames", kind: OutputKind::Strip, download: false },
        OutputSpec { id: "stats", title: "Result", kind: OutputKind::Stats, download: false },
    ],
    start: |ctx, input, s| {
        let input = input.expect("checked by the registry");
        Ok(Box::new(Dream::new(ctx, &from_rgba01(&input.rgba, input.tensor.shape[2], input.tensor.shape[3]), s)?))
    },
    attribution: None,
    sharding: None,
    requires: None,
};

pub struct Dream {
    layer: String,
    goal: Goal,
    /// The image at full size, and the octave sizes, coarsest first.
    base: Tensor,
    sizes: Vec<(usize, usize)>,
    octave: usize,
    step_in_octave: usize,
    steps: usize,
    /// The image being optimised at the current octave's size.
    current: Tensor,
    rng: ChaCha8Rng,
    done_steps: usize,
    first_value: Option<f32>,
    last_value: f32,
    /// The model is grey: the image is shown as its luma.
    grey: bool,
}

impl Dream {
    pub fn new(ctx: &Ctx, image: &Tensor, s: &Settings) -> Result<Dream> {
        let layer = super::layer_setting(ctx.net, s, &LAYER);
        let c = s.int("channel");
        check_layer(ctx.net, &layer, (c >= 0).then_some(c as usize))?;
        let goal = if c >= 0 { Goal::ChannelSquares(c as usize) } else { Goal::LayerSquares };
        let (h, w) = (image.shape[2], image.shape[3]);
        let (octaves, scale) = (s.usize("octaves"), s.float("octave_scale"));
        let sizes: Vec<(usize, usize)> = (0..octaves)
            .map(|k| {
                let f = scale.powi((octaves - 1 - k) as i32);
                (((h as f32 / f).round() as usize).max(8), ((w as f32 / f).round() as usize).max(8))
            })
            .collect();
        let current = resize(image, sizes[0].0, sizes[0].1);
        Ok(Dream {
            grey: ctx.net.preprocess().channels == 1,
            layer,
            goal,
            base: image.clone(),
            sizes,
            octave: 0,
            step_in_octave: 0,
            steps: s.usize("steps"),
            current,
            rng: ChaCha8Rng::seed_from_u64(s.int("seed") as u64),
            done_steps: 0,
            first_value: None,
            last_value: 0.0,
        })
    }

    fn total(&self) -> usize {
        self.sizes.len() * self.steps
    }

    /// The dream at full size, [1, 3, H, W] in [0, 1].
    pub fn image(&self) -> Tensor {
        resize(&self.current, self.base.shape[2], self.base.shape[3])
    }

    fn next_octave(&mut self) {
        // The detail found so far (current − the image at this size), upscaled onto the finer copy of the image.
        let (h0, w0) = self.sizes[self.octave];
        let base_here = resize(&self.base, h0, w0);
        let mut detail = self.current.clone();
        detail.data.iter_mut().zip(&base_here.data).for_each(|(d, b)| *d -= b);
        self.octave += 1;
        let (h1, w1) = self.sizes[self.octave];
        let detail = resize(&detail, h1, w1);
        let mut next = resize(&self.base, h1, w1);
        next.data.iter_mut().zip(&detail.data).for_each(|(v, d)| *v = (*v + d).clamp(0.0, 1.0));
        self.current = next;
        self.step_in_octave = 0;
    }
}

impl Run for Dream {
    fn step(&mut self, ctx: &Ctx, s: &Settings) -> Result<Progress> {
        if self.done_steps < self.total() {
            if self.step_in_octave >= self.steps {
                self.next_octave();
            }
            let (h, w) = (self.base.shape[2], self.base.shape[3]);
            let j = s.usize("jitter") as i64;
            let (oy, ox) = (self.rng.gen_range(-j..=j), self.rng.gen_range(-j..=j));
            let wrap = |v: i64, n: usize| v.rem_euclid(n as i64) as usize;
            let full = resize(&self.current, h, w);
            let mut rolled = Tensor::zeros(&full.shape);
            roll(&full, &mut rolled, wrap(ox, w), wrap(oy, h));
            let (value, g) = goal_gradient(ctx.net, &rolled, &self.layer, self.goal)?;
            let mut g_full = Tensor::zeros(&g.shape);
            roll(&g, &mut g_full, wrap(-ox, w), wrap(-oy, h));
            let g_here = resize_vjp(&g_full, self.current.shape[2], self.current.shape[3]);
            let mean_abs = g_here.data.iter().map(|v| v.abs()).sum::<f32>() / g_here.len() as f32;
            let step = if mean_abs > 0.0 { s.float("lr") / mean_abs } else { 0.0 };
            self.current.data.iter_mut().zip(&g_here.data).for_each(|(v, g)| *v = (*v + step * g).clamp(0.0, 1.0));
            self.first_value.get_or_insert(value);
            self.last_value = value;
            self.step_in_octave += 1;
            self.done_steps += 1;
        }
        let done = self.done_steps >= self.total();
        let text = format!(
            "{} octave {} / {}, step {} / {} · objective {:.1}",
            if done { "Done:" } else { "DeepDream" },
            self.octave + 1,
            self.sizes.len(),
            self.step_in_octave,
            self.steps,
            self.last_value
        );
        Ok(Progress { done, step: self.done_steps, total: self.total(), text, frame: true, top: vec![] })
    }

    fn frame(&self) -> Option<Vec<u8>> {
        Some(shown01(self.grey, &self.image()))
    }

    fn panels(&self) -> Vec<Panel> {
        let (h, w) = (self.base.shape[2] as u32, self.base.shape[3] as u32);
        vec![Panel {
            id: "live",
            kind: OutputKind::Live,
            title: "Dream".into(),
            width: w,
            height: h,
            rgba: shown01(self.grey, &self.image()),
            raw: None,
            plot: None,
        }]
    }

    fn report(&self) -> Json {
        let first = self.first_value.unwrap_or(0.0);
        json!({
            "layer": self.layer, "steps": self.done_steps, "objective_first": first, "objective_last": self.last_value,
            "lines": [["Objective (‖A‖²)", format!("{first:.1} → {:.1} over {} steps", self.last_value, self.done_steps)]],
        })
    }
}
