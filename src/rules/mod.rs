//! Rules: how the reverse pass treats a node other than by its gradient — Guided Backprop's and Deconvnet's ReLU,
//! layer-wise relevance propagation's ε, z⁺, γ, z^B, flat and pass rules. A [`Rule`] takes what reached a node's
//! output and gives what goes to its inputs, as a VJP does; [`Rules`] says which node gets which rule for one
//! graph; a [`Composite`] builds them from op types (Zennit's rules and composites: a method says "these rules
//! on these layers" as data, and the one reverse pass, src/backward.rs, applies them). Forward values a rule reads
//! beyond its node's VJP ([`Rule::reads`]) are recorded only for the runs that use it.

mod lrp;
mod relu;

use std::fmt::Debug;
use std::sync::Arc;

pub use lrp::{Epsilon, Flat, Gamma, Pass, ZBox, ZPlus, STABILIZER};
pub use relu::{DeconvRelu, GuidedRelu};

use crate::error::{Error, Result};
use crate::graph::{Graph, Node, ValueId};
use crate::tensor::{Tensor, View};
use crate::vjp::{Step, Values};

pub trait Rule: Debug + Send + Sync {
    /// Forward values this rule reads at `node` besides what the node's VJP reads (inputs, the output).
    fn reads(&self, _node: &Node) -> Vec<ValueId> {
        vec![]
    }
    /// What goes to each input of `step.node` (None where an input takes nothing), given `r` at its output.
    fn backward(&self, step: &Step, r: Tensor) -> Result<Vec<Option<Tensor>>>;
}

/// The rule of each node of one graph (by index into `graph.nodes`); nodes without one pass their gradient.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    by_node: Vec<Option<Arc<dyn Rule>>>,
}

impl Rules {
    /// No rule anywhere: the plain gradient.
    pub fn none() -> Rules {
        Rules::default()
    }

    pub fn is_empty(&self) -> bool {
        self.by_node.iter().all(Option::is_none)
    }

    pub fn get(&self, node: usize) -> Option<&dyn Rule> {
        self.by_node.get(node).and_then(|r| r.as_deref())
    }

    /// `rule` on every node of one of `op_types`.
    pub fn on_ops(graph: &Graph, op_types: &[&str], rule: Arc<dyn Rule>) -> Rules {
        let by_node =
            graph.nodes.iter().map(|n| op_types.contains(&n.op_type.as_str()).then(|| rule.clone())).collect();
        Rules { by_node }
    }

    /// The values every rule reads (to record in the forward pass), without repeats.
    pub fn reads(&self, graph: &Graph) -> Vec<ValueId> {
        let mut ids = vec![];
        for (node, rule) in graph.nodes.iter().zip(&self.by_node) {
            for id in rule.iter().flat_map(|r| r.reads(node)) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }
}

/// Rules by op type, as data (Zennit's `SpecialFirstLayerMapComposite`): the first node of `first.0`'s types gets
/// `first.1`, every other node the rule of the first entry of `layers` naming its type; the op types in `gradient`
/// pass their gradient (layout ops, max pools). Any other op that depends on the input is refused by name.
pub struct Composite {
    pub name: &'static str,
    pub first: Option<(&'static [&'static str], Arc<dyn Rule>)>,
    pub layers: Vec<(&'static [&'static str], Arc<dyn Rule>)>,
    pub gradient: &'static [&'static str],
}

impl Composite {
    pub fn rules(&self, graph: &Graph) -> Result<Rules> {
        let mut first = self.first.as_ref();
        let mut by_node = Vec::with_capacity(graph.nodes.len());
        for node in &graph.nodes {
            let op = node.op_type.as_str();
            if !graph.depends_on_input[node.output] {
                by_node.push(None);
                continue;
            }
            if let Some((_, rule)) = first.filter(|(types, _)| types.contains(&op)) {
                by_node.push(Some(rule.clone()));
                first = None;
                continue;
            }
            if let Some((_, rule)) = self.layers.iter().find(|(types, _)| types.contains(&op)) {
                by_node.push(Some(rule.clone()));
            } else if self.gradient.contains(&op) {
                by_node.push(None);
            } else {
                return Err(Error::Invalid(format!(
                    "the {} composite has no rule for op {op} (node '{}')",
                    self.name, node.name
                )));
            }
        }
        Ok(Rules { by_node })
    }
}

/// Zennit's stabilizer: x + ε·sign(x), with sign(0) = +1, so that dividing by it is safe.
pub fn stabilize(x: f32, eps: f32) -> f32 {
    if x >= 0.0 {
        x + eps
    } else {
        x - eps
    }
}

/// The forward values of a step with one constant replaced (a rule's modified weights), for calling the node's
/// own VJP with them.
struct Substituted<'a> {
    inner: &'a dyn Values,
    id: ValueId,
    value: &'a Tensor,
}

impl Values for Substituted<'_> {
    fn get(&self, id: ValueId) -> Option<View<'_>> {
        if id == self.id {
            Some(self.value.view())
        } else {
            self.inner.get(id)
        }
    }
    fn winners(&self, pool_output: ValueId) -> Option<&[u32]> {
        self.inner.winners(pool_output)
    }
}

/// The node's VJP of `g` for its first input, with input `i` (a weight) replaced by `value`: W'ᵀ g.
fn vjp_with(step: &Step, i: usize, value: &Tensor, g: &Tensor) -> Result<Tensor> {
    let values = Substituted { inner: step.values, id: step.node.inputs[i], value };
    let s = Step { graph: step.graph, node: step.node, values: &values, masked: step.masked };
    step.node
        .op
        .vjp(&s, g)?
        .swap_remove(0)
        .ok_or_else(|| Error::Forward(format!("node '{}' gave no gradient", step.node.name)))
}
