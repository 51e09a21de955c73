//! ReduceSum and ReduceMean: the gradient of each output element spreads evenly over the elements it summed.
//! ReduceL2 (F.normalize in SwinV2's cosine attention): y = √Σx², dx = g · x / y (0 where y = 0).

use std::sync::Arc;

use super::layout::broadcast_to;
use super::{Needs, OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const REDUCE: OpDecl = OpDecl { names: &["ReduceSum", "ReduceMean"], parse: parse_reduce, each_output: false };
pub const REDUCE_L2: OpDecl = OpDecl { names: &["ReduceL2"], parse: parse_reduce_l2, each_output: false };

#[derive(Debug)]
struct Reduce {
    /// The output's shape with the reduced axes kept as 1 (keepdims).
    kept: Vec<usize>,
    /// 1 for a sum, 1/count for a mean.
    scale: f32,
}

fn parse_reduce(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let mean = ctx.node.op_type == "ReduceMean";
    let (kept, count) = kept_shape(ctx)?;
    Ok(Arc::new(Reduce { kept, scale: if mean { 1.0 / count.max(1) as f32 } else { 1.0 } }))
}

/// The output's shape with the reduced axes kept as 1, and how many elements each output element reduces.
fn kept_shape(ctx: &ParseCtx) -> Result<(Vec<usize>, usize)> {
    let shape = ctx.input_shape(0);
    // Axes became an input in opset 13 for ReduceSum, 18 for the others.
    let axes_input = ctx.opset() >= if ctx.node.op_type == "ReduceSum" { 13 } else { 18 };
    let axes: Vec<i64> = if axes_input {
        ctx.const_at_position(1)?.map(|t| t.data.iter().map(|&v| v as i64).collect()).unwrap_or_default()
    } else {
        ctx.ints("axes")?.unwrap_or_default()
    };
    let mut kept = shape.to_vec();
    if axes.is_empty() {
        if ctx.int("noop_with_empty_axes", 0)? != 0 {
            return Ok((kept, 1));
        }
        kept.iter_mut().for_each(|d| *d = 1);
    }
    for &a in &axes {
        kept[ctx.axis(a, shape.len())?] = 1;
    }
    let count = shape.iter().product::<usize>() / kept.iter().product::<usize>().max(1);
    Ok((kept, count))
}

impl OpVjp for Reduce {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let shape = step.input_shape(0);
        let spread = broadcast_to(&grad.data, &self.kept, shape);
        let data = spread.iter().map(|g| g * self.scale).collect();
        Ok(step.first(Tensor::new(shape.to_vec(), data)))
    }
}

#[derive(Debug)]
struct ReduceL2 {
    kept: Vec<usize>,
}

fn parse_reduce_l2(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    Ok(Arc::new(ReduceL2 { kept: kept_shape(ctx)?.0 }))
}

impl OpVjp for ReduceL2 {
    fn needs(&self) -> Needs {
        Needs { output: true, inputs: &[0], for_the_other: false }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let shape = step.input_shape(0);
        let x = step.input(0)?;
        let y = step.output()?;
        let g = broadcast_to(&grad.data, &self.kept, shape);
        let y = broadcast_to(y.data, &self.kept, shape);
        let data = x
            .data
            .iter()
            .zip(g.iter())
            .zip(y.iter())
            .map(|((&x, &g), &y)| if y > 0.0 { g * x / y } else { 0.0 })
            .collect();
        Ok(step.first(Tensor::new(shape.to_vec(), data)))
    }
}
