//! Local response normalisation across channels (AlexNet, GoogLeNet):
//! y_c = x_c · d_c^−β with d_c = bias + α/size · Σ_{c' ∈ window(c)} x_c'².

use std::sync::Arc;

use super::{Needs, OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const LRN: OpDecl = OpDecl { names: &["LRN"], parse: parse_lrn, each_output: false };

#[derive(Debug)]
struct Lrn {
    size: usize,
    alpha: f32,
    beta: f32,
    bias: f32,
}

fn parse_lrn(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let size = ctx.int("size", 0)?;
    if size < 1 {
        return Err(ctx.err("LRN needs a positive 'size'"));
    }
    if ctx.input_shape(0).len() < 2 {
        return Err(ctx.err("LRN needs an N, C, ... input"));
    }
    Ok(Arc::new(Lrn {
        size: size as usize,
        alpha: ctx.float("alpha", 1e-4)?,
        beta: ctx.float("beta", 0.75)?,
        bias: ctx.float("bias", 1.0)?,
    }))
}

impl OpVjp for Lrn {
    fn needs(&self) -> Needs {
        Needs { output: false, inputs: &[0], for_the_other: false }
    }
    /// dx_i = g_i·d_i^−β − 2αβ/size · x_i · Σ_{c: i ∈ window(c)} g_c·x_c·d_c^(−β−1).
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let x = step.input(0)?;
        let (n, c) = (x.shape[0], x.shape[1]);
        let plane: usize = x.shape[2..].iter().product();
        // window(c) = [c − lo, c + hi]; so i ∈ window(c) ⟺ c ∈ [i − hi, i + lo].
        let (lo, hi) = ((self.size - 1) / 2, self.size / 2);
        let k = self.alpha / self.size as f32;
        let mut dx = vec![0.0f32; x.data.len()];
        let (mut d, mut t) = (vec![0.0f32; c], vec![0.0f32; c]);
        for b in 0..n {
            for p in 0..plane {
                let at = |ch: usize| (b * c + ch) * plane + p;
                for ch in 0..c {
                    let window = ch.saturating_sub(lo)..(ch + hi + 1).min(c);
                    let sum: f32 = window.map(|j| x.data[at(j)] * x.data[at(j)]).sum();
                    d[ch] = self.bias + k * sum;
                    t[ch] = grad.data[at(ch)] * x.data[at(ch)] * d[ch].powf(-self.beta - 1.0);
                }
                for (i, &di) in d.iter().enumerate() {
                    let around: f32 = t[i.saturating_sub(hi)..(i + lo + 1).min(c)].iter().sum();
                    dx[at(i)] = grad.data[at(i)] * di.powf(-self.beta) - 2.0 * k * self.beta * x.data[at(i)] * around;
                }
            }
        }
        Ok(step.first(Tensor::new(grad.shape.clone(), dx)))
    }
}
