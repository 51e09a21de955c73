//! Guided Backprop and Deconvnet: the input gradient with ReLU's backward rule changed (Captum's GuidedBackprop
//! and Deconvolution). Same reverse pass, with
//! a rule on every ReLU (src/rules/relu.rs).

use super::ixg::OnePass;
use super::{AttributionRun, Stepper, Style, CLASS, SIGNED_OUTPUTS};
use crate::error::Result;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::tensor::Tensor;
use std::sync::Arc;

use crate::graph::Graph;
use crate::rules::{DeconvRelu, GuidedRelu, Rules};

pub static GBP: MethodSpec = MethodSpec {
    id: "gbp",
    title: "Guided Backprop",
    summary:
        "The gradient with ReLU passing back only positive signals where the unit was active: sharp, image-like edges.",
    paper: Paper { cite: "Springenberg et al. 2015, Striving for Simplicity", url: "https://arxiv.org/abs/1412.6806" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "gbp",
    cost: "1 forward + backward",
    passes: Some(2),
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[CLASS],
    outputs: SIGNED_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &GBP),
    attribution: Some(Attributor { make: make_gbp, pass_cost: BACKWARD }),
    sharding: None,
    requires: None,
};

pub static DECONV: MethodSpec = MethodSpec {
    id: "deconv",
    title: "Deconvnet",
    summary: "The gradient with ReLU replaced by ReLU of the backward signal, ignoring which units fired.",
    paper: Paper {
        cite: "Zeiler & Fergus 2014, Visualizing and Understanding Convolutional Networks",
        url: "https://arxiv.org/abs/1311.2901",
    },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "deconv",
    cost: "1 forward + backward",
    passes: Some(2),
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[CLASS],
    outputs: SIGNED_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &DECONV),
    attribution: Some(Attributor { make: make_deconv, pass_cost: BACKWARD }),
    sharding: None,
    requires: None,
};

pub fn make_gbp(_: &Classifier, x: &Tensor, class: usize, _: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    Ok((Box::new(OnePass::new(x, class, guided, false)), Style::Signed))
}

pub fn make_deconv(_: &Classifier, x: &Tensor, class: usize, _: &Settings) -> Result<(Box<dyn Stepper>, Style)> {
    Ok((Box::new(OnePass::new(x, class, deconv, false)), Style::Signed))
}

/// Guided Backprop's rule on every ReLU.
pub fn guided(graph: &Graph) -> Rules {
    Rules::on_ops(graph, &["Relu"], Arc::new(GuidedRelu))
}

/// Deconvnet's rule on every ReLU.
fn deconv(graph: &Graph) -> Rules {
    Rules::on_ops(graph, &["Relu"], Arc::new(DeconvRelu))
}
