//! Two-operand element-wise ops with numpy broadcasting: Sub, Mul, Div (either operand may depend on the input),
//! and Pow with a constant exponent. Each operand's gradient is summed back over the axes it was broadcast along.

use std::sync::Arc;

use super::layout::broadcast_to;
use super::pointwise::unbroadcast;
use super::{Needs, OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const SUB: OpDecl = OpDecl { names: &["Sub"], parse: |_| Ok(Arc::new(Binary::Sub)), each_output: false };
pub const MUL: OpDecl = OpDecl { names: &["Mul"], parse: |_| Ok(Arc::new(Binary::Mul)), each_output: false };
pub const DIV: OpDecl = OpDecl { names: &["Div"], parse: |_| Ok(Arc::new(Binary::Div)), each_output: false };
pub const POW: OpDecl = OpDecl { names: &["Pow"], parse: parse_pow, each_output: false };

#[derive(Debug)]
enum Binary {
    Sub,
    Mul,
    Div,
}

impl OpVjp for Binary {
    fn needs(&self) -> Needs {
        match self {
            Binary::Sub => Needs::default(),
            Binary::Mul => Needs { output: false, inputs: &[0, 1], for_the_other: true },
            Binary::Div => Needs { output: false, inputs: &[0, 1], for_the_other: false },
        }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let out = &grad.shape;
        let (sa, sb) = (step.input_shape(0), step.input_shape(1));
        // An operand's values broadcast to the output's shape.
        let operand = |i: usize| -> Result<Vec<f32>> {
            let v = step.input(i)?;
            Ok(broadcast_to(v.data, v.shape, out).into_owned())
        };
        // g ⊙ f(operands), summed back to input i's shape.
        let back = |i: usize, values: Vec<f32>| {
            let local = Tensor::new(out.clone(), values.iter().zip(&grad.data).map(|(v, g)| v * g).collect());
            unbroadcast(&local, step.input_shape(i))
        };
        let (mut da, mut db) = (None, None);
        match self {
            Binary::Sub => {
                da = step.wants(0).then(|| unbroadcast(grad, sa));
                db = step.wants(1).then(|| {
                    let mut t = unbroadcast(grad, sb);
                    t.data.iter_mut().for_each(|v| *v = -*v);
                    t
                });
            }
            Binary::Mul => {
                if step.wants(0) {
                    da = Some(back(0, operand(1)?));
                }
                if step.wants(1) {
                    db = Some(back(1, operand(0)?));
                }
            }
            Binary::Div => {
                let b = operand(1)?;
                if step.wants(0) {
                    da = Some(back(0, b.iter().map(|b| 1.0 / b).collect()));
                }
                if step.wants(1) {
                    // d(a/b)/db = −a/b²
                    let a = operand(0)?;
                    db = Some(back(1, a.iter().zip(&b).map(|(a, b)| -a / (b * b)).collect()));
                }
            }
        }
        Ok(vec![da, db])
    }
}

/// y = x^p with p a constant (broadcast with x, numpy rules): dy/dx = p·x^(p−1).
#[derive(Debug)]
struct Pow {
    /// The exponent broadcast to the output's shape.
    exponent: Vec<f32>,
}

fn parse_pow(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let p = ctx.need_const(1).map_err(|_| ctx.err("Pow's exponent must be a constant for the reverse pass"))?;
    Ok(Arc::new(Pow { exponent: broadcast_to(p.data, p.shape, ctx.output_shape()).into_owned() }))
}

impl OpVjp for Pow {
    fn needs(&self) -> Needs {
        Needs { output: false, inputs: &[0], for_the_other: false }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let x = step.input(0)?;
        let x = broadcast_to(x.data, x.shape, &grad.shape);
        let data = x
            .iter()
            .zip(&self.exponent)
            .zip(&grad.data)
            .map(|((&x, &p), &g)| {
                let d = if p == 2.0 {
                    2.0 * x
                } else if p == 1.0 {
                    1.0
                } else {
                    p * x.powf(p - 1.0)
                };
                g * d
            })
            .collect();
        let local = Tensor::new(grad.shape.clone(), data);
        Ok(step.first(unbroadcast(&local, step.input_shape(0))))
    }
}
