//! Cascading model randomization (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): re-initialise the
//! network's weights from the top down, one module at a time (the classifier conv, then `features.12`, `.11`, …
//! to the first conv), and recompute every map at each depth. A map that barely changes while the network's
//! learned weights are destroyed cannot be explaining what the network learned.
//!
//! Weights: Kaiming-normal (N(0, 2 / fan_in), fan_in = C/group · kh · kw, as PyTorch's `kaiming_normal_`), zero
//! bias, drawn from ChaCha8 seeded with `seed` on a stream per conv (its index in graph order), so a layer gets
//! the same weights at every depth and natively and in wasm. Each depth is a new engine built from the kept
//! model with those weights ([`crate::engine::Engine::with_weights`]): tract's plan and the VJPs' constants both
//! hold them. Similarity to the trained network's map: Spearman rank correlation of the per-pixel scores, of
//! |score| and of the signed score, as the paper reports both.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::{json, Value as Json};

use super::{label, methods_setting, pixel_scores, spearman, MapJob, Subject};
use crate::engine::{Engine, WeightLayer};
use crate::error::{Error, Result};
use crate::methods::attribution::{Style, CLASS};
use crate::methods::contract::{
    top5, Ctx, Group, Input, MethodSpec, OutputKind, OutputSpec, Panel, Paper, Progress, Run, BACKWARD,
};
use crate::methods::settings::{Kind, SettingSpec, Settings};
use crate::methods::shard::{cover, PartResult, Sharding, Unit};
use crate::network::Classifier;
use crate::render;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "sanity",
    title: "Model randomization",
    summary: "Destroy the network's learned weights layer by layer from the top and recompute each map: a map that hardly changes is not explaining what the network learned.",
    paper: Paper { cite: "Adebayo et al. 2018, Sanity Checks for Saliency Maps", url: "https://arxiv.org/abs/1810.03292" },
    group: Group::Trust,
    needs_image: true,
    link_prefix: "sanity",
    cost: "(depth + 1) × every method's passes, and one model rebuild per depth",
    passes: None,
    compare: false,
    run_label: "Run the test",
    auto_run: false,
    settings: &[
        CLASS,
        methods_setting("Attribution method ids, comma-separated (e.g. gbp,gradcam), or all gradient methods."),
        SettingSpec {
            key: "depth",
            link: "depth",
            label: "Depth",
            help: "How many modules to re-initialise, top down (classifier, features.12, …); 0 = all of them.",
            kind: Kind::Int { min: 0, max: 64, default: 0 },
            live: false,
        },
        crate::methods::settings::seed("Seeds the random weights: the same seed gives the same randomized networks."),
    ],
    outputs: &[
        OutputSpec { id: "grid", title: "Maps: rows = methods, columns = layers randomised", kind: OutputKind::Image, download: true },
        OutputSpec { id: "abs", title: "Rank correlation with the trained network's map, |map|", kind: OutputKind::Plot, download: false },
        OutputSpec { id: "signed", title: "Rank correlation with the trained network's map, signed", kind: OutputKind::Plot, download: false },
        OutputSpec { id: "table", title: "Rank correlations", kind: OutputKind::Stats, download: false },
    ],
    start: |ctx, input, s| Ok(Box::new(Sanity::start(ctx, input.expect("checked by the registry"), s)?)),
    attribution: None,
    sharding: Some(&SHARDING),
    requires: None,
};

/// Methods run by default: the gradient methods (a forward + reverse pass each — LRP's z⁺ adds a forward — :
/// Adebayo et al.'s subject), not those of many forward passes (occlusion's 170, Score-CAM's 513: each again per
/// randomised network) nor Eigen-CAM (no class, no gradient).
fn gradient_method(m: &MethodSpec) -> bool {
    m.attribution.is_some_and(|a| a.pass_cost >= BACKWARD)
}

