//! A copy of the model with some weights replaced (the sanity check's model randomization), built from the
//! decoded proto the engine keeps: tract analyses and optimises the new weights into a new plan, and our graph's
//! constants hold the same tensors, so the forward pass and every VJP read the new weights. The engine it is made
//! from is left as it is (the page keeps its model).

use std::collections::HashMap;

use super::Engine;
use crate::error::{Error, Result};
use crate::graph::stream::Decoded;
use crate::graph::Const;
use crate::tensor::{Tensor, View};

/// A Conv node's weights, as the model names them.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightLayer {
    /// The node's name (`features.3.squeeze`).
    pub node: String,
    /// The module it belongs to: the first two dot-separated parts of the name (`features.3`), or the whole name.
    pub block: String,
    /// The weight initializer's name and shape ([O, C/group, kh, kw]).
    pub weight: String,
    pub shape: Vec<usize>,
    /// The bias initializer's name, if any.
    pub bias: Option<String>,
}

impl WeightLayer {
    /// fan-in of one output unit: C/group · kh · kw.
    pub fn fan_in(&self) -> usize {
        self.shape[1..].iter().product()
    }
}

fn block_of(node: &str) -> String {
    let parts: Vec<&str> = node.split('.').collect();
    if parts.len() >= 2 {
        format!("{}.{}", parts[0], parts[1])
    } else {
        node.to_string()
    }
}

impl Engine {
    /// Every Conv with constant weights that depends on the input, in graph order (input side first).
    pub fn conv_layers(&self) -> Vec<WeightLayer> {
        let g = &self.graph;
        g.nodes
            .iter()
            .filter(|n| n.op_type == "Conv" && g.depends_on_input[n.output] && n.inputs.len() >= 2)
            .filter(|n| g.consts[n.inputs[1]].is_some())
            .map(|n| WeightLayer {
                node: n.name.clone(),
                block: block_of(&n.name),
                weight: g.values[n.inputs[1]].name.clone(),
                shape: g.shape(n.inputs[1]).to_vec(),
                bias: n.inputs.get(2).filter(|&&b| g.consts[b].is_some()).map(|&b| g.values[b].name.clone()),
            })
            .collect()
    }

    /// A constant (initializer) of the model, by name.
    pub fn constant(&self, name: &str) -> Option<View<'_>> {
        self.graph.value_id(name).and_then(|id| self.graph.consts[id].as_ref()).map(|c| c.view())
    }

    /// A new engine for the same graph with the named initializers replaced (same shapes). tract builds a new
    /// plan; this engine is unchanged.
    pub fn with_weights(&self, replace: &[(String, Tensor)]) -> Result<Engine> {
        // The unchanged weights are shared with this engine, not copied.
        let Decoded { mut proto, mut weights } = self.separated()?;
        let graph = proto.graph.as_mut().ok_or_else(|| Error::Model("no graph".into()))?;
        let mut by_name: HashMap<&str, &Tensor> = HashMap::new();
        for (name, t) in replace {
            if by_name.insert(name.as_str(), t).is_some() {
                return Err(Error::Invalid(format!("the weights '{name}' are replaced twice")));
            }
        }
        let mut found = 0;
        for init in graph.initializer.iter_mut() {
            let Some(t) = by_name.get(init.name.as_str()) else { continue };
            let dims: Vec<usize> = init.dims.iter().map(|&d| d as usize).collect();
            if dims != t.shape {
                return Err(Error::Invalid(format!(
                    "the weights '{}' have shape {dims:?}, the replacement {:?}",
                    init.name, t.shape
                )));
            }
            found += 1;
            if let Some(w) = weights.iter_mut().find(|(name, _)| name == &init.name) {
                w.1 = Const::Owned((*t).clone()).to_tract()?;
                continue;
            }
            init.data_type = tract_onnx::pb::tensor_proto::DataType::Float as i32;
            init.raw_data.clear();
            init.external_data.clear();
            init.data_location = None;
            init.float_data = t.data.clone();
        }
        if found != by_name.len() {
            let missing: Vec<&str> =
                by_name.keys().copied().filter(|n| !graph.initializer.iter().any(|i| i.name == *n)).collect();
            return Err(Error::Invalid(format!("the model has no weights named {}", missing.join(", "))));
        }
        Engine::from_decoded(Decoded { proto, weights })
    }
}
