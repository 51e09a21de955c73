//! The robustness curve: P(true class) — and P(target) for a targeted attack — against ε = 0, 1, 2, 4, 6, 8, 12, 16
//! pixel units, for FGSM and for PGD (10 steps of α = ε/4, Madry's 2.5·ε/steps), on the current image.

use serde_json::{json, Value as Json};

use super::{Attack, AttackSettings, Norm, Pixels, TARGET};
use crate::error::Result;
use crate::methods::contract::{top5, Ctx, Group, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run};
use crate::methods::settings::Settings;
use crate::tensor::argmax;

/// The ε values of the curve, in pixel units.
pub const EPSILONS: [f32; 8] = [0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0];
const PGD_STEPS: usize = 10;

pub static SPEC: MethodSpec = MethodSpec {
    id: "robustness",
    title: "Robustness curve",
    summary: "How the class probability falls as the attack budget ε grows, for FGSM and PGD.",
    paper: Paper {
        cite: "Madry et al. 2018, Towards Deep Learning Models Resistant to Adversarial Attacks",
        url: "https://arxiv.org/abs/1706.06083",
    },
    group: Group::Adversarial,
    needs_image: true,
    link_prefix: "rob",
    cost: "7 × FGSM + 7 × 10-step PGD (77 forward + backward)",
    passes: Some(154),
    compare: false,
    run_label: "Compute curve",
    auto_run: false,
    settings: &[TARGET],
    outputs: &[
        OutputSpec { id: "curve", title: "Probability against ε", kind: OutputKind::Plot, download: false },
        OutputSpec { id: "stats", title: "Points", kind: OutputKind::Stats, download: false },
    ],
    start: |ctx, input, s| {
        let input = input.expect("checked by the registry");
        let (x, original) = super::original(ctx.net, input)?;
        Ok(Box::new(Robustness::new(ctx, x, original, s.class("target"))?))
    },
    attribution: None,
    sharding: None,
    requires: None,
};

/// One point: (attack, ε, P(label), P(target)).
type Point = (&'static str, f32, f32, Option<f32>);

struct Robustness {
    x: Pixels,
    target: Option<usize>,
    label: usize,
    original: Vec<f32>,
    jobs: Vec<(&'static str, f32)>,
    current: Option<Attack>,
    points: Vec<Point>,
    steps_done: usize,
    total: usize,
}

impl Robustness {
    /// `original`: the class scores of `x`.
    fn new(ctx: &Ctx, x: Pixels, original: Vec<f32>, target: Option<usize>) -> Result<Robustness> {
        let label = argmax(&original);
        // A target equal to the prediction is refused here as by the attacks themselves.
        Attack::classified(ctx.net, &x, settings("fgsm", 1.0, target), original.clone())?;
        let jobs: Vec<(&'static str, f32)> =
            ["fgsm", "pgd"].iter().flat_map(|&a| EPSILONS.iter().filter(|&&e| e > 0.0).map(move |&e| (a, e))).collect();
        let total = jobs.iter().map(|(a, _)| if *a == "fgsm" { 1 } else { PGD_STEPS }).sum();
        let p = ctx.net.probabilities(&original);
        let points = vec![("fgsm", 0.0, p[label], target.map(|t| p[t])), ("pgd", 0.0, p[label], target.map(|t| p[t]))];
        Ok(Robustness { x, target, label, original, jobs, current: None, points, steps_done: 0, total })
    }

    fn series(&self) -> Json {
        let mut series = vec![];
        for attack in ["fgsm", "pgd"] {
            let pts = |f: &dyn Fn(&Point) -> Option<f32>| -> Vec<Json> {
                self.points.iter().filter(|p| p.0 == attack).filter_map(|p| f(p).map(|y| json!([p.1, y]))).collect()
            };
            let name = attack.to_uppercase();
            series.push(json!({ "name": format!("{name}: P(true class)"), "points": pts(&|p| Some(p.2)), "highlight": attack == "pgd" }));
            if self.target.is_some() {
                series
                    .push(json!({ "name": format!("{name}: P(target)"), "points": pts(&|p| p.3), "highlight": false }));
            }
        }
        Json::Array(series)
    }

    fn csv(&self) -> String {
        let mut out = String::from("attack,eps_pixels,p_true_class,p_target\n");
        for (a, e, p, t) in &self.points {
            out.push_str(&format!("{a},{e},{p},{}\n", t.map(|t| t.to_string()).unwrap_or_default()));
        }
        out
    }
}

fn settings(attack: &str, eps: f32, target: Option<usize>) -> AttackSettings {
    let pgd = attack == "pgd";
    AttackSettings {
        norm: Norm::Linf,
        eps,
        alpha: if pgd { eps / 4.0 } else { eps },
        steps: if pgd { PGD_STEPS } else { 1 },
        target,
        random_start: false,
        seed: 0,
        early_stop: false,
    }
}

impl Run for Robustness {
    fn step(&mut self, ctx: &Ctx, _: &Settings) -> Result<Progress> {
        if self.current.is_none() && !self.jobs.is_empty() {
            let (attack, eps) = self.jobs.remove(0);
            self.current =
                Some(Attack::classified(ctx.net, &self.x, settings(attack, eps, self.target), self.original.clone())?);
        }
        if let Some(a) = &mut self.current {
            a.step(ctx.net)?;
            self.steps_done += 1;
            if let Some((_, logits)) = &a.result {
                let p = ctx.net.probabilities(logits);
                let attack = if a.settings.steps == 1 { "fgsm" } else { "pgd" };
                self.points.push((attack, a.settings.eps, p[self.label], self.target.map(|t| p[t])));
                self.current = None;
            }
        }
        let done = self.current.is_none() && self.jobs.is_empty();
        if done {
            self.points.sort_by(|a, b| a.0.cmp(b.0).then(a.1.total_cmp(&b.1)));
        }
        Ok(Progress {
            done,
            step: self.steps_done,
            total: self.total,
            text: format!("Robustness curve: step {} / {} for {}", self.steps_done, self.total, (ctx.name)(self.label)),
            frame: false,
            top: top5(ctx.net, &self.original),
        })
    }

    fn panels(&self) -> Vec<Panel> {
        let plot = json!({ "x_label": "ε (pixel units)", "y_label": "probability", "series": self.series() });
        vec![Panel {
            id: "curve",
            kind: OutputKind::Plot,
            title: "Probability against ε".into(),
            width: 0,
            height: 0,
            rgba: vec![],
            raw: None,
            plot: Some(plot),
        }]
    }

    fn report(&self) -> Json {
        let lines: Vec<Json> = self
            .points
            .iter()
            .map(|(a, e, p, t)| {
                let target = t.map(|t| format!(", P(target) {:.2}%", t * 100.0)).unwrap_or_default();
                json!([format!("{} ε = {e}", a.to_uppercase()), format!("P(true class) {:.2}%{target}", p * 100.0)])
            })
            .collect();
        json!({ "label": self.label, "target": self.target, "passes": self.steps_done, "points": self.points.iter().map(|p| json!({"attack": p.0, "eps": p.1, "p_true": p.2, "p_target": p.3})).collect::<Vec<_>>(), "csv": self.csv(), "lines": lines })
    }
}