/// The modules to re-initialise, top down, each with its convs.
pub fn cascade(engine: &Engine) -> Vec<(String, Vec<(usize, WeightLayer)>)> {
    let mut blocks: Vec<(String, Vec<(usize, WeightLayer)>)> = vec![];
    for (ix, layer) in engine.conv_layers().into_iter().enumerate() {
        match blocks.iter_mut().find(|(b, _)| *b == layer.block) {
            Some((_, layers)) => layers.push((ix, layer)),
            None => blocks.push((layer.block.clone(), vec![(ix, layer)])),
        }
    }
    blocks.reverse();
    blocks
}

/// Kaiming-normal weights for conv number `index` (graph order), from ChaCha8 seeded with `seed`, stream `index`.
pub fn kaiming_normal(layer: &WeightLayer, index: usize, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    let std = (2.0 / layer.fan_in() as f64).sqrt() as f32;
    let n: usize = layer.shape.iter().product();
    let data = (0..n).map(|_| std * rng.sample::<f32, _>(StandardNormal)).collect();
    Tensor::new(layer.shape.clone(), data)
}

/// The replaced initializers with the top `depth` modules of `cascade(engine)` re-initialised.
pub fn randomized_weights(engine: &Engine, depth: usize, seed: u64) -> Result<Vec<(String, Tensor)>> {
    let blocks = cascade(engine);
    check_depth(&blocks, depth)?;
    let mut out = vec![];
    for (_, layers) in &blocks[..depth] {
        for (ix, layer) in layers {
            out.push((layer.weight.clone(), kaiming_normal(layer, *ix, seed)));
            if let Some(bias) = &layer.bias {
                let b = engine.constant(bias).ok_or_else(|| Error::Model(format!("no bias '{bias}'")))?;
                out.push((bias.clone(), Tensor::zeros(b.shape)));
            }
        }
    }
    Ok(out)
}

fn check_depth(blocks: &[(String, Vec<(usize, WeightLayer)>)], depth: usize) -> Result<()> {
    if depth > blocks.len() {
        let names: Vec<&str> = blocks.iter().map(|(b, _)| b.as_str()).collect();
        return Err(Error::Invalid(format!(
            "Depth (depth) of {depth} is beyond the network: it has {} modules to randomise, top down: {}",
            blocks.len(),
            names.join(", ")
        )));
    }
    Ok(())
}

/// The classifier with its top `depth` modules re-initialised.
pub fn randomized(net: &Classifier, depth: usize, seed: u64) -> Result<Classifier> {
    net.with_weights(&randomized_weights(net.engine(), depth, seed)?)
}

/// Grid cell side: each 224 × 224 map halved (other sizes resampled to it).
const CELL: usize = 112;
const GAP: usize = 4;
const LABEL_SCALE: usize = 2;

/// The set-up cost of a randomised network (rebuilding tract's plan), in forward passes.
const REBUILD: f64 = 10.0;

/// Splits a run by map: unit `column × methods + row` is one method's map on one randomised network.
pub static SHARDING: Sharding = Sharding {
    units: |ctx, input, s| Ok(Sanity::prepare(ctx, input, s, None)?.units()),
    part: |ctx, input, s, units| Ok(Box::new(Sanity::prepare(ctx, input, s, Some(units))?)),
    merge: |ctx, input, s, parts| Ok(Box::new(Sanity::merge(ctx, input, s, parts)?)),
};

pub struct Sanity {
    x: Tensor,
    class: usize,
    logits: Vec<f32>,
    seed: u64,
    specs: Vec<&'static MethodSpec>,
    styles: Vec<Style>,
    /// Each method's passes and their cost (the same at every depth).
    passes: Vec<(usize, f64)>,
    /// Column names: "trained", then each randomised module.
    columns: Vec<String>,
    /// What this run computes, in order: (column, rows). The whole run: every column, every row.
    plan: Vec<(usize, Vec<usize>)>,
    /// The plan entry being computed, and whether its network and jobs are ready.
    at: usize,
    ready: bool,
    part: bool,
    /// The randomised network of the current entry (column 0 uses the page's network).
    net: Option<Classifier>,
    jobs: Vec<MapJob>,
    row: usize,
    /// Per-pixel scores, [column][row] (empty until computed).
    pub maps: Vec<Vec<Vec<f32>>>,
    units_done: usize,
    units_total: usize,
    settings: Json,
}

