//! An image classifier: the [`Engine`](crate::engine::Engine) with the 1×C×H×W → K contract the methods rely on,
//! and the model's [`Preprocess`]: how a picture becomes its input and back.

use crate::engine::{Engine, Objective};
use crate::error::{Error, Result};
use crate::graph::stream::ModelBytes;
use crate::preprocess::{Choice, Preprocess, MAX_SIDE, MIN_SIDE};
use crate::tensor::{softmax, Tensor};

/// SqueezeNet's input, the default a symbolic H/W is fixed to.
pub const DEFAULT_SIDE: usize = 224;

pub struct Classifier {
    engine: Engine,
    num_classes: usize,
    preprocess: Preprocess,
    /// The graph output is a final Softmax's probabilities (differentiated through like any op).
    probabilities: bool,
    /// The model's H and W were symbolic and are fixed to the chosen side.
    symbolic_side: bool,
}

impl Classifier {
    /// Load an ONNX classifier from its bytes (the browser fetches them; the core never opens paths), with the
    /// default preprocessing: the model's metadata, else the preset for its channels.
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Classifier> {
        Classifier::load(bytes, &Choice::default())
    }

    /// Load with a user's choice of preprocessing (used where the model's metadata does not say) and of the side
    /// a symbolic H/W is fixed to.
    pub fn load(bytes: &[u8], choice: &Choice) -> Result<Classifier> {
        Classifier::load_from(bytes, choice)
    }

    /// As [`Classifier::load`], reading the file in pieces from wherever it is (the page: from its `Uint8Array`,
    /// so that the weights are in wasm memory once, see `graph::stream`).
    pub fn load_from<S: ModelBytes + ?Sized>(src: &S, choice: &Choice) -> Result<Classifier> {
        Classifier::build(choice, |side| Engine::from_model_bytes_sized(src, side))
    }

    /// As [`Classifier::load`], taking the bytes: they are freed as soon as they are decoded.
    pub fn load_owned(bytes: Vec<u8>, choice: &Choice) -> Result<Classifier> {
        Classifier::build(choice, move |side| Engine::from_onnx_vec_sized(bytes, side))
    }

    fn build(choice: &Choice, engine: impl FnOnce(usize) -> Result<(Engine, bool)>) -> Result<Classifier> {
        let side = choice.side.unwrap_or(DEFAULT_SIDE);
        if !(MIN_SIDE..=MAX_SIDE).contains(&side) {
            return Err(Error::Invalid(format!(
                "input size {side} is out of range: netlens needs {MIN_SIDE} to {MAX_SIDE}"
            )));
        }
        let (engine, symbolic_side) = engine(side)?;
        let num_classes = engine.graph().check_image_classifier()?;
        let [_, c, h, w] = engine.input_shape().try_into().expect("check_image_classifier: 4-D");
        if choice.side.is_some() && !symbolic_side && choice.side != Some(h) {
            return Err(Error::Invalid(format!(
                "the model's input is fixed at {h}×{w}: an input size can only be chosen for a model exported with a symbolic height and width"
            )));
        }
        let preprocess = Preprocess::resolve(&engine.metadata(), choice, c, h, w)?;
        let g = engine.graph();
        let probabilities = g.nodes.iter().any(|n| n.output == g.output && n.op_type == "Softmax");
        Ok(Classifier { engine, num_classes, preprocess, probabilities, symbolic_side })
    }

    /// The same classifier with the named initializers replaced (see [`Engine::with_weights`]).
    pub fn with_weights(&self, replace: &[(String, Tensor)]) -> Result<Classifier> {
        Ok(Classifier {
            engine: self.engine.with_weights(replace)?,
            num_classes: self.num_classes,
            preprocess: self.preprocess.clone(),
            probabilities: self.probabilities,
            symbolic_side: self.symbolic_side,
        })
    }

    /// How a picture becomes this model's input (and back).
    pub fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    /// [1, C, H, W].
    pub fn input_shape(&self) -> [usize; 4] {
        self.preprocess.shape()
    }

    /// The output is already probabilities (a final Softmax), not logits.
    pub fn outputs_probabilities(&self) -> bool {
        self.probabilities
    }

    /// The model's H and W were symbolic (fixed to the chosen side).
    pub fn symbolic_side(&self) -> bool {
        self.symbolic_side
    }

    /// Class probabilities from the model's scores: softmax of logits, or the scores themselves when the model
    /// ends in Softmax.
    pub fn probabilities(&self, scores: &[f32]) -> Vec<f32> {
        if self.probabilities {
            scores.to_vec()
        } else {
            softmax(scores)
        }
    }

    /// d CE(scores, label) / d scores: softmax − onehot for logits; −onehot / p for probabilities (p floored at
    /// 1e-30 so that a class the model rules out gives a large, finite gradient).
    pub fn cross_entropy_grad(&self, scores: &[f32], label: usize) -> Vec<f32> {
        if self.probabilities {
            let mut g = vec![0.0; scores.len()];
            g[label] = -1.0 / scores[label].max(1e-30);
            g
        } else {
            let mut g = softmax(scores);
            g[label] -= 1.0;
            g
        }
    }

    /// The layer a method should use: `asked` when the model has it; when it is the method's default name (a
    /// SqueezeNet layer) and the model has no such value, the model's last 4-D value that depends on the input
    /// (a user's own model) that is still a map — more than one position (a global pool's [1, C, 1, 1] output has
    /// one: its CAM is a single value, its principal component empty); otherwise `asked`, which the method then
    /// reports as missing.
    pub fn layer_or_default(&self, asked: &str, default: &str) -> String {
        let g = self.engine.graph();
        if g.value_id(asked).is_some() || asked != default {
            return asked.to_string();
        }
        g.nodes
            .iter()
            .rev()
            .map(|n| n.output)
            .find(|&v| g.depends_on_input[v] && matches!(g.shape(v), [_, _, h, w] if h * w > 1))
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

    /// Raw class scores: logits, or probabilities for a model that ends in Softmax.
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
