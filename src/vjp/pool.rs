//! Pools: MaxPool routes each output's gradient to its window's maximum; the averages spread it.

use std::sync::Arc;

use super::{relu_pass, OpDecl, OpVjp, Shortcuts, Step};
use crate::error::Result;
use crate::graph::{ParseCtx, Window};
use crate::tensor::{Tensor, View};
use crate::threads;
use crate::window_max::{Pool2d, NO_WINNER};

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
    /// Nothing recorded but the window winners (src/window_max.rs): the plan records the pool's output and, beside
    /// it, which input won each window. Where it cannot, the engine records the input instead (`engine::recorder`)
    /// and the VJP finds the winners.
    fn shortcuts(&self) -> Shortcuts {
        Shortcuts { window_winners: true, masks_relu_inputs: true, ..Shortcuts::default() }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(max_pool(step, grad, &self.window)?))
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
    fn shortcuts(&self) -> Shortcuts {
        Shortcuts { masks_relu_inputs: true, ..Shortcuts::default() }
    }
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(step.first(global_average_pool(step.input_shape(0), grad, step.relu_mask(0)?)))
    }
}

/// Input positions covered by output position `o` along one axis, as (position, in_bounds).
fn taps(w: &Window, axis: usize, o: usize) -> impl Iterator<Item = isize> + '_ {
    let start = (o * w.strides[axis]) as isize - w.pads_begin[axis] as isize;
    (0..w.kernel[axis]).map(move |k| start + (k * w.dilations[axis]) as isize)
}

/// Routes the gradient to the first maximum of each window in scan order (padding never wins), as PyTorch does:
/// to the winners the forward pass recorded, else to the ones found here.
fn max_pool(step: &Step, grad: &Tensor, w: &Window) -> Result<Tensor> {
    let shape = step.input_shape(0);
    let [h, wd] = [shape[2], shape[3]];
    let found;
    let winners = match step.winners().filter(|r| r.len() == grad.data.len()) {
        Some(recorded) => recorded,
        None => {
            let pool = Pool2d { window: *w, input: [h, wd], output: [grad.shape[2], grad.shape[3]] };
            let (mut best, mut winners) = (vec![0.0f32; grad.data.len()], vec![0u32; grad.data.len()]);
            pool.winners(step.input(0)?.data, &mut best, &mut winners);
            found = winners;
            &found
        }
    };
    let out_plane = grad.shape[2] * grad.shape[3];
    // A ReLU before the pool: the gradient passes where the winner is above zero, which is where the pool's output
    // is (the winner's value), read in order instead of at the winners.
    let mask = if step.relu_masked(0) { Some(step.output()?) } else { None };
    let len: usize = shape.iter().product();
    // Planes are independent: split over them (bit-identical at any thread count).
    let per_chunk = threads::units_per_chunk(len / (h * wd).max(1), h * wd);
    let dx = threads::zeroed_chunks(len, per_chunk * h * wd, |i, chunk| {
        let first = i * per_chunk * out_plane;
        for (j, d) in chunk.chunks_mut(h * wd).enumerate() {
            let at = first + j * out_plane;
            let pairs = winners[at..at + out_plane].iter().zip(&grad.data[at..at + out_plane]);
            match &mask {
                None => pairs.filter(|(&w, _)| w != NO_WINNER).for_each(|(&w, &g)| d[w as usize] += g),
                // Where the winner is not above zero the window adds +0.0 (a select, not a branch: about half the
                // windows after a ReLU hold zeros, and a branch on that mispredicts as often).
                Some(out) => pairs
                    .zip(&out.data[at..at + out_plane])
                    .filter(|((&w, _), _)| w != NO_WINNER)
                    .for_each(|((&w, &g), &y)| d[w as usize] += relu_pass(y, g)),
            }
        }
    });
    Ok(Tensor::new(shape.to_vec(), dx))
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

/// Each output's gradient spread evenly over its plane; where a ReLU before the pool left a zero, nothing (`mask`).
fn global_average_pool(in_shape: &[usize], grad: &Tensor, mask: Option<View>) -> Tensor {
    let plane: usize = in_shape[2..].iter().product();
    let mut dx = Vec::with_capacity(in_shape.iter().product());
    for (i, &g) in grad.data.iter().enumerate() {
        let share = g / plane as f32;
        match &mask {
            Some(y) if share != 0.0 => {
                dx.extend(y.data[i * plane..(i + 1) * plane].iter().map(|&y| relu_pass(y, share)))
            }
            _ => dx.extend(std::iter::repeat_n(share, plane)),
        }
    }
    Tensor::new(in_shape.to_vec(), dx)
}
