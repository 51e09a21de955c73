//! SmoothGrad (Smilkov et al. 2017): the mean input gradient over N noisy copies of the image,
//! noise N(0, (σ·(max x − min x))²) per value, drawn from ChaCha8 seeded with `seed`.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::Value as Json;

use super::ixg::input_gradient;
use super::{AttributionRun, Stepper, Style, CLASS, MAGNITUDE_OUTPUTS};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD};
use crate::methods::settings::{Kind, SettingSpec, Settings};
use crate::network::Classifier;
use crate::rules::Rules;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "smoothgrad",
    title: "SmoothGrad",
    summary: "The saliency gradient averaged over noisy copies of the image: less speckle, the same idea.",
    paper: Paper { cite: "Smilkov et al. 2017, SmoothGrad", url: "https://arxiv.org/abs/1706.03825" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "smoothgrad",
    cost: "N forward + backward (N = samples)",
    passes: None,
    compare: true,
    run_label: "Compute",
    auto_run: false,
    settings: &[
        CLASS,
        SettingSpec {
            key: "samples",
            link: "n",
            label: "Samples",
            help: "How many noisy copies to average.",
            kind: Kind::Int { min: 1, max: 1000, default: 25 },
            live: false,
        },
        SettingSpec {
            key: "noise",
            link: "noise",
            label: "Noise σ",
            help: "Noise standard deviation as a fraction of the input's value range (max − min).",
            kind: Kind::Float { min: 0.0, max: 1.0, min_exclusive: true, default: 0.15 },
            live: false,
        },
        crate::methods::settings::seed("Seeds the noise: the same seed gives the same map."),
    ],
    outputs: MAGNITUDE_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    attribution: Some(Attributor { make, pass_cost: BACKWARD }),
    sharding: None,
    requires: None,
};

pub fn make(_: &Classifier, x: &Tensor, class: usize, s: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    let (lo, hi) = x.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let stdev = s.float("noise") * (hi - lo);
    Ok((
        Box::new(SmoothGrad {
            x: x.clone(),
            class,
            samples: s.usize("samples"),
            stdev,
            rng: ChaCha8Rng::seed_from_u64(s.int("seed") as u64),
            sum: vec![0.0; x.len()],
            done: 0,
            noisy: x.clone(),
        }),
        Style::Magnitude,
    ))
}

struct SmoothGrad {
    x: Tensor,
    class: usize,
    samples: usize,
    stdev: f32,
    rng: ChaCha8Rng,
    sum: Vec<f64>,
    done: usize,
    noisy: Tensor,
}

impl Stepper for SmoothGrad {
    fn total(&self) -> usize {
        self.samples
    }
    fn done(&self) -> usize {
        self.done
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        for (n, &x) in self.noisy.data.iter_mut().zip(&self.x.data) {
            let e: f32 = self.rng.sample(StandardNormal);
            *n = x + self.stdev * e;
        }
        let g = input_gradient(net, &self.noisy, self.class, |_| Rules::none())?;
        self.sum.iter_mut().zip(&g.data).for_each(|(s, &g)| *s += g as f64);
        self.done += 1;
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        let n = self.done.max(1) as f64;
        let shape = self.x.shape[1..].to_vec();
        Ok((Tensor::new(shape, self.sum.iter().map(|s| (s / n) as f32).collect()), Json::Null))
    }
}
