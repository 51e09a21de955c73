//! Transformation robustness (Olah et al. 2017): each step sees the image jittered, scaled and rotated by a random
//! amount. One affine bilinear resampling does all three; its VJP scatters the gradient back with the same
//! weights, so forward and backward are consistent. Where the transformed image reads outside the picture it sees
//! grey (0.5), which carries no gradient.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::tensor::Tensor;

/// Output pixel (y, x) reads the input at `centre + R(−angle)·((y, x) − centre)/scale − shift`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    pub shift: [f32; 2],
    pub scale: f32,
    /// Radians.
    pub angle: f32,
}

impl Affine {
    pub const IDENTITY: Affine = Affine { shift: [0.0, 0.0], scale: 1.0, angle: 0.0 };

    /// Jitter up to `jitter` pixels (whole pixels) each way, scale in [1 − s, 1 + s], rotation within ±`degrees`.
    pub fn random(rng: &mut ChaCha8Rng, jitter: u32, s: f32, degrees: f32) -> Affine {
        let j = jitter as i32;
        let shift = [rng.gen_range(-j..=j) as f32, rng.gen_range(-j..=j) as f32];
        let scale = if s > 0.0 { rng.gen_range(1.0 - s..=1.0 + s) } else { 1.0 };
        let angle = if degrees > 0.0 { rng.gen_range(-degrees..=degrees).to_radians() } else { 0.0 };
        Affine { shift, scale, angle }
    }

    fn source(&self, y: usize, x: usize, h: usize, w: usize) -> (f32, f32) {
        let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
        let (dy, dx) = ((y as f32 - cy) / self.scale, (x as f32 - cx) / self.scale);
        let (s, c) = self.angle.sin_cos();
        (cy + c * dy + s * dx - self.shift[0], cx - s * dy + c * dx - self.shift[1])
    }

    /// The four input taps and weights of output pixel (y, x); taps outside the picture are `None`.
    fn taps(&self, y: usize, x: usize, h: usize, w: usize) -> [(Option<usize>, f32); 4] {
        let (sy, sx) = self.source(y, x, h, w);
        let (y0, x0) = (sy.floor(), sx.floor());
        let (fy, fx) = (sy - y0, sx - x0);
        let at = |yy: f32, xx: f32| {
            (yy >= 0.0 && xx >= 0.0 && (yy as usize) < h && (xx as usize) < w).then(|| yy as usize * w + xx as usize)
        };
        [
            (at(y0, x0), (1.0 - fy) * (1.0 - fx)),
            (at(y0, x0 + 1.0), (1.0 - fy) * fx),
            (at(y0 + 1.0, x0), fy * (1.0 - fx)),
            (at(y0 + 1.0, x0 + 1.0), fy * fx),
        ]
    }

    /// The transformed image ([1, C, H, W] → same shape), grey outside.
    pub fn apply(&self, img: &Tensor) -> Tensor {
        let (h, w) = (img.shape[2], img.shape[3]);
        let mut out = Tensor::zeros(&img.shape);
        for (src, dst) in img.data.chunks(h * w).zip(out.data.chunks_mut(h * w)) {
            for y in 0..h {
                for x in 0..w {
                    dst[y * w + x] = self.taps(y, x, h, w).iter().map(|&(i, wt)| wt * i.map_or(0.5, |i| src[i])).sum();
                }
            }
        }
        out
    }

    /// d objective / d image, given d objective / d transformed image.
    pub fn vjp(&self, grad: &Tensor) -> Tensor {
        let (h, w) = (grad.shape[2], grad.shape[3]);
        let mut out = Tensor::zeros(&grad.shape);
        for (g, dst) in grad.data.chunks(h * w).zip(out.data.chunks_mut(h * w)) {
            for y in 0..h {
                for x in 0..w {
                    for (i, wt) in self.taps(y, x, h, w) {
                        if let Some(i) = i {
                            dst[i] += wt * g[y * w + x];
                        }
                    }
                }
            }
        }
        out
    }
}

/// Bilinear resize of [1, C, h, w] to [1, C, oh, ow] (half-pixel centres, edge-clamped), and its VJP: the
/// DeepDream octaves optimise a coarse image that the network sees upsampled.
pub fn resize(img: &Tensor, oh: usize, ow: usize) -> Tensor {
    resize_impl(img, oh, ow, None)
}

pub fn resize_vjp(grad: &Tensor, h: usize, w: usize) -> Tensor {
    let mut shape = grad.shape.clone();
    shape[2] = h;
    shape[3] = w;
    resize_impl(grad, h, w, Some(shape))
}

/// Forward when `adjoint_shape` is None; else scatters `t` (the output-sized gradient) into that input shape.
fn resize_impl(t: &Tensor, a: usize, b: usize, adjoint_shape: Option<Vec<usize>>) -> Tensor {
    let (c, th, tw) = (t.shape[1], t.shape[2], t.shape[3]);
    let ((ih, iw), (oh, ow)) = match adjoint_shape {
        None => ((th, tw), (a, b)),
        Some(_) => ((a, b), (th, tw)),
    };
    let coord = |o: usize, n_in: usize, n_out: usize| -> (usize, usize, f32) {
        let s = ((o as f32 + 0.5) * n_in as f32 / n_out as f32 - 0.5).clamp(0.0, (n_in - 1) as f32);
        let i0 = s.floor() as usize;
        (i0, (i0 + 1).min(n_in - 1), s - i0 as f32)
    };
    let mut out = Tensor::zeros(&[
        1,
        c,
        if adjoint_shape.is_some() { ih } else { oh },
        if adjoint_shape.is_some() { iw } else { ow },
    ]);
    for ch in 0..c {
        for y in 0..oh {
            let (y0, y1, fy) = coord(y, ih, oh);
            for x in 0..ow {
                let (x0, x1, fx) = coord(x, iw, ow);
                let taps = [
                    (y0, x0, (1.0 - fy) * (1.0 - fx)),
                    (y0, x1, (1.0 - fy) * fx),
                    (y1, x0, fy * (1.0 - fx)),
                    (y1, x1, fy * fx),
                ];
                if adjoint_shape.is_none() {
                    out.data[(ch * oh + y) * ow + x] =
                        taps.iter().map(|&(yy, xx, wt)| wt * t.data[(ch * ih + yy) * iw + xx]).sum();
                } else {
                    let g = t.data[(ch * oh + y) * ow + x];
                    for (yy, xx, wt) in taps {
                        out.data[(ch * ih + yy) * iw + xx] += wt * g;
                    }
                }
            }
        }
    }
    out
}
