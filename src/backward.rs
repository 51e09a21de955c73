//! The reverse pass: walks the op list backwards from a seed gradient, one VJP per node, accumulating
//! gradients where a value feeds several nodes, into a gradient store (like candle's `GradStore`).

use crate::error::{Error, Result};
use crate::graph::{Graph, Node, ValueId};
use crate::rules::Rules;
use crate::tensor::Tensor;
use crate::vjp::{self, Step, Values};

/// What a reverse pass should produce.
#[derive(Clone, Debug)]
pub struct Wanted {
    /// Values whose gradient to keep (e.g. Grad-CAM's layer), besides the input.
    pub at: Vec<ValueId>,
    /// Whether to walk all the way to the graph input. Without it the walk stops once every value in `at`
    /// has its complete gradient.
    pub input: bool,
    /// Nodes that pass something else than their gradient (src/rules/): none for the plain gradient.
    pub rules: Rules,
}

impl Wanted {
    /// The input gradient only, with the true ReLU derivative.
    pub fn input() -> Wanted {
        Wanted { at: vec![], input: true, rules: Rules::none() }
    }
}

/// Gradients the reverse pass kept, by value.
#[derive(Debug, Default)]
pub struct GradStore {
    grads: Vec<(ValueId, Tensor)>,
}

impl GradStore {
    pub fn get(&self, id: ValueId) -> Option<&Tensor> {
        self.grads.iter().find(|(v, _)| *v == id).map(|(_, g)| g)
    }
    pub fn take(&mut self, id: ValueId) -> Option<Tensor> {
        let at = self.grads.iter().position(|(v, _)| *v == id)?;
        Some(self.grads.swap_remove(at).1)
    }
}

/// Gradient of the seeded objective with respect to the graph input.
/// `seed` is d objective / d `seed_value`; nodes after `seed_value` are never visited.
pub fn backward(graph: &Graph, values: &dyn Values, seed_value: ValueId, seed: Tensor) -> Result<Tensor> {
    let mut store = backward_timed(graph, values, seed_value, seed, &Wanted::input(), &mut |_, _| {})?;
    Ok(store.take(graph.input).expect("the input gradient was asked for"))
}

/// The reverse pass from `seed` on `seed_value`, keeping what `wanted` asks for, calling `timed(op_type,
/// node_index)` right after each node's VJP (the bench uses it to attribute time to op types).
/// A wanted value that the objective does not depend on gets a zero gradient.
pub fn backward_timed(
    graph: &Graph,
    values: &dyn Values,
    seed_value: ValueId,
    seed: Tensor,
    wanted: &Wanted,
    timed: &mut dyn FnMut(&str, usize),
) -> Result<GradStore> {
    if seed.shape != graph.shape(seed_value) {
        return Err(Error::Invalid(format!(
            "seed gradient has shape {:?}, value '{}' has shape {:?}",
            seed.shape,
            graph.values[seed_value].name,
            graph.shape(seed_value)
        )));
    }
    let mut store = GradStore::default();
    let keep = |store: &mut GradStore, id: ValueId, g: Option<&Tensor>| {
        let g = g.cloned().unwrap_or_else(|| Tensor::zeros(graph.shape(id)));
        store.grads.push((id, g));
    };
    let mut pending: Vec<ValueId> = wanted.at.clone();
    pending.sort_unstable();
    pending.dedup();
    if wanted.input && !pending.contains(&graph.input) {
        pending.push(graph.input);
    }
    if !graph.depends_on_input[seed_value] {
        for id in pending {
            keep(&mut store, id, None);
        }
        return Ok(store);
    }
    let mut grads: Vec<Option<Tensor>> = vec![None; graph.values.len()];
    grads[seed_value] = Some(seed);
    let last = graph.nodes.iter().rposition(|n| n.output == seed_value).unwrap_or(0);
    let masked = masked_relus(graph, &graph.nodes[..=last], seed_value, wanted);
    for (ix, node) in graph.nodes[..=last].iter().enumerate().rev() {
        // Every consumer of this node's output comes later in the list, so its gradient is complete now.
        if let Some(at) = pending.iter().position(|&v| v == node.output) {
            keep(&mut store, node.output, grads[node.output].as_ref());
            pending.swap_remove(at);
            if pending.is_empty() {
                return Ok(store);
            }
        }
        let Some(grad) = grads[node.output].take() else { continue };
        let step = Step { graph, node, values, masked: &masked };
        let input_grads = match wanted.rules.get(ix) {
            Some(rule) => rule.backward(&step, grad)?,
            None => vjp::vjp(&step, grad)?,
        };
        for (&id, g) in node.inputs.iter().zip(input_grads) {
            let Some(g) = g else { continue };
            if !graph.depends_on_input[id] {
                continue;
            }
            match &mut grads[id] {
                Some(acc) => acc.data.iter_mut().zip(&g.data).for_each(|(a, b)| *a += b),
                slot => *slot = Some(g),
            }
        }
        timed(&node.op_type, ix);
    }
    // What is left: the input, and values no node produces (constants, values after the seed).
    for id in pending {
        keep(&mut store, id, grads[id].as_ref());
    }
    Ok(store)
}

/// By value: the ReLU outputs whose mask the nodes reading them apply to their input gradients
/// ([`crate::vjp::Shortcuts::masks_relu_inputs`]). Only without rules (Guided Backprop's rule looks at the summed
/// gradient's sign, which no single consumer knows; a relevance rule replaces a consumer's VJP), when every node of the walk reading the value
/// masks, and not for the seed or a value whose gradient is kept (that is the gradient before the mask).
fn masked_relus(graph: &Graph, walked: &[Node], seed_value: ValueId, wanted: &Wanted) -> Vec<bool> {
    let n = graph.values.len();
    let mut masked = vec![false; n];
    if !wanted.rules.is_empty() {
        return masked;
    }
    let (mut read, mut unmasked) = (vec![false; n], vec![false; n]);
    for node in walked {
        for &id in &node.inputs {
            read[id] = true;
            unmasked[id] |= !node.op.shortcuts().masks_relu_inputs;
        }
    }
    for node in walked.iter().filter(|n| n.op.shortcuts().relu) {
        let id = node.output;
        let kept = id == seed_value || id == graph.output || wanted.at.contains(&id);
        masked[id] = read[id] && !unmasked[id] && !kept;
    }
    masked
}
