//! Deletion and insertion curves (Petsiuk et al. 2018, RISE): order the H × W pixels by a map's per-pixel score
//! (highest first, ties by position), then **delete**: starting from the image, replace 1/steps of the pixels
//! (all colour channels) per step with the baseline and record softmax p_k after each step; **insert**: start
//! from the baseline and put the image's pixels back in the same order. AUC by the trapezoid rule over [0, 1]:
//! a faithful map has a low deletion AUC and a high insertion AUC. A random pixel order (seeded ChaCha8) is the
//! "no better than chance" curve. Forward passes only; the two ends of every curve (the image, the baseline) are
//! the same for every order and are computed once.

use rand::seq::SliceRandom;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value as Json};

use super::{auc, methods_setting, pixel_scores, MapJob, Subject};
use crate::error::{Error, Result};
use crate::methods::attribution::CLASS;
use crate::methods::contract::{
    top5, Ctx, Group, Input, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run,
};
use crate::methods::settings::{ChoiceOption, Kind, SettingSpec, Settings, NAME_PATTERN};
use crate::methods::shard::{cover, PartResult, Sharding, Unit};
use crate::network::Classifier;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "faithfulness",
    title: "Deletion & insertion",
    summary: "Delete the pixels each map ranks highest first: a faithful map makes the class probability fall fast, and rise fast when they are put back.",
    paper: Paper { cite: "Petsiuk et al. 2018, RISE", url: "https://arxiv.org/abs/1806.07421" },
    group: Group::Trust,
    needs_image: true,
    link_prefix: "faith",
    cost: "each method's passes, then 2 × (steps − 1) forward passes per method and for a random order",
    passes: None,
    compare: false,
    run_label: "Run the test",
    auto_run: false,
    settings: &[
        CLASS,
        methods_setting("Attribution method ids, comma-separated (e.g. ig,gradcam), or all of them."),
        SettingSpec {
            key: "steps",
            link: "steps",
            label: "Steps",
            help: "The image is deleted (or inserted) in this many equal parts: steps + 1 points per curve.",
            kind: Kind::Int { min: 1, max: 1024, default: 56 },
            live: false,
        },
        SettingSpec {
            key: "baseline",
            link: "baseline",
            label: "Baseline",
            help: "What a deleted pixel becomes: your image blurred, or zero (the mean colour) in the normalised space.",
            kind: Kind::Choice {
                options: &[
                    ChoiceOption { value: "blur", label: "blurred image" },
                    ChoiceOption { value: "zeros", label: "zeros (mean colour)" },
                ],
                default: "blur",
            },
            live: false,
        },
        SettingSpec {
            key: "blur_sigma",
            link: "sigma",
            label: "Blur σ (px)",
            help: "Gaussian blur of the blurred baseline, in pixels.",
            kind: Kind::Float { min: 0.0, max: 50.0, min_exclusive: true, default: 10.0 },
            live: false,
        },
        crate::methods::settings::seed("Seeds the random pixel order of the chance curve."),
        SettingSpec {
            key: "highlight",
            link: "highlight",
            label: "Highlight",
            help: "The method drawn in bold: a method id, or best (lowest deletion / highest insertion AUC).",
            kind: Kind::Text { pattern: NAME_PATTERN, default: "best" },
            live: false,
        },
    ],
    outputs: &[
        OutputSpec { id: "deletion", title: "Deletion: p(class) as pixels are removed", kind: OutputKind::Plot, download: false },
        OutputSpec { id: "insertion", title: "Insertion: p(class) as pixels come back", kind: OutputKind::Plot, download: false },
        OutputSpec { id: "table", title: "Area under the curves", kind: OutputKind::Stats, download: false },
    ],
    start: |ctx, input, s| Ok(Box::new(Faithfulness::start(ctx, input.expect("checked by the registry"), s)?)),
    attribution: None,
    sharding: Some(&SHARDING),
    requires: None,
};

/// The baseline image (`blur` or `zeros`), [1, 3, H, W] normalised.
pub fn baseline(x: &Tensor, kind: &str, blur_sigma: f32) -> Tensor {
    match kind {
        "zeros" => Tensor::zeros(&x.shape),
        _ => {
            let mut b = x.clone();
            crate::methods::image_ops::gaussian_blur_hw(&mut b, blur_sigma, &mut Vec::new());
            b
        }
    }
}

