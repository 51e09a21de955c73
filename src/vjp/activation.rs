//! One-input element-wise ops: Sigmoid, Tanh, LeakyRelu, PRelu, Elu, Selu, HardSigmoid, HardSwish, Neg, Sqrt, Erf
//! (GELU as exported before opset 20), Exp, and Gelu (opset 20, exact or tanh-approximated).
//! Each VJP multiplies the gradient by the derivative, read from the input or (where cheaper) the output.

use std::sync::Arc;

use super::layout::broadcast_to;
use super::{Needs, OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const SIGMOID: OpDecl = OpDecl { names: &["Sigmoid"], parse: |_| unary(Act::Sigmoid), each_output: false };
pub const TANH: OpDecl = OpDecl { names: &["Tanh"], parse: |_| unary(Act::Tanh), each_output: false };
pub const LEAKY_RELU: OpDecl = OpDecl {
    names: &["LeakyRelu"],
    parse: |ctx| unary(Act::LeakyRelu { alpha: ctx.float("alpha", 0.01)? }),
    each_output: false,
};
pub const PRELU: OpDecl = OpDecl { names: &["PRelu"], parse: parse_prelu, each_output: false };
pub const ELU: OpDecl =
    OpDecl { names: &["Elu"], parse: |ctx| unary(Act::Elu { alpha: ctx.float("alpha", 1.0)? }), each_output: false };
pub const SELU: OpDecl = OpDecl {
    names: &["Selu"],
    parse: |ctx| {
        let alpha = ctx.float("alpha", 1.673_263_2)?;
        let gamma = ctx.float("gamma", 1.050_701)?;
        unary(Act::Selu { alpha, gamma })
    },
    each_output: false,
};
pub const HARD_SIGMOID: OpDecl = OpDecl {
    names: &["HardSigmoid"],
    parse: |ctx| unary(Act::HardSigmoid { alpha: ctx.float("alpha", 0.2)?, beta: ctx.float("beta", 0.5)? }),
    each_output: false,
};
pub const HARD_SWISH: OpDecl = OpDecl { names: &["HardSwish"], parse: |_| unary(Act::HardSwish), each_output: false };
pub const NEG: OpDecl = OpDecl { names: &["Neg"], parse: |_| unary(Act::Neg), each_output: false };
pub const SQRT: OpDecl = OpDecl { names: &["Sqrt"], parse: |_| unary(Act::Sqrt), each_output: false };
pub const ERF: OpDecl = OpDecl { names: &["Erf"], parse: |_| unary(Act::Erf), each_output: false };
pub const EXP: OpDecl = OpDecl { names: &["Exp"], parse: |_| unary(Act::Exp), each_output: false };
pub const GELU: OpDecl = OpDecl { names: &["Gelu"], parse: parse_gelu, each_output: false };

fn parse_gelu(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    match ctx.string("approximate")?.as_deref().unwrap_or("none") {
        "none" => unary(Act::Gelu),
        "tanh" => unary(Act::GeluTanh),
        other => Err(ctx.err(format!("Gelu approximate '{other}' is not an ONNX value"))),
    }
}

#[derive(Clone, Copy, Debug)]
enum Act {
    Sigmoid,
    Tanh,
    Sqrt,
    Neg,
    Erf,
    Exp,
    /// x·Φ(x), Φ the standard normal CDF.
    Gelu,
    /// x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    GeluTanh,
    LeakyRelu {
        alpha: f32,
    },
    Elu {
        alpha: f32,
    },
    Selu {
        alpha: f32,
        gamma: f32,
    },
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    HardSwish,
}

fn unary(act: Act) -> Result<Arc<dyn OpVjp>> {
    Ok(Arc::new(Unary(act)))
}

/// Where the derivative is read from.
enum Reads {
    Output,
    Input,
    Nothing,
}

impl Act {
    fn reads(self) -> Reads {
        match self {
            Act::Sigmoid | Act::Tanh | Act::Sqrt | Act::Exp => Reads::Output,
            Act::Neg => Reads::Nothing,
            _ => Reads::Input,
        }
    }

    /// dy/dx at an element, given its output (Sigmoid, Tanh, Sqrt) or its input (the others). The kinks follow
    /// PyTorch's backward: the slope for x > 0 is taken only where x > 0.
    fn slope(self, v: f32) -> f32 {
        match self {
            Act::Sigmoid => v * (1.0 - v),
            Act::Tanh => 1.0 - v * v,
            Act::Sqrt => 0.5 / v,
            Act::Neg => -1.0,
            Act::Erf => std::f32::consts::FRAC_2_SQRT_PI * (-v * v).exp(),
            Act::Exp => v,
            // Φ(x) + x·φ(x), in f64 (the two terms cancel for large negative x).
            Act::Gelu => {
                let x = v as f64;
                let cdf = 0.5 * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2));
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                (cdf + x * pdf) as f32
            }
            Act::GeluTanh => {
                let x = v as f64;
                let c = (2.0 / std::f64::consts::PI).sqrt();
                let t = (c * (x + 0.044715 * x * x * x)).tanh();
                (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x)) as f32
            }
            Act::LeakyRelu { alpha } => {
                if v > 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
            Act::Elu { alpha } => {
                if v > 0.0 {
                    1.0
                } else {
                    alpha * v.exp()
                }
            }
            Act::Selu { alpha, gamma } => {
                if v > 0.0 {
                    gamma
                } else {
                    gamma * alpha * v.exp()
                }
            }
            Act::HardSigmoid { alpha, beta } => {
                let z = alpha * v + beta;
                if z > 0.0 && z < 1.0 {
                    alpha
                } else {
                    0.0
                }
            }
            // x · clamp(x/6 + 1/2, 0, 1)
            Act::HardSwish => {
                if v < -3.0 {
                    0.0
                } else if v <= 3.0 {
                    v / 3.0 + 0.5
                } else {
                    1.0
                }
            }
        }
    }
}

