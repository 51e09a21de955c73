//! Pixel operations the methods share (one copy each): channel reductions of a map, resampling a grid to the
//! image, the Gaussian blur and the circular shift of CS231n's class visualization (also used by Integrated
//! Gradients' blurred baseline, faithfulness's blurred fill and DeepDream's jitter).

use crate::tensor::Tensor;

/// Sum over colour channels of a [.., C, H, W] map.
pub fn channel_sum(map: &Tensor) -> Vec<f32> {
    let r = map.shape.len();
    let plane = map.shape[r - 2] * map.shape[r - 1];
    let mut out = vec![0.0f32; plane];
    for ch in map.data.chunks(plane) {
        out.iter_mut().zip(ch).for_each(|(o, v)| *o += v);
    }
    out
}

/// Max over colour channels of |·| of a [.., C, H, W] map.
pub fn channel_max_abs(map: &Tensor) -> Vec<f32> {
    let r = map.shape.len();
    let plane = map.shape[r - 2] * map.shape[r - 1];
    let mut out = vec![0.0f32; plane];
    for ch in map.data.chunks(plane) {
        out.iter_mut().zip(ch).for_each(|(o, v)| *o = o.max(v.abs()));
    }
    out
}

/// Where output row/column `o` of `n_out` reads input `n_in`: `Corners::Aligned` = PyTorch's
/// `align_corners=True` (`UpsamplingBilinear2d`, Score-CAM's masks), `Corners::HalfPixel` = `align_corners=False`
/// (`F.interpolate`'s default, OpenCV's `resize` when enlarging).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corners {
    HalfPixel,
    Aligned,
}

/// Bilinear resampling of an h × w grid to oh × ow, as PyTorch's `F.interpolate(mode="bilinear")` with
/// `align_corners` as `corners` says.
pub fn upsample_bilinear(src: &[f32], h: usize, w: usize, oh: usize, ow: usize, corners: Corners) -> Vec<f32> {
    let coord = |o: usize, n_in: usize, n_out: usize| -> (usize, usize, f32) {
        let s = match corners {
            Corners::HalfPixel => ((o as f32 + 0.5) * n_in as f32 / n_out as f32 - 0.5).max(0.0),
            Corners::Aligned if n_out > 1 => o as f32 * (n_in - 1) as f32 / (n_out - 1) as f32,
            Corners::Aligned => 0.0,
        };
        let i0 = (s.floor() as usize).min(n_in - 1);
        let i1 = (i0 + 1).min(n_in - 1);
        (i0, i1, s - i0 as f32)
    };
    // The columns' taps once, not once per row.
    let columns: Vec<(usize, usize, f32)> = (0..ow).map(|x| coord(x, w, ow)).collect();
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let (y0, y1, fy) = coord(y, h, oh);
        let (top_row, bottom_row) = (&src[y0 * w..][..w], &src[y1 * w..][..w]);
        out.extend(columns.iter().map(|&(x0, x1, fx)| {
            let top = top_row[x0] * (1.0 - fx) + top_row[x1] * fx;
            let bottom = bottom_row[x0] * (1.0 - fx) + bottom_row[x1] * fx;
            top * (1.0 - fy) + bottom * fy
        }));
    }
    out
}

/// PyTorch's `F.interpolate(mode="nearest")`: output (y, x) reads input (⌊y·h/oh⌋, ⌊x·w/ow⌋).
pub fn upsample_nearest(src: &[f32], h: usize, w: usize, oh: usize, ow: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let sy = ((y as f64 * h as f64 / oh as f64).floor() as usize).min(h - 1);
        for x in 0..ow {
            let sx = ((x as f64 * w as f64 / ow as f64).floor() as usize).min(w - 1);
            out.push(src[sy * w + sx]);
        }
    }
    out
}

/// `dst = torch.roll(src, shifts=(oy, ox), dims=(2, 3))` for a [N, C, H, W] tensor: `dst[.., y, x] = src[.., y-oy, x-ox]`.
pub fn roll(src: &Tensor, dst: &mut Tensor, ox: usize, oy: usize) {
    assert_eq!(src.shape, dst.shape);
    let (h, w) = (src.shape[2], src.shape[3]);
    let (ox, oy) = (ox % w, oy % h);
    for (s_plane, d_plane) in src.data.chunks(h * w).zip(dst.data.chunks_mut(h * w)) {
        for y in 0..h {
            let s_row = &s_plane[((y + h - oy) % h) * w..][..w];
            let d_row = &mut d_plane[y * w..][..w];
            d_row[ox..].copy_from_slice(&s_row[..w - ox]);
            d_row[..ox].copy_from_slice(&s_row[w - ox..]);
        }
    }
}

/// scipy.ndimage.gaussian_filter1d's kernel: radius `int(4 sigma + 0.5)`, weights `exp(-x^2 / 2 sigma^2)` normalised.
pub fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let sigma = f64::from(sigma);
    let radius = (4.0 * sigma + 0.5) as i64;
    let weights: Vec<f64> = (-radius..=radius).map(|x| (-((x * x) as f64) / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f64 = weights.iter().sum();
    weights.iter().map(|w| (w / sum) as f32).collect()
}

/// scipy's mode 'reflect' (half-sample symmetric: d c b a | a b c d | d c b a) for any offset.
fn reflect_index(i: i64, n: usize) -> usize {
    let n = n as i64;
    let m = i.rem_euclid(2 * n);
    (if m < n { m } else { 2 * n - 1 - m }) as usize
}

/// Gaussian blur along H then W of a [N, C, H, W] tensor, like
/// `gaussian_filter1d(gaussian_filter1d(x, sigma, axis=2), sigma, axis=3)` (CS231n's `blur_image`), reflecting
/// at the edges. Each value is the sum of kernel weight × neighbour in kernel order, as a loop per pixel would
/// add them (so the result does not depend on how the loops run); the loops run over whole rows, which
/// vectorizes (a σ = 10 blur of a 224 × 224 image: ~37 ms natively per pixel, a few ms this way). `scratch` is
/// reused.
pub fn gaussian_blur_hw(x: &mut Tensor, sigma: f32, scratch: &mut Vec<f32>) {
    let kernel = gaussian_kernel(sigma);
    let radius = (kernel.len() / 2) as i64;
    let (h, w) = (x.shape[2], x.shape[3]);
    let mut padded = vec![0.0f32; w + kernel.len() - 1];
    for plane in x.data.chunks_mut(h * w) {
        // Along H: output row y = Σ_k kernel[k] × input row reflect(y + k − radius).
        scratch.clear();
        scratch.extend_from_slice(plane);
        for (y, out) in plane.chunks_exact_mut(w).enumerate() {
            out.fill(0.0);
            for (k, &wk) in kernel.iter().enumerate() {
                let src = reflect_index(y as i64 + k as i64 - radius, h) * w;
                for (o, &v) in out.iter_mut().zip(&scratch[src..src + w]) {
                    *o += wk * v;
                }
            }
        }
        // Along W: each row padded by reflection, then the same sum along it.
        for row in plane.chunks_exact_mut(w) {
            for (j, p) in padded.iter_mut().enumerate() {
                *p = row[reflect_index(j as i64 - radius, w)];
            }
            row.fill(0.0);
            for (k, &wk) in kernel.iter().enumerate() {
                for (o, &v) in row.iter_mut().zip(&padded[k..k + w]) {
                    *o += wk * v;
                }
            }
        }
    }
}
