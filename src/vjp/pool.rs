//! Pools: MaxPool routes each output's gradient to its window's maximum; the averages spread it.

use std::sync::Arc;

use super::{Needs, OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::{ParseCtx, Window};
use crate::tensor::{split_phases, Tensor, View};
use crate::threads;

pub const MAX_POOL: OpDecl = OpDecl { names: &["MaxPool"], parse: parse_max_pool, each_output: false };
pub const AVERAGE_POOL: OpDecl = OpDecl { names: &["AveragePool"], parse: parse_average_pool, each_output: false };
pub const GLOBAL_AVERAGE_POOL: OpDecl = OpDecl {
    names: &["GlobalAveragePool"],
    parse: |ctx| {
        ctx.rank4()?;
        Ok(Arc::new(GlobalAveragePool))
    },
    each_output: false,
};

fn pool_window(ctx: &ParseCtx) -> Result<Window> {
    ctx.rank4()?;
    let kernel = ctx.pair("kernel_shape", 1)?;
    ctx.window(kernel)
}

#[derive(Debug)]
struct MaxPool {
    window: Window,
}

fn parse_max_pool(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let window = pool_window(ctx)?;
    if ctx.node.output.iter().filter(|o| !o.is_empty()).count() > 1 {
        return Err(ctx.err("MaxPool's Indices output is not supported"));
    }
    Ok(Arc::new(MaxPool { window }))
}

impl OpVjp for MaxPool {
    fn needs(&self) -> Needs {
        Needs { output: false, inputs: &[0] }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(max_pool(step.input(0)?, grad, &self.window)))
    }
}

#[derive(Debug)]
struct AveragePool {
    window: Window,
    count_include_pad: bool,
}

fn parse_average_pool(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let window = pool_window(ctx)?;
    Ok(Arc::new(AveragePool { window, count_include_pad: ctx.int("count_include_pad", 0)? != 0 }))
}

impl OpVjp for AveragePool {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(average_pool(step.input_shape(0), grad, &self.window, self.count_include_pad)))
    }
}

#[derive(Debug)]
struct GlobalAveragePool;

impl OpVjp for GlobalAveragePool {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(global_average_pool(step.input_shape(0), grad)))
    }
}

/// Input positions covered by output position `o` along one axis, as (position, in_bounds).
fn taps(w: &Window, axis: usize, o: usize) -> impl Iterator<Item = isize> + '_ {
    let start = (o * w.strides[axis]) as isize - w.pads_begin[axis] as isize;
    (0..w.kernel[axis]).map(move |k| start + (k * w.dilations[axis]) as isize)
}

/// Routes the gradient to the first maximum of each window in scan order (padding never wins),
/// as PyTorch does.
fn max_pool(input: View, grad: &Tensor, w: &Window) -> Tensor {
    let [n, c, h, wd] = [input.shape[0], input.shape[1], input.shape[2], input.shape[3]];
    let [oh, ow] = [grad.shape[2], grad.shape[3]];
    let (sw, dw) = (w.strides[1], w.dilations[1]);
    // The window rows that fall inside the input, per output row; per kernel column, the output columns [lo, hi)
    // whose tap lies inside the input and the input column of the first. Computed once, so the inner loops carry
    // no bounds tests.
    let rows: Vec<Vec<usize>> = (0..oh).map(|o| inside(w, 0, o, h).map(|iy| iy * wd).collect()).collect();
    let spans: Vec<(usize, usize, usize)> = (0..w.kernel[1])
        .map(|kx| {
            let off = (kx * dw) as isize - w.pads_begin[1] as isize;
            let lo = if off >= 0 { 0 } else { off.unsigned_abs().div_ceil(sw) };
            let hi = if off >= wd as isize { 0 } else { ((wd as isize - off) as usize).div_ceil(sw).min(ow) };
            (lo, hi.max(lo), ((lo * sw) as isize + off).max(0) as usize)
        })
        .collect();
    let mut dx = vec![0.0f32; input.data.len()];
    // Planes are independent: split over them (bit-identical at any thread count).
    let per_chunk = threads::units_per_chunk(n * c, h * wd);
    threads::for_each_chunk(&mut dx, per_chunk * h * wd, |i, chunk| {
        // One output row at a time, tap by tap in scan order, across the row's windows: the windows' running
        // maxima are independent, so the loop vectorizes instead of waiting on one compare-select chain per
        // window. With a stride, each input row is first split into its `sw` phases (columns p, p + sw, …), so
        // that a tap's values across the windows are contiguous.
        let (mut best, mut best_at) = (vec![0.0f32; ow], vec![0u32; ow]);
        let phase_len = wd.div_ceil(sw);
        let mut phases = vec![0.0f32; if sw > 1 { phase_len * sw } else { 0 }];
        for (j, d) in chunk.chunks_mut(h * wd).enumerate() {
            let plane = i * per_chunk + j;
            let x = &input.data[plane * h * wd..(plane + 1) * h * wd];
            let g = &grad.data[plane * oh * ow..(plane + 1) * oh * ow];
            for (row_starts, g) in rows.iter().zip(g.chunks_exact(ow)) {
                best.fill(f32::NEG_INFINITY);
                best_at.fill(u32::MAX);
                for &r in row_starts {
                    let row = &x[r..r + wd];
                    if sw > 1 {
                        split_phases(row, sw, &mut phases);
                    }
                    for &(lo, hi, first) in spans.iter().filter(|s| s.0 < s.1) {
                        let taps = if sw > 1 {
                            let start = (first % sw) * phase_len + first / sw;
                            &phases[start..start + (hi - lo)]
                        } else {
                            &row[first..first + (hi - lo)]
                        };
                        let at = (r + first) as u32;
                        running_max(taps, at, sw as u32, &mut best[lo..hi], &mut best_at[lo..hi]);
                    }
                }
                for (&at, &g) in best_at.iter().zip(g) {
                    if at != u32::MAX {
                        d[at as usize] += g;
                    }
                }
            }
        }
    });
    Tensor::new(input.shape.to_vec(), dx)
}

