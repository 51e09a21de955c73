//! Where(condition, X, Y) with a constant condition (a mask computed from shapes, as exports build them):
//! dX = g where the condition holds, dY = g where it does not, each summed back over its broadcast axes.

use std::sync::Arc;

use super::layout::broadcast_to;
use super::pointwise::unbroadcast;
use super::{OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const WHERE: OpDecl = OpDecl { names: &["Where"], parse: parse_where, each_output: false };

#[derive(Debug)]
struct Where {
    /// The condition broadcast to the output's shape.
    condition: Vec<bool>,
}

fn parse_where(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let c = ctx
        .need_const(0)
        .map_err(|_| ctx.err("Where's condition depends on the input; only a constant condition is supported"))?;
    let out = ctx.output_shape();
    Ok(Arc::new(Where { condition: broadcast_to(c.data, c.shape, out).iter().map(|&v| v != 0.0).collect() }))
}

impl OpVjp for Where {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let pick = |i: usize, keep: bool| {
            step.wants(i).then(|| {
                let data =
                    grad.data.iter().zip(&self.condition).map(|(&g, &c)| if c == keep { g } else { 0.0 }).collect();
                unbroadcast(&Tensor::new(grad.shape.clone(), data), step.input_shape(i))
            })
        };
        Ok(vec![None, pick(1, true), pick(2, false)])
    }
}
