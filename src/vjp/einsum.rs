//! Einsum with one or two operands (MaxViT's attention exports `bghid,bghjd->bghij` and `bghij,bghjd->bghid`).
//! The VJP of an operand is itself an einsum: dXᵢ[labels of Xᵢ] = Σ over the other labels of G[output labels] ·
//! Xⱼ[labels of Xⱼ] (j ≠ i), a label of Xᵢ that is in neither G nor Xⱼ being one Xᵢ was summed over (its gradient
//! is G broadcast along it). Two-operand contractions run as one GEMM per batch element (operands permuted to
//! [batch, m, k] and [batch, k, n]); any other form through one general loop accumulating in f64.

use std::sync::Arc;

use super::gemm::gemm;
use super::layout::walk;
use super::{Needs, OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const EINSUM: OpDecl = OpDecl { names: &["Einsum"], parse: parse_einsum, each_output: false };

#[derive(Debug)]
struct Einsum {
    /// Each operand's labels, one per axis.
    operands: Vec<Vec<char>>,
    output: Vec<char>,
    /// Every label with its size.
    sizes: Vec<(char, usize)>,
}

/// Parses `equation` for operands of `shapes`: explicit (`ij,jk->ik`) or implicit (`ij,jk`: the labels seen once,
/// in alphabetical order). Spaces are ignored (PyTorch keeps them, `B G H I D, ...`).
fn parse_equation(equation: &str, shapes: &[&[usize]]) -> std::result::Result<Einsum, String> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    if eq.contains('.') {
        return Err(format!("Einsum '{equation}': ellipsis ('...') is not supported"));
    }
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let operands: Vec<Vec<char>> = lhs.split(',').map(|t| t.chars().collect()).collect();
    if operands.len() != shapes.len() {
        return Err(format!("Einsum '{equation}' names {} operands, the node has {}", operands.len(), shapes.len()));
    }
    if operands.len() > 2 {
        return Err(format!("Einsum '{equation}': more than two operands are not supported"));
    }
    let mut sizes: Vec<(char, usize)> = vec![];
    for (labels, shape) in operands.iter().zip(shapes) {
        if labels.len() != shape.len() {
            return Err(format!(
                "Einsum '{equation}': '{}' for an operand of shape {shape:?}",
                String::from_iter(labels)
            ));
        }
        for (i, (&c, &d)) in labels.iter().zip(shape.iter()).enumerate() {
            if !c.is_ascii_alphabetic() {
                return Err(format!("Einsum '{equation}': '{c}' is not a label"));
            }
            if labels[..i].contains(&c) {
                return Err(format!(
                    "Einsum '{equation}': a label repeated in one operand (a diagonal) is not supported"
                ));
            }
            match sizes.iter().find(|(l, _)| *l == c) {
                Some(&(_, s)) if s != d => return Err(format!("Einsum '{equation}': '{c}' is both {s} and {d} long")),
                Some(_) => {}
                None => sizes.push((c, d)),
            }
        }
    }
    let output: Vec<char> = match rhs {
        Some(r) => r.chars().collect(),
        None => {
            let mut once: Vec<char> = sizes
                .iter()
                .map(|&(c, _)| c)
                .filter(|c| operands.iter().flatten().filter(|l| *l == c).count() == 1)
                .collect();
            once.sort_unstable();
            once
        }
    };
    for (i, c) in output.iter().enumerate() {
        if !sizes.iter().any(|(l, _)| l == c) || output[..i].contains(c) {
            return Err(format!("Einsum '{equation}': output label '{c}' is unknown or repeated"));
        }
    }
    Ok(Einsum { operands, output, sizes })
}

fn parse_einsum(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let equation = ctx.string("equation")?.ok_or_else(|| ctx.err("Einsum without an equation"))?;
    let shapes: Vec<&[usize]> = (0..ctx.num_inputs()).map(|i| ctx.input_shape(i)).collect();
    Ok(Arc::new(parse_equation(&equation, &shapes).map_err(|e| ctx.err(e))?))
}

impl Einsum {
    fn size(&self, c: char) -> usize {
        self.sizes.iter().find(|(l, _)| *l == c).map_or(1, |&(_, s)| s)
    }

    /// Row-major strides of a tensor laid out by `layout`, read along `order` (0 for labels it does not have).
    fn strides_along(&self, layout: &[char], order: &[char]) -> Vec<usize> {
        order
            .iter()
            .map(|c| match layout.iter().position(|l| l == c) {
                Some(a) => layout[a + 1..].iter().map(|&l| self.size(l)).product(),
                None => 0,
            })
            .collect()
    }

    /// `data` (laid out by `layout`) permuted to the label order `order`.
    fn permuted(&self, data: &[f32], layout: &[char], order: &[char]) -> Vec<f32> {
        let dims: Vec<usize> = order.iter().map(|&c| self.size(c)).collect();
        let mut out = Vec::with_capacity(dims.iter().product());
        walk(&dims, &self.strides_along(layout, order), |o| out.push(data[o]));
        out
    }

