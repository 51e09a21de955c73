//! The activation browser: one layer's channels for the current image, as a grid of small maps sorted by mean
//! activation (one colour scale for the layer, or one per channel), with each channel's mean and max; the raw
//! values go to the page, which shows a channel's map over the image on hover or click.

use serde_json::{json, Value as Json};

use super::{check_layer, normalise01, LAYER};
use crate::error::{Error, Result};
use crate::methods::contract::{Ctx, Group, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run};
use crate::methods::settings::{ChoiceOption, Kind, SettingSpec, Settings};
use crate::network::Classifier;
use crate::render;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "activations",
    title: "Activations",
    summary: "What each channel of a layer responds to in your photo: its activation map, strongest channels first.",
    paper: Paper {
        cite: "Zeiler & Fergus 2014; Olah et al. 2018, The Building Blocks of Interpretability",
        url: "https://distill.pub/2018/building-blocks/",
    },
    group: Group::Inside,
    needs_image: true,
    link_prefix: "act",
    cost: "1 forward",
    passes: Some(1),
    compare: false,
    run_label: "Show",
    auto_run: true,
    settings: &[
        SettingSpec {
            kind: Kind::Text { pattern: crate::methods::settings::NAME_PATTERN, default: "features.4" },
            ..LAYER
        },
        SettingSpec {
            key: "colour_scale",
            link: "scale",
            label: "Colour scale",
            help: "One scale for the whole layer (compare channels) or one per channel (see each one's pattern).",
            kind: Kind::Choice {
                options: &[
                    ChoiceOption { value: "layer", label: "shared by the layer" },
                    ChoiceOption { value: "channel", label: "per channel" },
                ],
                default: "layer",
            },
            live: false,
        },
    ],
    outputs: &[
        OutputSpec { id: "grid", title: "Channels, strongest first", kind: OutputKind::Image, download: true },
        OutputSpec { id: "stats", title: "Layer", kind: OutputKind::Stats, download: false },
    ],
    start: |ctx, input, s| {
        let input = input.expect("checked by the registry");
        let layer = super::layer_setting(ctx.net, s, &SPEC.settings[0]);
        check_layer(ctx.net, &layer, None)?;
        let img01 = super::from_rgba01(&input.rgba, input.tensor.shape[2], input.tensor.shape[3]);
        let acts = ctx.net.engine().forward_with(&normalise01(ctx.net, &img01), &[&layer])?;
        let a = acts.get(&layer).ok_or_else(|| Error::Forward(format!("'{layer}' was not recorded")))?;
        let values = Tensor::new(a.shape[1..].to_vec(), a.data.to_vec());
        Ok(Box::new(Activations {
            layer,
            values,
            per_channel: s.text("colour_scale") == "channel",
            layers: layers(ctx.net),
        }))
    },
    attribution: None,
    sharding: None,
    requires: None,
};

/// Every 4-D value that depends on the input, in graph order: the layers a page can offer.
pub fn layers(net: &Classifier) -> Vec<(String, Vec<usize>)> {
    let g = net.engine().graph();
    g.nodes
        .iter()
        .filter(|n| g.depends_on_input[n.output] && g.shape(n.output).len() == 4)
        .map(|n| (g.values[n.output].name.clone(), g.shape(n.output).to_vec()))
        .collect()
}

struct Activations {
    layer: String,
    /// [C, H, W].
    values: Tensor,
    per_channel: bool,
    layers: Vec<(String, Vec<usize>)>,
}

