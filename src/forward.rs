//! The forward pass, run by tract. Besides the graph output, the optimised plan also outputs
//! every activation the reverse pass will read, so one run records all of them.

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::error::{Error, Result};
use crate::graph;
use crate::graph::stream::Decoded;
use crate::tensor::{Tensor, View};
use weights_as_inputs::{AsInputs, WEIGHTS_AS_INPUTS};

/// tract's tensor (ours is `Tensor`).
type Tensor_ = tract_onnx::prelude::Tensor;

mod fuse_through_reshape;
mod maxpool;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm_gemm;
mod weights_as_inputs;

type Plan = Arc<TypedRunnableModel>;

/// tract's parse of the model, analysed at a fixed input shape: the source of every value's shape.
#[derive(Clone)]
pub struct Analysed {
    model: InferenceModel,
    outlets: HashMap<String, OutletId>,
    pub input_shape: Vec<usize>,
}

fn model_err(e: impl std::fmt::Display) -> Error {
    Error::Model(format!("{e:#}"))
}

/// tract's parse of `proto`, analysed at its declared input shape. `weights` are initializers whose data the proto
/// does not hold (taken out as the file was decoded, `graph::stream`): tract's model holds these tensors
/// themselves, not copies.
pub fn analyse(proto: &pb::ModelProto, weights: &[(String, Arc<Tensor_>)]) -> Result<Analysed> {
    let g = proto.graph.as_ref().ok_or_else(|| Error::Model("no graph".into()))?;
    let input_shape = graph::declared_input_shape(graph::feed_input(g)?)?;
    let (mut model, outlets) = parse(proto, weights)?;
    model.set_input_fact(0, f32::fact(&input_shape).into()).map_err(model_err)?;
    model.analyse(false).map_err(model_err)?;
    Ok(Analysed { model, outlets, input_shape })
}

/// tract's parse of `proto` with `weights` as constants (see [`analyse`]), and its values by name.
fn parse(
    proto: &pb::ModelProto,
    weights: &[(String, Arc<Tensor_>)],
) -> Result<(InferenceModel, HashMap<String, OutletId>)> {
    let parsed = if weights.is_empty() {
        onnx().parse(proto, None)
    } else {
        onnx().parse(&declared_as_inputs(proto, weights), None)
    };
    let parsed = parsed.map_err(model_err)?;
    if !parsed.unresolved_inputs.is_empty() {
        return Err(Error::Model(format!("values used but never defined: {:?}", parsed.unresolved_inputs)));
    }
    let mut model = parsed.model;
    // Each weight was parsed as a graph input (tract's parse wants an initializer's data in the proto): its source
    // node becomes a constant holding the tensor.
    for (name, tensor) in weights {
        let outlet = *parsed.outlets_by_name.get(name).expect("every graph input has an outlet");
        let node = &mut model.nodes[outlet.node];
        node.op = Box::new(tract_onnx::tract_hir::ops::konst::Const::new(tensor.clone()).map_err(model_err)?);
        node.outputs[outlet.slot].fact = TypedFact::try_from(tensor.clone()).map_err(model_err)?.into();
        model.inputs.retain(|&o| o != outlet);
    }
    Ok((model, parsed.outlets_by_name))
}

