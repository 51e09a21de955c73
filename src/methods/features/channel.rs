//! Channel and neuron visualization (Olah et al. 2017; Lucid's defaults): Adam ascent, from seeded noise, on the
//! mean activation of one channel (or its centre neuron) at a layer, through a Fourier + decorrelated-colour
//! parameterization and random jitter, scale and rotation each step.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value as Json};

use super::param::{Adam, Kind as ParamKind, Param};
use super::transform::Affine;
use super::{channel_means, check_layer, goal_gradient, shown01, Goal, LAYER};
use crate::error::Result;
use crate::methods::contract::{Ctx, Group, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run};
use crate::methods::settings::{ChoiceOption, Kind, SettingSpec, Settings};
use crate::methods::MAX_ITERS;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "channel",
    title: "Channel visualization",
    summary: "The image one channel (or neuron) of a layer responds to most, grown from noise: what that unit looks for.",
    paper: Paper { cite: "Olah et al. 2017, Feature Visualization", url: "https://distill.pub/2017/feature-visualization/" },
    group: Group::Inside,
    needs_image: false,
    link_prefix: "ch",
    cost: "iterations × (forward + backward from the layer)",
    passes: None,
    compare: false,
    run_label: "Visualize",
    auto_run: false,
    settings: &[
        LAYER,
        SettingSpec {
            key: "channel",
            link: "c",
            label: "Channel",
            help: "Which channel of the layer (0 to its channel count − 1).",
            kind: Kind::Int { min: 0, max: 4095, default: 0 },
            live: false,
        },
        SettingSpec {
            key: "objective",
            link: "obj",
            label: "Objective",
            help: "The channel's mean activation over the image, or its centre neuron only.",
            kind: Kind::Choice {
                options: &[ChoiceOption { value: "channel", label: "channel (mean)" }, ChoiceOption { value: "neuron", label: "centre neuron" }],
                default: "channel",
            },
            live: true,
        },
        SettingSpec {
            key: "param",
            link: "param",
            label: "Parameterization",
            help: "Fourier: a 1/frequency-scaled spectrum with decorrelated colours (Lucid's); pixels: one value per pixel.",
            kind: Kind::Choice {
                options: &[ChoiceOption { value: "fourier", label: "Fourier + decorrelated colour" }, ChoiceOption { value: "pixel", label: "pixels" }],
                default: "fourier",
            },
            live: false,
        },
        SettingSpec {
            key: "iters",
            link: "iters",
            label: "Iterations",
            help: "How many Adam steps in all.",
            kind: Kind::Int { min: 1, max: MAX_ITERS as i64, default: 256 },
            live: true,
        },
        SettingSpec {
            key: "lr",
            link: "lr",
            label: "Learning rate",
            help: "Adam's step size (Lucid's 0.05).",
            kind: Kind::Float { min: 0.0, max: 1.0, min_exclusive: true, default: 0.05 },
            live: true,
        },
        SettingSpec {
            key: "jitter",
            link: "jitter",
            label: "Jitter (px)",
            help: "Each step shifts the image by up to this many pixels.",
            kind: Kind::Int { min: 0, max: 64, default: 8 },
            live: true,
        },
        SettingSpec {
            key: "scale",
            link: "scale",
            label: "Random scale ±",
            help: "Each step scales the image by a factor in [1 − s, 1 + s].",
            kind: Kind::Float { min: 0.0, max: 0.5, min_exclusive: false, default: 0.1 },
            live: true,
        },
        SettingSpec {
            key: "rotate",
            link: "rot",
            label: "Random rotation (°)",
            help: "Each step rotates the image by up to this many degrees either way.",
            kind: Kind::Float { min: 0.0, max: 45.0, min_exclusive: false, default: 5.0 },
            live: true,
        },
        crate::methods::settings::seed("Seeds the starting noise and the random transforms: the same seed gives the same image."),
    ],
    outputs: &[
        OutputSpec { id: "live", title: "Current", kind: OutputKind::Live, download: true },
        OutputSpec { id: "strip", title: "Frames", kind: OutputKind::Strip, download: false },
        OutputSpec { id: "stats", title: "Result", kind: OutputKind::Stats, download: false },
    ],
    start: |ctx, _, s| Ok(Box::new(ChannelViz::new(ctx, s)?)),
    attribution: None,
    sharding: None,
    requires: None,
};

