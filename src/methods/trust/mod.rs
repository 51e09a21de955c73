//! "Which explanation can I trust?" (issue 8): two published tests of attribution maps, run on the student's own
//! image. [`faithfulness`]: deletion and insertion curves (Petsiuk et al. 2018). [`sanity`]: cascading model
//! randomization (Adebayo et al. 2018). Both run the attribution methods of the registry through their
//! [`Stepper`]s, one pass per step, so the page shows progress and can cancel.

pub mod faithfulness;
mod label;
pub mod sanity;

use serde_json::json;

use super::attribution::{Attribution, MakeStepper, Stepper, Style};
use super::contract::{class_or_predicted, Ctx, Input, MethodSpec, BACKWARD};
use super::registry::METHODS;
use super::settings::{Kind, SettingSpec, Settings};
use crate::error::{Error, Result};
use crate::network::Classifier;
use crate::tensor::Tensor;

/// Text settings holding a comma-separated list of method ids (or `all`).
pub const LIST_PATTERN: &str = "^[A-Za-z0-9_,-]{1,128}$";

pub const fn methods_setting(help: &'static str) -> SettingSpec {
    SettingSpec {
        key: "methods",
        link: "methods",
        label: "Methods",
        help,
        kind: Kind::Text { pattern: LIST_PATTERN, default: "all" },
        live: false,
    }
}

/// How these tests build `spec`'s map: its declaration's [`MethodSpec::attribution`].
pub fn maker(spec: &MethodSpec) -> Option<MakeStepper> {
    spec.attribution.map(|a| a.make)
}

fn pass_cost(spec: &MethodSpec) -> f64 {
    spec.attribution.map_or(BACKWARD, |a| a.pass_cost)
}

/// The methods a `methods` setting names: `all` = every registry method with `compare: true` that `all_ok`
/// keeps, in registry order; otherwise a comma-separated list of ids (each at most once).
pub fn parse_methods(text: &str, all_ok: fn(&MethodSpec) -> bool) -> Result<Vec<&'static MethodSpec>> {
    let usable: Vec<&'static MethodSpec> =
        METHODS.iter().copied().filter(|m| m.compare && maker(m).is_some()).collect();
    let ids = || usable.iter().map(|m| m.id).collect::<Vec<_>>().join(", ");
    let text = text.trim();
    if text.is_empty() || text == "all" {
        return Ok(usable.into_iter().filter(|m| all_ok(m)).collect());
    }
    let mut out: Vec<&'static MethodSpec> = vec![];
    for id in text.split(',').map(str::trim) {
        if id.is_empty() {
            return Err(Error::Invalid(format!("Methods (methods): an empty method id in '{text}' (ids: {})", ids())));
        }
        let Some(m) = usable.iter().copied().find(|m| m.id == id) else {
            let id: String = id.chars().take(40).collect();
            return Err(Error::Invalid(format!(
                "Methods (methods): '{id}' is not an attribution method this test can run (ids: {}, or all)",
                ids()
            )));
        };
        if out.iter().any(|o| o.id == m.id) {
            return Err(Error::Invalid(format!("Methods (methods): '{id}' is listed twice")));
        }
        out.push(m);
    }
    Ok(out)
}

/// What a trust test examines: the image, its class scores, the class explained and the methods tested.
pub struct Subject {
    pub x: Tensor,
    pub logits: Vec<f32>,
    pub class: usize,
    pub specs: Vec<&'static MethodSpec>,
}

impl Subject {
    /// From the run's input and its `class` and `methods` settings (`all` = the methods `all_ok` keeps).
    pub fn of(ctx: &Ctx, input: &Input, s: &Settings, all_ok: fn(&MethodSpec) -> bool) -> Result<Subject> {
        // The class scores the page computed when it classified the image (no forward pass then).
        let logits = input.logits(ctx.net)?.to_vec();
        let class = class_or_predicted(ctx, s.class("class"), &logits)?;
        let mut specs = parse_methods(s.text("methods"), all_ok)?;
        // `all` = the methods that apply to this model: a method whose map cannot be made here (attention rollout
        // on a CNN) is left out; named in the list, it says why.
        if matches!(s.text("methods").trim(), "" | "all") {
            specs.retain(|&m| MapJob::new(m, ctx.net, &input.tensor, class).is_ok());
        }
        if specs.is_empty() {
            return Err(Error::Invalid("Methods (methods): no method to test".into()));
        }
        Ok(Subject { x: input.tensor.clone(), logits, class, specs })
    }
}

/// The estimated cost, in forward passes, of `spec`'s map of `x` with these settings (None: not a map method):
/// the page's pool runs the compare view's costliest maps first.
pub fn map_cost(spec: &MethodSpec, net: &Classifier, x: &Tensor, settings: &super::settings::Settings) -> Option<f64> {
    let make = maker(spec)?;
    let class = settings.class("class").unwrap_or(0);
    let (stepper, _) = make(net, x, class, settings).ok()?;
    Some(stepper.total() as f64 * pass_cost(spec))
}

/// One attribution map computed pass by pass (one step = one of the method's passes).
pub struct MapJob {
    pub spec: &'static MethodSpec,
    stepper: Box<dyn Stepper>,
    style: Style,
    class: usize,
}

impl MapJob {
    /// `spec`'s stepper for image `x` and `class` with the method's default settings.
    pub fn new(spec: &'static MethodSpec, net: &Classifier, x: &Tensor, class: usize) -> Result<MapJob> {
        let make = maker(spec).ok_or_else(|| Error::Invalid(format!("'{}' is not an attribution method", spec.id)))?;
        let settings = spec.settings(&json!({ "class": class }), net.num_classes())?;
        let (stepper, style) = make(net, x, class, &settings)?;
        Ok(MapJob { spec, stepper, style, class })
    }
    pub fn total(&self) -> usize {
        self.stepper.total()
    }
    pub fn done(&self) -> usize {
        self.stepper.done()
    }
    pub fn finished(&self) -> bool {
        self.stepper.done() >= self.stepper.total()
    }
    pub fn style(&self) -> Style {
        self.style
    }
    /// Its estimated cost in forward passes.
    pub fn cost(&self) -> f64 {
        self.total() as f64 * pass_cost(self.spec)
    }
    pub fn step(&mut self, net: &Classifier) -> Result<()> {
        self.stepper.step(net)
    }
    /// The finished attribution (`logits` are only carried along).
    pub fn result(&self, logits: &[f32]) -> Result<Attribution> {
        let (map, extra) = self.stepper.result()?;
        Ok(Attribution { class: self.class, logits: logits.to_vec(), map, style: self.style, extra })
    }
}

/// The per-pixel score of a map (issue 8): the channel sum of signed maps, the max over channels of |·| of
/// magnitude maps, Grad-CAM upsampled bilinearly: [`Attribution::pixel_map`], as the page draws them.
pub fn pixel_scores(a: &Attribution, h: usize, w: usize) -> Vec<f32> {
    a.pixel_map(h, w)
}

/// Ranks 1..n, ties sharing their mean rank.
pub fn ranks(v: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation; NaN when either side is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        f64::NAN
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Spearman's rank correlation (Pearson of the tie-averaged ranks).
pub fn spearman(a: &[f32], b: &[f32]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// Trapezoid rule over [0, 1] for equally spaced points.
pub fn auc(points: &[f32]) -> f64 {
    if points.len() < 2 {
        return 0.0;
    }
    let dx = 1.0 / (points.len() - 1) as f64;
    points.windows(2).map(|w| (w[0] as f64 + w[1] as f64) * 0.5 * dx).sum()
}