/// `proto` with the initializers named in `weights` declared as graph inputs of their type and shape instead.
fn declared_as_inputs(proto: &pb::ModelProto, weights: &[(String, Arc<Tensor_>)]) -> pb::ModelProto {
    use pb::tensor_shape_proto::{dimension::Value as Dim, Dimension};
    use pb::type_proto::{Tensor as TensorType, Value as Ty};
    let mut proto = proto.clone();
    let g = proto.graph.as_mut().expect("its callers checked it has a graph");
    let separate: HashMap<&str, &Arc<Tensor_>> = weights.iter().map(|(n, t)| (n.as_str(), t)).collect();
    g.initializer.retain(|t| !separate.contains_key(t.name.as_str()));
    for (name, tensor) in weights {
        let shape = pb::TensorShapeProto {
            dim: tensor
                .shape()
                .iter()
                .map(|&d| Dimension { value: Some(Dim::DimValue(d as i64)), ..Default::default() })
                .collect(),
        };
        let tensor_type = TensorType { elem_type: pb::tensor_proto::DataType::Float as i32, shape: Some(shape) };
        let r#type = Some(pb::TypeProto { value: Some(Ty::TensorType(tensor_type)), ..Default::default() });
        match g.input.iter_mut().find(|i| &i.name == name) {
            // An export that lists its initializers among the inputs too (`keep_initializers_as_inputs`).
            Some(input) => input.r#type = r#type,
            None => g.input.push(pb::ValueInfoProto { name: name.clone(), r#type, ..Default::default() }),
        }
    }
    proto
}

impl Analysed {
    /// Concrete shapes of every value tract could resolve, by ONNX value name.
    pub fn shapes(&self) -> HashMap<String, Vec<usize>> {
        let mut shapes = HashMap::new();
        for (name, &outlet) in &self.outlets {
            if let Ok(fact) = self.model.outlet_fact(outlet) {
                if let Ok(Some(s)) = fact.shape.as_concrete_finite() {
                    shapes.insert(name.clone(), s.to_vec());
                }
            }
        }
        shapes
    }

    /// Whether tract's analysis holds `name`'s value (an initializer's weights, a folded constant).
    pub fn has_constant(&self, name: &str) -> bool {
        let fact = self.outlets.get(name).and_then(|&o| self.model.outlet_fact(o).ok());
        fact.is_some_and(|f| f.value.concretize().is_some())
    }

    /// The value tract's analysis computed for `name` without the input (a Constant node, a shape computation,
    /// an op on weights only), as float32, or None when it depends on the input (or is not a number).
    pub fn constant(&self, name: &str) -> Option<graph::Const> {
        let fact = self.model.outlet_fact(*self.outlets.get(name)?).ok()?;
        graph::Const::of_tract(fact.value.concretize()?).ok()
    }
}

pub struct Forward {
    plan: Plan,
    /// The value names the plan outputs, in order: graph output first, then recorded activations.
    pub outputs: Vec<String>,
    /// Indices into `outputs` of MaxPool outputs whose window winners (src/window_max.rs) the plan outputs after
    /// them, in this order.
    pub winners: Vec<usize>,
    /// The weights the plan takes as inputs after the image (a large model's, see [`weights_as_inputs`]).
    weights: TVec<TValue>,
}

impl Forward {
    /// Optimises the model with `outputs` (ONNX value names) as its outputs, and the window winners of the
    /// MaxPools producing `outputs[i]` for each i in `winners_of` where tract's plan keeps that pool.
    pub fn new(analysed: Analysed, outputs: Vec<String>, winners_of: &[usize]) -> Result<Forward> {
        Forward::build(analysed, outputs, winners_of, WEIGHTS_AS_INPUTS)
    }

    /// As [`Forward::new`], with the rule for which weights the plan takes as inputs.
    fn build(analysed: Analysed, outputs: Vec<String>, winners_of: &[usize], rule: AsInputs) -> Result<Forward> {
        let Analysed { mut model, outlets, .. } = analysed;
        let selected = outputs
            .iter()
            .map(|n| outlets.get(n).copied().ok_or_else(|| Error::Model(format!("no value named '{n}'"))))
            .collect::<Result<Vec<_>>>()?;
        model.select_output_outlets(&selected).map_err(model_err)?;
        let mut typed = model.into_typed().map_err(model_err)?;
        // Before tract's simplifications, which would otherwise fold a transposed or reshaped copy of a weight.
        let weights = weights_as_inputs::turn(&mut typed, rule).map_err(model_err)?;
        let mut typed = typed.into_decluttered().map_err(model_err)?;
        let winners = maxpool::replace_max_pools(&mut typed, winners_of).map_err(model_err)?;
        let mut optimized = typed.into_optimized().map_err(model_err)?;
        fuse_through_reshape::fuse_scalar_ops_through_reshapes(&mut optimized).map_err(model_err)?;
        let plan = weights_as_inputs::plan(optimized, weights.len()).map_err(model_err)?;
        Ok(Forward { plan, outputs, winners, weights })
    }

    /// Runs the plan; returns tract's tensors in the order of `self.outputs`, left in tract's buffers.
    pub fn run(&self, input: &Tensor) -> Result<TVec<TValue>> {
        let x = tract_onnx::prelude::Tensor::from_shape(&input.shape, &input.data)
            .map_err(|e| Error::Forward(e.to_string()))?;
        self.plan.run(self.with_weights(tvec!(x.into()))).map_err(|e| Error::Forward(format!("{e:#}")))
    }

    /// The plan's inputs: `inputs`, then the weights it takes as inputs.
    fn with_weights(&self, mut inputs: TVec<TValue>) -> TVec<TValue> {
        inputs.extend(self.weights.iter().cloned());
        inputs
    }
}

impl Forward {
    /// As [`Forward::run`], calling `after(op_name)` right after each node of the plan runs (tract's op names,
    /// e.g. `Conv`, `OptMatMul`, `MaxPool`): the bench attributes forward time to op types with it.
    pub fn run_timed(&self, input: &Tensor, after: &mut dyn FnMut(&str)) -> Result<TVec<TValue>> {
        let x = tract_onnx::prelude::Tensor::from_shape(&input.shape, &input.data)
            .map_err(|e| Error::Forward(e.to_string()))?;
        let mut state =
            tract_onnx::tract_core::plan::SimpleState::new(&self.plan).map_err(|e| Error::Forward(format!("{e:#}")))?;
        state
            .run_plan_with_eval(self.with_weights(tvec!(x.into())), |ctx, op_state, node, inputs| {
                let out = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs);
                after(&node.op().name());
                out
            })
            .map_err(|e| Error::Forward(format!("{e:#}")))
    }
}

/// A plan for the model from `layer` on: `layer`'s value is given instead of computed (its producer's output is
/// renamed away, and a second graph input takes its name), the image still feeds whatever else reads it (a
/// skip connection around the layer). Outputs the graph output only. Ablation-CAM replaces a layer's output
/// this way, as pytorch-grad-cam swaps the layer's module for its `AblationLayer`.
pub fn cut_at(decoded: &Decoded, layer: &str, layer_shape: &[usize], input_shape: &[usize]) -> Result<Forward> {
    let mut proto = decoded.proto.clone();
    let g = proto.graph.as_mut().ok_or_else(|| Error::Model("no graph".into()))?;
    let output =
        g.output.first().map(|o| o.name.clone()).ok_or_else(|| Error::Model("the graph has no output".into()))?;
    let producer = g
        .node
        .iter_mut()
        .flat_map(|n| n.output.iter_mut())
        .find(|o| o.as_str() == layer)
        .ok_or_else(|| Error::Model(format!("no node computes '{layer}'")))?;
    *producer = format!("{layer}#netlens-cut");
    let mut input = g.input.iter().find(|i| !i.name.is_empty()).cloned().unwrap_or_default();
    input.name = layer.to_string();
    g.input.push(input);
    let (mut model, outlets) = parse(&proto, &decoded.weights)?;
    model.set_input_fact(0, f32::fact(input_shape).into()).map_err(model_err)?;
    model.set_input_fact(1, f32::fact(layer_shape).into()).map_err(model_err)?;
    model.analyse(false).map_err(model_err)?;
    let analysed = Analysed { model, outlets, input_shape: input_shape.to_vec() };
    Forward::new(analysed, vec![output], &[])
}

impl Forward {
    /// Runs a plan of several inputs (see [`cut_at`]).
    pub fn run_inputs(&self, inputs: &[&Tensor]) -> Result<TVec<TValue>> {
        let values = inputs
            .iter()
            .map(|t| {
                tract_onnx::prelude::Tensor::from_shape(&t.shape, &t.data)
                    .map(TValue::from)
                    .map_err(|e| Error::Forward(e.to_string()))
            })
            .collect::<Result<TVec<_>>>()?;
        self.plan.run(self.with_weights(values)).map_err(|e| Error::Forward(format!("{e:#}")))
    }
}

/// Borrows a tract f32 tensor in place.
pub fn view(t: &TValue) -> Result<View<'_>> {
    let data = t
        .try_as_plain_ram()
        .and_then(|v| v.as_slice::<f32>())
        .map_err(|e| Error::Forward(format!("expected float32 values: {e}")))?;
    Ok(View { shape: t.shape(), data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(path: &std::path::Path) -> (Analysed, Forward, Forward) {
        let bytes = std::fs::read(path).expect("the model in the shared data");
        let decoded = graph::stream::decode(&bytes[..]).unwrap();
        let analysed = analyse(&decoded.proto, &decoded.weights).unwrap();
        let output = decoded.proto.graph.as_ref().unwrap().output[0].name.clone();
        let packed = Forward::build(
            analysed.clone(),
            vec![output.clone()],
            &[],
            AsInputs { model_above: usize::MAX, tensor_from: 0 },
        )
        .unwrap();
        // Every matrix of these small models (a few KiB and up) as an input.
        let fed = Forward::build(analysed.clone(), vec![output], &[], AsInputs { model_above: 0, tensor_from: 4096 })
            .unwrap();
        (analysed, packed, fed)
    }

    /// A plan given its weights as inputs computes what the plan with tract's packed weights computes, bit for bit
    /// (the same kernels on the same packed values: only when they are packed differs), and holds no copy of a
    /// weight: every one it is fed is the tensor tract's parsed model holds.
    #[test]
    fn weights_given_as_inputs_are_the_models_own_and_change_nothing() {
        // SqueezeNet (convolutions) and every transformer of the zoo (matrix products of every form they export).
        let models = crate::test_data::zoo_models("zoo-transformers");
        for path in std::iter::once(crate::test_data::squeezenet_path()).chain(models) {
            let (analysed, packed, fed) = plans(&path);
            assert!(packed.weights.is_empty());
            assert!(fed.weights.len() > 4, "{}: the weight matrices are inputs", path.display());
            let held: Vec<&Arc<Tensor_>> = analysed
                .model
                .nodes
                .iter()
                .filter_map(|n| n.op.as_op().downcast_ref::<tract_onnx::tract_hir::ops::konst::Const>())
                .map(|c| c.val())
                .collect();
            for w in &fed.weights {
                let w = w.as_arc_tensor().unwrap();
                // Either the parsed model's own tensor, or a constant tract computed from several (SwinV2's
                // relative position table), never a copy of one.
                let shared = held.iter().any(|h| Arc::ptr_eq(h, w));
                assert!(shared || !held.iter().any(|h| **h == *w), "{}: {:?} is a copy", path.display(), w.shape());
            }
            let shape = &analysed.input_shape;
            let n: usize = shape.iter().product();
            let x = Tensor::new(shape.clone(), (0..n).map(|i| ((i * 7919) % 255) as f32 / 255.0 - 0.5).collect());
            let (a, b) = (packed.run(&x).unwrap(), fed.run(&x).unwrap());
            let (a, b) = (view(&a[0]).unwrap(), view(&b[0]).unwrap());
            assert_eq!(a.shape, b.shape);
            assert!(a.data.iter().zip(b.data).all(|(p, q)| p.to_bits() == q.to_bits()), "{}", path.display());
        }
    }
}
