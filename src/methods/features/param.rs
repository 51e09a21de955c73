//! Image parameterizations for feature visualization (Olah et al. 2017, "Feature Visualization"; Lucid's
//! `fft_image` and `to_valid_rgb`): the optimiser moves parameters, and the image is a function of them, with its
//! vector-Jacobian product so the network's gradient flows back to the parameters.
//!
//! - `Pixel`: one parameter per value, image = sigmoid(p).
//! - `Fourier`: a complex spectrum per colour channel, scaled by 1/frequency (so low frequencies, which the eye
//!   sees as structure, move first), image = Re(IFFT2(S ⊙ scale)) / (4·√(HW)) — Lucid's unitary scaling —
//!   then, like Lucid, colours decorrelated with the square root of ImageNet's colour covariance and squashed by
//!   a sigmoid into [0, 1]. The FFT is `rustfft`'s.

use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use crate::tensor::Tensor;

/// Lucid's `color_correlation_svd_sqrt`: the square root of ImageNet's RGB covariance.
const COLOR_SQRT: [[f32; 3]; 3] = [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]];

/// COLOR_SQRT divided by its largest column norm (Lucid's `color_correlation_normalized`).
fn color_matrix() -> [[f32; 3]; 3] {
    let norm = |c: usize| (0..3).map(|r| COLOR_SQRT[r][c].powi(2)).sum::<f32>().sqrt();
    let max = (0..3).map(norm).fold(0f32, f32::max);
    let mut m = COLOR_SQRT;
    m.iter_mut().flatten().for_each(|v| *v /= max);
    m
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Pixel,
    Fourier,
}

/// 2-D FFTs of one size, planned once.
struct Fft2 {
    h: usize,
    w: usize,
    rows: Arc<dyn Fft<f32>>,
    cols: Arc<dyn Fft<f32>>,
    rows_inv: Arc<dyn Fft<f32>>,
    cols_inv: Arc<dyn Fft<f32>>,
}

impl Fft2 {
    fn new(h: usize, w: usize) -> Fft2 {
        let mut p = FftPlanner::new();
        Fft2 {
            h,
            w,
            rows: p.plan_fft_forward(w),
            cols: p.plan_fft_forward(h),
            rows_inv: p.plan_fft_inverse(w),
            cols_inv: p.plan_fft_inverse(h),
        }
    }

    /// In place, unnormalised, row-major h × w.
    fn run(&self, data: &mut [Complex32], inverse: bool) {
        let (rows, cols) = if inverse { (&self.rows_inv, &self.cols_inv) } else { (&self.rows, &self.cols) };
        for row in data.chunks_mut(self.w) {
            rows.process(row);
        }
        let mut col = vec![Complex32::new(0.0, 0.0); self.h];
        for x in 0..self.w {
            for y in 0..self.h {
                col[y] = data[y * self.w + x];
            }
            cols.process(&mut col);
            for y in 0..self.h {
                data[y * self.w + x] = col[y];
            }
        }
    }
}

/// The parameters of one 3-channel image and how they become pixels in [0, 1].
pub struct Param {
    pub kind: Kind,
    /// Colours decorrelated (Fourier default).
    pub decorrelate: bool,
    h: usize,
    w: usize,
    /// Pixel: [3·H·W]. Fourier: real parts then imaginary parts, [2·3·H·W].
    pub values: Vec<f32>,
    /// Fourier: 1 / max(|frequency|, 1 / max(H, W)) per spectrum position.
    scale: Vec<f32>,
    fft: Option<Fft2>,
}

impl Param {
    /// Lucid's initialisation: N(0, 0.01²) per parameter.
    pub fn new(kind: Kind, decorrelate: bool, h: usize, w: usize, rng: &mut ChaCha8Rng) -> Param {
        let n = 3 * h * w * if kind == Kind::Fourier { 2 } else { 1 };
        let values = (0..n).map(|_| 0.01 * rng.sample::<f32, _>(StandardNormal)).collect();
        let freq = |i: usize, n: usize| {
            let k = if i <= n / 2 { i as f32 } else { i as f32 - n as f32 };
            k / n as f32
        };
        let floor = 1.0 / h.max(w) as f32;
        let scale = if kind == Kind::Fourier {
            (0..h * w).map(|i| 1.0 / (freq(i / w, h).hypot(freq(i % w, w))).max(floor)).collect()
        } else {
            vec![]
        };
        let fft = (kind == Kind::Fourier).then(|| Fft2::new(h, w));
        Param { kind, decorrelate, h, w, values, scale, fft }
    }

