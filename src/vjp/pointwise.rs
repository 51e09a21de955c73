//! Element-wise ops: Relu, Clip, BatchNormalization (inference), Add, Softmax/LogSoftmax.

use std::sync::Arc;

use super::layout::{broadcast_strides, walk};
use super::{relu_pass, Needs, OpDecl, OpVjp, Shortcuts, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::{Tensor, View};
use crate::threads;

pub const RELU: OpDecl = OpDecl { names: &["Relu"], parse: |_| Ok(Arc::new(Relu)), each_output: false };
pub const CLIP: OpDecl = OpDecl { names: &["Clip"], parse: parse_clip, each_output: false };
pub const BATCH_NORM: OpDecl = OpDecl { names: &["BatchNormalization"], parse: parse_batch_norm, each_output: false };
pub const ADD: OpDecl = OpDecl { names: &["Add"], parse: |_| Ok(Arc::new(Add)), each_output: false };
pub const SOFTMAX: OpDecl = OpDecl { names: &["Softmax", "LogSoftmax"], parse: parse_softmax, each_output: false };

#[derive(Debug)]
struct Relu;

impl OpVjp for Relu {
    fn needs(&self) -> Needs {
        Needs { output: true, inputs: &[], for_the_other: false }
    }
    fn shortcuts(&self) -> Shortcuts {
        Shortcuts { relu: true, ..Shortcuts::default() }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        self.vjp_owned(step, grad.clone())
    }
    /// The mask is applied in place on the incoming gradient, which the op before (usually a Conv VJP) then reads:
    /// no buffer allocated and no second stream through memory.
    fn vjp_owned(&self, step: &Step, mut grad: Tensor) -> Result<Vec<Option<Tensor>>> {
        // Unless the consumers of the output applied the mask already.
        if !step.masked[step.node.output] {
            relu_with(step.output()?, &mut grad.data, relu_pass);
        }
        Ok(step.first(grad))
    }
}

/// `pass(y, g)` on every element (the rules of src/rules/relu.rs bring their own `pass`): a closure, not a
/// function pointer called per element, so each compiles to a branch-free, vectorized mask (the pointer cost ~10 ms
/// of the ~40 ms wasm backward).
#[inline(always)]
pub(crate) fn relu_with(output: View, grad: &mut [f32], pass: impl Fn(f32, f32) -> f32 + Sync + Send) {
    // Element ranges are independent: split over them (bit-identical at any thread count).
    let per_chunk = threads::units_per_chunk(grad.len(), 1);
    threads::for_each_chunk(grad, per_chunk, |i, chunk| {
        for (g, &y) in chunk.iter_mut().zip(&output.data[i * per_chunk..]) {
            *g = pass(y, *g);
        }
    });
}

#[derive(Debug)]
struct Clip {
    min: f32,
    max: f32,
}

fn parse_clip(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let (mut min, mut max) = (f32::NEG_INFINITY, f32::INFINITY);
    if ctx.opset() < 11 {
        min = ctx.float("min", min)?;
        max = ctx.float("max", max)?;
    } else {
        // Optional inputs may be left out by an empty name, so min and max are found by their position.
        let bound = |pos: usize| -> Result<Option<f32>> {
            Ok(ctx.const_at_position(pos)?.and_then(|t| t.data.first().copied()))
        };
        min = bound(1)?.unwrap_or(min);
        max = bound(2)?.unwrap_or(max);
    }
    Ok(Arc::new(Clip { min, max }))
}

impl OpVjp for Clip {
    fn needs(&self) -> Needs {
        Needs { output: false, inputs: &[0], for_the_other: false }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(clip(step.input(0)?, grad, self.min, self.max)))
    }
}

/// Inference mode: y = x * scale[c] + shift[c], so only the per-channel scale matters backwards.
#[derive(Debug)]
struct BatchNorm {
    scale: Vec<f32>,
}

fn parse_batch_norm(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let (gamma, var) = (ctx.need_const(1)?, ctx.need_const(4)?);
    let eps = ctx.float("epsilon", 1e-5)?;
    let scale = gamma.data.iter().zip(var.data).map(|(g, v)| g / (v + eps).sqrt()).collect();
    Ok(Arc::new(BatchNorm { scale }))
}