impl Activations {
    /// (channel, mean, max), strongest mean first.
    fn channels(&self) -> Vec<(usize, f32, f32)> {
        let plane = self.values.shape[1] * self.values.shape[2];
        let mut out: Vec<(usize, f32, f32)> = self
            .values
            .data
            .chunks(plane)
            .enumerate()
            .map(|(c, ch)| (c, ch.iter().sum::<f32>() / plane as f32, ch.iter().cloned().fold(f32::MIN, f32::max)))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// The grid: tiles of h × w with a 1-pixel gap, as many columns as make it square.
    fn grid(&self) -> (u32, u32, Vec<u8>) {
        let (c, h, w) = (self.values.shape[0], self.values.shape[1], self.values.shape[2]);
        let layout = GridLayout { channels: c, h, w };
        let (gw, gh) = layout.size();
        let mut rgba = vec![255u8; gw * gh * 4];
        let layer_max = self.values.data.iter().cloned().fold(0f32, f32::max);
        for (slot, (ch, _, max)) in self.channels().into_iter().enumerate() {
            let top = if self.per_channel { max } else { layer_max };
            let tile: Vec<f32> = self.values.data[ch * h * w..(ch + 1) * h * w]
                .iter()
                .map(|&v| if top > 0.0 { v / top } else { 0.0 })
                .collect();
            let colours = render::heatmap_rgba_fixed(&tile);
            let (ty, tx) = layout.origin(slot);
            for y in 0..h {
                let dst = ((ty + y) * gw + tx) * 4;
                rgba[dst..dst + w * 4].copy_from_slice(&colours[y * w * 4..(y + 1) * w * 4]);
            }
        }
        (gw as u32, gh as u32, rgba)
    }
}

/// Where each channel's tile is in the grid panel (slots in `report.channels` order): tiles of h × w with a
/// 1-pixel gap, ⌈√C⌉ columns. The page asks it which tile a click hit (wasm `gridSlot`).
pub struct GridLayout {
    pub channels: usize,
    pub h: usize,
    pub w: usize,
}

impl GridLayout {
    pub fn cols(&self) -> usize {
        (self.channels as f64).sqrt().ceil() as usize
    }

    /// The grid's (width, height) in pixels.
    pub fn size(&self) -> (usize, usize) {
        let cols = self.cols();
        (cols * (self.w + 1) - 1, self.channels.div_ceil(cols) * (self.h + 1) - 1)
    }

    /// The (row, column) pixel of slot `slot`'s top-left corner.
    pub fn origin(&self, slot: usize) -> (usize, usize) {
        let cols = self.cols();
        ((slot / cols) * (self.h + 1), (slot % cols) * (self.w + 1))
    }

    /// The slot whose tile holds grid pixel (x, y); None in a gap or past the last tile.
    pub fn slot_at(&self, x: usize, y: usize) -> Option<usize> {
        let (col, row) = (x / (self.w + 1), y / (self.h + 1));
        let in_tile = x % (self.w + 1) < self.w && y % (self.h + 1) < self.h;
        let slot = row * self.cols() + col;
        (in_tile && col < self.cols() && slot < self.channels).then_some(slot)
    }
}

impl Run for Activations {
    fn step(&mut self, _: &Ctx, _: &Settings) -> Result<Progress> {
        let (c, h, w) = (self.values.shape[0], self.values.shape[1], self.values.shape[2]);
        Ok(Progress {
            done: true,
            step: 1,
            total: 1,
            text: format!("{}: {c} channels of {h}×{w}", self.layer),
            frame: false,
            top: vec![],
        })
    }

    fn panels(&self) -> Vec<Panel> {
        let (gw, gh, rgba) = self.grid();
        vec![Panel {
            id: "grid",
            kind: OutputKind::Image,
            title: format!("{} channels, strongest first", self.layer),
            width: gw,
            height: gh,
            rgba,
            raw: Some(self.values.clone()),
            plot: None,
        }]
    }

    fn report(&self) -> Json {
        let channels = self.channels();
        let top: Vec<String> = channels.iter().take(5).map(|(c, m, _)| format!("#{c} ({m:.2})")).collect();
        json!({
            "layer": self.layer,
            "shape": self.values.shape,
            "channels": channels.iter().map(|(c, m, x)| json!({"channel": c, "mean": m, "max": x})).collect::<Vec<_>>(),
            "layers": self.layers.iter().map(|(n, s)| json!({"name": n, "shape": s})).collect::<Vec<_>>(),
            "lines": [["Layer", format!("{} {:?}", self.layer, self.values.shape)], ["Strongest channels (mean)", top.join(", ")]],
        })
    }
}