/// Pixel indices (y·W + x) by descending score, ties by index.
pub fn order_by_score(scores: &[f32]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]).then(a.cmp(&b)));
    order
}

/// A seeded random pixel order.
pub fn random_order(pixels: usize, seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..pixels as u32).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order
}

/// How many pixels have been changed after step `i` of `steps`.
pub fn changed_after(i: usize, steps: usize, pixels: usize) -> usize {
    i * pixels / steps
}

/// One curve pair: a method's (or the random order's).
pub struct Curves {
    pub id: String,
    pub name: String,
    /// Its index in the whole run's list of methods then the random order: its deletion curve is shard unit
    /// 2 × index, its insertion curve 2 × index + 1.
    index: usize,
    /// The curves this run computes (a part may compute one of the two; the whole run both).
    wants: [bool; 2],
    /// The passes it takes: its map's, then steps − 1 per curve wanted.
    passes: usize,
    job: Option<MapJob>,
    pub order: Option<Vec<u32>>,
    /// steps + 1 points each, once done.
    pub deletion: Vec<f32>,
    pub insertion: Vec<f32>,
    work: Option<Tensor>,
}

impl Curves {
    fn empty() -> Curves {
        Curves {
            id: String::new(),
            name: String::new(),
            index: 0,
            wants: [true, true],
            passes: 0,
            job: None,
            order: None,
            deletion: vec![],
            insertion: vec![],
            work: None,
        }
    }
    pub fn deletion_auc(&self) -> f64 {
        auc(&self.deletion)
    }
    pub fn insertion_auc(&self) -> f64 {
        auc(&self.insertion)
    }
}

/// Splits a run by curve: every method's deletion curve and its insertion curve, and the random order's, are one
/// unit each; the two curves of a method share its map (the group's set-up: a part computing both pays it once).
pub static SHARDING: Sharding = Sharding {
    units: |ctx, input, s| Ok(Faithfulness::prepare(ctx, input, s, None)?.units),
    part: |ctx, input, s, units| Ok(Box::new(Faithfulness::prepare(ctx, input, s, Some(units))?)),
    merge: |ctx, input, s, parts| Ok(Box::new(Faithfulness::merge(ctx, input, s, parts)?)),
};

pub struct Faithfulness {
    x: Tensor,
    base: Tensor,
    class: usize,
    steps: usize,
    logits: Vec<f32>,
    p_image: f32,
    p_base: f32,
    /// The curves this run computes: all of them, or a part's.
    pub curves: Vec<Curves>,
    /// Every curve of the whole run, as shard units.
    units: Vec<Unit>,
    part: bool,
    current: usize,
    units_done: usize,
    units_total: usize,
    highlight: String,
    settings: Json,
}

impl Faithfulness {
    pub fn start(ctx: &Ctx, input: &Input, s: &Settings) -> Result<Faithfulness> {
        Faithfulness::prepare(ctx, input, s, None)
    }