impl OpVjp for BatchNorm {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(batch_norm(grad, &self.scale)))
    }
}

/// Numpy-broadcasting addition of two operands.
#[derive(Debug)]
struct Add;

impl OpVjp for Add {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(add(step, grad))
    }
}

/// Softmax over `len` elements `inner` apart, in `rows` independent rows (ONNX's axis rule already applied).
#[derive(Debug)]
struct Softmax {
    rows: usize,
    len: usize,
    inner: usize,
    log: bool,
}

fn parse_softmax(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let s = ctx.input_shape(0);
    let default_axis = if ctx.opset() < 13 { 1 } else { -1 };
    let axis = ctx.axis(ctx.int("axis", default_axis)?, s.len())?;
    let log = ctx.node.op_type == "LogSoftmax";
    Ok(Arc::new(if ctx.opset() < 13 {
        // Before opset 13 the input is coerced to 2-D at `axis`.
        Softmax { rows: s[..axis].iter().product(), len: s[axis..].iter().product(), inner: 1, log }
    } else {
        Softmax { rows: s[..axis].iter().product(), len: s[axis], inner: s[axis + 1..].iter().product(), log }
    }))
}

impl OpVjp for Softmax {
    fn needs(&self) -> Needs {
        Needs { output: true, inputs: &[], for_the_other: false }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(softmax(step.output()?, grad, self.rows, self.len, self.inner, self.log)))
    }
}

/// The gradient passes where the input was strictly inside [min, max] (PyTorch's hardtanh rule).
fn clip(input: View, grad: &Tensor, min: f32, max: f32) -> Tensor {
    let data = input.data.iter().zip(&grad.data).map(|(&x, &g)| if x > min && x < max { g } else { 0.0 }).collect();
    Tensor::new(grad.shape.clone(), data)
}

fn batch_norm(grad: &Tensor, scale: &[f32]) -> Tensor {
    let (channels, plane) = (grad.shape[1], grad.shape[2..].iter().product::<usize>());
    let mut out = grad.clone();
    for (i, chunk) in out.data.chunks_mut(plane).enumerate() {
        let s = scale[i % channels];
        chunk.iter_mut().for_each(|v| *v *= s);
    }
    out
}

/// Sums `grad` over the axes along which `shape` was broadcast up to `grad.shape`.
pub fn unbroadcast(grad: &Tensor, shape: &[usize]) -> Tensor {
    if grad.shape == shape {
        return grad.clone();
    }
    let mut out = Tensor::zeros(shape);
    let mut values = grad.data.iter();
    walk(&grad.shape, &broadcast_strides(shape, &grad.shape), |o| out.data[o] += values.next().expect("same size"));
    out
}

fn add(step: &Step, grad: &Tensor) -> Vec<Option<Tensor>> {
    (0..step.node.inputs.len()).map(|i| step.wants(i).then(|| unbroadcast(grad, step.input_shape(i)))).collect()
}

/// y = softmax(x): dx = y * (g - sum(g * y)); y = log_softmax(x): dx = g - softmax(x) * sum(g).
fn softmax(output: View, grad: &Tensor, rows: usize, len: usize, inner: usize, log: bool) -> Tensor {
    let mut dx = vec![0.0f32; grad.len()];
    for r in 0..rows {
        for j in 0..inner {
            let at = |k: usize| r * len * inner + k * inner + j;
            if log {
                let sum: f64 = (0..len).map(|k| grad.data[at(k)] as f64).sum();
                for k in 0..len {
                    dx[at(k)] = grad.data[at(k)] - (output.data[at(k)].exp() as f64 * sum) as f32;
                }
            } else {
                let dot: f64 = (0..len).map(|k| (grad.data[at(k)] * output.data[at(k)]) as f64).sum();
                for k in 0..len {
                    dx[at(k)] = output.data[at(k)] * (grad.data[at(k)] - dot as f32);
                }
            }
        }
    }
    Tensor::new(grad.shape.clone(), dx)
}