    /// Values before the colour mixing and sigmoid, [3, H, W] (the "logit" image).
    fn pre(&self) -> Vec<f32> {
        let plane = self.h * self.w;
        match self.kind {
            Kind::Pixel => self.values.clone(),
            Kind::Fourier => {
                let fft = self.fft.as_ref().expect("Fourier has an FFT");
                let k = 1.0 / (4.0 * (plane as f32).sqrt());
                let mut out = Vec::with_capacity(3 * plane);
                let (re, im) = self.values.split_at(3 * plane);
                for c in 0..3 {
                    let mut z: Vec<Complex32> = (0..plane)
                        .map(|i| Complex32::new(re[c * plane + i], im[c * plane + i]) * self.scale[i])
                        .collect();
                    fft.run(&mut z, true);
                    out.extend(z.iter().map(|v| v.re * k));
                }
                out
            }
        }
    }

    fn mix(&self, t: &[f32], transpose: bool) -> Vec<f32> {
        if !self.decorrelate {
            return t.to_vec();
        }
        let m = color_matrix();
        let plane = self.h * self.w;
        let mut out = vec![0f32; t.len()];
        for i in 0..plane {
            for c in 0..3 {
                out[c * plane + i] = (0..3).map(|d| if transpose { m[d][c] } else { m[c][d] } * t[d * plane + i]).sum();
            }
        }
        out
    }

    /// The image in [0, 1], [1, 3, H, W].
    pub fn image(&self) -> Tensor {
        let t = self.mix(&self.pre(), false);
        Tensor::new(vec![1, 3, self.h, self.w], t.iter().map(|&v| sigmoid(v)).collect())
    }

    /// d objective / d parameters, given d objective / d image ([1, 3, H, W] in [0, 1] units).
    pub fn vjp(&self, grad_image: &Tensor) -> Vec<f32> {
        let s = self.image();
        let g: Vec<f32> = grad_image.data.iter().zip(&s.data).map(|(g, s)| g * s * (1.0 - s)).collect();
        let g = self.mix(&g, true);
        match self.kind {
            Kind::Pixel => g,
            Kind::Fourier => {
                // x = Re(A z) with A = k · IFFT (unnormalised) and z = S ⊙ scale, so d/dz = k · FFT(g), and
                // d/dS = that ⊙ scale: real parts then imaginary parts.
                let fft = self.fft.as_ref().expect("Fourier has an FFT");
                let plane = self.h * self.w;
                let k = 1.0 / (4.0 * (plane as f32).sqrt());
                let (mut re, mut im) = (Vec::with_capacity(3 * plane), Vec::with_capacity(3 * plane));
                for c in 0..3 {
                    let mut z: Vec<Complex32> =
                        g[c * plane..(c + 1) * plane].iter().map(|&v| Complex32::new(v, 0.0)).collect();
                    fft.run(&mut z, false);
                    for (i, v) in z.iter().enumerate() {
                        re.push(v.re * k * self.scale[i]);
                        im.push(v.im * k * self.scale[i]);
                    }
                }
                re.extend(im);
                re
            }
        }
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// Adam (Kingma & Ba 2015) ascending an objective, Lucid's default optimiser.
pub struct Adam {
    lr: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    pub fn new(n: usize, lr: f32) -> Adam {
        Adam { lr, m: vec![0.0; n], v: vec![0.0; n], t: 0 }
    }

    pub fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    /// One step up the gradient `g` of `params`.
    pub fn ascend(&mut self, params: &mut [f32], g: &[f32]) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.t += 1;
        let (c1, c2) = (1.0 - B1.powi(self.t), 1.0 - B2.powi(self.t));
        for i in 0..params.len() {
            self.m[i] = B1 * self.m[i] + (1.0 - B1) * g[i];
            self.v[i] = B2 * self.v[i] + (1.0 - B2) * g[i] * g[i];
            params[i] += self.lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
        }
    }
}
