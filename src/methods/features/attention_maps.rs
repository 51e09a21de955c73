//! Attention maps (issue 24): where one token of a transformer looks, in one layer and one head (or the mean of
//! the heads), over the patch grid, drawn over the image. The attention probabilities are those
//! `methods::attention` finds in the graph (a Softmax over [.., T, T] that A·V reads), so no architecture is named.
//! The tokens must lie on a square grid (T = g², or a class token and g²); the class token's own column is not
//! drawn. Swin's window attention is over one 7×7 window at a time: its "heads" are windows × heads.

use serde_json::{json, Value as Json};

use crate::error::{Error, Result};
use crate::methods::attention::{attention_values, token_layout};
use crate::methods::contract::{Ctx, Group, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run};
use crate::methods::image_ops::{upsample_bilinear, Corners};
use crate::methods::settings::{Kind, SettingSpec, Settings};
use crate::render;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "attention",
    title: "Attention maps",
    summary: "A transformer's attention: which patches one token (the class token, or a patch) reads in one layer, per head or averaged over heads.",
    paper: Paper {
        cite: "Dosovitskiy et al. 2021, An Image is Worth 16x16 Words (ViT)",
        url: "https://arxiv.org/abs/2010.11929",
    },
    group: Group::Inside,
    needs_image: true,
    link_prefix: "attn",
    cost: "1 forward",
    passes: Some(1),
    compare: false,
    run_label: "Show",
    // Not re-run by itself: on a model without attention it has nothing to show but its sentence.
    auto_run: false,
    settings: &[
        SettingSpec {
            key: "layer",
            link: "layer",
            label: "Attention layer",
            help: "Which attention layer, in graph order from 0; -1 = the last.",
            kind: Kind::Int { min: -1, max: 1000, default: -1 },
            live: false,
        },
        SettingSpec {
            key: "head",
            link: "head",
            label: "Head",
            help: "Which head, from 0; -1 = the mean over the heads.",
            kind: Kind::Int { min: -1, max: 100_000, default: -1 },
            live: false,
        },
        SettingSpec {
            key: "token",
            link: "token",
            label: "Query token",
            help: "The token whose attention is drawn: 0 = the class token (when the model has one), else a patch, row by row from the top left.",
            kind: Kind::Int { min: 0, max: 1_000_000, default: 0 },
            live: false,
        },
    ],
    outputs: &[
        OutputSpec { id: "map", title: "Attention", kind: OutputKind::Heatmap, download: true },
        OutputSpec { id: "overlay", title: "Over the image", kind: OutputKind::Overlay, download: false },
    ],
    start: |ctx, input, s| start(ctx, input.expect("checked by the registry"), s),
    attribution: None,
    sharding: None,
    requires: Some(has_attention),
};

/// A transformer's attention, or the sentence that says this model has none.
fn has_attention(net: &crate::network::Classifier) -> Result<()> {
    if attention_values(net.engine()).is_empty() {
        return Err(Error::Invalid(
            "Attention maps need a transformer: this model has no attention (no Softmax over [.., T, T] whose output \
             a MatMul or Einsum reads)"
                .into(),
        ));
    }
    Ok(())
}

