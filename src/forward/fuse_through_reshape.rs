//! tract fuses an element-wise op with a scalar (a ReLU is `max(x, 0)`) into the matrix product before it, so the
//! product writes its result once. After a convolution done by im2col it cannot: the product's output is reshaped
//! (`IntoShape`, [1, 1, C, H·W] → [1, C, H, W]) before the op, and tract only fuses an op that follows the product
//! directly. SqueezeNet has nine such ReLUs (its first conv and every 3×3 expand): a separate pass over each output,
//! ~7 % of the forward pass natively. An op with a scalar commutes with any reshape, so this moves each such op in
//! front of the reshape; tract's optimiser, run again, then fuses it. Values are unchanged, bit for bit.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::OptBinByScalar;
use tract_onnx::tract_core::ops::change_axes::IntoShape;
use tract_onnx::tract_core::ops::matmul::optimized::OptMatMul;

/// Moves each scalar op that follows a matrix product's reshape in front of the reshape, then lets tract fuse it.
/// Returns how many it moved.
pub fn fuse_scalar_ops_through_reshapes(model: &mut TypedModel) -> TractResult<usize> {
    let mut moved = 0;
    for id in model.eval_order()? {
        if swap_with_reshape(model, id)? {
            moved += 1;
        }
    }
    if moved > 0 {
        model.optimize()?;
    }
    Ok(moved)
}

/// Whether the only consumer of `outlet` is one node, and the outlet is not a model output.
fn single_use(model: &TypedModel, outlet: OutletId) -> TractResult<bool> {
    Ok(model.node(outlet.node).outputs[outlet.slot].successors.len() == 1 && !model.output_outlets()?.contains(&outlet))
}

/// product → reshape → op(·, scalar) becomes product → op(·, scalar) → reshape, the scalar given the product's rank.
fn swap_with_reshape(model: &mut TypedModel, id: usize) -> TractResult<bool> {
    let node = model.node(id);
    let Some(op) = node.op_as::<OptBinByScalar>() else { return Ok(false) };
    // Which input is the tensor: the scalar is usually second, but the op may be flipped.
    let Some(at) = (0..2).find(|&i| model.node(node.inputs[i].node).op_as::<IntoShape>().is_some()) else {
        return Ok(false);
    };
    let scalar = model.outlet_fact(node.inputs[1 - at])?;
    let Some(value) = scalar.konst.clone().filter(|k| k.len() == 1) else { return Ok(false) };
    let reshape = model.node(node.inputs[at].node);
    let product = reshape.inputs[0];
    if model.node(product.node).op_as::<OptMatMul>().is_none()
        || !single_use(model, product)?
        || !single_use(model, node.inputs[at])?
    {
        return Ok(false);
    }
    let rank = model.outlet_fact(product)?.rank();
    let mut patch = TypedModelPatch::default();
    let tensor = patch.tap_model(model, product)?;
    let scalar = patch.add_const(format!("{}.scalar", node.name), value.into_tensor().into_shape(&vec![1; rank])?)?;
    let inputs = if at == 0 { [tensor, scalar] } else { [scalar, tensor] };
    let applied = patch.wire_node(&node.name, op.clone(), &inputs)?;
    let reshaped = patch.wire_node(&reshape.name, reshape.op.clone(), &applied)?;
    patch.shunt_outside(model, OutletId::new(id, 0), reshaped[0])?;
    patch.apply(model)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scalar ops reading a reshape of a matrix product: what the pass moves.
    fn after_reshapes(model: &TypedModel) -> usize {
        let reads_reshape = |n: &TypedNode| n.inputs.iter().any(|i| model.node(i.node).op_as::<IntoShape>().is_some());
        model.nodes().iter().filter(|n| n.op_as::<OptBinByScalar>().is_some() && reads_reshape(n)).count()
    }

    /// On SqueezeNet: tract's plan leaves the ReLUs of the nine im2col convolutions unfused; after the pass none
    /// is left, and every output (the logits and a ReLU output the recording plan reads) is bit-identical.
    #[test]
    fn squeezenet_relus_fuse_and_values_do_not_change() {
        let mut model = tract_onnx::onnx()
            .model_for_path(crate::test_data::squeezenet_path())
            .unwrap()
            .with_input_fact(0, f32::fact([1, 3, 224, 224]).into())
            .unwrap();
        let outputs: Vec<OutletId> = ["features.0_relu", "features.3.expand3x3_relu"]
            .iter()
            .map(|name| model.node_by_name(name).map(|n| OutletId::new(n.id, 0)))
            .collect::<TractResult<_>>()
            .unwrap();
        let mut all = model.output_outlets().unwrap().to_vec();
        all.extend(outputs);
        model.select_output_outlets(&all).unwrap();
        let tract = model.into_optimized().unwrap();
        assert_eq!(after_reshapes(&tract), 9, "tract's plan: nine ReLUs after im2col convolutions");
        let mut fused = tract.clone();
        assert_eq!(fuse_scalar_ops_through_reshapes(&mut fused).unwrap(), 9);
        assert_eq!(after_reshapes(&fused), 0);

        let n = 3 * 224 * 224;
        let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 400.0 - 1.25).collect();
        let run = |m: TypedModel| {
            let x = tract_onnx::prelude::Tensor::from_shape(&[1, 3, 224, 224], &x).unwrap();
            m.into_runnable().unwrap().run(tvec!(x.into())).unwrap()
        };
        let (expected, got) = (run(tract), run(fused));
        assert_eq!(expected.len(), 3);
        for (e, g) in expected.iter().zip(&got) {
            let (e, g) = (crate::forward::view(e).unwrap().data, crate::forward::view(g).unwrap().data);
            assert!(e.iter().any(|&v| v != 0.0));
            assert_eq!(e, g);
        }
    }
}
