//! Occlusion (Zeiler & Fergus 2014), Captum's definition: slide a window (all channels × size × size, stride
//! `stride`) over the image, set it to the baseline 0 (in the normalised space), and give every value in the
//! window the drop of the class score, logit_k(x) − logit_k(x occluded), averaged over the windows covering it.

use serde_json::Value as Json;

use super::{AttributionRun, Stepper, Style, CLASS, SIGNED_OUTPUTS};
use crate::error::{Error, Result};
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper};
use crate::methods::settings::{Kind, SettingSpec, Settings};
use crate::network::Classifier;
use crate::preprocess::MAX_SIDE;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "occlusion",
    title: "Occlusion",
    summary: "Cover part of the image and watch the score drop: no gradients, just many forward passes.",
    paper: Paper {
        cite: "Zeiler & Fergus 2014, Visualizing and Understanding Convolutional Networks",
        url: "https://arxiv.org/abs/1311.2901",
    },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "occlusion",
    cost: "1 + windows forward passes (170 at the defaults)",
    passes: None,
    compare: true,
    run_label: "Compute",
    auto_run: false,
    settings: &[
        CLASS,
        SettingSpec {
            key: "window",
            link: "window",
            label: "Window (px)",
            help:
                "Side of the square covered at a time, in pixels (the default is for 224 px and scales with the input).",
            kind: Kind::Int { min: 1, max: MAX_SIDE as i64, default: WINDOW },
            live: false,
        },
        SettingSpec {
            key: "stride",
            link: "stride",
            label: "Stride (px)",
            help:
                "How far the window moves each time, in pixels (the default is for 224 px and scales with the input).",
            kind: Kind::Int { min: 1, max: MAX_SIDE as i64, default: STRIDE },
            live: false,
        },
    ],
    outputs: SIGNED_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    attribution: Some(Attributor { make, pass_cost: 1.0 }),
    sharding: None,
    requires: None,
};

const WINDOW: i64 = 32;
const STRIDE: i64 = 16;

/// A setting left at its default (chosen for SqueezeNet's 224 px) scaled to an input of `side` px, so that the
/// defaults cover the same share of a 28 px digit as of a 224 px photo.
fn scaled(value: usize, default: i64, side: usize) -> usize {
    if value as i64 == default && side != 224 {
        ((default as usize * side + 112) / 224).max(1)
    } else {
        value
    }
}

pub fn make(_: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    let (h, w) = (x.shape[2], x.shape[3]);
    let (window, stride) = (scaled(s.usize("window"), WINDOW, h.min(w)), scaled(s.usize("stride"), STRIDE, h.min(w)));
    if window > h || window > w {
        return Err(Error::Invalid(format!("Window (window) of {window} px is larger than the {w}×{h} image")));
    }
    let starts = |n: usize| (0..=(n - window) / stride).map(|i| i * stride).collect::<Vec<_>>();
    let positions = starts(h).into_iter().flat_map(|y| starts(w).into_iter().map(move |x| (y, x))).collect();
    Ok((
        Box::new(Occlusion {
            x: x.clone(),
            class,
            window,
            positions,
            done: 0,
            f_image: None,
            sum: vec![0.0; h * w],
            count: vec![0; h * w],
            scratch: x.clone(),
        }),
        Style::Signed,
    ))
}

struct Occlusion {
    x: Tensor,
    class: usize,
    window: usize,
    /// Top-left corners of the windows, row-major.
    positions: Vec<(usize, usize)>,
    /// Passes done: the first is the unoccluded image.
    done: usize,
    f_image: Option<f32>,
    /// Per pixel (all channels share a window): summed score drops and how many windows covered it.
    sum: Vec<f64>,
    count: Vec<u32>,
    scratch: Tensor,
}

impl Stepper for Occlusion {
    fn total(&self) -> usize {
        1 + self.positions.len()
    }
    fn done(&self) -> usize {
        self.done
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        net.check_class(self.class)?;
        let Some(f_image) = self.f_image else {
            self.f_image = Some(net.logits(&self.x)?[self.class]);
            self.done = 1;
            return Ok(());
        };
        let (y0, x0) = self.positions[self.done - 1];
        let (h, w) = (self.x.shape[2], self.x.shape[3]);
        let k = self.window;
        for ch in 0..self.x.shape[1] {
            for y in y0..y0 + k {
                self.scratch.data[(ch * h + y) * w + x0..][..k].fill(0.0);
            }
        }
        let drop = (f_image - net.logits(&self.scratch)?[self.class]) as f64;
        for ch in 0..self.x.shape[1] {
            for y in y0..y0 + k {
                let at = (ch * h + y) * w + x0;
                self.scratch.data[at..at + k].copy_from_slice(&self.x.data[at..at + k]);
            }
        }
        for y in y0..y0 + k {
            for x in x0..x0 + k {
                self.sum[y * w + x] += drop;
                self.count[y * w + x] += 1;
            }
        }
        self.done += 1;
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        let (h, w) = (self.x.shape[2], self.x.shape[3]);
        let plane: Vec<f32> =
            self.sum.iter().zip(&self.count).map(|(&s, &c)| if c > 0 { (s / c as f64) as f32 } else { 0.0 }).collect();
        let channels = self.x.shape[1];
        let mut data = Vec::with_capacity(channels * h * w);
        for _ in 0..channels {
            data.extend_from_slice(&plane);
        }
        Ok((Tensor::new(vec![channels, h, w], data), Json::Null))
    }
}
