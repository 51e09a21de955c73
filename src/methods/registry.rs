//! The catalogue: every method, once, in the page's tab order ([`METHODS`]), and what is built from it — the
//! lookup by id, the JSON schema the page reads ([`schema_json`]), running a method to its end. What a method
//! declares is the contract ([`super::contract`]); adding a method is its own file plus one line here.

use serde_json::{json, Value as Json};

pub use super::contract::*;
use super::settings::Settings;
use super::{attack, attribution, classviz, features, fooling, saliency, trust, MAX_ITERS};
use crate::error::{Error, Result};

/// Every method, in the page's tab order.
pub static METHODS: &[&MethodSpec] = &[
    &saliency::SPEC,
    &fooling::SPEC,
    &classviz::SPEC,
    &attribution::ixg::SPEC,
    &attribution::smoothgrad::SPEC,
    &attribution::ig::SPEC,
    &attribution::guided::GBP,
    &attribution::guided::DECONV,
    &attribution::gradcam::SPEC,
    &attribution::gradcam::GGC,
    &attribution::cam::gradcampp::SPEC,
    &attribution::cam::xgradcam::SPEC,
    &attribution::cam::hirescam::SPEC,
    &attribution::cam::layercam::SPEC,
    &attribution::cam::eigencam::SPEC,
    &attribution::cam::scorecam::SPEC,
    &attribution::cam::ablationcam::SPEC,
    &attribution::lrp::SPEC,
    &attribution::rollout::ROLLOUT,
    &attribution::rollout::GRADROLLOUT,
    &attribution::occlusion::SPEC,
    &trust::faithfulness::SPEC,
    &trust::sanity::SPEC,
    &attack::linf::FGSM,
    &attack::linf::BIM,
    &attack::linf::PGD,
    &attack::l2::PGD_L2,
    &attack::robustness::SPEC,
    &features::activations::SPEC,
    &features::attention_maps::SPEC,
    &features::channel::SPEC,
    &features::dream::SPEC,
];

pub fn method(id: &str) -> Result<&'static MethodSpec> {
    METHODS.iter().copied().find(|m| m.id == id).ok_or_else(|| {
        let ids: Vec<&str> = METHODS.iter().map(|m| m.id).collect();
        Error::Invalid(format!(
            "unknown method '{}' (methods: {})",
            id.chars().take(40).collect::<String>(),
            ids.join(", ")
        ))
    })
}

/// The schema every other layer is built from.
pub fn schema() -> Json {
    let methods = serde_json::to_value(METHODS).expect("the registry serialises");
    json!({
        "version": 1,
        "max_iters": MAX_ITERS,
        "methods": methods,
        "preprocessing": crate::preprocess::choice_schema(),
    })
}

pub fn schema_json() -> String {
    serde_json::to_string_pretty(&schema()).expect("the schema serialises")
}

/// Runs to the end (CLI, tests): `on_progress` sees each step and may stop the run by returning false.
pub fn run_to_end(
    ctx: &Ctx,
    spec: &MethodSpec,
    input: Option<&Input>,
    settings: &Settings,
    mut on_progress: impl FnMut(&Progress, &dyn Run) -> bool,
) -> Result<Box<dyn Run>> {
    let mut run = spec.start(ctx, input, settings)?;
    loop {
        let p = run.step(ctx, settings)?;
        if p.done {
            return Ok(run);
        }
        if !on_progress(&p, run.as_ref()) {
            run.finish(ctx)?;
            return Ok(run);
        }
    }
}
