//! The ReLU rules of Guided Backprop (Springenberg et al. 2015: only positive gradients, where the output was
//! positive) and Deconvnet (Zeiler & Fergus 2014: the ReLU of the incoming gradient, whatever the forward pass
//! did). Each reads the ReLU's output, as the ReLU's own VJP does.

use super::Rule;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::vjp::{relu_with, Step};

#[derive(Debug)]
pub struct GuidedRelu;

impl Rule for GuidedRelu {
    fn backward(&self, step: &Step, mut r: Tensor) -> Result<Vec<Option<Tensor>>> {
        relu_with(step.output()?, &mut r.data, |y, g| if y > 0.0 && g > 0.0 { g } else { 0.0 });
        Ok(first(step, r))
    }
}

#[derive(Debug)]
pub struct DeconvRelu;

impl Rule for DeconvRelu {
    fn backward(&self, step: &Step, mut r: Tensor) -> Result<Vec<Option<Tensor>>> {
        r.data.iter_mut().for_each(|g| *g = g.max(0.0));
        Ok(first(step, r))
    }
}

pub(super) fn first(step: &Step, r: Tensor) -> Vec<Option<Tensor>> {
    let mut v: Vec<Option<Tensor>> = vec![None; step.node.inputs.len()];
    v[0] = Some(r);
    v
}
