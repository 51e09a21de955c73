//! Pools: MaxPool routes each output's gradient to its window's maximum; the averages spread it.

use crate::graph::Window;
use crate::tensor::Tensor;

/// Input positions covered by output position `o` along one axis, as (position, in_bounds).
fn taps(w: &Window, axis: usize, o: usize) -> impl Iterator<Item = isize> + '_ {
    let start = (o * w.strides[axis]) as isize - w.pads_begin[axis] as isize;
    (0..w.kernel[axis]).map(move |k| start + (k * w.dilations[axis]) as isize)
}

/// Routes the gradient to the first maximum of each window (padding never wins), as PyTorch does.
pub fn max_pool(input: &Tensor, grad: &Tensor, w: &Window) -> Tensor {
    let [n, c, h, wd] = [input.shape[0], input.shape[1], input.shape[2], input.shape[3]];
    let [oh, ow] = [grad.shape[2], grad.shape[3]];
    let mut dx = vec![0.0f32; input.len()];
    let mut cells = Vec::with_capacity(w.kernel[0] * w.kernel[1]);
    for plane in 0..n * c {
        let x = &input.data[plane * h * wd..(plane + 1) * h * wd];
        let g = &grad.data[plane * oh * ow..(plane + 1) * oh * ow];
        let d = &mut dx[plane * h * wd..(plane + 1) * h * wd];
        for oy in 0..oh {
            for ox in 0..ow {
                cells.clear();
                for iy in taps(w, 0, oy).filter(|&p| p >= 0 && (p as usize) < h) {
                    cells.extend(taps(w, 1, ox).filter(|&p| p >= 0 && (p as usize) < wd).map(|ix| iy as usize * wd + ix as usize));
                }
                let max = cells.iter().map(|&at| x[at]).fold(f32::NEG_INFINITY, f32::max);
                // Exact ties go to the first cell in scan order, as in PyTorch.
                if let Some(&at) = cells.iter().find(|&&at| x[at] == max) {
                    d[at] += g[oy * ow + ox];
                }
            }
        }
    }
    Tensor::new(input.shape.clone(), dx)
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
        dx.extend(std::iter::repeat(g / plane as f32).take(plane));
    }
    Tensor::new(in_shape.to_vec(), dx)
}

