//! Ops that only move values: Concat (and Flatten/Reshape/Identity, which need no code of their own).

use std::sync::Arc;

use super::{OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const CONCAT: OpDecl = OpDecl { names: &["Concat"], parse: parse_concat };
/// Values unchanged, shape changed (Dropout is the identity at inference).
pub const RESHAPE: OpDecl = OpDecl {
    names: &["Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"],
    parse: |_| Ok(Arc::new(Reshape)),
};

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
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(concat(step, grad, self.axis))
    }
    fn concat_axis(&self) -> Option<usize> {
        Some(self.axis)
    }
}

/// Splits the gradient along `axis` back into the inputs' slices.
fn concat(step: &Step, grad: &Tensor, axis: usize) -> Vec<Option<Tensor>> {
    let outer: usize = grad.shape[..axis].iter().product();
    let inner: usize = grad.shape[axis + 1..].iter().product();
    let total = grad.shape[axis] * inner;
    let mut offset = 0;
    (0..step.node.inputs.len())
        .map(|i| {
            let shape = step.input_shape(i);
            let width = shape[axis] * inner;
            let slice = step.wants(i).then(|| {
                let mut data = Vec::with_capacity(outer * width);
                for o in 0..outer {
                    let start = o * total + offset;
                    data.extend_from_slice(&grad.data[start..start + width]);
                }
                Tensor::new(shape.to_vec(), data)
            });
            offset += width;
            slice
        })
        .collect()
}
