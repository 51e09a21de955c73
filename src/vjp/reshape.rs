//! Ops that only move values: Concat, Transpose, Slice, Split, Gather (constant indices), Expand (and
//! Flatten/Reshape/Identity, which need no code of their own).

use std::mem::MaybeUninit;
use std::sync::Arc;

use super::layout::{identity, scatter, strides, walk, AxisMaps};
use super::pointwise::unbroadcast;
use super::{relu_pass, OpDecl, OpVjp, Shortcuts, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;
use crate::threads;

pub const CONCAT: OpDecl = OpDecl { names: &["Concat"], parse: parse_concat, each_output: false };
/// Values unchanged, shape changed (Dropout is the identity at inference).
pub const RESHAPE: OpDecl = OpDecl {
    names: &["Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"],
    parse: |_| Ok(Arc::new(Reshape)),
    each_output: false,
};
pub const TRANSPOSE: OpDecl = OpDecl { names: &["Transpose"], parse: parse_transpose, each_output: false };
pub const SLICE: OpDecl = OpDecl { names: &["Slice"], parse: parse_slice, each_output: false };
/// One node per output in our graph, each a slice of the input.
pub const SPLIT: OpDecl = OpDecl { names: &["Split"], parse: parse_split, each_output: true };
pub const GATHER: OpDecl = OpDecl { names: &["Gather"], parse: parse_gather, each_output: false };
/// Broadcast to a shape: the gradient is summed back like an Add operand's.
/// Cast to float32 is the identity on float32 activations; a cast to anything else carries no gradient.
pub const CAST: OpDecl = OpDecl { names: &["Cast"], parse: parse_cast, each_output: false };
pub const EXPAND: OpDecl = OpDecl { names: &["Expand"], parse: |_| Ok(Arc::new(Expand)), each_output: false };

#[derive(Debug)]
struct Reshape;

impl OpVjp for Reshape {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(grad.clone().reshaped(step.input_shape(0))))
    }
}

#[derive(Debug)]
struct Concat {
    axis: usize,
}

fn parse_concat(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    Ok(Arc::new(Concat { axis: ctx.axis(ctx.int("axis", 0)?, ctx.output_shape().len())? }))
}

impl OpVjp for Concat {
    fn shortcuts(&self) -> Shortcuts {
        Shortcuts { concat_axis: Some(self.axis), masks_relu_inputs: true, ..Shortcuts::default() }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        concat(step, grad, self.axis)
    }
}

/// Splits the gradient along `axis` back into the inputs' slices, masked by the ReLU before an input where it
/// left its mask to this VJP (one pass writes the slice either way).
fn concat(step: &Step, grad: &Tensor, axis: usize) -> Result<Vec<Option<Tensor>>> {
    let outer: usize = grad.shape[..axis].iter().product();
    let inner: usize = grad.shape[axis + 1..].iter().product();
    let total = grad.shape[axis] * inner;
    let mut offset = 0;
    let mut grads = Vec::with_capacity(step.node.inputs.len());
    for i in 0..step.node.inputs.len() {
        let shape = step.input_shape(i);
        let width = shape[axis] * inner;
        let mut slice = None;
        if step.wants(i) {
            let mask = step.relu_mask(i)?;
            let len = outer * width;
            let mut data: Vec<f32> = Vec::with_capacity(len);
            // Rows of the slice are independent: split over them (bit-identical at any thread count). Written
            // uninitialised: zeroing first would be one more pass over the largest gradients.
            let per_chunk = threads::units_per_chunk(len, 1);
            threads::for_each_chunk(&mut data.spare_capacity_mut()[..len], per_chunk, |c, mut dst| {
                // Element e of the slice is element e % width of row e / width: copy row piece by row piece.
                let mut e = c * per_chunk;
                while !dst.is_empty() {
                    let (row, col) = (e / width, e % width);
                    let (piece, rest) = dst.split_at_mut((width - col).min(dst.len()));
                    let src = &grad.data[row * total + offset + col..][..piece.len()];
                    match &mask {
                        None => piece.iter_mut().zip(src).for_each(|(d, &g)| *d = MaybeUninit::new(g)),
                        Some(y) => {
                            for ((d, &g), &y) in piece.iter_mut().zip(src).zip(&y.data[e..]) {
                                *d = MaybeUninit::new(relu_pass(y, g));
                            }
                        }
                    }
                    e += piece.len();
                    dst = rest;
                }
            });
            // SAFETY: the chunks cover the first `len` elements, and each chunk wrote all of its own.
            unsafe { data.set_len(len) };
            slice = Some(Tensor::new(shape.to_vec(), data));
        }
        offset += width;
        grads.push(slice);
    }
    Ok(grads)
}

/// Output index o along axis a copies input index maps[a][o] (Slice, Split, Pad).
#[derive(Debug)]
pub(super) struct Select {
    pub maps: AxisMaps,
}

impl OpVjp for Select {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(scatter(grad, step.input_shape(0), &self.maps)))
    }
}

