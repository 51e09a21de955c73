//! Gemm and MatMul: Y = alpha·A'·B' + beta·C with A' = A or Aᵀ, B' = B or Bᵀ.

use std::sync::Arc;

use super::gemm::gemm as sgemm;
use super::pointwise::unbroadcast;
use super::{Needs, OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const GEMM: OpDecl = OpDecl { names: &["Gemm"], parse: parse_gemm, each_output: false };
pub const MATMUL: OpDecl = OpDecl { names: &["MatMul"], parse: parse_matmul, each_output: false };

#[derive(Debug)]
struct Gemm {
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
}

fn parse_gemm(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    Ok(Arc::new(Gemm {
        alpha: ctx.float("alpha", 1.0)?,
        beta: ctx.float("beta", 1.0)?,
        trans_a: ctx.int("transA", 0)? != 0,
        trans_b: ctx.int("transB", 0)? != 0,
    }))
}

/// A [..., M, K] · B [K, N] with B constant: the leading axes of A fold into its rows (a Linear layer on an N-D
/// activation, as ConvNeXt and transformers export it), one GEMM. Any other MatMul (two activations, batch axes
/// on B) is the general batched one of matmul.rs.
fn parse_matmul(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    if ctx.input_shape(0).len() < 2 || ctx.input_shape(1).len() != 2 || ctx.need_const(1).is_err() {
        return super::matmul::parse_batched(ctx);
    }
    Ok(Arc::new(Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: false }))
}

impl OpVjp for Gemm {
    fn needs(&self) -> Needs {
        Needs { output: false, inputs: &[0, 1], for_the_other: true }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        gemm(step, grad, self.alpha, self.beta, self.trans_a, self.trans_b)
    }
}

/// (row stride, column stride) of the logical matrix X' where X is stored [rows, cols] row-major.
fn strides(cols: usize, transposed: bool) -> (usize, usize) {
    if transposed {
        (1, cols)
    } else {
        (cols, 1)
    }
}

fn gemm(
    step: &Step,
    grad: &Tensor,
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
) -> Result<Vec<Option<Tensor>>> {
    // MatMul's N-D A: its leading axes are rows (the stored shape is restored on the way out).
    let a_stored = step.input_shape(0);
    let rows = |shape: &[usize]| shape[..shape.len() - 1].iter().product::<usize>();
    let (m, n) = (rows(&grad.shape), grad.shape[grad.shape.len() - 1]);
    let a_shape =
        if a_stored.len() == 2 { a_stored.to_vec() } else { vec![rows(a_stored), a_stored[a_stored.len() - 1]] };
    let b_shape = step.input_shape(1).to_vec();
    let k = if trans_a { a_shape[0] } else { a_shape[1] };
    let mut out: Vec<Option<Tensor>> = vec![None; step.node.inputs.len()];
    if step.wants(0) {
        // dA' = alpha · G · B'ᵀ  (m×k); stored back as A (transposed again when trans_a).
        let b = step.input(1)?;
        let (rs, cs) = strides(b_shape[1], trans_b);
        let mut da = vec![0.0f32; m * k];
        sgemm(m, n, k, &grad.data, (n, 1), b.data, (cs, rs), &mut da, alpha);
        out[0] = Some(Tensor::new(a_stored.to_vec(), if trans_a { transpose(&da, m, k) } else { da }));
    }
    if step.wants(1) {
        // dB' = alpha · A'ᵀ · G  (k×n).
        let a = step.input(0)?;
        let (rs, cs) = strides(a_shape[1], trans_a);
        let mut db = vec![0.0f32; k * n];
        sgemm(k, m, n, a.data, (cs, rs), &grad.data, (n, 1), &mut db, alpha);
        out[1] = Some(Tensor::new(b_shape.clone(), if trans_b { transpose(&db, k, n) } else { db }));
    }
    if step.node.inputs.len() > 2 && step.wants(2) {
        let mut dc = unbroadcast(grad, step.input_shape(2));
        dc.data.iter_mut().for_each(|v| *v *= beta);
        out[2] = Some(dc);
    }
    Ok(out)
}

fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = x[r * cols + c];
        }
    }
    t
}
