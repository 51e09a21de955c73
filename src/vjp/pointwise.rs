//! Element-wise ops: Relu, Clip, BatchNormalization (inference), Add, Softmax/LogSoftmax.

use super::Step;
use crate::tensor::{Tensor, View};

pub fn relu(output: View, grad: &Tensor) -> Tensor {
    let data = output.data.iter().zip(&grad.data).map(|(&y, &g)| if y > 0.0 { g } else { 0.0 }).collect();
    Tensor::new(grad.shape.clone(), data)
}

/// The gradient passes where the input was strictly inside [min, max] (PyTorch's hardtanh rule).
pub fn clip(input: View, grad: &Tensor, min: f32, max: f32) -> Tensor {
    let data =
        input.data.iter().zip(&grad.data).map(|(&x, &g)| if x > min && x < max { g } else { 0.0 }).collect();
    Tensor::new(grad.shape.clone(), data)
}

pub fn batch_norm(grad: &Tensor, scale: &[f32]) -> Tensor {
    let (channels, plane) = (grad.shape[1], grad.shape[2..].iter().product::<usize>());
    let mut out = grad.clone();
    for (i, chunk) in out.data.chunks_mut(plane).enumerate() {
        let s = scale[i % channels];
        chunk.iter_mut().for_each(|v| *v *= s);
    }
    out
}

/// Sums `grad` over the axes along which `shape` was broadcast up to `grad.shape`.
pub fn unbroadcast(grad: &Tensor, shape: &[usize]) -> Tensor {
    if grad.shape == shape {
        return grad.clone();
    }
    let rank = grad.shape.len();
    // Right-align the operand's shape against the output's, numpy style.
    let mut padded = vec![1; rank - shape.len()];
    padded.extend_from_slice(shape);
    let mut out = vec![0.0f32; shape.iter().product()];
    let mut out_strides = vec![0usize; rank];
    let mut stride = 1;
    for a in (0..rank).rev() {
        out_strides[a] = if padded[a] == 1 { 0 } else { stride };
        stride *= padded[a];
    }
    let mut index = vec![0usize; rank];
    for &g in &grad.data {
        let pos: usize = index.iter().zip(&out_strides).map(|(i, s)| i * s).sum();
        out[pos] += g;
        for a in (0..rank).rev() {
            index[a] += 1;
            if index[a] < grad.shape[a] {
                break;
            }
            index[a] = 0;
        }
    }
    Tensor::new(shape.to_vec(), out)
}

pub fn add(step: &Step, grad: &Tensor) -> Vec<Option<Tensor>> {
    (0..step.node.inputs.len())
        .map(|i| step.wants(i).then(|| unbroadcast(grad, step.input_shape(i))))
        .collect()
}

/// y = softmax(x): dx = y * (g - sum(g * y)); y = log_softmax(x): dx = g - softmax(x) * sum(g).
pub fn softmax(output: View, grad: &Tensor, rows: usize, len: usize, inner: usize, log: bool) -> Tensor {
    let mut dx = vec![0.0f32; grad.len()];
    for r in 0..rows {
        for j in 0..inner {
            let at = |k: usize| r * len * inner + k * inner + j;
            if log {
                let sum: f64 = (0..len).map(|k| grad.data[at(k)] as f64).sum();
                for k in 0..len {
                    dx[at(k)] = grad.data[at(k)] - (output.data[at(k)].exp() as f64 * sum) as f32;
                }
            } else {
                let dot: f64 = (0..len).map(|k| (grad.data[at(k)] * output.data[at(k)]) as f64).sum();
                for k in 0..len {
                    dx[at(k)] = output.data[at(k)] * (grad.data[at(k)] - dot as f32);
                }
            }
        }
    }
    Tensor::new(grad.shape.clone(), dx)
}
