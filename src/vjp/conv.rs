//! Conv's input gradient: a transposed convolution, done as one GEMM per group
//! (dcol = Wᵀ · dY) followed by col2im, which scatters the columns back onto the input plane.
//! ConvTranspose's input gradient is the other way round: a convolution of the gradient with the same weights
//! (im2col, then one GEMM per group).

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::sync::Arc;

use super::gemm::{gemm, gemm_into};
use super::{Affine, OpDecl, OpVjp, Step};
use crate::error::{Error, Result};
use crate::graph::{ParseCtx, Window};
use crate::tensor::{zero_init, Tensor};
use crate::threads;

pub const CONV: OpDecl = OpDecl { names: &["Conv"], parse: parse_conv, each_output: false };
pub const CONV_TRANSPOSE: OpDecl =
    OpDecl { names: &["ConvTranspose"], parse: parse_conv_transpose, each_output: false };

/// Weights [O, C/group, kh, kw] are input 1 (a constant); bias input 2 adds nothing to the input gradient.
#[derive(Debug)]
struct Conv {
    window: Window,
    group: usize,
}

fn parse_conv(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    ctx.rank4()?;
    let w = ctx.need_const(1)?;
    if w.shape.len() != 4 {
        return Err(ctx.err("weights must be [O, C/group, kh, kw]"));
    }
    let window = ctx.window([w.shape[2], w.shape[3]])?;
    Ok(Arc::new(Conv { window, group: ctx.int("group", 1)?.max(1) as usize }))
}

impl OpVjp for Conv {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(conv(step, grad, &self.window, self.group)?))
    }
    fn affine(&self) -> Option<&dyn Affine> {
        Some(self)
    }
}

impl Affine for Conv {
    /// The convolution itself (the forward pass is tract's; relevance rules need it with other weights): per image
    /// and group, im2col of the input and one GEMM with the weights, then the bias.
    fn apply(&self, step: &Step, x: &Tensor, weights: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let node_out = step.graph.shape(step.node.output);
        let [n, c, h, wd] = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
        // As many output channels as the weights have rows: a rule may compute only some (see Affine).
        let [o, oh, ow] = [weights.shape[0], node_out[2], node_out[3]];
        let out_shape = vec![n, o, oh, ow];
        let group = self.group;
        if c % group != 0 || o % group != 0 || weights.shape[1] * group != c {
            return Err(Error::Model(format!("node '{}': channels do not split into {group} groups", step.node.name)));
        }
        let (cg, og) = (c / group, o / group);
        let [kh, kw] = self.window.kernel;
        let k = cg * kh * kw;
        let (plane, out_plane) = (h * wd, oh * ow);
        let w = &self.window;
        // A 1×1 convolution without stride or padding is the GEMM on the input as it is (SqueezeNet's squeeze and
        // expand-1×1 layers): no im2col copy.
        let pointwise = kh == 1 && kw == 1 && w.strides == [1, 1] && w.pads_begin == [0, 0] && out_plane == plane;
        let mut y = vec![0.0f32; n * o * out_plane];
        let mut cols = if pointwise { Vec::new() } else { vec![0.0f32; k * out_plane] };
        for b in 0..n {
            for gi in 0..group {
                let src = &x.data[(b * c + gi * cg) * plane..][..cg * plane];
                let cols = if pointwise {
                    src
                } else {
                    im2col(src, &mut cols, cg, [h, wd], [oh, ow], w);
                    &cols
                };
                let wg = &weights.data[gi * og * k..][..og * k];
                let dst = &mut y[(b * o + gi * og) * out_plane..][..og * out_plane];
                gemm(og, k, out_plane, wg, (k, 1), cols, (out_plane, 1), dst, 1.0);
            }
            if let Some(bias) = bias {
                for (ch, dst) in y[b * o * out_plane..(b + 1) * o * out_plane].chunks_mut(out_plane).enumerate() {
                    dst.iter_mut().for_each(|v| *v += bias.data[ch]);
                }
            }
        }
        Ok(Tensor::new(out_shape, y))
    }
}

