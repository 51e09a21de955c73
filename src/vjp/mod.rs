//! Vector-Jacobian products: for each op, the gradient of its inputs given the gradient of its
//! output. Weights are frozen, so no op computes gradients for its constant inputs.
//!
//! Each op is declared once, in its own file: the ONNX names it answers to, how its attributes are parsed,
//! which forward values its VJP reads, and the VJP itself ([`OpDecl`] + [`OpVjp`]). [`OPS`] lists them;
//! an op that is not there is "unsupported" at load time.

mod activation;
mod binary;
mod conv;
mod einsum;
pub(crate) mod gemm;
mod layer_norm;
mod layout;
mod linear;
mod lrn;
mod matmul;
mod pad;
mod pointwise;
mod pool;
mod reduce;
mod reshape;
mod resize;
mod select;

pub(crate) use pointwise::relu_with;

use std::fmt::Debug;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::graph::{Graph, Node, ParseCtx, ValueId};
use crate::tensor::{Tensor, View};

/// Which forward values an op's VJP reads. The forward pass records exactly these.
#[derive(Clone, Copy, Debug, Default)]
pub struct Needs {
    pub output: bool,
    pub inputs: &'static [usize],
    /// A product of two inputs (MatMul, Gemm, Mul, a two-operand Einsum): each is read only for the other's
    /// gradient, so an input is recorded only when the other one carries a gradient — x·W's x is not kept for
    /// the weights' gradient, which is never asked for (a ViT-B/16's linear layers' inputs, ~50 MB a pass).
    pub for_the_other: bool,
}

/// One parsed op: its attributes and its VJP.
pub trait OpVjp: Debug + Send + Sync {
    /// The forward values [`OpVjp::vjp`] reads.
    fn needs(&self) -> Needs {
        Needs::default()
    }
    /// Gradients for each input of `step.node` (None where an input carries no gradient).
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>>;
    /// As [`OpVjp::vjp`], owning the gradient: an op whose input gradient has its output's shape may reuse the
    /// buffer (ReLU masks it in place) instead of allocating and filling another.
    fn vjp_owned(&self, step: &Step, grad: Tensor) -> Result<Vec<Option<Tensor>>> {
        self.vjp(step, &grad)
    }
    /// What the engine and the reverse pass may do faster around this op ([`Shortcuts`]; none by default).
    fn shortcuts(&self) -> Shortcuts {
        Shortcuts::default()
    }
    /// The op is affine in its first input with constant parameters (a convolution): the relevance rules that
    /// evaluate it with other parameters (src/rules/lrp.rs) use this.
    fn affine(&self) -> Option<&dyn Affine> {
        None
    }
}

/// The performance shortcuts an op allows, in one place: the engine (src/engine.rs) and the reverse pass
/// (src/backward.rs) read these, never the op's type. Each is only a faster way to the same numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shortcuts {
    /// Concat's axis: the engine rebuilds a Concat output from its recorded branches instead of asking tract for
    /// it (which would keep tract from writing the branches straight into one buffer).
    pub concat_axis: Option<usize>,
    /// A MaxPool: the recording forward pass may record which input won each window (its own max pool in
    /// tract's plan finds them as it pools), so that the VJP only scatters.
    pub window_winners: bool,
    /// A ReLU: with the true derivative its VJP is a mask, linear in the gradient, so the consumers of its output
    /// may apply it to their contributions instead (see `masks_relu_inputs`).
    pub relu: bool,
    /// The VJP applies [`Step::relu_mask`] to its input gradients where there is one, while it writes them anyway.
    /// When every consumer of a ReLU's output does, the reverse pass leaves the ReLU's own VJP out: one pass less
    /// over the largest gradients (in SqueezeNet, every ReLU output but the squeeze layers').
    pub masks_relu_inputs: bool,
}

/// An op y = W ⊛ x + b whose weights W (input 1) and bias b (input 2, if any) are constants.
pub trait Affine {
    /// W' ⊛ x' + b' with the op's own attributes (strides, pads, groups), for `step.node`. W' may have fewer
    /// output channels (rows) than the node: the result then has as many (relevance rules compute z only where
    /// relevance arrives).
    fn apply(&self, step: &Step, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor>;
}

/// An op as the graph builder finds it: the ONNX op types it answers to and its parser.
pub struct OpDecl {
    pub names: &'static [&'static str],
    pub parse: fn(&ParseCtx) -> Result<Arc<dyn OpVjp>>,
    /// The op has several outputs (Split), each its own node in our graph: `parse` is called once per output
    /// ([`ParseCtx::output_index`]). Otherwise only the first output exists for the reverse pass.
    pub each_output: bool,
}