    /// The whole run (`keep` None) or a part computing only the curves `keep` lists (indices into the methods
    /// then the random order). The image's and the baseline's probabilities (the ends of every curve) are
    /// computed here.
    fn prepare(ctx: &Ctx, input: &Input, s: &Settings, keep: Option<&[usize]>) -> Result<Faithfulness> {
        let net = ctx.net;
        let Subject { x, logits, class, specs } = Subject::of(ctx, input, s, |_| true)?;
        let steps = s.usize("steps");
        let pixels = x.shape[2] * x.shape[3];
        if steps == 0 || steps > pixels {
            return Err(Error::Invalid(format!("Steps (steps) must be between 1 and {pixels}, got {steps}")));
        }
        let highlight = s.text("highlight").to_string();
        if highlight != "best" && !specs.iter().any(|m| m.id == highlight) {
            return Err(Error::Invalid(format!(
                "Highlight (highlight): '{highlight}' is not one of the methods tested ({}) or best",
                specs.iter().map(|m| m.id).collect::<Vec<_>>().join(", ")
            )));
        }
        let per_curve = steps - 1;
        let kept = |u: usize| keep.is_none_or(|k| k.contains(&u));
        let (mut curves, mut units) = (vec![], vec![]);
        // Each method's curves, then the random order's (no map: `job` None).
        let mut owners: Vec<(String, String, Option<MapJob>)> = vec![];
        for spec in &specs {
            // Every job is built (cheap) so every unit's cost is known; a part keeps its own.
            owners.push((spec.id.into(), spec.title.into(), Some(MapJob::new(spec, net, &x, class)?)));
        }
        owners.push(("random".into(), "Random order".into(), None));
        for (index, (id, name, job)) in owners.into_iter().enumerate() {
            let (setup, setup_steps) = job.as_ref().map_or((0.0, 0), |j| (j.cost(), j.total()));
            for what in ["deletion", "insertion"] {
                let id = format!("{id} {what}");
                units.push(Unit { id, cost: per_curve as f64, steps: per_curve, group: index, setup, setup_steps });
            }
            let wants = [kept(2 * index), kept(2 * index + 1)];
            if wants.iter().any(|&w| w) {
                let passes = setup_steps + per_curve * wants.iter().filter(|&&w| w).count();
                let order = if job.is_none() { Some(random_order(pixels, s.int("seed") as u64)) } else { None };
                curves.push(Curves { id, name, index, wants, passes, job, order, ..Curves::empty() });
            }
        }
        if let Some(&bad) = keep.and_then(|k| k.iter().find(|&&u| u >= units.len())) {
            return Err(Error::Invalid(format!("a part names curve {bad}, but the run has {}", units.len())));
        }
        let units_total = curves.iter().map(|c| c.passes).sum::<usize>();
        let p_image = net.probabilities(&logits)[class];
        let base = baseline(&x, s.text("baseline"), s.float("blur_sigma"));
        let p_base = net.probabilities(&net.logits(&base)?)[class];
        let mut run = Faithfulness {
            x,
            base,
            class,
            steps,
            logits,
            p_image,
            p_base,
            curves,
            units,
            part: keep.is_some(),
            current: 0,
            units_done: 0,
            units_total,
            highlight,
            settings: s.to_json(),
        };
        run.settle();
        Ok(run)
    }

    /// The whole run, finished, from its parts' curves.
    fn merge(ctx: &Ctx, input: &Input, s: &Settings, parts: &[PartResult]) -> Result<Faithfulness> {
        let mut run = Faithfulness::prepare(ctx, input, s, Some(&[]))?;
        let bad = |what: &str| Error::Invalid(format!("a part's result is damaged ({what})"));
        let mut found: Vec<Vec<usize>> = vec![];
        // Per unit (a method's deletion or insertion curve), its points.
        let mut points: Vec<Option<Vec<f32>>> = vec![None; run.units.len()];
        for part in parts {
            let list = part.json["curves"].as_array().ok_or_else(|| bad("no curves"))?;
            let mut units = vec![];
            for c in list {
                let unit = c["unit"].as_u64().ok_or_else(|| bad("a curve without its unit"))? as usize;
                let v: Vec<f32> = serde_json::from_value(c["points"].clone()).map_err(|_| bad("points"))?;
                if v.len() != run.steps + 1 {
                    return Err(bad("points"));
                }
                if let Some(slot) = points.get_mut(unit) {
                    *slot = Some(v);
                }
                units.push(unit);
            }
            found.push(units);
        }
        cover(run.units.len(), &found)?;
        let mut points = points.into_iter().map(|p| p.expect("cover checked every unit"));
        for (index, pair) in run.units.chunks_exact(2).enumerate() {
            let id = pair[0].id.split(' ').next().unwrap_or_default().to_string();
            let name = if id == "random" {
                "Random order".to_string()
            } else {
                crate::methods::registry::method(&id)?.title.to_string()
            };
            let (deletion, insertion) = (points.next().unwrap_or_default(), points.next().unwrap_or_default());
            run.curves.push(Curves { id, name, index, deletion, insertion, ..Curves::empty() });
        }
        // The whole run's passes (each map once), as it would have counted them.
        run.units_total = crate::methods::shard::steps(&run.units, &(0..run.units.len()).collect::<Vec<_>>());
        run.units_done = run.units_total;
        run.current = run.curves.len();
        run.part = false;
        Ok(run)
    }

    pub fn finished(&self) -> bool {
        self.current >= self.curves.len()
    }

    /// Sets pixels `order[from..to]` of `work` (all channels) to `src`'s values.
    fn copy_pixels(work: &mut Tensor, src: &Tensor, order: &[u32], from: usize, to: usize) {
        let plane = work.shape[2] * work.shape[3];
        for &px in &order[from..to] {
            for c in 0..work.shape[1] {
                let at = c * plane + px as usize;
                work.data[at] = src.data[at];
            }
        }
    }