impl Sanity {
    pub fn start(ctx: &Ctx, input: &Input, s: &Settings) -> Result<Sanity> {
        Sanity::prepare(ctx, input, s, None)
    }

    /// The whole run (`keep` None) or a part computing only the maps `keep` lists (unit = column × rows + row).
    fn prepare(ctx: &Ctx, input: &Input, s: &Settings, keep: Option<&[usize]>) -> Result<Sanity> {
        let net = ctx.net;
        let Subject { x, logits, class, specs } = Subject::of(ctx, input, s, gradient_method)?;
        let blocks = cascade(net.engine());
        let depth = match s.usize("depth") {
            0 => blocks.len(),
            d => d,
        };
        check_depth(&blocks, depth)?;
        // Column 0's jobs: each method's style and passes (the same on every network).
        let jobs = specs.iter().map(|&m| MapJob::new(m, net, &x, class)).collect::<Result<Vec<_>>>()?;
        let styles = jobs.iter().map(|j| j.style()).collect();
        let passes: Vec<(usize, f64)> = jobs.iter().map(|j| (j.total(), j.cost())).collect();
        let mut columns = vec!["trained".to_string()];
        columns.extend(blocks[..depth].iter().map(|(b, _)| b.clone()));
        let rows = specs.len();
        let n = columns.len() * rows;
        let mut plan: Vec<(usize, Vec<usize>)> = vec![];
        let mut units = keep.map_or_else(|| (0..n).collect(), <[usize]>::to_vec);
        units.sort_unstable();
        for u in units {
            if u >= n {
                return Err(Error::Invalid(format!("a part names map {u}, but the run has {n}")));
            }
            let (col, row) = (u / rows, u % rows);
            match plan.last_mut() {
                Some((c, r)) if *c == col => r.push(row),
                _ => plan.push((col, vec![row])),
            }
        }
        let units_total =
            plan.iter().map(|(c, r)| usize::from(*c > 0) + r.iter().map(|&r| passes[r].0).sum::<usize>()).sum();
        let mut run = Sanity {
            x,
            class,
            logits,
            seed: s.int("seed") as u64,
            styles,
            passes,
            specs,
            units_total,
            maps: vec![vec![vec![]; rows]; columns.len()],
            columns,
            plan,
            at: 0,
            ready: false,
            part: keep.is_some(),
            net: None,
            jobs: vec![],
            row: 0,
            units_done: 0,
            settings: s.to_json(),
        };
        if let Some((0, rows)) = run.plan.first() {
            let mut jobs: Vec<Option<MapJob>> = jobs.into_iter().map(Some).collect();
            run.jobs = rows.iter().map(|&r| jobs[r].take().expect("each row once")).collect();
            run.ready = true;
        }
        Ok(run)
    }

    /// The shard units: every (column, method) map.
    fn units(&self) -> Vec<Unit> {
        let mut out = vec![];
        for (c, name) in self.columns.iter().enumerate() {
            for (r, m) in self.specs.iter().enumerate() {
                let (setup, setup_steps) = if c == 0 { (0.0, 0) } else { (REBUILD, 1) };
                let (steps, cost) = self.passes[r];
                out.push(Unit { id: format!("{name} × {}", m.id), cost, steps, group: c, setup, setup_steps });
            }
        }
        out
    }

