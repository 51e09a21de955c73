//! Einsum with one or two operands (MaxViT's attention exports `bghid,bghjd->bghij` and `bghij,bghjd->bghid`).
//! The VJP of an operand is itself an einsum: dXᵢ[labels of Xᵢ] = Σ over the other labels of G[output labels] ·
//! Xⱼ[labels of Xⱼ] (j ≠ i), a label of Xᵢ that is in neither G nor Xⱼ being one Xᵢ was summed over (its gradient
//! is G broadcast along it). One general contraction evaluates them, accumulating in f64.

use std::sync::Arc;

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

    /// out[out_labels] = Σ over every other label of Π terms[labels], accumulated in f64.
    fn contract(&self, terms: &[(&[f32], &[char])], out_labels: &[char]) -> Vec<f32> {
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
        Needs { output: false, inputs: if self.operands.len() == 2 { &[0, 1] } else { &[] } }
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
