//! Layer-wise relevance propagation's rules (Bach et al. 2015; Montavon et al. 2019), as Zennit 0.5 defines them
//! (`zennit/rules.py`): each sends a node's output relevance R to its inputs in proportion to their
//! contributions z, with z stabilised as z + ε·sign(z). The affine ones (z⁺, γ, z^B, flat) evaluate the node
//! with modified parameters ([`Affine`]) and use its own VJP with them.

use super::relu::first;
use super::{stabilize, vjp_with, Rule};
use crate::error::{Error, Result};
use crate::graph::{Node, ValueId};
use crate::tensor::Tensor;
use crate::vjp::{Affine, Step};

/// Zennit's default stabiliser of the z⁺, γ, z^B, flat and norm rules.
pub const STABILIZER: f32 = 1e-6;

/// The relevance passes unchanged (activations: Zennit's `Pass`, Captum's ReLU).
#[derive(Debug)]
pub struct Pass;

impl Rule for Pass {
    fn backward(&self, step: &Step, r: Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(first(step, r))
    }
}

/// LRP-ε: R_in = x ⊙ ∂(z)ᵀ (R / stab(z)) on every input x that depends on the image — Zennit's `Epsilon` and
/// `Norm` (pools, sums), Captum's `EpsilonRule`. Any op whose VJP exists: z is its recorded output.
#[derive(Debug)]
pub struct Epsilon(pub f32);

impl Rule for Epsilon {
    fn reads(&self, node: &Node) -> Vec<ValueId> {
        let mut ids = node.inputs.clone();
        ids.push(node.output);
        ids
    }
    fn backward(&self, step: &Step, r: Tensor) -> Result<Vec<Option<Tensor>>> {
        let z = step.output()?;
        let g =
            Tensor::new(r.shape.clone(), r.data.iter().zip(z.data).map(|(&r, &z)| r / stabilize(z, self.0)).collect());
        let mut grads = step.node.op.vjp(step, &g)?;
        for (i, gi) in grads.iter_mut().enumerate() {
            if let Some(gi) = gi.as_mut().filter(|_| step.wants(i)) {
                let x = step.input(i)?;
                gi.data.iter_mut().zip(x.data).for_each(|(g, &x)| *g *= x);
            }
        }
        Ok(grads)
    }
}

/// The parameters of an affine node, split as the rules need them.
struct Params {
    w: Tensor,
    b: Option<Tensor>,
}

impl Params {
    fn of(step: &Step) -> Result<Params> {
        Params::mapped(step, |v| v)
    }
    /// The node's parameters through `f`, copied once.
    fn mapped(step: &Step, f: impl Fn(f32) -> f32) -> Result<Params> {
        let m = |i: usize| -> Result<Tensor> {
            let t = step.input(i)?;
            Ok(Tensor::new(t.shape.to_vec(), t.data.iter().map(|&v| f(v)).collect()))
        };
        let b = if step.node.inputs.len() > 2 { Some(m(2)?) } else { None };
        Ok(Params { w: m(1)?, b })
    }
    /// Each parameter through `f` (a clamp, γ's addition).
    fn map(&self, f: impl Fn(f32) -> f32) -> Params {
        let m = |t: &Tensor| Tensor::new(t.shape.clone(), t.data.iter().map(|&v| f(v)).collect());
        Params { w: m(&self.w), b: self.b.as_ref().map(m) }
    }
}