fn conv(step: &Step, grad: &Tensor, w: &Window, group: usize) -> Result<Tensor> {
    let in_shape = step.input_shape(0);
    let weights = step.input(1)?;
    let [n, c, h, wd] = [in_shape[0], in_shape[1], in_shape[2], in_shape[3]];
    let [o, oh, ow] = [grad.shape[1], grad.shape[2], grad.shape[3]];
    if c % group != 0 || o % group != 0 || weights.shape[1] * group != c {
        return Err(Error::Model(format!("node '{}': channels do not split into {group} groups", step.node.name)));
    }
    let (cg, og) = (c / group, o / group);
    let [kh, kw] = w.kernel;
    let k = cg * kh * kw;
    let (plane, out_plane) = (h * wd, oh * ow);
    let pointwise = kh == 1 && kw == 1 && w.strides == [1, 1] && w.pads_begin == [0, 0] && out_plane == plane;

    let taps = kh * kw;
    // Written once, destination by destination (each group of each image): by the GEMM of a 1×1 convolution, or
    // zeroed and then added to by col2im, chunk by chunk on the pool. Zeroing it all first, on the caller, was one
    // more pass over each input gradient (serial: ~6 MB per SqueezeNet backward).
    let mut dx: Vec<f32> = Vec::with_capacity(n * c * plane);
    let uninit = &mut dx.spare_capacity_mut()[..n * c * plane];
    // col2im's chunks: a chunk of input channels reads only its channels' rows of dcol and writes their planes.
    let per_chunk = threads::units_per_chunk(cg, taps * out_plane);
    let (mut live, mut live_w, mut live_g) = (Vec::new(), Vec::new(), Vec::new());
    for b in 0..n {
        for gi in 0..group {
            let wg = &weights.data[gi * og * k..(gi + 1) * og * k];
            let gg = &grad.data[(b * o + gi * og) * out_plane..(b * o + (gi + 1) * og) * out_plane];
            let dst = &mut uninit[(b * c + gi * cg) * plane..(b * c + (gi + 1) * cg) * plane];
            // Output channels whose gradient plane is all zero add nothing (only exact zeros are left out, so the
            // sums do not change). A class or channel objective leaves one live channel at the last Conv (1000
            // in SqueezeNet): its product then shrinks a thousandfold.
            live.clear();
            live.extend((0..og).filter(|&j| gg[j * out_plane..(j + 1) * out_plane].iter().any(|&v| v != 0.0)));
            if live.is_empty() {
                dst.fill(MaybeUninit::new(0.0));
                continue;
            }
            let (wg, gg, og_live) = if live.len() * 4 <= og * 3 {
                live_w.clear();
                live_g.clear();
                for &j in &live {
                    live_w.extend_from_slice(&wg[j * k..(j + 1) * k]);
                    live_g.extend_from_slice(&gg[j * out_plane..(j + 1) * out_plane]);
                }
                (&live_w[..], &live_g[..], live.len())
            } else {
                (wg, gg, og)
            };
            // The product splits over the pixels (columns) across threads; col2im over input channels: each
            // element is still summed by one task in the same order (bit-identical at any thread count).
            if pointwise {
                gemm_into(cg, og_live, out_plane, wg, (1, k), gg, (out_plane, 1), dst, 1.0);
            } else {
                scratch(cg * taps * out_plane, |cols| {
                    gemm(cg * taps, og_live, out_plane, wg, (1, k), gg, (out_plane, 1), cols, 1.0);
                    let cols = &*cols;
                    threads::for_each_chunk(dst, per_chunk * plane, |i, dst| {
                        let dst = zero_init(dst);
                        let rows = &cols[i * per_chunk * taps * out_plane..];
                        col2im(rows, dst, dst.len() / plane, [h, wd], [oh, ow], w);
                    });
                });
            }
        }
    }
    // SAFETY: the destinations cover dx, and each was written whole (zeros, the GEMM's m·n values, or col2im's
    // chunks, each zeroed first).
    unsafe { dx.set_len(n * c * plane) };
    Ok(Tensor::new(in_shape.to_vec(), dx))
}

thread_local! {
    /// The columns buffer, kept between calls (one per thread): no allocation per VJP on the hot path.
    static COLS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with `len` floats of this thread's scratch space (contents unspecified: the GEMM overwrites them).
fn scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COLS.with(|cols| {
        let mut cols = cols.borrow_mut();
        if cols.len() < len {
            cols.resize(len, 0.0);
        }
        f(&mut cols[..len])
    })
}