/// Every op the reverse pass can differentiate.
pub static OPS: &[OpDecl] = &[
    conv::CONV,
    conv::CONV_TRANSPOSE,
    pointwise::RELU,
    pointwise::CLIP,
    pointwise::BATCH_NORM,
    pointwise::ADD,
    pointwise::SOFTMAX,
    pool::MAX_POOL,
    pool::AVERAGE_POOL,
    pool::GLOBAL_AVERAGE_POOL,
    linear::GEMM,
    linear::MATMUL,
    reshape::CONCAT,
    reshape::RESHAPE,
    reshape::TRANSPOSE,
    reshape::SLICE,
    reshape::SPLIT,
    reshape::GATHER,
    reshape::EXPAND,
    reshape::CAST,
    pad::PAD,
    activation::SIGMOID,
    activation::TANH,
    activation::LEAKY_RELU,
    activation::PRELU,
    activation::ELU,
    activation::SELU,
    activation::HARD_SIGMOID,
    activation::HARD_SWISH,
    activation::NEG,
    activation::SQRT,
    activation::ERF,
    activation::EXP,
    activation::GELU,
    binary::SUB,
    binary::MUL,
    binary::DIV,
    binary::POW,
    reduce::REDUCE,
    reduce::REDUCE_L2,
    layer_norm::LAYER_NORM,
    einsum::EINSUM,
    select::WHERE,
    lrn::LRN,
    resize::RESIZE,
];

/// The declaration for an ONNX op type, if the reverse pass supports it.
pub fn decl(op_type: &str) -> Option<&'static OpDecl> {
    OPS.iter().find(|d| d.names.contains(&op_type))
}

/// The true ReLU derivative for one element: the gradient `g` where the ReLU's output `y` is above zero, else 0 —
/// for the Relu VJP and for every reader that applies a ReLU's mask itself ([`Step::relu_mask`]). A select, not a
/// branch, so the loops around it vectorize.
#[inline(always)]
pub(crate) fn relu_pass(y: f32, g: f32) -> f32 {
    if y > 0.0 {
        g
    } else {
        0.0
    }
}

/// The forward values a VJP may read: constants and the recorded activations.
pub trait Values {
    fn get(&self, id: ValueId) -> Option<View<'_>>;
    /// For the MaxPool whose output is `pool_output`: each window's winner, as its forward pass recorded it
    /// ([`OpVjp::window_winners`]; src/window_max.rs), if it did.
    fn winners(&self, _pool_output: ValueId) -> Option<&[u32]> {
        None
    }
}

pub struct Step<'a> {
    pub graph: &'a Graph,
    pub node: &'a Node,
    pub values: &'a dyn Values,
    /// By value: ReLU outputs whose mask their consumers apply ([`Shortcuts::masks_relu_inputs`]).
    pub masked: &'a [bool],
}

impl Step<'_> {
    pub fn value(&self, id: ValueId) -> Result<View<'_>> {
        self.values.get(id).ok_or_else(|| {
            Error::Forward(format!(
                "value '{}' was not recorded for node '{}'",
                self.graph.values[id].name, self.node.name
            ))
        })
    }
    pub fn input(&self, i: usize) -> Result<View<'_>> {
        self.value(self.node.inputs[i])
    }
    pub fn output(&self) -> Result<View<'_>> {
        self.value(self.node.output)
    }
    fn winners(&self) -> Option<&[u32]> {
        self.values.winners(self.node.output)
    }
    /// For a VJP that [masks ReLU inputs](Shortcuts::masks_relu_inputs): the output of the ReLU producing input `i`,
    /// when that ReLU's mask is left to this VJP (keep the gradient where it is above zero).
    fn relu_mask(&self, i: usize) -> Result<Option<View<'_>>> {
        if !self.relu_masked(i) {
            return Ok(None);
        }
        self.input(i).map(Some)
    }
    /// Whether this VJP is to apply the mask of the ReLU producing input `i` ([`Step::relu_mask`]).
    fn relu_masked(&self, i: usize) -> bool {
        self.masked[self.node.inputs[i]]
    }
    pub fn input_shape(&self, i: usize) -> &[usize] {
        self.graph.shape(self.node.inputs[i])
    }
    /// Whether input `i` carries a gradient (depends on the graph input).
    pub fn wants(&self, i: usize) -> bool {
        self.graph.depends_on_input[self.node.inputs[i]]
    }
    /// The gradient for input 0 only: most ops have one differentiable input.
    fn first(&self, g: Tensor) -> Vec<Option<Tensor>> {
        let mut v: Vec<Option<Tensor>> = vec![None; self.node.inputs.len()];
        v[0] = Some(g);
        v
    }
}

/// Gradients for each input of `step.node` (None where an input carries no gradient).
pub fn vjp(step: &Step, grad: Tensor) -> Result<Vec<Option<Tensor>>> {
    step.node.op.vjp_owned(step, grad)
}
