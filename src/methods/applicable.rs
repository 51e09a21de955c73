//! Which methods can run on a given model, asked of the methods themselves: a method whose declared requirement
//! the model lacks (attention maps on a CNN), or whose attribution stepper cannot be built for the model (attention rollout on a CNN, LRP's composites on an op they have no rule
//! for, a CAM without a 4-D or token layer) says why in one sentence. The page's compare view leaves those out
//! (and lists why); run by themselves they give the same sentence.

use serde_json::{Map, Value as Json};

use super::registry::METHODS;
use crate::error::Error;
use crate::network::Classifier;
use crate::tensor::Tensor;

/// Method id → the sentence, for every method that cannot run on `net`: what it declares it requires of a model
/// (`MethodSpec::requires`), and for attribution methods their stepper at the default settings.
pub fn not_for_model(net: &Classifier) -> Map<String, Json> {
    let x = Tensor::zeros(&net.input_shape());
    METHODS
        .iter()
        .filter_map(|spec| {
            let declared = spec.requires.map_or(Ok(()), |requires| requires(net));
            let probed = || match spec.attribution {
                Some(a) => (a.make)(net, &x, 0, &spec.defaults()).map(|_| ()),
                None => Ok(()),
            };
            match declared.and_then(|()| probed()) {
                Err(Error::Invalid(why)) => Some((spec.id.to_string(), Json::String(why))),
                _ => None,
            }
        })
        .collect()
}
