//! Ops that only move values: Concat (and Flatten/Reshape/Identity, which need no code of their own).

use super::Step;
use crate::tensor::Tensor;

/// Splits the gradient along `axis` back into the inputs' slices.
pub fn concat(step: &Step, grad: &Tensor, axis: usize) -> Vec<Option<Tensor>> {
    let outer: usize = grad.shape[..axis].iter().product();
    let inner: usize = grad.shape[axis + 1..].iter().product();
    let total = grad.shape[axis] * inner;
    let mut offset = 0;
    (0..step.node.inputs.len())
        .map(|i| {
            let shape = step.input_shape(i);
            let width = shape[axis] * inner;
            let slice = step.wants(i).then(|| {
                let mut data = Vec::with_capacity(outer * width);
                for o in 0..outer {
                    let start = o * total + offset;
                    data.extend_from_slice(&grad.data[start..start + width]);
                }
                Tensor::new(shape.to_vec(), data)
            });
            offset += width;
            slice
        })
        .collect()
}

