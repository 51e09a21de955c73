//! Runs that split into independent parts (the trust tests): the page's worker pool (www/pool.js) runs the parts
//! in several workers at once and merges their raw results into the panels and report one run would give. The
//! split and the merge are declared in each method's [`Sharding`] (its [`MethodSpec::sharding`]), so the CLI, the wasm layer and the
//! page share them, and a merged run equals the whole run exactly (tests/trust.rs).

use serde::Serialize;
use serde_json::Value as Json;

use super::contract::{Ctx, Input, MethodSpec, Run};
use super::settings::Settings;
use crate::error::{Error, Result};

/// One independent piece of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Unit {
    /// What it computes ("ig", "features.12 × gbp"), for messages.
    pub id: String,
    /// Its estimated cost in forward passes (a forward + reverse pass counts 2): the pool balances by it.
    pub cost: f64,
    /// Its steps (progress counts them).
    pub steps: usize,
    /// Units of one group share set-up work a part pays once: `setup` in forward passes, `setup_steps` steps
    /// (faithfulness: the method's map; sanity: building a randomised network).
    pub group: usize,
    pub setup: f64,
    pub setup_steps: usize,
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

/// The groups of `list` (each once, in order of first use).
fn groups(units: &[Unit], list: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = vec![];
    for &u in list {
        if !out.contains(&units[u].group) {
            out.push(units[u].group);
        }
    }
    out
}

/// The set-up of `group` (the same on each of its units).
fn setup_of(units: &[Unit], group: usize) -> (f64, usize) {
    units.iter().find(|u| u.group == group).map_or((0.0, 0), |u| (u.setup, u.setup_steps))
}

/// The work of one part: its units' costs, and each group's set-up once.
fn load(units: &[Unit], list: &[usize]) -> f64 {
    list.iter().map(|&u| units[u].cost).sum::<f64>()
        + groups(units, list).iter().map(|&g| setup_of(units, g).0).sum::<f64>()
}

/// The steps of one part: its units', and each group's set-up steps once.
pub fn steps(units: &[Unit], list: &[usize]) -> usize {
    list.iter().map(|&u| units[u].steps).sum::<usize>()
        + groups(units, list).iter().map(|&g| setup_of(units, g).1).sum::<usize>()
}

/// A group splits into one part per unit when each of its units costs at least this many times its set-up
/// (which every part then pays again): a cheap map's two curves, not SmoothGrad's or a randomised network's.
const SPLIT: f64 = 10.0;

/// The parts of a run, costliest first, for a pool that hands the next one to whichever worker is free (so a
/// faster or less busy worker simply does more of them). A group is one part, or one part per unit when its
/// set-up is cheap next to its units (see [`SPLIT`]): small parts at the end of the queue even out the
/// workers' finishing times. Each list is ascending.
pub fn queue(units: &[Unit]) -> Vec<Vec<usize>> {
    let mut parts: Vec<Vec<usize>> = vec![];
    for g in groups(units, &(0..units.len()).collect::<Vec<_>>()) {
        let members: Vec<usize> = (0..units.len()).filter(|&u| units[u].group == g).collect();
        let setup = setup_of(units, g).0;
        if members.len() > 1 && members.iter().all(|&u| units[u].cost >= SPLIT * setup) {
            parts.extend(members.into_iter().map(|u| vec![u]));
        } else {
            parts.push(members);
        }
    }
    // Stable: equal loads keep run order.
    parts.sort_by(|a, b| load(units, b).total_cmp(&load(units, a)));
    parts
}

/// One part of a run as the pool receives it: the units it computes and the steps that takes.
#[derive(Clone, Debug, Serialize)]
pub struct QueuedPart {
    pub units: Vec<usize>,
    pub steps: usize,
}

/// A run's parts in the order a pool hands them out ([`queue`]), or None when the method does not shard.
pub fn shard_plan(ctx: &Ctx, spec: &MethodSpec, input: &Input, settings: &Settings) -> Result<Option<Vec<QueuedPart>>> {
    let Some(sharding) = spec.sharding else { return Ok(None) };
    let units = (sharding.units)(ctx, input, settings)?;
    Ok(Some(queue(&units).into_iter().map(|list| QueuedPart { steps: steps(&units, &list), units: list }).collect()))
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

/// Runs `spec` in the parts `lists` names (None: the page pool's [`queue`]) one after another and merges them
/// (tests): the page's pool, without workers.
pub fn run_sharded(
    ctx: &Ctx,
    spec: &MethodSpec,
    input: &Input,
    settings: &Settings,
    lists: Option<&[Vec<usize>]>,
) -> Result<Box<dyn Run>> {
    let sharding = spec.sharding.ok_or_else(|| Error::Invalid(format!("{} does not run in parts", spec.title)))?;
    let lists = match lists {
        Some(l) => l.to_vec(),
        None => queue(&(sharding.units)(ctx, input, settings)?),
    };
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