    /// Σ_k A[b, m, k] · B[b, k, n] laid out as `out_labels`, when two terms have that form: every label of each
    /// term is in the other term or the output, and every output label in a term. None otherwise.
    fn contract_gemm(&self, (a, la): (&[f32], &[char]), (b, lb): (&[f32], &[char]), t: &[char]) -> Option<Vec<f32>> {
        let pick = |from: &[char], f: &dyn Fn(char) -> bool| from.iter().copied().filter(|&c| f(c)).collect::<Vec<_>>();
        let batch = pick(t, &|c| la.contains(&c) && lb.contains(&c));
        let m = pick(t, &|c| la.contains(&c) && !lb.contains(&c));
        let n = pick(t, &|c| lb.contains(&c) && !la.contains(&c));
        let k = pick(la, &|c| lb.contains(&c) && !t.contains(&c));
        if la.len() != batch.len() + m.len() + k.len()
            || lb.len() != batch.len() + n.len() + k.len()
            || t.len() != batch.len() + m.len() + n.len()
        {
            return None;
        }
        let size = |ls: &[char]| ls.iter().map(|&c| self.size(c)).product::<usize>();
        let (nb, nm, nn, nk) = (size(&batch), size(&m), size(&n), size(&k));
        let pa = self.permuted(a, la, &[&batch[..], &m, &k].concat());
        let pb = self.permuted(b, lb, &[&batch[..], &k, &n].concat());
        let mut c = vec![0.0f32; nb * nm * nn];
        for i in 0..nb {
            let (ai, bi) = (&pa[i * nm * nk..(i + 1) * nm * nk], &pb[i * nk * nn..(i + 1) * nk * nn]);
            gemm(nm, nk, nn, ai, (nk, 1), bi, (nn, 1), &mut c[i * nm * nn..(i + 1) * nm * nn], 1.0);
        }
        // C is laid out [batch, m, n]: back to the output's order.
        Some(self.permuted(&c, &[&batch[..], &m, &n].concat(), t))
    }

    /// out[out_labels] = Σ over every other label of Π terms[labels], accumulated in f64.
    fn contract(&self, terms: &[(&[f32], &[char])], out_labels: &[char]) -> Vec<f32> {
        if let [a, b] = terms {
            if let Some(out) = self.contract_gemm(*a, *b, out_labels) {
                return out;
            }
        }
        let summed: Vec<char> = self.sizes.iter().map(|&(c, _)| c).filter(|c| !out_labels.contains(c)).collect();
        let dims = |labels: &[char]| labels.iter().map(|&c| self.size(c)).collect::<Vec<_>>();
        let (out_dims, sum_dims) = (dims(out_labels), dims(&summed));
        // A term's stride along each label of `over` (0 where the term does not have it).
        let strides_over = |labels: &[char], over: &[char]| -> Vec<usize> {
            over.iter()
                .map(|c| match labels.iter().position(|l| l == c) {
                    Some(a) => labels[a + 1..].iter().map(|&l| self.size(l)).product(),
                    None => 0,
                })
                .collect()
        };
        let offsets = |labels: &[char], over: &[char], over_dims: &[usize]| {
            let mut v = vec![];
            walk(over_dims, &strides_over(labels, over), |o| v.push(o));
            if over.is_empty() {
                v = vec![0];
            }
            v
        };
        let bases: Vec<Vec<usize>> = terms.iter().map(|(_, l)| offsets(l, out_labels, &out_dims)).collect();
        let inner: Vec<Vec<usize>> = terms.iter().map(|(_, l)| offsets(l, &summed, &sum_dims)).collect();
        let n_out: usize = out_dims.iter().product();
        (0..n_out)
            .map(|o| {
                let mut acc = 0.0f64;
                for s in 0..inner[0].len() {
                    let mut p = 1.0f64;
                    for (t, (data, _)) in terms.iter().enumerate() {
                        p *= data[bases[t][o] + inner[t][s]] as f64;
                    }
                    acc += p;
                }
                acc as f32
            })
            .collect()
    }
}

impl OpVjp for Einsum {
    fn needs(&self) -> Needs {
        // Each operand's gradient reads the other one.
        let two = self.operands.len() == 2;
        Needs { output: false, inputs: if two { &[0, 1] } else { &[] }, for_the_other: two }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let mut out = vec![None; self.operands.len()];
        for (i, slot) in out.iter_mut().enumerate() {
            if !step.wants(i) {
                continue;
            }
            let mut terms: Vec<(&[f32], &[char])> = vec![(&grad.data, &self.output)];
            let other;
            if self.operands.len() == 2 {
                other = step.input(1 - i)?;
                terms.push((other.data, &self.operands[1 - i]));
            }
            let data = self.contract(&terms, &self.operands[i]);
            *slot = Some(Tensor::new(step.input_shape(i).to_vec(), data));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equations_parse_as_pytorch_writes_them() {
        let e = parse_equation("B G H I D, B G H J D -> B G H I J", &[&[1, 2, 3, 4, 5], &[1, 2, 3, 6, 5]]).unwrap();
        assert_eq!(e.output, vec!['B', 'G', 'H', 'I', 'J']);
        let implicit = parse_equation("ij,jk", &[&[2, 3], &[3, 4]]).unwrap();
        assert_eq!(implicit.output, vec!['i', 'k']);
        assert!(parse_equation("ii->i", &[&[2, 2]]).unwrap_err().contains("diagonal"));
        assert!(parse_equation("...i,i", &[&[2, 2], &[2]]).unwrap_err().contains("ellipsis"));
        assert!(parse_equation("ij,jk->ik", &[&[2, 3], &[4, 4]]).unwrap_err().contains("both"));
    }
}