#[derive(Debug)]
struct Unary(Act);

impl OpVjp for Unary {
    fn needs(&self) -> Needs {
        match self.0.reads() {
            Reads::Output => Needs { output: true, inputs: &[], for_the_other: false },
            Reads::Input => Needs { output: false, inputs: &[0], for_the_other: false },
            Reads::Nothing => Needs::default(),
        }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let act = self.0;
        let data = match act.reads() {
            Reads::Output => step.output()?.data.iter().zip(&grad.data).map(|(&y, &g)| g * act.slope(y)).collect(),
            Reads::Input => step.input(0)?.data.iter().zip(&grad.data).map(|(&x, &g)| g * act.slope(x)).collect(),
            Reads::Nothing => grad.data.iter().map(|&g| g * act.slope(0.0)).collect(),
        };
        Ok(step.first(Tensor::new(grad.shape.clone(), data)))
    }
}

/// y = x where x > 0, else slope · x, with a constant slope broadcast (numpy rules) to the input's shape.
#[derive(Debug)]
struct PRelu {
    slope: Vec<f32>,
}

fn parse_prelu(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let slope = ctx.need_const(1)?;
    let shape = ctx.input_shape(0);
    if slope.shape.len() > shape.len() {
        return Err(ctx.err(format!("slope of shape {:?} does not broadcast to {shape:?}", slope.shape)));
    }
    Ok(Arc::new(PRelu { slope: broadcast_to(slope.data, slope.shape, shape).into_owned() }))
}

impl OpVjp for PRelu {
    fn needs(&self) -> Needs {
        Needs { output: false, inputs: &[0], for_the_other: false }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let x = step.input(0)?;
        let data = x
            .data
            .iter()
            .zip(&grad.data)
            .zip(&self.slope)
            .map(|((&x, &g), &s)| if x > 0.0 { g } else { g * s })
            .collect();
        Ok(step.first(Tensor::new(grad.shape.clone(), data)))
    }
}