/// The output channels relevance reaches, when that leaves out at least a quarter of an ungrouped node's: `p`'s
/// rows, `r`'s channels and `out`'s (if given) there — z is needed only where relevance arrives (a class's
/// relevance enters SqueezeNet's last convolution in 1 channel of 1000). Otherwise all as they are.
fn live(p: Params, r: Tensor, out: Option<Tensor>, in_channels: usize) -> (Params, Tensor, Option<Tensor>) {
    if r.shape.len() < 2 || p.w.shape.len() < 2 || p.w.shape[1] != in_channels {
        return (p, r, out);
    }
    let (n, o) = (r.shape[0], r.shape[1]);
    let plane: usize = r.shape[2..].iter().product();
    let reached = |c: usize| (0..n).any(|b| r.data[(b * o + c) * plane..][..plane].iter().any(|&v| v != 0.0));
    let keep: Vec<usize> = (0..o).filter(|&c| reached(c)).collect();
    if keep.len() * 4 > o * 3 {
        return (p, r, out);
    }
    let channels = |t: &Tensor| {
        let mut shape = t.shape.clone();
        shape[1] = keep.len();
        let data = (0..n).flat_map(|b| keep.iter().flat_map(move |&c| &t.data[(b * o + c) * plane..][..plane]));
        Tensor::new(shape, data.copied().collect())
    };
    let row = p.w.data.len() / o;
    let mut w_shape = p.w.shape.clone();
    w_shape[0] = keep.len();
    let w = Tensor::new(w_shape, keep.iter().flat_map(|&c| &p.w.data[c * row..][..row]).copied().collect());
    let b = p.b.map(|b| Tensor::new(vec![keep.len()], keep.iter().map(|&c| b.data[c]).collect()));
    let (r, out) = (channels(&r), out.as_ref().map(channels));
    (Params { w, b }, r, out)
}

fn affine<'a>(step: &'a Step) -> Result<&'a dyn Affine> {
    step.node.op.affine().ok_or_else(|| {
        Error::Invalid(format!(
            "this relevance rule needs a convolution; node '{}' is a {}",
            step.node.name, step.node.op_type
        ))
    })
}

fn map(t: &Tensor, f: impl Fn(f32) -> f32) -> Tensor {
    Tensor::new(t.shape.clone(), t.data.iter().map(|&v| f(v)).collect())
}

fn add(a: &mut Tensor, b: &Tensor) {
    a.data.iter_mut().zip(&b.data).for_each(|(a, b)| *a += b);
}

/// `t` multiplied elementwise by `by`, in place.
fn times(by: &Tensor, mut t: Tensor) -> Tensor {
    t.data.iter_mut().zip(&by.data).for_each(|(t, b)| *t *= b);
    t
}

/// R / stab(z), where `mask` (if any) keeps it.
fn ratio(r: &Tensor, z: &Tensor, mask: impl Fn(usize) -> bool) -> Tensor {
    let data = r
        .data
        .iter()
        .zip(&z.data)
        .enumerate()
        .map(|(i, (&r, &z))| if mask(i) { r / stabilize(z, STABILIZER) } else { 0.0 });
    Tensor::new(r.shape.clone(), data.collect())
}

/// z⁺ (Zennit's `ZPlus`, α = 1, β = 0): z = W⁺x⁺ + b⁺ + W⁻x⁻, R_in = x⁺ ⊙ W⁺ᵀ(R/z) + x⁻ ⊙ W⁻ᵀ(R/z).
#[derive(Debug)]
pub struct ZPlus;

impl Rule for ZPlus {
    fn reads(&self, node: &Node) -> Vec<ValueId> {
        vec![node.inputs[0]]
    }
    fn backward(&self, step: &Step, r: Tensor) -> Result<Vec<Option<Tensor>>> {
        let op = affine(step)?;
        let x = step.input(0)?.to_tensor();
        // After a ReLU there are no negative inputs: x⁺ is x and the W⁻ terms vanish (no copies made for them).
        if !x.data.iter().any(|&v| v < 0.0) {
            let (pos, r, _) = live(Params::mapped(step, |v| v.max(0.0))?, r, None, x.shape[1]);
            let z = op.apply(step, &x, &pos.w, pos.b.as_ref())?;
            let g = ratio(&r, &z, |_| true);
            drop(z);
            return Ok(first(step, times(&x, vjp_with(step, 1, &pos.w, &g)?)));
        }
        let (p, r, _) = live(Params::of(step)?, r, None, x.shape[1]);
        let (pos, neg) = (p.map(|v| v.max(0.0)), p.map(|v| v.min(0.0)));
        let (xp, xn) = (map(&x, |v| v.max(0.0)), map(&x, |v| v.min(0.0)));
        let mut z = op.apply(step, &xp, &pos.w, pos.b.as_ref())?;
        add(&mut z, &op.apply(step, &xn, &neg.w, None)?);
        let g = ratio(&r, &z, |_| true);
        let mut out = times(&xp, vjp_with(step, 1, &pos.w, &g)?);
        add(&mut out, &times(&xn, vjp_with(step, 1, &neg.w, &g)?));
        Ok(first(step, out))
    }
}