/// Adds each column entry back to the input pixel it was read from in the forward pass.
fn col2im(cols: &[f32], dx: &mut [f32], channels: usize, [h, wd]: [usize; 2], [oh, ow]: [usize; 2], w: &Window) {
    let [kh, kw] = w.kernel;
    let [sh, sw] = w.strides;
    let dh = w.dilations[0];
    let ph = w.pads_begin[0];
    // Per kernel column: the output columns [lo, hi) whose input column lies inside the plane, and the first such
    // column. The inner loop is then a plain (strided) add without bounds tests.
    let spans = w.column_spans(wd, ow);
    for ch in 0..channels {
        let plane = &mut dx[ch * h * wd..(ch + 1) * h * wd];
        for ky in 0..kh {
            for (kx, &(lo, hi, first)) in spans.iter().enumerate() {
                let row = &cols[((ch * kh + ky) * kw + kx) * oh * ow..][..oh * ow];
                for oy in 0..oh {
                    let iy = (oy * sh + ky * dh) as isize - ph as isize;
                    if iy < 0 || iy as usize >= h || lo == hi {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * wd + first..(iy as usize + 1) * wd];
                    let src = &row[oy * ow + lo..oy * ow + hi];
                    if sw == 1 {
                        for (d, &v) in dst[..src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (d, &v) in dst.iter_mut().step_by(sw).zip(src) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}

/// Weights [C_in, C_out/group, kh, kw] are input 1 (a constant). y[co, iy·s + ky·d − pad] += x[ci, iy] · W[ci, co, ky].
#[derive(Debug)]
struct ConvTranspose {
    window: Window,
    group: usize,
}

fn parse_conv_transpose(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    ctx.rank4()?;
    let w = ctx.need_const(1)?;
    if w.shape.len() != 4 {
        return Err(ctx.err("weights must be [C_in, C_out/group, kh, kw]"));
    }
    let kernel = [w.shape[2], w.shape[3]];
    let strides = ctx.pair("strides", 1)?;
    let dilations = ctx.pair("dilations", 1)?;
    let output_padding = ctx.pair("output_padding", 0)?;
    let (input, output) = (ctx.input_shape(0), ctx.output_shape());
    let auto_pad = ctx.string("auto_pad")?.unwrap_or_default();
    // With output_shape and no auto_pad, tract keeps the given pads at the start and puts what is left at the end
    // (as output_padding), so only auto_pad moves the start.
    let explicit = matches!(auto_pad.as_str(), "" | "NOTSET");
    let mut pads_begin = [0usize; 2];
    if explicit {
        if let Some(p) = ctx.ints("pads")? {
            if p.len() != 4 || p.iter().any(|&v| v < 0) {
                return Err(ctx.err(format!("pads {p:?}: only 2-D windows are supported")));
            }
            pads_begin = [p[0] as usize, p[1] as usize];
        }
    } else if auto_pad != "VALID" {
        // The padding that makes the output the size tract gives, split with the odd one at the end for
        // SAME_UPPER and at the start for SAME_LOWER.
        for a in 0..2 {
            let full = strides[a] * (input[2 + a] - 1) + output_padding[a] + (kernel[a] - 1) * dilations[a] + 1;
            let total = full.checked_sub(output[2 + a]).ok_or_else(|| ctx.err("output_shape larger than possible"))?;
            pads_begin[a] = if auto_pad == "SAME_UPPER" { total / 2 } else { total - total / 2 };
        }
    }
    let window = Window { kernel, strides, dilations, pads_begin, pads_end: [0, 0] };
    Ok(Arc::new(ConvTranspose { window, group: ctx.int("group", 1)?.max(1) as usize }))
}

impl OpVjp for ConvTranspose {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(conv_transpose(step, grad, &self.window, self.group)?))
    }
}

fn conv_transpose(step: &Step, grad: &Tensor, w: &Window, group: usize) -> Result<Tensor> {
    let in_shape = step.input_shape(0);
    let weights = step.input(1)?;
    let [n, c, h, wd] = [in_shape[0], in_shape[1], in_shape[2], in_shape[3]];
    let [o, oh, ow] = [grad.shape[1], grad.shape[2], grad.shape[3]];
    if c % group != 0 || weights.shape[0] != c || weights.shape[1] * group != o {
        return Err(Error::Model(format!("node '{}': channels do not split into {group} groups", step.node.name)));
    }
    let (cg, og) = (c / group, o / group);
    let [kh, kw] = w.kernel;
    let k = og * kh * kw;
    let (plane, out_plane) = (h * wd, oh * ow);
    let mut dx = vec![0.0f32; n * c * plane];
    let mut cols = vec![0.0f32; k * plane];
    for b in 0..n {
        for gi in 0..group {
            let gg = &grad.data[(b * o + gi * og) * out_plane..][..og * out_plane];
            im2col(gg, &mut cols, og, [oh, ow], [h, wd], w);
            let wg = &weights.data[gi * cg * k..][..cg * k];
            let dst = &mut dx[(b * c + gi * cg) * plane..][..cg * plane];
            gemm(cg, k, plane, wg, (k, 1), &cols, (plane, 1), dst, 1.0);
        }
    }
    Ok(Tensor::new(in_shape.to_vec(), dx))
}

/// cols[(ch, ky, kx), (iy, ix)] = src[ch, iy·s + ky·d − pad, ix·s + kx·d − pad], 0 outside `src`'s plane.
fn im2col(src: &[f32], cols: &mut [f32], channels: usize, [gh, gw]: [usize; 2], [h, wd]: [usize; 2], w: &Window) {
    let [kh, kw] = w.kernel;
    let [sh, sw] = w.strides;
    let [dh, dw] = w.dilations;
    let [ph, pw] = w.pads_begin;
    for ch in 0..channels {
        let plane = &src[ch * gh * gw..(ch + 1) * gh * gw];
        for ky in 0..kh {
            for kx in 0..kw {
                let row = &mut cols[((ch * kh + ky) * kw + kx) * h * wd..][..h * wd];
                for iy in 0..h {
                    let dst = &mut row[iy * wd..(iy + 1) * wd];
                    let y = (iy * sh + ky * dh) as isize - ph as isize;
                    if y < 0 || y as usize >= gh {
                        dst.iter_mut().for_each(|v| *v = 0.0);
                        continue;
                    }
                    let line = &plane[y as usize * gw..(y as usize + 1) * gw];
                    for (ix, v) in dst.iter_mut().enumerate() {
                        let x = (ix * sw + kx * dw) as isize - pw as isize;
                        *v = if x >= 0 && (x as usize) < gw { line[x as usize] } else { 0.0 };
                    }
                }
            }
        }
    }
}
