//! ReduceSum and ReduceMean: the gradient of each output element spreads evenly over the elements it summed.

use std::sync::Arc;

use super::layout::broadcast_to;
use super::{OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const REDUCE: OpDecl = OpDecl { names: &["ReduceSum", "ReduceMean"], parse: parse_reduce, each_output: false };

#[derive(Debug)]
struct Reduce {
    /// The output's shape with the reduced axes kept as 1 (keepdims).
    kept: Vec<usize>,
    /// 1 for a sum, 1/count for a mean.
    scale: f32,
}

fn parse_reduce(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let shape = ctx.input_shape(0);
    let mean = ctx.node.op_type == "ReduceMean";
    // Axes became an input in opset 13 for ReduceSum, 18 for ReduceMean.
    let axes_input = ctx.opset() >= if mean { 18 } else { 13 };
    let axes: Vec<i64> = if axes_input {
        ctx.const_at_position(1)?.map(|t| t.data.iter().map(|&v| v as i64).collect()).unwrap_or_default()
    } else {
        ctx.ints("axes")?.unwrap_or_default()
    };
    let mut kept = shape.to_vec();
    if axes.is_empty() {
        if ctx.int("noop_with_empty_axes", 0)? != 0 {
            return Ok(Arc::new(Reduce { kept, scale: 1.0 }));
        }
        kept.iter_mut().for_each(|d| *d = 1);
    }
    for &a in &axes {
        kept[ctx.axis(a, shape.len())?] = 1;
    }
    let count = shape.iter().product::<usize>() / kept.iter().product::<usize>().max(1);
    Ok(Arc::new(Reduce { kept, scale: if mean { 1.0 / count.max(1) as f32 } else { 1.0 } }))
}

impl OpVjp for Reduce {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let shape = step.input_shape(0);
        let spread = broadcast_to(&grad.data, &self.kept, shape);
        let data = spread.iter().map(|g| g * self.scale).collect();
        Ok(step.first(Tensor::new(shape.to_vec(), data)))
    }
}