    /// Fills in the points that need no forward pass (each curve's two ends) and moves past finished curves.
    fn settle(&mut self) {
        let (steps, p_image, p_base) = (self.steps, self.p_image, self.p_base);
        while let Some(c) = self.curves.get_mut(self.current) {
            if c.job.is_some() {
                return;
            }
            // Deletion goes from the image to the baseline, insertion back; each starts in the buffer the
            // other one used (no new allocation).
            for (curve, wanted, start, first, last) in [
                (&mut c.deletion, c.wants[0], &self.x, p_image, p_base),
                (&mut c.insertion, c.wants[1], &self.base, p_base, p_image),
            ] {
                if !wanted || curve.len() == steps + 1 {
                    continue;
                }
                if curve.is_empty() {
                    curve.push(first);
                    match c.work.as_mut() {
                        Some(w) => w.data.copy_from_slice(&start.data),
                        None => c.work = Some(start.clone()),
                    }
                }
                if curve.len() == steps {
                    curve.push(last);
                }
                if curve.len() < steps + 1 {
                    return;
                }
            }
            c.work = None;
            self.current += 1;
        }
    }

    /// One unit of work: a map's pass, or one point of a curve.
    fn advance(&mut self, net: &Classifier) -> Result<()> {
        if self.finished() {
            return Ok(());
        }
        let (h, w) = (self.x.shape[2], self.x.shape[3]);
        let (pixels, steps, class) = (h * w, self.steps, self.class);
        let c = &mut self.curves[self.current];
        if let Some(job) = c.job.as_mut() {
            job.step(net)?;
            if job.finished() {
                let a = job.result(&self.logits)?;
                c.order = Some(order_by_score(&pixel_scores(&a, h, w)));
                c.job = None;
            }
        } else {
            let order = c.order.as_ref().expect("a curve's order is known once its map is");
            let work = c.work.as_mut().expect("settle starts each curve");
            let deleting = c.wants[0] && c.deletion.len() < steps + 1;
            let (curve, src) = if deleting { (&mut c.deletion, &self.base) } else { (&mut c.insertion, &self.x) };
            let i = curve.len();
            Faithfulness::copy_pixels(
                work,
                src,
                order,
                changed_after(i - 1, steps, pixels),
                changed_after(i, steps, pixels),
            );
            curve.push(net.probabilities(&net.logits(work)?)[class]);
        }
        self.units_done += 1;
        self.settle();
        Ok(())
    }

    fn highlighted(&self, by: impl Fn(&Curves) -> f64, lowest: bool) -> String {
        if self.highlight != "best" {
            return self.highlight.clone();
        }
        let methods = self.curves.iter().filter(|c| c.id != "random");
        let best = if lowest {
            methods.min_by(|a, b| by(a).total_cmp(&by(b)))
        } else {
            methods.max_by(|a, b| by(a).total_cmp(&by(b)))
        };
        best.map(|c| c.id.clone()).unwrap_or_default()
    }

    fn plot(&self, deletion: bool) -> Json {
        let chosen = if deletion {
            self.highlighted(Curves::deletion_auc, true)
        } else {
            self.highlighted(Curves::insertion_auc, false)
        };
        let n = self.steps as f64;
        let series: Vec<Json> = self
            .curves
            .iter()
            .map(|c| {
                let (ys, a) =
                    if deletion { (&c.deletion, c.deletion_auc()) } else { (&c.insertion, c.insertion_auc()) };
                let points: Vec<Json> = ys.iter().enumerate().map(|(i, &p)| json!([i as f64 / n, p])).collect();
                json!({ "name": format!("{} (AUC {a:.3})", c.name), "id": c.id, "points": points,
                        "highlight": c.id == chosen, "dashed": c.id == "random" })
            })
            .collect();
        json!({
            "x_label": if deletion { "fraction of pixels deleted" } else { "fraction of pixels inserted" },
            "y_label": "p(class)",
            "series": series,
        })
    }
}

impl Run for Faithfulness {
    fn step(&mut self, ctx: &Ctx, _settings: &Settings) -> Result<Progress> {
        if !self.finished() {
            self.advance(ctx.net)?;
        }
        let text = if self.finished() {
            format!("Deletion & insertion done for {}", (ctx.name)(self.class))
        } else {
            let c = &self.curves[self.current];
            match &c.job {
                Some(j) => format!("{}: map pass {} / {}", c.name, j.done(), j.total()),
                None if c.wants[0] && c.deletion.len() <= self.steps => {
                    format!("{}: deletion {} / {}", c.name, c.deletion.len().saturating_sub(1), self.steps)
                }
                None => format!("{}: insertion {} / {}", c.name, c.insertion.len().saturating_sub(1), self.steps),
            }
        };
        Ok(Progress {
            done: self.finished(),
            step: self.units_done,
            total: self.units_total,
            text,
            frame: false,
            top: top5(ctx.net, &self.logits),
        })
    }

