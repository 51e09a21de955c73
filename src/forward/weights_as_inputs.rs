//! A large model's weights given to its plan as inputs, each packed just before its product runs.
//!
//! Why: tract's optimiser packs each constant matrix into its kernels' layout at load and keeps only the packed
//! copy, while the reverse pass and every further plan read the weights as they are: a ViT-B/16's 346 MB were in
//! memory twice, and once more for each plan recording other values. A weight that is an input of the plan is
//! packed as its product runs instead, and the weights are in memory once, shared by tract's model, every plan
//! and the reverse pass. The cost, packing the weights at each forward pass, is why small models keep tract's
//! packing at load (docs/performance.md has both measured).

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{konst::Const, source::TypedSource};
use tract_onnx::tract_core::plan::SimplePlan;

/// Which weights a plan takes as inputs: in a model with more than `model_above` bytes of constants, the float32
/// constants of at least `tensor_from` bytes.
#[derive(Clone, Copy)]
pub(super) struct AsInputs {
    pub model_above: usize,
    pub tensor_from: usize,
}

/// Above 64 MiB of constants (below it, tract packs the weights once, at load), the matrices: not the biases, the
/// scales or a positional embedding.
pub(super) const WEIGHTS_AS_INPUTS: AsInputs = AsInputs { model_above: 64 << 20, tensor_from: 1 << 20 };

/// Turns the weights `rule` picks into inputs of `model` after its own (done before tract's simplifications,
/// which would fold a transposed or reshaped copy of a constant weight); returns them, in that order.
pub(super) fn turn(model: &mut TypedModel, rule: AsInputs) -> TractResult<TVec<TValue>> {
    let bytes = |t: &Tensor| t.len() * t.datum_type().size_of();
    let consts = || model.nodes.iter().filter_map(|n| n.op_as::<Const>().map(|c| (n.id, c.val().clone())));
    if consts().map(|(_, t)| bytes(&t)).sum::<usize>() <= rule.model_above {
        return Ok(tvec![]);
    }
    let picked: Vec<(usize, Arc<Tensor>)> = consts()
        .filter(|(_, t)| t.is_plain() && t.datum_type() == f32::datum_type() && bytes(t) >= rule.tensor_from)
        .collect();
    let mut weights = tvec![];
    for (id, t) in picked {
        let fact = TypedFact::shape_and_dt_of(&t);
        model.nodes[id].op = Box::new(TypedSource::new(fact.clone()));
        model.nodes[id].outputs[0].fact = fact;
        model.inputs.push(OutletId::new(id, 0));
        weights.push(TValue::from_const(t));
    }
    model.refresh_output_facts()?;
    Ok(weights)
}

/// The plan of `model`, whose inputs after the first are `weights` weights: each node computed from weights alone
/// (a packing) runs just before the first node that also reads the image's values needs it. tract's order would
/// otherwise pack every weight first, having all their packed copies alive at once (measured: a ViT-B/16's forward
/// pass held 353 MB more).
pub(super) fn plan(model: TypedModel, weights: usize) -> TractResult<Arc<TypedRunnableModel>> {
    if weights == 0 {
        return model.into_runnable();
    }
    let order = model.eval_order()?;
    let n = model.nodes.len();
    let mut from_image = vec![false; n];
    let mut from_weights = vec![false; n];
    from_image[model.inputs[0].node] = true;
    for w in &model.inputs[1..] {
        from_weights[w.node] = true;
    }
    for &id in &order {
        for i in &model.nodes[id].inputs {
            from_image[id] |= from_image[i.node];
            from_weights[id] |= from_weights[i.node];
        }
    }
    let is_source = |id: usize| model.inputs.iter().any(|i| i.node == id);
    let weights_only = |id: usize| from_weights[id] && !from_image[id] && !is_source(id);
    // For each node, the earliest node in `order` computed from the image that it leads to: reading `order`
    // backwards, the smallest such position among its successors.
    let position: Vec<usize> = {
        let mut p = vec![usize::MAX; n];
        for (at, &id) in order.iter().enumerate() {
            p[id] = at;
        }
        p
    };
    let mut first_use = vec![usize::MAX; n];
    for &id in order.iter().rev() {
        for succ in model.nodes[id].outputs.iter().flat_map(|o| &o.successors) {
            let via = if from_image[succ.node] { position[succ.node] } else { first_use[succ.node] };
            first_use[id] = first_use[id].min(via);
        }
    }
    // (runs after, runs before): a weights-only node after the image's inputs of the node that first needs it.
    // No cycle: nothing before that node in `order` depends on this one.
    let mut deps = vec![];
    for &id in order.iter().filter(|&&id| weights_only(id) && first_use[id] != usize::MAX) {
        let user = &model.nodes[order[first_use[id]]];
        deps.extend(user.inputs.iter().filter(|i| from_image[i.node]).map(|i| (id, i.node)));
    }
    let outputs = model.outputs.clone();
    // tract's one constructor that takes ordering dependencies (deprecated for its outputs argument, which is
    // the model's own here).
    #[allow(deprecated)]
    let plan = SimplePlan::build_with_outputs_and_deps(model, &outputs, &deps, &Default::default())?;
    Ok(Arc::new(plan))
}