/// Generalised γ (Zennit's `Gamma`): W₊ = W + γW⁺, W₋ = W + γW⁻ (biases alike). Where the node's output is
/// positive, R/(W₊x⁺ + b₊ + W₋x⁻) goes back through W₊ to x⁺ and W₋ to x⁻; where it is negative,
/// R/(W₋x⁺ + b₋ + W₊x⁻) through W₋ to x⁺ and W₊ to x⁻; where it is 0, nothing.
#[derive(Debug)]
pub struct Gamma(pub f32);

impl Rule for Gamma {
    fn reads(&self, node: &Node) -> Vec<ValueId> {
        vec![node.inputs[0], node.output]
    }
    fn backward(&self, step: &Step, r: Tensor) -> Result<Vec<Option<Tensor>>> {
        let op = affine(step)?;
        let gamma = self.0;
        let x = step.input(0)?.to_tensor();
        let (p, r, out) = live(Params::of(step)?, r, Some(step.output()?.to_tensor()), x.shape[1]);
        let out = out.expect("given");
        let (wp, wn) = (p.map(|v| v + gamma * v.max(0.0)), p.map(|v| v + gamma * v.min(0.0)));
        let (xp, xn) = (map(&x, |v| v.max(0.0)), map(&x, |v| v.min(0.0)));
        let has_neg = xn.data.iter().any(|&v| v != 0.0);
        let mut z_pos = op.apply(step, &xp, &wp.w, wp.b.as_ref())?;
        let mut z_neg = op.apply(step, &xp, &wn.w, wn.b.as_ref())?;
        if has_neg {
            add(&mut z_pos, &op.apply(step, &xn, &wn.w, None)?);
            add(&mut z_neg, &op.apply(step, &xn, &wp.w, None)?);
        }
        let g_pos = ratio(&r, &z_pos, |i| out.data[i] > 0.0);
        let g_neg = ratio(&r, &z_neg, |i| out.data[i] < 0.0);
        let mut to_xp = vjp_with(step, 1, &wp.w, &g_pos)?;
        add(&mut to_xp, &vjp_with(step, 1, &wn.w, &g_neg)?);
        let mut rel = times(&xp, to_xp);
        if has_neg {
            let mut to_xn = vjp_with(step, 1, &wn.w, &g_pos)?;
            add(&mut to_xn, &vjp_with(step, 1, &wp.w, &g_neg)?);
            add(&mut rel, &times(&xn, to_xn));
        }
        Ok(first(step, rel))
    }
}

/// z^B (Zennit's `ZBox`) for an input bounded per channel by [low, high]: z = (Wx + b) − (W⁺l + b⁺) − (W⁻h + b⁻),
/// R_in = x ⊙ Wᵀ(R/z) − l ⊙ W⁺ᵀ(R/z) − h ⊙ W⁻ᵀ(R/z).
#[derive(Debug)]
pub struct ZBox {
    pub low: Vec<f32>,
    pub high: Vec<f32>,
}

