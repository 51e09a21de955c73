//! The reverse pass: walks the op list backwards from a seed gradient, one VJP per node,
//! accumulating gradients where a value feeds several nodes, down to the graph input.

use crate::error::{Error, Result};
use crate::graph::{Graph, ValueId};
use crate::tensor::Tensor;
use crate::vjp::{self, Step, Values};

/// Gradient of the seeded objective with respect to the graph input.
/// `seed` is d objective / d `seed_value`; nodes after `seed_value` are never visited.
pub fn backward(graph: &Graph, values: &dyn Values, seed_value: ValueId, seed: Tensor) -> Result<Tensor> {
    backward_timed(graph, values, seed_value, seed, &mut |_, _| {})
}

/// As [`backward`], calling `timed(op_type, node_index)` right after each node's VJP
/// (the bench uses it to attribute time to op types).
pub fn backward_timed(
    graph: &Graph,
    values: &dyn Values,
    seed_value: ValueId,
    seed: Tensor,
    timed: &mut dyn FnMut(&str, usize),
) -> Result<Tensor> {
    if seed.shape != graph.shape(seed_value) {
        return Err(Error::Invalid(format!(
            "seed gradient has shape {:?}, value '{}' has shape {:?}",
            seed.shape,
            graph.values[seed_value].name,
            graph.shape(seed_value)
        )));
    }
    if !graph.depends_on_input[seed_value] {
        return Ok(Tensor::zeros(graph.shape(graph.input)));
    }
    let mut grads: Vec<Option<Tensor>> = vec![None; graph.values.len()];
    grads[seed_value] = Some(seed);
    let last = graph.nodes.iter().rposition(|n| n.output == seed_value).unwrap_or(0);
    for (ix, node) in graph.nodes[..=last].iter().enumerate().rev() {
        let Some(grad) = grads[node.output].take() else { continue };
        let step = Step { graph, node, values };
        let input_grads = vjp::vjp(&step, &grad)?;
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
    Ok(grads[graph.input].take().unwrap_or_else(|| Tensor::zeros(graph.shape(graph.input))))
}
