//! Pools: MaxPool routes each output's gradient to its window's maximum; the averages spread it.

use crate::graph::Window;
use crate::tensor::{Tensor, View};

/// Input positions covered by output position `o` along one axis, as (position, in_bounds).
fn taps(w: &Window, axis: usize, o: usize) -> impl Iterator<Item = isize> + '_ {
    let start = (o * w.strides[axis]) as isize - w.pads_begin[axis] as isize;
    (0..w.kernel[axis]).map(move |k| start + (k * w.dilations[axis]) as isize)
}

/// Routes the gradient to the first maximum of each window in scan order (padding never wins),
/// as PyTorch does.
pub fn max_pool(input: View, grad: &Tensor, w: &Window) -> Tensor {
    let [n, c, h, wd] = [input.shape[0], input.shape[1], input.shape[2], input.shape[3]];
    let [oh, ow] = [grad.shape[2], grad.shape[3]];
    // The window rows/columns that fall inside the input, per output row/column, computed once
    // so the inner loops carry no bounds tests.
    let rows: Vec<Vec<usize>> = (0..oh).map(|o| inside(w, 0, o, h).map(|iy| iy * wd).collect()).collect();
    let cols: Vec<Vec<usize>> = (0..ow).map(|o| inside(w, 1, o, wd).collect()).collect();
    let mut dx = vec![0.0f32; input.data.len()];
    for plane in 0..n * c {
        let x = &input.data[plane * h * wd..(plane + 1) * h * wd];
        let g = &grad.data[plane * oh * ow..(plane + 1) * oh * ow];
        let d = &mut dx[plane * h * wd..(plane + 1) * h * wd];
        for (oy, row_starts) in rows.iter().enumerate() {
            for (ox, col_offsets) in cols.iter().enumerate() {
                let (mut best, mut best_at) = (f32::NEG_INFINITY, usize::MAX);
                for &r in row_starts {
                    for &c in col_offsets {
                        if x[r + c] > best {
                            best = x[r + c];
                            best_at = r + c;
                        }
                    }
                }
                if best_at != usize::MAX {
                    d[best_at] += g[oy * ow + ox];
                }
            }
        }
    }
    Tensor::new(input.shape.to_vec(), dx)
}

/// Input positions of output position `o`'s window along `axis` that lie inside [0, len).
fn inside(w: &Window, axis: usize, o: usize, len: usize) -> impl Iterator<Item = usize> + '_ {
    taps(w, axis, o).filter(move |&p| p >= 0 && (p as usize) < len).map(|p| p as usize)
}

pub fn average_pool(in_shape: &[usize], grad: &Tensor, w: &Window, count_include_pad: bool) -> Tensor {
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

pub fn global_average_pool(in_shape: &[usize], grad: &Tensor) -> Tensor {
    let plane: usize = in_shape[2..].iter().product();
    let mut dx = Vec::with_capacity(in_shape.iter().product());
    for &g in &grad.data {
        dx.extend(std::iter::repeat_n(g / plane as f32, plane));
    }
    Tensor::new(in_shape.to_vec(), dx)
}