fn parse_slice(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let shape = ctx.input_shape(0);
    let out = ctx.output_shape();
    let ints = |pos: usize, attr: &str| -> Result<Option<Vec<i64>>> {
        if ctx.opset() < 10 {
            ctx.ints(attr)
        } else {
            Ok(ctx.const_at_position(pos)?.map(|t| t.data.iter().map(|&v| v as i64).collect()))
        }
    };
    let starts = ints(1, "starts")?.ok_or_else(|| ctx.err("Slice without starts"))?;
    let axes = ints(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = if ctx.opset() < 10 { None } else { ints(4, "steps")? }.unwrap_or_else(|| vec![1; starts.len()]);
    if axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(ctx.err("Slice's starts, axes and steps differ in length"));
    }
    let mut maps: AxisMaps = out.iter().map(|&n| identity(n)).collect();
    for ((&start, &axis), &step) in starts.iter().zip(&axes).zip(&steps) {
        let a = ctx.axis(axis, shape.len())?;
        let dim = shape[a] as i64;
        if step == 0 {
            return Err(ctx.err("Slice step 0"));
        }
        // ONNX's rule: negative starts count from the end, then clamp ([0, dim] forwards, [0, dim − 1] backwards).
        let start = if start < 0 { start.saturating_add(dim) } else { start };
        let start = if step > 0 { start.clamp(0, dim) } else { start.clamp(0, dim - 1) };
        maps[a] = (0..out[a] as i64)
            .map(|k| {
                let i = start + k * step;
                if (0..dim).contains(&i) {
                    Ok(Some(i as usize))
                } else {
                    Err(ctx.err(format!("Slice reads index {i} of an axis of {dim}")))
                }
            })
            .collect::<Result<_>>()?;
    }
    Ok(Arc::new(Select { maps }))
}

/// Output k of a Split starts where outputs 0..k end along the axis (their sizes are tract's).
fn parse_split(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let shape = ctx.input_shape(0);
    let a = ctx.axis(ctx.int("axis", 0)?, shape.len())?;
    let offset: usize = (0..ctx.output_index()).map(|k| ctx.output_shape_of(k)[a]).sum();
    let out = ctx.output_shape();
    if offset + out[a] > shape[a] {
        return Err(ctx.err("Split outputs are larger than the input"));
    }
    let mut maps: AxisMaps = out.iter().map(|&n| identity(n)).collect();
    maps[a] = (offset..offset + out[a]).map(Some).collect();
    Ok(Arc::new(Select { maps }))
}

/// Output axes are the input's permuted: out axis a is input axis perm[a].
#[derive(Debug)]
struct Transpose {
    perm: Vec<usize>,
}

fn parse_transpose(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let rank = ctx.input_shape(0).len();
    let perm = match ctx.ints("perm")? {
        Some(p) => p.iter().map(|&a| ctx.axis(a, rank)).collect::<Result<Vec<_>>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = perm.clone();
    seen.sort_unstable();
    if seen != (0..rank).collect::<Vec<_>>() {
        return Err(ctx.err(format!("perm {perm:?} is not a permutation of {rank} axes")));
    }
    Ok(Arc::new(Transpose { perm }))
}

impl OpVjp for Transpose {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let shape = step.input_shape(0);
        let in_strides = strides(shape);
        let moved: Vec<usize> = self.perm.iter().map(|&p| in_strides[p]).collect();
        let mut dx = Tensor::zeros(shape);
        let mut g = grad.data.iter();
        walk(&grad.shape, &moved, |o| dx.data[o] = *g.next().expect("same size"));
        Ok(step.first(dx))
    }
}

/// out[o, j, i] = data[o, indices[j], i] with the indices (any shape, flattened here) a constant.
#[derive(Debug)]
struct Gather {
    outer: usize,
    inner: usize,
    indices: Vec<usize>,
}

fn parse_gather(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let shape = ctx.input_shape(0);
    let a = ctx.axis(ctx.int("axis", 0)?, shape.len())?;
    let idx = ctx.need_const(1).map_err(|_| ctx.err("Gather's indices must be a constant for the reverse pass"))?;
    let dim = shape[a] as i64;
    let indices = idx
        .data
        .iter()
        .map(|&v| {
            let i = v as i64;
            let i = if i < 0 { i + dim } else { i };
            if (0..dim).contains(&i) {
                Ok(i as usize)
            } else {
                Err(ctx.err(format!("index {v} out of range for an axis of {dim}")))
            }
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(Gather { outer: shape[..a].iter().product(), inner: shape[a + 1..].iter().product(), indices }))
}

impl OpVjp for Gather {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let shape = step.input_shape(0);
        let mut dx = Tensor::zeros(shape);
        let (n, inner) = (self.indices.len(), self.inner);
        let dim = dx.data.len() / (self.outer * inner).max(1);
        for o in 0..self.outer {
            for (j, &i) in self.indices.iter().enumerate() {
                let src = &grad.data[(o * n + j) * inner..][..inner];
                let dst = &mut dx.data[(o * dim + i) * inner..][..inner];
                dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
            }
        }
        Ok(step.first(dx))
    }
}

#[derive(Debug)]
struct Expand;

impl OpVjp for Expand {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(unbroadcast(grad, step.input_shape(0))))
    }
}

fn parse_cast(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    const FLOAT: i64 = 1;
    if ctx.int("to", 0)? != FLOAT {
        return Err(ctx.err("a Cast of an activation to anything but float32 has no gradient"));
    }
    Ok(Arc::new(Reshape))
}
