//! Index arithmetic shared by the ops that broadcast, permute or pick elements.

use std::borrow::Cow;

use crate::tensor::Tensor;

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        s[a] = s[a + 1] * shape[a + 1];
    }
    s
}

/// Calls `f(offset)` for every element of `shape` in row-major order, where offset = Σ index[a]·strides[a].
pub fn walk(shape: &[usize], strides: &[usize], mut f: impl FnMut(usize)) {
    let n: usize = shape.iter().product();
    let rank = shape.len();
    if n == 0 {
        return;
    }
    if rank == 0 {
        f(0);
        return;
    }
    let (inner, inner_stride) = (shape[rank - 1], strides[rank - 1]);
    let mut index = vec![0usize; rank];
    let mut base = 0usize;
    for _ in 0..n / inner {
        for k in 0..inner {
            f(base + k * inner_stride);
        }
        for a in (0..rank - 1).rev() {
            index[a] += 1;
            base += strides[a];
            if index[a] < shape[a] {
                break;
            }
            base -= strides[a] * shape[a];
            index[a] = 0;
        }
    }
}

/// The strides that read a tensor of `shape` as if broadcast (numpy rules) to `to`: 0 along broadcast axes.
pub fn broadcast_strides(shape: &[usize], to: &[usize]) -> Vec<usize> {
    let pad = to.len() - shape.len();
    let own = strides(shape);
    (0..to.len()).map(|a| if a < pad || shape[a - pad] == 1 { 0 } else { own[a - pad] }).collect()
}

/// `data` (of `shape`) broadcast to `to`.
pub fn broadcast_to<'a>(data: &'a [f32], shape: &[usize], to: &[usize]) -> Cow<'a, [f32]> {
    if shape == to {
        return Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(to.iter().product());
    walk(to, &broadcast_strides(shape, to), |o| out.push(data[o]));
    Cow::Owned(out)
}

/// The input index each output index reads, along every axis (None: reads no input, e.g. constant padding).
pub type AxisMaps = Vec<Vec<Option<usize>>>;

/// The identity map of an axis of size `n`.
pub fn identity(n: usize) -> Vec<Option<usize>> {
    (0..n).map(Some).collect()
}

/// The adjoint of picking elements along each axis independently (Slice, Split, Pad):
/// dx[map(o)] += g[o] for every output index o.
pub fn scatter(grad: &Tensor, in_shape: &[usize], maps: &AxisMaps) -> Tensor {
    let mut dx = Tensor::zeros(in_shape);
    if maps.is_empty() {
        dx.data[0] += grad.data[0];
        return dx;
    }
    let (gs, xs) = (strides(&grad.shape), strides(in_shape));
    scatter_axis(0, &grad.data, &gs, &xs, maps, 0, 0, &mut dx.data);
    dx
}

#[allow(clippy::too_many_arguments)]
fn scatter_axis(
    axis: usize,
    g: &[f32],
    gs: &[usize],
    xs: &[usize],
    maps: &AxisMaps,
    g_off: usize,
    x_off: usize,
    dx: &mut [f32],
) {
    let last = axis + 1 == maps.len();
    for (o, m) in maps[axis].iter().enumerate() {
        let Some(i) = *m else { continue };
        let (go, xo) = (g_off + o * gs[axis], x_off + i * xs[axis]);
        if last {
            dx[xo] += g[go];
        } else {
            scatter_axis(axis + 1, g, gs, xs, maps, go, xo, dx);
        }
    }
}
