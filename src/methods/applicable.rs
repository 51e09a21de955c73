//! Which attribution methods can make a map on a given model, asked of the methods themselves: a method whose
//! stepper cannot be built for the model (attention rollout on a CNN, LRP's composites on an op they have no rule
//! for, a CAM without a 4-D or token layer) says why in one sentence. The page's compare view leaves those out
//! (and lists why); run by themselves they give the same sentence.

use serde_json::{Map, Value as Json};

use super::registry::METHODS;
use crate::error::Error;
use crate::network::Classifier;
use crate::tensor::Tensor;

/// Method id → the sentence, for every attribution method that cannot map `net` at its default settings.
pub fn not_for_model(net: &Classifier) -> Map<String, Json> {
    let x = Tensor::zeros(&net.input_shape());
    METHODS
        .iter()
        .filter_map(|spec| {
            let make = spec.attribution?.make;
            match make(net, &x, 0, &spec.defaults()) {
                Err(Error::Invalid(why)) => Some((spec.id.to_string(), Json::String(why))),
                _ => None,
            }
        })
        .collect()
}