    fn panels(&self) -> Vec<Panel> {
        if !self.finished() {
            return vec![];
        }
        let plot = |id: &'static str, deletion: bool| Panel {
            id,
            kind: OutputKind::Plot,
            title: SPEC.outputs.iter().find(|o| o.id == id).map_or(String::new(), |o| o.title.to_string()),
            width: 0,
            height: 0,
            rgba: vec![],
            raw: None,
            plot: Some(self.plot(deletion)),
        };
        vec![plot("deletion", true), plot("insertion", false)]
    }

    fn part(&self) -> Option<PartResult> {
        if !self.part || !self.finished() {
            return None;
        }
        let mut curves: Vec<Json> = vec![];
        for c in &self.curves {
            for (half, points) in [&c.deletion, &c.insertion].into_iter().enumerate() {
                if c.wants[half] {
                    curves.push(json!({ "unit": 2 * c.index + half, "points": points }));
                }
            }
        }
        Some(PartResult { json: json!({ "curves": curves }), floats: vec![] })
    }

    fn report(&self) -> Json {
        if !self.finished() {
            return json!({});
        }
        let conclusion = self.conclusion();
        let mut lines = vec![
            json!(["Conclusion", conclusion, "conclusion"]),
            json!([
                "Class",
                format!("#{} (p = {:.1}%; baseline p = {:.1}%)", self.class, self.p_image * 100.0, self.p_base * 100.0),
                "class"
            ]),
        ];
        let mut methods = vec![];
        for c in &self.curves {
            lines.push(json!([
                c.name,
                format!("deletion AUC {:.3} · insertion AUC {:.3}", c.deletion_auc(), c.insertion_auc())
            ]));
            methods.push(json!({
                "id": c.id, "name": c.name, "deletion_auc": c.deletion_auc(), "insertion_auc": c.insertion_auc(),
                "deletion": c.deletion, "insertion": c.insertion,
            }));
        }
        // The curves as CSV (the page's "Download CSV"): one row per point.
        let mut csv = String::from("fraction");
        for c in &self.curves {
            csv += &format!(",{} deletion,{} insertion", c.id, c.id);
        }
        for i in 0..=self.steps {
            csv += &format!("\n{}", i as f64 / self.steps as f64);
            for c in &self.curves {
                csv += &format!(",{},{}", c.deletion[i], c.insertion[i]);
            }
        }
        csv.push('\n');
        json!({
            "class": self.class, "steps": self.steps, "p_image": self.p_image, "p_baseline": self.p_base, "csv": csv,
            "settings": self.settings, "methods": methods, "passes": self.units_total, "lines": lines,
            "conclusion": conclusion,
        })
    }
}

impl Faithfulness {
    /// One sentence: which way is better, which method won each test, and what chance scores.
    fn conclusion(&self) -> String {
        let methods = || self.curves.iter().filter(|c| c.id != "random");
        let (Some(del), Some(ins)) = (
            methods().min_by(|a, b| a.deletion_auc().total_cmp(&b.deletion_auc())),
            methods().max_by(|a, b| a.insertion_auc().total_cmp(&b.insertion_auc())),
        ) else {
            return String::new();
        };
        let winners = if del.id == ins.id {
            format!(
                "{} is the most faithful on both (deletion {:.3}, insertion {:.3})",
                del.name,
                del.deletion_auc(),
                ins.insertion_auc()
            )
        } else {
            format!(
                "{} wins deletion ({:.3}) and {} wins insertion ({:.3})",
                del.name,
                del.deletion_auc(),
                ins.name,
                ins.insertion_auc()
            )
        };
        let chance = self
            .curves
            .iter()
            .find(|c| c.id == "random")
            .map(|r| format!("; a random order scores {:.3} / {:.3}", r.deletion_auc(), r.insertion_auc()))
            .unwrap_or_default();
        format!("Lower deletion AUC and higher insertion AUC mean a more faithful map: {winners}{chance}.")
    }
}
