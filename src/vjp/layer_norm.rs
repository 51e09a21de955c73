//! LayerNormalization (opset 17): y = (x − μ) / √(σ² + ε) · scale + bias, μ and σ² over the axes from `axis` to
//! the last, per row. The VJP goes through the mean and the variance:
//! dx = (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) / √(σ² + ε), with ĝ = g · scale and x̂ the normalised input.
//! μ, σ² and the two means are recomputed from the recorded input in f64 (rows are short: the channels of one
//! token), so the gradient carries no more rounding than PyTorch's own.

use std::sync::Arc;

use super::layout::broadcast_to;
use super::{Needs, OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const LAYER_NORM: OpDecl = OpDecl { names: &["LayerNormalization"], parse: parse_layer_norm, each_output: false };

#[derive(Debug)]
struct LayerNorm {
    /// Elements normalised together (the product of the axes from `axis` on).
    row: usize,
    epsilon: f64,
    /// The scale broadcast to one row.
    scale: Vec<f32>,
}

fn parse_layer_norm(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let shape = ctx.input_shape(0);
    let axis = ctx.axis(ctx.int("axis", -1)?, shape.len())?;
    if ctx.int("stash_type", 1)? != 1 {
        return Err(ctx.err("LayerNormalization with a stash_type other than float32 is not supported"));
    }
    let row_shape = &shape[axis..];
    let scale =
        ctx.need_const(1).map_err(|_| ctx.err("LayerNormalization's scale must be a constant for the reverse pass"))?;
    if scale.shape.len() > row_shape.len()
        || scale.shape.iter().rev().zip(row_shape.iter().rev()).any(|(&s, &r)| s != 1 && s != r)
    {
        return Err(ctx
            .err(format!("scale of shape {:?} does not broadcast to the normalised axes {row_shape:?}", scale.shape)));
    }
    if ctx.num_inputs() > 2 && ctx.need_const(2).is_err() {
        return Err(ctx.err("LayerNormalization's bias must be a constant for the reverse pass"));
    }
    Ok(Arc::new(LayerNorm {
        row: row_shape.iter().product(),
        epsilon: ctx.float("epsilon", 1e-5)? as f64,
        scale: broadcast_to(scale.data, scale.shape, row_shape).into_owned(),
    }))
}

impl OpVjp for LayerNorm {
    fn needs(&self) -> Needs {
        Needs { output: false, inputs: &[0], for_the_other: false }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let x = step.input(0)?;
        let n = self.row;
        let mut dx = vec![0.0f32; grad.len()];
        if n == 0 {
            return Ok(step.first(Tensor::new(grad.shape.clone(), dx)));
        }
        let mut xhat = vec![0.0f64; n];
        for ((x, g), dx) in x.data.chunks(n).zip(grad.data.chunks(n)).zip(dx.chunks_mut(n)) {
            let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
            let inv = 1.0 / (var + self.epsilon).sqrt();
            let (mut mean_g, mut mean_gx) = (0.0f64, 0.0f64);
            for k in 0..n {
                xhat[k] = (x[k] as f64 - mean) * inv;
                let gh = g[k] as f64 * self.scale[k] as f64;
                mean_g += gh;
                mean_gx += gh * xhat[k];
            }
            mean_g /= n as f64;
            mean_gx /= n as f64;
            for k in 0..n {
                let gh = g[k] as f64 * self.scale[k] as f64;
                dx[k] = ((gh - mean_g - xhat[k] * mean_gx) * inv) as f32;
            }
        }
        Ok(step.first(Tensor::new(grad.shape.clone(), dx)))
    }
}
