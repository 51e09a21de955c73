//! Runs that split into independent parts (the trust tests): the page's worker pool (www/pool.js) runs the parts
//! in several workers at once and merges their raw results into the panels and report one run would give. The
//! split and the merge are declared here and in each method's [`Sharding`], so the CLI, the wasm layer and the
//! page share them, and a merged run equals the whole run exactly (tests/trust.rs).

use serde::Serialize;
use serde_json::Value as Json;

use super::registry::{Ctx, Input, MethodSpec, Run};
use super::settings::Settings;
use super::trust;
use crate::error::{Error, Result};

/// One independent piece of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Unit {
    /// What it computes ("ig", "features.12 × gbp"), for messages.
    pub id: String,
    /// Its estimated cost in forward passes (a forward + reverse pass counts 3): the pool balances by it.
    pub cost: f64,
    /// Units of one group share set-up work a part pays once, `setup` (sanity: building a randomised network).
    pub group: usize,
    pub setup: f64,
}

/// A part's raw results: numbers as JSON (f32 values round-trip exactly through serde_json) and the bulk of
/// them (maps) as plain floats.
#[derive(Clone, Debug, PartialEq)]
pub struct PartResult {
    pub json: Json,
    pub floats: Vec<f32>,
}

impl PartResult {
    /// `[json length: u32 LE][json][f32 LE …]`: what crosses between workers.
    pub fn to_bytes(&self) -> Vec<u8> {
        let text = self.json.to_string();
        let mut out = Vec::with_capacity(4 + text.len() + 4 * self.floats.len());
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        for v in &self.floats {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<PartResult> {
        let bad = || Error::Invalid("a part's result is damaged (its bytes do not parse)".into());
        let len = u32::from_le_bytes(bytes.get(..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?) as usize;
        let text = bytes.get(4..4 + len).ok_or_else(bad)?;
        let json = serde_json::from_slice(text).map_err(|_| bad())?;
        let rest = &bytes[4 + len..];
        if !rest.len().is_multiple_of(4) {
            return Err(bad());
        }
        let floats = rest.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok(PartResult { json, floats })
    }
}

pub type UnitsFn = fn(&Ctx, &Input, &Settings) -> Result<Vec<Unit>>;
pub type PartFn = fn(&Ctx, &Input, &Settings, &[usize]) -> Result<Box<dyn Run>>;
pub type MergeFn = fn(&Ctx, &Input, &Settings, &[PartResult]) -> Result<Box<dyn Run>>;

/// How a method's run splits and merges.
pub struct Sharding {
    /// The run's units, in the order the whole run does them.
    pub units: UnitsFn,
    /// A run doing only these units (indices into `units`' list, ascending); its [`Run::part`] is its result.
    pub part: PartFn,
    /// The finished whole run from the parts' results (every unit exactly once), as `start` would have ended.
    pub merge: MergeFn,
}

/// The methods whose runs shard (both need the image).
static SHARDED: &[(&str, &Sharding)] =
    &[("faithfulness", &trust::faithfulness::SHARDING), ("sanity", &trust::sanity::SHARDING)];

pub fn sharding(spec: &MethodSpec) -> Option<&'static Sharding> {
    SHARDED.iter().find(|(id, _)| *id == spec.id).map(|(_, s)| *s)
}

/// The work of one part: its units' costs, and each group's set-up once.
fn load(units: &[Unit], list: &[usize]) -> f64 {
    let mut groups: Vec<usize> = vec![];
    let mut total = 0.0;
    for &u in list {
        total += units[u].cost;
        if !groups.contains(&units[u].group) {
            groups.push(units[u].group);
            total += units[u].setup;
        }
    }
    total
}

/// Splits `units` into at most `parts` lists of similar cost: the costliest unit first, each to the part that
/// would then have the least work (ties to the lower part), then single moves and swaps out of the busiest part
/// while they shorten it (greedy alone leaves e.g. 622 vs 727 for the default faithfulness run, 675 is possible).
/// Each list is ascending; empty parts are dropped.
pub fn plan(units: &[Unit], parts: usize) -> Vec<Vec<usize>> {
    let parts = parts.max(1);
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by(|&a, &b| units[b].cost.total_cmp(&units[a].cost).then(a.cmp(&b)));
    let mut lists: Vec<Vec<usize>> = vec![vec![]; parts];
    for u in order {
        let with = |p: usize| {
            let mut l = lists[p].clone();
            l.push(u);
            load(units, &l)
        };
        let best = (0..parts).min_by(|&a, &b| with(a).total_cmp(&with(b)).then(a.cmp(&b))).expect("parts ≥ 1");
        lists[best].push(u);
    }
    // Local search: each accepted change lowers the busiest part's load or the number of parts that busy.
    for _ in 0..1000 {
        let loads: Vec<f64> = lists.iter().map(|l| load(units, l)).collect();
        let top = (0..parts).max_by(|&a, &b| loads[a].total_cmp(&loads[b]).then(b.cmp(&a))).expect("parts ≥ 1");
        let mut improved = false;
        'search: for other in (0..parts).filter(|&p| p != top) {
            let before = loads[top].max(loads[other]);
            for i in 0..lists[top].len() {
                // Move unit i to `other`, or swap it with one of `other`'s.
                for j in std::iter::once(None).chain((0..lists[other].len()).map(Some)) {
                    let (mut a, mut b) = (lists[top].clone(), lists[other].clone());
                    let u = a.remove(i);
                    if let Some(j) = j {
                        a.push(b.remove(j));
                    }
                    b.push(u);
                    if load(units, &a).max(load(units, &b)) < before - 1e-9 {
                        lists[top] = a;
                        lists[other] = b;
                        improved = true;
                        break 'search;
                    }
                }
            }
        }
        if !improved {
            break;
        }
    }
    for l in &mut lists {
        l.sort_unstable();
    }
    lists.retain(|l| !l.is_empty());
    lists
}

/// The part lists for `parts` workers, or None when the method does not shard.
pub fn shard_plan(
    ctx: &Ctx,
    spec: &MethodSpec,
    input: &Input,
    settings: &Settings,
    parts: usize,
) -> Result<Option<Vec<Vec<usize>>>> {
    let Some(sharding) = sharding(spec) else { return Ok(None) };
    Ok(Some(plan(&(sharding.units)(ctx, input, settings)?, parts)))
}

/// Checks that `parts` name units `0..n` exactly once each; returns, per unit, (part, position in that part).
pub fn cover(n: usize, parts: &[Vec<usize>]) -> Result<Vec<(usize, usize)>> {
    let mut at: Vec<Option<(usize, usize)>> = vec![None; n];
    for (p, units) in parts.iter().enumerate() {
        for (i, &u) in units.iter().enumerate() {
            match at.get_mut(u) {
                None => return Err(Error::Invalid(format!("a part names unit {u}, but the run has {n}"))),
                Some(Some(_)) => return Err(Error::Invalid(format!("unit {u} is in two parts"))),
                Some(slot) => *slot = Some((p, i)),
            }
        }
    }
    at.into_iter()
        .enumerate()
        .map(|(u, a)| a.ok_or_else(|| Error::Invalid(format!("no part computed unit {u}"))))
        .collect()
}

/// Parses a part's unit list (`[0, 3, 4]`) as the page sends it.
pub fn parse_units(json: &str) -> Result<Vec<usize>> {
    serde_json::from_str(json).map_err(|e| Error::Invalid(format!("a part's unit list is not a list of indices: {e}")))
}

/// Runs `spec` in `parts` parts one after another and merges them (CLI, tests): the page's pool, without workers.
pub fn run_sharded(
    ctx: &Ctx,
    spec: &MethodSpec,
    input: &Input,
    settings: &Settings,
    parts: usize,
) -> Result<Box<dyn Run>> {
    let sharding = sharding(spec).ok_or_else(|| Error::Invalid(format!("{} does not run in parts", spec.title)))?;
    let lists = plan(&(sharding.units)(ctx, input, settings)?, parts);
    let mut results = vec![];
    for units in &lists {
        let mut run = (sharding.part)(ctx, input, settings, units)?;
        while !run.step(ctx, settings)?.done {}
        let part = run.part().ok_or_else(|| Error::Invalid(format!("{} gave no part result", spec.title)))?;
        // Through bytes, as between the page's workers.
        results.push(PartResult::from_bytes(&part.to_bytes())?);
    }
    (sharding.merge)(ctx, input, settings, &results)
}
