//! MatMul in its general numpy form: A [..., M, K] · B [..., K, N] with the batch axes broadcast, either
//! operand (or both: attention's Q·Kᵀ and A·V) depending on the input, 1-D operands promoted as numpy does.
//! dA = G · Bᵀ and dB = Aᵀ · G per batch element, summed back over the batch axes an operand was broadcast along.
//! The plain Linear layer (a constant 2-D B) keeps its one-GEMM path in linear.rs.

use std::sync::Arc;

use super::gemm::gemm;
use super::layout::{broadcast_strides, walk};
use super::pointwise::unbroadcast;
use super::{Needs, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

#[derive(Debug)]
struct BatchedMatMul {
    m: usize,
    k: usize,
    n: usize,
    /// The broadcast batch shape of the output.
    batch: Vec<usize>,
    /// Each operand's shape with 1-D promoted to a matrix ([1, K] for A, [K, 1] for B).
    a: Vec<usize>,
    b: Vec<usize>,
}

/// numpy's broadcast of two shapes, None where they do not broadcast.
fn broadcast(x: &[usize], y: &[usize]) -> Option<Vec<usize>> {
    let r = x.len().max(y.len());
    let at = |s: &[usize], a: usize| if a + s.len() < r { 1 } else { s[a + s.len() - r] };
    (0..r)
        .map(|a| match (at(x, a), at(y, a)) {
            (p, q) if p == q || q == 1 => Some(p),
            (1, q) => Some(q),
            _ => None,
        })
        .collect()
}

/// The general MatMul (anything but an activation times a constant 2-D matrix).
pub(super) fn parse_batched(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let (sa, sb) = (ctx.input_shape(0), ctx.input_shape(1));
    if sa.is_empty() || sb.is_empty() {
        return Err(ctx.err("MatMul of a scalar"));
    }
    let a = if sa.len() == 1 { vec![1, sa[0]] } else { sa.to_vec() };
    let b = if sb.len() == 1 { vec![sb[0], 1] } else { sb.to_vec() };
    let (m, k, n) = (a[a.len() - 2], a[a.len() - 1], b[b.len() - 1]);
    if b[b.len() - 2] != k {
        return Err(ctx.err(format!("MatMul of {sa:?} and {sb:?}: inner dimensions differ")));
    }
    let batch = broadcast(&a[..a.len() - 2], &b[..b.len() - 2])
        .ok_or_else(|| ctx.err(format!("MatMul of {sa:?} and {sb:?}: batch dimensions do not broadcast")))?;
    Ok(Arc::new(BatchedMatMul { m, k, n, batch, a, b }))
}

impl OpVjp for BatchedMatMul {
    fn needs(&self) -> Needs {
        Needs { output: false, inputs: &[0, 1], for_the_other: true }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (m, k, n) = (self.m, self.k, self.n);
        let count: usize = self.batch.iter().product();
        // Where each batch element of A and B starts (0 strides along broadcast axes).
        let offsets = |shape: &[usize]| -> Vec<usize> {
            let own = &shape[..shape.len() - 2];
            let per = shape[shape.len() - 2] * shape[shape.len() - 1];
            let s = broadcast_strides(own, &self.batch);
            let mut offs = Vec::with_capacity(count);
            walk(&self.batch, &s, |o| offs.push(o * per));
            offs
        };
        let full = |rows: usize, cols: usize| [self.batch.clone(), vec![rows, cols]].concat();
        let mut out: Vec<Option<Tensor>> = vec![None, None];
        if step.wants(0) {
            // dA_i = G_i · B_iᵀ  (M×K), B_i stored K×N.
            let b = step.input(1)?;
            let mut da = vec![0.0f32; count * m * k];
            for (i, &bo) in offsets(&self.b).iter().enumerate() {
                let g = &grad.data[i * m * n..(i + 1) * m * n];
                gemm(m, n, k, g, (n, 1), &b.data[bo..bo + k * n], (1, n), &mut da[i * m * k..(i + 1) * m * k], 1.0);
            }
            let da = unbroadcast(&Tensor::new(full(m, k), da), &self.a);
            out[0] = Some(da.reshaped(step.input_shape(0)));
        }
        if step.wants(1) {
            // dB_i = A_iᵀ · G_i  (K×N), A_i stored M×K.
            let a = step.input(0)?;
            let mut db = vec![0.0f32; count * k * n];
            for (i, &ao) in offsets(&self.a).iter().enumerate() {
                let g = &grad.data[i * m * n..(i + 1) * m * n];
                gemm(k, m, n, &a.data[ao..ao + m * k], (1, k), g, (n, 1), &mut db[i * k * n..(i + 1) * k * n], 1.0);
            }
            let db = unbroadcast(&Tensor::new(full(k, n), db), &self.b);
            out[1] = Some(db.reshaped(step.input_shape(1)));
        }
        Ok(out)
    }
}
