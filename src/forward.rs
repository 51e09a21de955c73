//! The forward pass, run by tract. Besides the graph output, the optimised plan also outputs
//! every activation the reverse pass will read, so one run records all of them.

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::error::{Error, Result};
use crate::graph;
use crate::tensor::{Tensor, View};

mod fuse_through_reshape;
mod maxpool;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm_gemm;

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

pub fn analyse(proto: &pb::ModelProto) -> Result<Analysed> {
    let g = proto.graph.as_ref().ok_or_else(|| Error::Model("no graph".into()))?;
    let input_shape = graph::declared_input_shape(graph::feed_input(g)?)?;
    let parsed = onnx().parse(proto, None).map_err(model_err)?;
    if !parsed.unresolved_inputs.is_empty() {
        return Err(Error::Model(format!("values used but never defined: {:?}", parsed.unresolved_inputs)));
    }
    let mut model = parsed.model;
    model.set_input_fact(0, f32::fact(&input_shape).into()).map_err(model_err)?;
    model.analyse(false).map_err(model_err)?;
    Ok(Analysed { model, outlets: parsed.outlets_by_name, input_shape })
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
}

impl Forward {
    /// Optimises the model with `outputs` (ONNX value names) as its outputs, and the window winners of the
    /// MaxPools producing `outputs[i]` for each i in `winners_of` where tract's plan keeps that pool.
    pub fn new(analysed: Analysed, outputs: Vec<String>, winners_of: &[usize]) -> Result<Forward> {
        let Analysed { mut model, outlets, .. } = analysed;
        let selected = outputs
            .iter()
            .map(|n| outlets.get(n).copied().ok_or_else(|| Error::Model(format!("no value named '{n}'"))))
            .collect::<Result<Vec<_>>>()?;
        model.select_output_outlets(&selected).map_err(model_err)?;
        let mut typed = model.into_typed().map_err(model_err)?.into_decluttered().map_err(model_err)?;
        let winners = maxpool::replace_max_pools(&mut typed, winners_of).map_err(model_err)?;
        let mut optimized = typed.into_optimized().map_err(model_err)?;
        fuse_through_reshape::fuse_scalar_ops_through_reshapes(&mut optimized).map_err(model_err)?;
        let plan = optimized.into_runnable().map_err(model_err)?;
        Ok(Forward { plan, outputs, winners })
    }

    /// Runs the plan; returns tract's tensors in the order of `self.outputs`, left in tract's buffers.
    pub fn run(&self, input: &Tensor) -> Result<TVec<TValue>> {
        let x = tract_onnx::prelude::Tensor::from_shape(&input.shape, &input.data)
            .map_err(|e| Error::Forward(e.to_string()))?;
        self.plan.run(tvec!(x.into())).map_err(|e| Error::Forward(format!("{e:#}")))
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
            .run_plan_with_eval(tvec!(x.into()), |ctx, op_state, node, inputs| {
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
pub fn cut_at(proto: &pb::ModelProto, layer: &str, layer_shape: &[usize], input_shape: &[usize]) -> Result<Forward> {
    let mut proto = proto.clone();
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
    let parsed = onnx().parse(&proto, None).map_err(model_err)?;
    let mut model = parsed.model;
    model.set_input_fact(0, f32::fact(input_shape).into()).map_err(model_err)?;
    model.set_input_fact(1, f32::fact(layer_shape).into()).map_err(model_err)?;
    model.analyse(false).map_err(model_err)?;
    let outlets = parsed.outlets_by_name;
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
        self.plan.run(values).map_err(|e| Error::Forward(format!("{e:#}")))
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