/// One tap across a row of windows: window k reads `taps[k]`, at index `at + k·stride` of its plane, and takes it
/// if it is larger than its maximum so far (strictly: the first maximum wins). Branch-free over contiguous
/// values, so the compiler vectorizes it.
#[inline(always)]
fn running_max(taps: &[f32], at: u32, stride: u32, best: &mut [f32], best_at: &mut [u32]) {
    let n = taps.len().min(best.len()).min(best_at.len());
    let (taps, best, best_at) = (&taps[..n], &mut best[..n], &mut best_at[..n]);
    for k in 0..n {
        // All ones where the tap wins; blended with bit masks, which the compiler cannot turn back into a
        // (mispredicted) branch.
        let take = 0u32.wrapping_sub(u32::from(taps[k] > best[k]));
        best[k] = f32::from_bits((taps[k].to_bits() & take) | (best[k].to_bits() & !take));
        best_at[k] = ((at + k as u32 * stride) & take) | (best_at[k] & !take);
    }
}

/// Input positions of output position `o`'s window along `axis` that lie inside [0, len).
fn inside(w: &Window, axis: usize, o: usize, len: usize) -> impl Iterator<Item = usize> + '_ {
    taps(w, axis, o).filter(move |&p| p >= 0 && (p as usize) < len).map(|p| p as usize)
}

fn average_pool(in_shape: &[usize], grad: &Tensor, w: &Window, count_include_pad: bool) -> Tensor {
    let [n, c, h, wd] = [in_shape[0], in_shape[1], in_shape[2], in_shape[3]];
    let [oh, ow] = [grad.shape[2], grad.shape[3]];
    let limits = [h as isize, wd as isize];
    let counted = |axis: usize, p: isize| {
        if count_include_pad {
            p >= -(w.pads_begin[axis] as isize) && p < limits[axis] + w.pads_end[axis] as isize
        } else {
            p >= 0 && p < limits[axis]
        }
    };
    let mut dx = vec![0.0f32; in_shape.iter().product()];
    for plane in 0..n * c {
        let g = &grad.data[plane * oh * ow..(plane + 1) * oh * ow];
        let d = &mut dx[plane * h * wd..(plane + 1) * h * wd];
        for oy in 0..oh {
            let rows = taps(w, 0, oy).filter(|&p| counted(0, p)).count();
            for ox in 0..ow {
                let cols = taps(w, 1, ox).filter(|&p| counted(1, p)).count();
                let share = g[oy * ow + ox] / (rows * cols).max(1) as f32;
                for iy in taps(w, 0, oy).filter(|&p| p >= 0 && p < limits[0]) {
                    for ix in taps(w, 1, ox).filter(|&p| p >= 0 && p < limits[1]) {
                        d[iy as usize * wd + ix as usize] += share;
                    }
                }
            }
        }
    }
    Tensor::new(in_shape.to_vec(), dx)
}

fn global_average_pool(in_shape: &[usize], grad: &Tensor) -> Tensor {
    let plane: usize = in_shape[2..].iter().product();
    let mut dx = Vec::with_capacity(in_shape.iter().product());
    for &g in &grad.data {
        dx.extend(std::iter::repeat_n(g / plane as f32, plane));
    }
    Tensor::new(in_shape.to_vec(), dx)
}