    /// The whole run, finished, from its parts' maps.
    fn merge(ctx: &Ctx, input: &Input, s: &Settings, parts: &[PartResult]) -> Result<Sanity> {
        let mut run = Sanity::prepare(ctx, input, s, None)?;
        let bad = |what: &str| Error::Invalid(format!("a part's result is damaged ({what})"));
        let rows = run.specs.len();
        let side = run.x.shape[2] * run.x.shape[3];
        let mut lists = vec![];
        for part in parts {
            let units: Vec<usize> =
                serde_json::from_value(part.json["units"].clone()).map_err(|_| bad("no unit list"))?;
            if part.floats.len() != units.len() * side {
                return Err(bad("maps of the wrong size"));
            }
            lists.push(units);
        }
        for (u, (p, i)) in cover(run.columns.len() * rows, &lists)?.into_iter().enumerate() {
            run.maps[u / rows][u % rows] = parts[p].floats[i * side..(i + 1) * side].to_vec();
        }
        run.jobs.clear();
        run.at = run.plan.len();
        run.units_done = run.units_total;
        Ok(run)
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    fn finished(&self) -> bool {
        self.at >= self.plan.len()
    }

    fn advance(&mut self, page_net: &Classifier) -> Result<()> {
        let (col, rows) = &self.plan[self.at];
        let col = *col;
        if !self.ready {
            // A column's jobs; on a randomised network, building it is one unit.
            let net = if col == 0 { None } else { Some(randomized(page_net, col, self.seed)?) };
            let on = net.as_ref().unwrap_or(page_net);
            self.jobs =
                rows.iter().map(|&r| MapJob::new(self.specs[r], on, &self.x, self.class)).collect::<Result<_>>()?;
            self.net = net;
            self.row = 0;
            self.ready = true;
            if col > 0 {
                self.units_done += 1;
                return Ok(());
            }
        }
        let r = rows[self.row];
        let net = self.net.as_ref().unwrap_or(page_net);
        let job = &mut self.jobs[self.row];
        job.step(net)?;
        self.units_done += 1;
        if job.finished() {
            let a = job.result(&self.logits)?;
            let (h, w) = (self.x.shape[2], self.x.shape[3]);
            self.maps[col][r] = pixel_scores(&a, h, w);
            self.row += 1;
            if self.row == self.jobs.len() {
                self.jobs.clear();
                self.net = None;
                self.ready = false;
                self.at += 1;
            }
        }
        Ok(())
    }

    /// Spearman ρ of each later column's map with column 0's, per row: (|·|, signed).
    pub fn correlations(&self) -> Vec<Vec<(f64, f64)>> {
        (0..self.specs.len())
            .map(|r| {
                let orig = &self.maps[0][r];
                let orig_abs: Vec<f32> = orig.iter().map(|v| v.abs()).collect();
                self.maps
                    .iter()
                    .map(|col| {
                        let m = &col[r];
                        let abs: Vec<f32> = m.iter().map(|v| v.abs()).collect();
                        (spearman(&orig_abs, &abs), spearman(orig, m))
                    })
                    .collect()
            })
            .collect()
    }

    /// Left and top margins of the grid: room for the method ids and the depth numbers.
    fn margins(&self) -> (usize, usize) {
        let longest = self.specs.iter().map(|m| label::width(m.id, LABEL_SCALE)).max().unwrap_or(0);
        (longest + 2 * GAP, label::HEIGHT * LABEL_SCALE + 2 * GAP)
    }

    /// The grid's size: rows = methods, columns = depths, with their labels.
    pub fn grid_size(&self) -> (usize, usize) {
        let (rows, cols) = (self.specs.len(), self.columns.len());
        let (left, top) = self.margins();
        (left + cols * CELL + (cols - 1) * GAP, top + rows * CELL + (rows - 1) * GAP)
    }

    fn grid(&self) -> (usize, usize, Vec<u8>) {
        let (w, h) = self.grid_size();
        let (left, top) = self.margins();
        let mut out = vec![255u8; w * h * 4];
        let ink = [40, 40, 40];
        for (r, m) in self.specs.iter().enumerate() {
            let y = top + r * (CELL + GAP) + (CELL - label::HEIGHT * LABEL_SCALE) / 2;
            label::draw(&mut out, w, GAP, y, m.id, LABEL_SCALE, ink);
        }
        for c in 0..self.columns.len() {
            let text = c.to_string();
            let x = left + c * (CELL + GAP) + (CELL - label::width(&text, LABEL_SCALE)) / 2;
            label::draw(&mut out, w, x, GAP, &text, LABEL_SCALE, ink);
        }
        let (hs, ws) = (self.x.shape[2], self.x.shape[3]);
        // Each cell pixel averages its box of the map (2×2 for 224 px; one map pixel, repeated, for maps under
        // CELL px).
        let span = |i: usize, n: usize| (i * n / CELL, ((i + 1) * n / CELL).max(i * n / CELL + 1));
        for (c, column) in self.maps.iter().enumerate() {
            for (r, map) in column.iter().enumerate() {
                let rgba = match self.styles[r] {
                    Style::Signed => render::diverging_rgba(map),
                    _ => render::heatmap_rgba(map),
                };
                for y in 0..CELL {
                    let (y0, y1) = span(y, hs);
                    for x in 0..CELL {
                        let (x0, x1) = span(x, ws);
                        let mut acc = [0u32; 4];
                        for sy in y0..y1 {
                            for sx in x0..x1 {
                                let at = (sy * ws + sx) * 4;
                                for (a, &v) in acc.iter_mut().zip(&rgba[at..at + 4]) {
                                    *a += v as u32;
                                }
                            }
                        }
                        let n = ((y1 - y0) * (x1 - x0)) as u32;
                        let at = ((top + r * (CELL + GAP) + y) * w + left + c * (CELL + GAP) + x) * 4;
                        for (o, a) in out[at..at + 4].iter_mut().zip(acc) {
                            *o = (a / n) as u8;
                        }
                    }
                }
            }
        }
        (w, h, out)
    }

    fn plot(&self, signed: bool) -> Json {
        let corr = self.correlations();
        let series: Vec<Json> = self
            .specs
            .iter()
            .zip(&corr)
            .map(|(m, rows)| {
                let points: Vec<Json> = rows
                    .iter()
                    .enumerate()
                    .map(|(d, &(a, s))| (d, if signed { s } else { a }))
                    .filter(|(_, v)| v.is_finite())
                    .map(|(d, v)| json!([d, v]))
                    .collect();
                json!({ "name": m.title, "id": m.id, "points": points, "highlight": false })
            })
            .collect();
        json!({
            "x_label": "modules re-initialised, top down (0 = trained network)",
            "y_label": if signed { "Spearman ρ, signed map" } else { "Spearman ρ, |map|" },
            "series": series,
        })
    }
}

impl Run for Sanity {
    fn step(&mut self, ctx: &Ctx, _settings: &Settings) -> Result<Progress> {
        if !self.finished() {
            self.advance(ctx.net)?;
        }
        let text = if self.finished() {
            format!("Model randomization done for {}", (ctx.name)(self.class))
        } else {
            let col = self.plan[self.at].0;
            match self.jobs.get(self.row).filter(|_| self.ready) {
                Some(job) => format!(
                    "{} randomised: {} pass {} / {}",
                    if col == 0 { "nothing".to_string() } else { self.columns[1..=col].join(", ") },
                    job.spec.title,
                    job.done(),
                    job.total()
                ),
                None => format!("re-initialising {}", self.columns[1..=col.max(1)].join(", ")),
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
        let title = |id: &str| SPEC.outputs.iter().find(|o| o.id == id).map_or(String::new(), |o| o.title.to_string());
        let (w, h, rgba) = self.grid();
        let plot = |id: &'static str, signed: bool| Panel {
            id,
            kind: OutputKind::Plot,
            title: title(id),
            width: 0,
            height: 0,
            rgba: vec![],
            raw: None,
            plot: Some(self.plot(signed)),
        };
        vec![
            Panel {
                id: "grid",
                kind: OutputKind::Image,
                title: format!(
                    "Rows: {}. Columns: modules re-initialised, top down: {}",
                    self.specs.iter().map(|m| format!("{} ({})", m.id, m.title)).collect::<Vec<_>>().join(", "),
                    self.columns.iter().enumerate().map(|(d, c)| format!("{d} = {c}")).collect::<Vec<_>>().join(", ")
                ),
                width: w as u32,
                height: h as u32,
                rgba,
                raw: None,
                plot: None,
            },
            plot("abs", false),
            plot("signed", true),
        ]
    }

    fn part(&self) -> Option<PartResult> {
        if !self.part || !self.finished() {
            return None;
        }
        let units: Vec<usize> =
            self.plan.iter().flat_map(|(c, rows)| rows.iter().map(move |r| c * self.specs.len() + r)).collect();
        let floats = units.iter().flat_map(|u| self.maps[u / self.specs.len()][u % self.specs.len()].iter().copied());
        Some(PartResult { json: json!({ "units": units }), floats: floats.collect() })
    }

    fn report(&self) -> Json {
        if !self.finished() {
            return json!({});
        }
        let corr = self.correlations();
        let fmt = |v: f64| if v.is_finite() { format!("{v:.2}") } else { "–".into() };
        let conclusion = self.conclusion(&corr);
        let mut lines = vec![
            json!(["Conclusion", conclusion, "conclusion"]),
            json!(["Class", format!("#{}", self.class), "class"]),
            json!(["Columns", self.columns.join(" · ")]),
        ];
        let mut methods = vec![];
        for (m, rows) in self.specs.iter().zip(&corr) {
            let (first, last) = (&rows[1.min(rows.len() - 1)], &rows[rows.len() - 1]);
            lines.push(json!([
                m.title,
                format!(
                    "ρ |map| {} after {}, {} after {} · signed {}, {}",
                    fmt(first.0),
                    self.columns[1.min(rows.len() - 1)],
                    fmt(last.0),
                    self.columns[rows.len() - 1],
                    fmt(first.1),
                    fmt(last.1)
                )
            ]));
            let num = |v: f64| if v.is_finite() { json!(v) } else { Json::Null };
            methods.push(json!({
                "id": m.id, "name": m.title,
                "abs": rows.iter().map(|r| num(r.0)).collect::<Vec<_>>(),
                "signed": rows.iter().map(|r| num(r.1)).collect::<Vec<_>>(),
            }));
        }
        // Rank correlations as CSV (the page's "Download CSV"): one row per depth.
        let mut csv = String::from("depth,module");
        for m in &self.specs {
            csv += &format!(",{} abs,{} signed", m.id, m.id);
        }
        for (d, name) in self.columns.iter().enumerate() {
            csv += &format!("\n{d},{name}");
            for rows in &corr {
                csv += &format!(",{},{}", rows[d].0, rows[d].1);
            }
        }
        csv.push('\n');
        json!({
            "csv": csv, "class": self.class, "columns": self.columns, "seed": self.seed, "settings": self.settings,
            "methods": methods, "passes": self.units_total, "lines": lines, "conclusion": conclusion,
        })
    }
}

impl Sanity {
    /// One sentence: a map that stays the same once the weights are random does not show what was learned.
    fn conclusion(&self, corr: &[Vec<(f64, f64)>]) -> String {
        let Some(last) = self.columns.len().checked_sub(1).filter(|&l| l > 0) else { return String::new() };
        let mut kept: Vec<(&str, f64)> = self
            .specs
            .iter()
            .zip(corr)
            .map(|(m, rows)| (m.title, rows[last].0))
            .filter(|(_, r)| r.is_finite())
            .collect();
        kept.sort_by(|a, b| a.1.total_cmp(&b.1));
        let list = kept.iter().map(|(t, r)| format!("{t} ρ = {r:.2}")).collect::<Vec<_>>().join(", ");
        let same = kept.iter().filter(|(_, r)| *r > 0.5).count();
        format!(
            "A map that shows what the network learned changes once its weights are random (ρ near 0): after {}, {list}{}.",
            self.columns[last],
            match same {
                0 => String::new(),
                1 => "; ρ above 0.5 means that map barely changed".into(),
                _ => "; ρ above 0.5 means those maps barely changed".into(),
            }
        )
    }
}