/// The attention layers of the model, their count checked against the settings.
fn start(ctx: &Ctx, input: &crate::methods::contract::Input, s: &Settings) -> Result<Box<dyn Run>> {
    let engine = ctx.net.engine();
    has_attention(ctx.net)?;
    let names = attention_values(engine);
    let n = names.len();
    let asked = s.int("layer");
    let layer = if asked < 0 { n - 1 } else { asked as usize };
    if layer >= n {
        return Err(Error::Invalid(format!(
            "Attention layer (layer): the model has {n} attention layers (0 to {})",
            n - 1
        )));
    }
    let name = &names[layer];
    let acts = engine.forward_with(&input.tensor, &[name.as_str()])?;
    let v = acts.get(name).ok_or_else(|| Error::Forward(format!("'{name}' was not recorded")))?;
    let t = *v.shape.last().expect("attention has rank ≥ 3");
    let heads = v.data.len() / (t * t);
    let Some((skip, g)) = token_layout(t) else {
        return Err(Error::Invalid(format!(
            "Attention maps: layer {layer} attends over {t} tokens, not a square grid of patches (g², or a class \
             token and g²)"
        )));
    };
    let head = s.int("head");
    if head >= heads as i64 {
        return Err(Error::Invalid(format!("Head (head): layer {layer} has {heads} heads (0 to {})", heads - 1)));
    }
    let token = s.int("token") as usize;
    if token >= t {
        return Err(Error::Invalid(format!("Query token (token): the model has {t} tokens (0 to {})", t - 1)));
    }
    // The query token's row, mean over heads or one head, without the class token's column.
    let row = |h: usize| &v.data[h * t * t + token * t + skip..h * t * t + (token + 1) * t];
    let grid: Vec<f32> = if head < 0 {
        (0..g * g).map(|p| (0..heads).map(|h| row(h)[p] as f64).sum::<f64>() as f32 / heads as f32).collect()
    } else {
        row(head as usize).to_vec()
    };
    let who = match (skip, token) {
        (1, 0) => "the class token".to_string(),
        (_, k) => format!("patch {} (row {}, column {})", k - skip, (k - skip) / g, (k - skip) % g),
    };
    let heads_text = if head < 0 { format!("mean of {heads} heads") } else { format!("head {head} of {heads}") };
    Ok(Box::new(AttentionMap {
        map: Tensor::new(vec![g, g], grid),
        rgba: input.rgba.clone(),
        hw: (input.tensor.shape[2], input.tensor.shape[3]),
        lines: vec![
            // The ONNX name goes to the report's `value` and the progress line: as a stats line it would not wrap.
            ["Layer".into(), format!("{layer} (layers 0 to {})", n - 1)],
            ["Heads".into(), heads_text],
            ["Query".into(), who],
            [
                "Tokens".into(),
                if skip == 1 {
                    format!("{t}: a class token and a {g}×{g} grid of patches")
                } else {
                    format!("{t}: a {g}×{g} grid of patches")
                },
            ],
        ],
        value: name.clone(),
        layers: n,
        heads,
        tokens: t,
    }))
}

struct AttentionMap {
    /// The query's attention over the g×g patches.
    map: Tensor,
    rgba: Vec<u8>,
    hw: (usize, usize),
    lines: Vec<[String; 2]>,
    /// The attention probabilities' ONNX value.
    value: String,
    layers: usize,
    heads: usize,
    tokens: usize,
}

impl Run for AttentionMap {
    fn step(&mut self, _: &Ctx, _: &Settings) -> Result<Progress> {
        let text = format!("Layer {}: {}", self.lines[0][1], self.value);
        Ok(Progress { done: true, step: 1, total: 1, text, frame: false, top: vec![] })
    }

    fn panels(&self) -> Vec<Panel> {
        let (h, w) = self.hw;
        let g = self.map.shape[0];
        // One colour scale: the map's own maximum (attention rows sum to 1 over many patches).
        let max = self.map.data.iter().cloned().fold(0f32, f32::max);
        let scaled: Vec<f32> = self.map.data.iter().map(|&v| if max > 0.0 { v / max } else { 0.0 }).collect();
        let up = upsample_bilinear(&scaled, g, g, h, w, Corners::HalfPixel);
        let (map_rgba, overlay) = render::heatmap_and_overlay_rgba(&self.rgba, &up);
        let (w32, h32) = (w as u32, h as u32);
        vec![
            Panel {
                id: "map",
                kind: OutputKind::Heatmap,
                title: format!("{}: {}", self.lines[2][1], self.lines[1][1]),
                width: w32,
                height: h32,
                rgba: map_rgba,
                raw: Some(self.map.clone()),
                plot: None,
            },
            Panel {
                id: "overlay",
                kind: OutputKind::Overlay,
                title: "Over the image".into(),
                width: w32,
                height: h32,
                rgba: overlay,
                raw: None,
                plot: None,
            },
        ]
    }

    fn report(&self) -> Json {
        json!({
            "value": self.value,
            "layers": self.layers,
            "heads": self.heads,
            "tokens": self.tokens,
            "lines": self.lines,
        })
    }
}