/// A channel visualization, one Adam step per `step`.
pub struct ChannelViz {
    layer: String,
    channel: usize,
    param: Param,
    adam: Adam,
    rng: ChaCha8Rng,
    iteration: usize,
    last_value: f32,
    /// Once done: (mean activation of the channel on the 8-bit image, its rank in the layer, channel count).
    result: Option<(f32, usize, usize)>,
    /// The model is grey: the image is shown as its luma.
    grey: bool,
}

impl ChannelViz {
    pub fn new(ctx: &Ctx, s: &Settings) -> Result<ChannelViz> {
        let layer = super::layer_setting(ctx.net, s, &LAYER);
        let channel = s.usize("channel");
        check_layer(ctx.net, &layer, Some(channel))?;
        let mut rng = ChaCha8Rng::seed_from_u64(s.int("seed") as u64);
        let kind = if s.text("param") == "pixel" { ParamKind::Pixel } else { ParamKind::Fourier };
        let [_, _, h, w] = ctx.net.input_shape();
        let param = Param::new(kind, kind == ParamKind::Fourier, h, w, &mut rng);
        let adam = Adam::new(param.values.len(), s.float("lr"));
        let grey = ctx.net.preprocess().channels == 1;
        Ok(ChannelViz { layer, channel, param, adam, rng, iteration: 0, last_value: 0.0, result: None, grey })
    }

    /// The image so far, [1, 3, H, W] in [0, 1].
    pub fn image(&self) -> Tensor {
        self.param.image()
    }

    pub fn result(&self) -> Option<(f32, usize, usize)> {
        self.result
    }

    fn finish_now(&mut self, ctx: &Ctx) -> Result<()> {
        // The 8-bit picture a student downloads, run through the network again.
        let [_, _, h, w] = ctx.net.input_shape();
        let img = super::from_rgba01(&shown01(self.grey, &self.image()), h, w);
        let means = channel_means(ctx.net, &img, &self.layer)?;
        let mine = means[self.channel];
        let rank = 1 + means.iter().filter(|&&m| m > mine).count();
        self.result = Some((mine, rank, means.len()));
        Ok(())
    }
}

impl Run for ChannelViz {
    fn step(&mut self, ctx: &Ctx, s: &Settings) -> Result<Progress> {
        let iters = s.usize("iters");
        if self.iteration < iters {
            let img = self.param.image();
            let t = Affine::random(&mut self.rng, s.usize("jitter") as u32, s.float("scale"), s.float("rotate"));
            let goal =
                if s.text("objective") == "neuron" { Goal::Neuron(self.channel) } else { Goal::Channel(self.channel) };
            let (value, g) = goal_gradient(ctx.net, &t.apply(&img), &self.layer, goal)?;
            let g_params = self.param.vjp(&t.vjp(&g));
            self.adam.set_lr(s.float("lr"));
            self.adam.ascend(&mut self.param.values, &g_params);
            self.last_value = value;
            self.iteration += 1;
        }
        let done = self.iteration >= iters;
        if done && self.result.is_none() {
            self.finish_now(ctx)?;
        }
        let text = match self.result {
            Some((v, rank, n)) if done => format!(
                "Done: {} iterations · {} channel {}: mean activation {v:.3} on the 8-bit image, rank {rank} of {n}",
                self.iteration, self.layer, self.channel
            ),
            _ => format!(
                "Iteration {} / {iters} · {} channel {}: {:.3}",
                self.iteration, self.layer, self.channel, self.last_value
            ),
        };
        Ok(Progress { done, step: self.iteration, total: iters, text, frame: true, top: vec![] })
    }

    fn frame(&self) -> Option<Vec<u8>> {
        Some(shown01(self.grey, &self.image()))
    }

    fn finish(&mut self, ctx: &Ctx) -> Result<()> {
        if self.result.is_none() {
            self.finish_now(ctx)?;
        }
        Ok(())
    }

    fn panels(&self) -> Vec<Panel> {
        let img = self.image();
        let (h, w) = (img.shape[2] as u32, img.shape[3] as u32);
        vec![Panel {
            id: "live",
            kind: OutputKind::Live,
            title: "Result".into(),
            width: w,
            height: h,
            rgba: shown01(self.grey, &img),
            raw: None,
            plot: None,
        }]
    }

    fn report(&self) -> Json {
        let Some((mean, rank, n)) = self.result else { return json!({}) };
        json!({
            "layer": self.layer, "channel": self.channel, "iterations": self.iteration,
            "mean_activation": mean, "rank": rank, "channels": n,
            "lines": [
                ["Unit", format!("{} channel {}", self.layer, self.channel)],
                ["Mean activation (8-bit image)", format!("{mean:.3}")],
                ["Rank in its layer", format!("{rank} of {n}")],
            ],
        })
    }
}
