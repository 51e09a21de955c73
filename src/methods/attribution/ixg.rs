//! Gradient × Input (Shrikumar et al. 2016): x ⊙ ∂logit_k/∂x, Captum's InputXGradient.

use serde_json::Value as Json;

use super::{drop_batch, AttributionRun, Stepper, Style, CLASS, SIGNED_OUTPUTS};
use crate::backward::Wanted;
use crate::engine::Objective;
use crate::error::Result;
use crate::graph::Graph;
use crate::methods::contract::{Attributor, Group, MethodSpec, Paper, BACKWARD};
use crate::network::Classifier;
use crate::rules::Rules;
use crate::tensor::Tensor;

pub static SPEC: MethodSpec = MethodSpec {
    id: "ixg",
    title: "Gradient × Input",
    summary: "The gradient times the input: how much each value, as it is, contributes to the score to first order.",
    paper: Paper { cite: "Shrikumar et al. 2016, Not Just a Black Box", url: "https://arxiv.org/abs/1605.01713" },
    group: Group::Attribution,
    needs_image: true,
    link_prefix: "ixg",
    cost: "1 forward + backward",
    passes: Some(2),
    compare: true,
    run_label: "Compute",
    auto_run: true,
    settings: &[CLASS],
    outputs: SIGNED_OUTPUTS,
    start: |ctx, input, s| AttributionRun::start(ctx, input.expect("checked by the registry"), s, &SPEC),
    attribution: Some(Attributor { make, pass_cost: BACKWARD }),
    sharding: None,
    requires: None,
};

pub fn make(
    _: &Classifier,
    x: &Tensor,
    class: usize,
    _: &crate::methods::settings::Settings,
) -> Result<(Box<dyn Stepper>, Style)> {
    Ok((Box::new(OnePass::new(x, class, |_| Rules::none(), true)), Style::Signed))
}

/// The rules a method's reverse pass applies, for a given graph (none: the gradient).
pub type RulesFor = fn(&Graph) -> Rules;

/// One forward + backward: the input gradient under some rules, optionally times the input.
pub struct OnePass {
    x: Tensor,
    class: usize,
    rules: RulesFor,
    times_input: bool,
    map: Option<Tensor>,
}

impl OnePass {
    pub fn new(x: &Tensor, class: usize, rules: RulesFor, times_input: bool) -> OnePass {
        OnePass { x: x.clone(), class, rules, times_input, map: None }
    }
}

/// d logit_class / d x under `rules` (the ReLU rules of Guided Backprop and Deconvnet read only what the
/// ReLU's VJP reads), as [C, H, W].
pub fn input_gradient(net: &Classifier, x: &Tensor, class: usize, rules: RulesFor) -> Result<Tensor> {
    net.check_class(class)?;
    let engine = net.engine();
    let acts = engine.forward(x)?;
    let wanted = Wanted { at: vec![], input: true, rules: rules(engine.graph()) };
    let mut store = engine.gradients(&acts, &Objective::Class(class), &wanted)?;
    Ok(drop_batch(store.take(engine.graph().input).expect("the input gradient was asked for")))
}

impl Stepper for OnePass {
    fn total(&self) -> usize {
        1
    }
    fn done(&self) -> usize {
        usize::from(self.map.is_some())
    }
    fn step(&mut self, net: &Classifier) -> Result<()> {
        let mut g = input_gradient(net, &self.x, self.class, self.rules)?;
        if self.times_input {
            g.data.iter_mut().zip(&self.x.data).for_each(|(g, x)| *g *= x);
        }
        self.map = Some(g);
        Ok(())
    }
    fn result(&self) -> Result<(Tensor, Json)> {
        Ok((self.map.clone().expect("stepped"), Json::Null))
    }
}
