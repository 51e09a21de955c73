//! Vector-Jacobian products: for each op, the gradient of its inputs given the gradient of its
//! output. Weights are frozen, so no op computes gradients for its constant inputs.

mod conv;
mod gemm;
mod linear;
mod pointwise;
mod pool;
mod reshape;

use crate::error::{Error, Result};
use crate::graph::{Graph, Node, Op, ValueId};
use crate::tensor::{Tensor, View};

/// Which forward values an op's VJP reads. The forward pass records exactly these.
pub struct Needs {
    pub output: bool,
    pub inputs: &'static [usize],
}

pub fn needs(op: &Op) -> Needs {
    let (output, inputs): (bool, &'static [usize]) = match op {
        Op::Relu => (true, &[]),
        Op::Softmax { .. } => (true, &[]),
        Op::MaxPool { .. } | Op::Clip { .. } => (false, &[0]),
        Op::Gemm { .. } | Op::MatMul => (false, &[0, 1]),
        Op::Conv { .. }
        | Op::AveragePool { .. }
        | Op::GlobalAveragePool
        | Op::Concat { .. }
        | Op::Reshape
        | Op::Add
        | Op::BatchNorm { .. } => (false, &[]),
    };
    Needs { output, inputs }
}

/// The forward values a VJP may read: constants and the recorded activations.
pub trait Values {
    fn get(&self, id: ValueId) -> Option<View<'_>>;
}

pub struct Step<'a> {
    pub graph: &'a Graph,
    pub node: &'a Node,
    pub values: &'a dyn Values,
}

impl Step<'_> {
    fn value(&self, id: ValueId) -> Result<View<'_>> {
        self.values.get(id).ok_or_else(|| {
            Error::Forward(format!("value '{}' was not recorded for node '{}'", self.graph.values[id].name, self.node.name))
        })
    }
    fn input(&self, i: usize) -> Result<View<'_>> {
        self.value(self.node.inputs[i])
    }
    fn output(&self) -> Result<View<'_>> {
        self.value(self.node.output)
    }
    fn input_shape(&self, i: usize) -> &[usize] {
        self.graph.shape(self.node.inputs[i])
    }
    /// Whether input `i` carries a gradient (depends on the graph input).
    fn wants(&self, i: usize) -> bool {
        self.graph.depends_on_input[self.node.inputs[i]]
    }
}

/// Gradients for each input of `step.node` (None where an input carries no gradient).
pub fn vjp(step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let n = step.node.inputs.len();
    let only_first = |g: Tensor| {
        let mut v: Vec<Option<Tensor>> = vec![None; n];
        v[0] = Some(g);
        v
    };
    Ok(match &step.node.op {
        Op::Conv { window, group } => only_first(conv::conv(step, grad, window, *group)?),
        Op::Relu => only_first(pointwise::relu(step.output()?, grad)),
        Op::MaxPool { window } => only_first(pool::max_pool(step.input(0)?, grad, window)),
        Op::AveragePool { window, count_include_pad } => {
            only_first(pool::average_pool(step.input_shape(0), grad, window, *count_include_pad))
        }
        Op::GlobalAveragePool => only_first(pool::global_average_pool(step.input_shape(0), grad)),
        Op::Concat { axis } => reshape::concat(step, grad, *axis),
        Op::Reshape => only_first(grad.clone().reshaped(step.input_shape(0))),
        Op::Add => pointwise::add(step, grad),
        Op::BatchNorm { scale } => only_first(pointwise::batch_norm(grad, scale)),
        Op::Clip { min, max } => only_first(pointwise::clip(step.input(0)?, grad, *min, *max)),
        Op::Softmax { rows, len, inner, log } => {
            only_first(pointwise::softmax(step.output()?, grad, *rows, *len, *inner, *log))
        }
        Op::Gemm { alpha, beta, trans_a, trans_b } => linear::gemm(step, grad, *alpha, *beta, *trans_a, *trans_b)?,
        Op::MatMul => linear::gemm(step, grad, 1.0, 1.0, false, false)?,
    })
}
