//! An ImageNet classifier: the [`Engine`](crate::engine::Engine) with the
//! 1x3x224x224 -> 1xK contract the three methods rely on.

use crate::engine::{Engine, Objective};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

pub const INPUT_SHAPE: [usize; 4] = [1, 3, 224, 224];

pub struct Classifier {
    engine: Engine,
    num_classes: usize,
}

impl Classifier {
    /// Load an ONNX classifier from its bytes (the browser fetches them; the core never opens paths).
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Classifier> {
        let engine = Engine::from_onnx_bytes(bytes)?;
        if engine.input_shape() != INPUT_SHAPE {
            return Err(Error::Model(format!(
                "expected an input of shape {:?}, the model takes {:?}",
                INPUT_SHAPE,
                engine.input_shape()
            )));
        }
        let out = engine.output_shape();
        if out.len() != 2 || out[0] != 1 || out[1] < 2 {
            return Err(Error::Model(format!("expected class scores of shape [1, K], the model gives {out:?}")));
        }
        let num_classes = out[1];
        Ok(Classifier { engine, num_classes })
    }

    /// The same classifier with the named initializers replaced (see [`Engine::with_weights`]).
    pub fn with_weights(&self, replace: &[(String, Tensor)]) -> Result<Classifier> {
        Ok(Classifier { engine: self.engine.with_weights(replace)?, num_classes: self.num_classes })
    }

    /// The layer a method should use: `asked` when the model has it; when it is the method's default name (a
    /// SqueezeNet layer) and the model has no such value, the model's last 4-D value that depends on the input
    /// (a user's own model); otherwise `asked`, which the method then reports as missing.
    pub fn layer_or_default(&self, asked: &str, default: &str) -> String {
        let g = self.engine.graph();
        if g.value_id(asked).is_some() || asked != default {
            return asked.to_string();
        }
        g.nodes
            .iter()
            .rev()
            .map(|n| n.output)
            .find(|&v| g.depends_on_input[v] && g.shape(v).len() == 4)
            .map_or_else(|| asked.to_string(), |v| g.values[v].name.clone())
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn check_class(&self, class: usize) -> Result<()> {
        if class >= self.num_classes {
            return Err(Error::Invalid(format!("class {class} is out of range 0..{}", self.num_classes)));
        }
        Ok(())
    }

    /// Raw class scores (before softmax).
    pub fn logits(&self, x: &Tensor) -> Result<Vec<f32>> {
        // The engine checks the shape (this classifier's input shape) and that every value is finite.
        Ok(self.engine.forward_only(x)?.data)
    }

    /// Class scores and d logit_class / d x.
    pub fn logits_and_grad(&self, x: &Tensor, class: usize) -> Result<(Vec<f32>, Tensor)> {
        self.check_class(class)?;
        self.logits_and_seed_grad(x, &Objective::Class(class))
    }

    /// Class scores and the gradient of any scalar objective given by `seed`.
    pub fn logits_and_seed_grad(&self, x: &Tensor, seed: &Objective) -> Result<(Vec<f32>, Tensor)> {
        let acts = self.engine.forward(x)?;
        let grad = self.engine.backward(&acts, seed)?;
        Ok((acts.output().data.clone(), grad))
    }
}