impl ZBox {
    /// A tensor of `like`'s shape [N, C, ...] holding `per_channel[c]` in channel c.
    fn fill(like: &Tensor, per_channel: &[f32]) -> Result<Tensor> {
        let c = like.shape[1];
        if per_channel.len() != c {
            return Err(Error::Invalid(format!("the box bounds have {} channels, the input {c}", per_channel.len())));
        }
        let plane = like.shape[2..].iter().product::<usize>();
        let data = (0..like.data.len()).map(|i| per_channel[(i / plane) % c]).collect();
        Ok(Tensor::new(like.shape.clone(), data))
    }
}

impl Rule for ZBox {
    fn reads(&self, node: &Node) -> Vec<ValueId> {
        vec![node.inputs[0]]
    }
    fn backward(&self, step: &Step, r: Tensor) -> Result<Vec<Option<Tensor>>> {
        let op = affine(step)?;
        let x = step.input(0)?.to_tensor();
        let (low, high) = (ZBox::fill(&x, &self.low)?, ZBox::fill(&x, &self.high)?);
        let p = Params::of(step)?;
        let (pos, neg) = (p.map(|v| v.max(0.0)), p.map(|v| v.min(0.0)));
        let mut z = op.apply(step, &x, &p.w, p.b.as_ref())?;
        let zl = op.apply(step, &low, &pos.w, pos.b.as_ref())?;
        let zh = op.apply(step, &high, &neg.w, neg.b.as_ref())?;
        z.data.iter_mut().zip(&zl.data).zip(&zh.data).for_each(|((z, l), h)| *z -= l + h);
        let g = ratio(&r, &z, |_| true);
        let mut rel = times(&x, vjp_with(step, 1, &p.w, &g)?);
        let from_low = times(&low, vjp_with(step, 1, &pos.w, &g)?);
        let from_high = times(&high, vjp_with(step, 1, &neg.w, &g)?);
        rel.data.iter_mut().zip(&from_low.data).zip(&from_high.data).for_each(|((r, l), h)| *r -= l + h);
        Ok(first(step, rel))
    }
}

/// Flat (Zennit's `Flat`, Lapuschkin et al. 2019): every input position of a receptive field gets an equal share,
/// whatever its value: input and weights all ones, no bias, and no multiplication by the input.
#[derive(Debug)]
pub struct Flat;

impl Rule for Flat {
    fn backward(&self, step: &Step, r: Tensor) -> Result<Vec<Option<Tensor>>> {
        let op = affine(step)?;
        let ones = |shape: &[usize]| Tensor::new(shape.to_vec(), vec![1.0; shape.iter().product()]);
        let (w_shape, in_shape) = (step.input(1)?.shape.to_vec(), step.input_shape(0));
        if w_shape.len() == 4 && r.shape.len() == 4 && w_shape[1] == in_shape[1] {
            // Ungrouped, every weight 1: z is the same in every output channel, and Wᵀ(R/z) is the same in every
            // input channel, (Σ_o R_o/z) spread by one kernel of ones — one output channel's work, not O's.
            let w = ones(&[1, w_shape[1], w_shape[2], w_shape[3]]);
            let z = op.apply(step, &ones(in_shape), &w, None)?;
            let (n, o) = (r.shape[0], r.shape[1]);
            let plane = r.shape[2] * r.shape[3];
            let mut g = vec![0.0f32; n * plane];
            for (i, r) in r.data.chunks(plane).enumerate() {
                let (dst, z) = (&mut g[(i / o) * plane..][..plane], &z.data[(i / o) * plane..][..plane]);
                dst.iter_mut().zip(r).zip(z).for_each(|((g, &r), &z)| *g += r / stabilize(z, STABILIZER));
            }
            let g = Tensor::new(vec![n, 1, r.shape[2], r.shape[3]], g);
            return Ok(first(step, vjp_with(step, 1, &w, &g)?));
        }
        let w = ones(&w_shape);
        let z = op.apply(step, &ones(in_shape), &w, None)?;
        let g = ratio(&r, &z, |_| true);
        Ok(first(step, vjp_with(step, 1, &w, &g)?))
    }
}
