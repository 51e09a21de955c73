//! Which input wins each max-pooling window: the first maximum in scan order (the window's rows top to bottom, each
//! left to right; padding never wins), which is where PyTorch routes MaxPool's gradient. The recording forward pass
//! finds the winners while it pools (src/forward/maxpool.rs), so that the reverse pass only scatters; the MaxPool
//! VJP finds them itself when a plan did not record them.

use crate::graph::Window;
use crate::tensor::split_phases;
use crate::threads;

/// The winner of a window with no tap inside the input (its maximum is -inf; its gradient goes nowhere).
pub const NO_WINNER: u32 = u32::MAX;

/// A 2-D max pool over planes of `input` ([height, width]) giving planes of `output`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct Pool2d {
    pub window: Window,
    pub input: [usize; 2],
    pub output: [usize; 2],
}

impl Pool2d {
    /// For each plane of `x`: each window's maximum into `best` and its winner's index within the plane into
    /// `winners`. Planes are split over the threads (the same result at any thread count).
    pub fn winners(&self, x: &[f32], best: &mut [f32], winners: &mut [u32]) {
        let ([h, wd], [oh, ow]) = (self.input, self.output);
        let (in_plane, out_plane) = (h * wd, oh * ow);
        if out_plane == 0 {
            return;
        }
        assert!(x.len() == best.len() / out_plane * in_plane && best.len() == winners.len());
        let per_chunk = threads::units_per_chunk(best.len() / out_plane, in_plane);
        threads::for_each_chunk_pair(best, winners, per_chunk * out_plane, |i, best, winners| {
            scan_planes(self, &x[i * per_chunk * in_plane..], best, winners);
        });
    }
}

/// The window scan, laid out so that each tap is one long vectorized loop. The input is padded (with -inf, which
/// never wins) to what the windows cover and split into its stride phases: phase plane (py, px) holds rows py,
/// py + stride, … and in each the columns px, px + stride, …, `width` long. Output (oy, ox)'s tap (ky, kx) is then
/// at row oy + ky·dilation / stride, column ox + kx·dilation / stride of one phase plane: for all outputs at once,
/// one contiguous run of that plane, if the outputs are laid out `width` wide too (the columns past the output's
/// width are computed and dropped). Taps run in scan order and take strictly larger values, so each window keeps
/// its first maximum; which tap won becomes an input position at the end.
/// Compiled for each of these CPUs and chosen at run time: the native build targets baseline x86-64 (4 lanes).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl", "x86_64+avx2+fma"))]
fn scan_planes(p: &Pool2d, x: &[f32], best: &mut [f32], winners: &mut [u32]) {
    let ([h, wd], [oh, ow]) = (p.input, p.output);
    let Window { kernel: [kh, kw], strides: [sh, sw], dilations: [dh, dw], pads_begin: [ph, pw], .. } = p.window;
    // The padded extent the windows cover; a phase plane's rows and row length.
    let padded = [(oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + (kw - 1) * dw + 1];
    let (rows, width) = (padded[0].div_ceil(sh), padded[1].div_ceil(sw));
    // One row of slack: a tap's run starts up to (kernel - 1)·dilation / stride columns into its plane.
    let plane_len = (rows + 1) * width;
    // Rows outside the input stay -inf from the start (every plane writes the same rows), and so do the columns
    // outside it in `row`.
    let mut phases = vec![f32::NEG_INFINITY; sh * sw * plane_len];
    let mut row = vec![f32::NEG_INFINITY; width * sw];
    let mut split = vec![0.0f32; width * sw];
    let (mut grid_best, mut grid_tap) = (vec![0.0f32; oh * width], vec![0u32; oh * width]);
    // The input's columns within the padded row.
    let (first, last) = (pw.min(width * sw), (pw + wd).min(width * sw));
    // Per tap: its input position relative to the window's corner (oy·sh, ox·sw).
    let offset: Vec<isize> = (0..kh * kw)
        .map(|t| ((t / kw * dh) as isize - ph as isize) * wd as isize + (t % kw * dw) as isize - pw as isize)
        .collect();
    let planes = x.chunks_exact(h * wd).zip(best.chunks_exact_mut(oh * ow)).zip(winners.chunks_exact_mut(oh * ow));
    for ((x, best), winners) in planes {
        for yy in ph..(ph + h).min(padded[0]) {
            row[first..last].copy_from_slice(&x[(yy - ph) * wd..][..last - first]);
            let (py, r) = (yy % sh, yy / sh);
            if sw == 1 {
                phases[py * plane_len + r * width..][..width].copy_from_slice(&row);
                continue;
            }
            split_phases(&row, sw, &mut split);
            for (px, part) in split.chunks_exact(width).enumerate() {
                phases[(py * sw + px) * plane_len + r * width..][..width].copy_from_slice(part);
            }
        }
        grid_best.fill(f32::NEG_INFINITY);
        grid_tap.fill(NO_WINNER);
        for ky in 0..kh {
            for kx in 0..kw {
                let (dy, dx) = (ky * dh, kx * dw);
                let start = ((dy % sh) * sw + dx % sw) * plane_len + (dy / sh) * width + dx / sw;
                let tap = (ky * kw + kx) as u32;
                running_max(&phases[start..start + oh * width], tap, &mut grid_best, &mut grid_tap);
            }
        }
        let grid = grid_best.chunks_exact(width).zip(grid_tap.chunks_exact(width));
        for (oy, ((best, winners), (grid_best, grid_tap))) in
            best.chunks_exact_mut(ow).zip(winners.chunks_exact_mut(ow)).zip(grid).enumerate()
        {
            best.copy_from_slice(&grid_best[..ow]);
            let corner = (oy * sh * wd) as isize;
            for (ox, (w, &tap)) in winners.iter_mut().zip(grid_tap).enumerate() {
                *w = if tap == NO_WINNER {
                    NO_WINNER
                } else {
                    (corner + (ox * sw) as isize + offset[tap as usize]) as u32
                };
            }
        }
    }
}

/// One tap across windows: window k reads `values[k]` and takes it (records `tap`) if it is larger than its maximum
/// so far (strictly: the first maximum wins). Branch-free over contiguous values, so the compiler
/// vectorizes it.
#[inline(always)]
fn running_max(values: &[f32], tap: u32, best: &mut [f32], taps: &mut [u32]) {
    let n = values.len().min(best.len()).min(taps.len());
    let (values, best, taps) = (&values[..n], &mut best[..n], &mut taps[..n]);
    for k in 0..n {
        // All ones where the tap wins; blended with bit masks, which the compiler cannot turn back into a
        // (mispredicted) branch.
        let take = 0u32.wrapping_sub(u32::from(values[k] > best[k]));
        best[k] = f32::from_bits((values[k].to_bits() & take) | (best[k].to_bits() & !take));
        taps[k] = (tap & take) | (taps[k] & !take);
    }
}
