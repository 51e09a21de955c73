//! The engine: an ONNX graph run forward by tract and backward by our reverse pass.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tract_onnx::prelude::TValue;

use crate::backward::{self, GradStore, Wanted};
use crate::error::{Error, Result};
use crate::forward::{self, Analysed, Forward};
use crate::graph::stream::{Decoded, ModelBytes};
use crate::graph::{self, Graph, ValueId};
use crate::tensor::{Tensor, View};
use crate::vjp::{self, Values};

mod weights;

pub use weights::WeightLayer;

/// The scalar objective a reverse pass differentiates, given as its gradient on some value.
/// (Not to be confused with a method's RNG seed.)
#[derive(Clone, Debug)]
pub enum Objective {
    /// output[0, class]: one class logit.
    Class(usize),
    /// sum_k w_k output[0, k]: a weighted sum of logits.
    Weighted(Vec<(usize, f32)>),
    /// An explicit gradient on the graph output (same shape as the output).
    OutputGrad(Tensor),
    /// sum(value[0, channel, ..]): one channel of an intermediate activation, by ONNX value name.
    Channel { value: String, channel: usize },
    /// An explicit gradient on any named value.
    ValueGrad { value: String, grad: Tensor },
}

/// A forward plan and how it makes each value the reverse pass (or a method) reads available.
struct Recorder {
    forward: Forward,
    /// For each plan output after the graph output (every plan output when `truncated`), the value it records.
    recorded: Vec<ValueId>,
    /// The plan stops at a layer: it has no graph output, and nothing after the layer runs.
    truncated: bool,
    /// Concat outputs rebuilt from their recorded inputs after each forward pass: recording them from
    /// tract would keep it from writing the branches straight into one buffer.
    assembled: Vec<ValueId>,
    /// MaxPool outputs whose window winners the plan outputs after everything else, in this order.
    winners: Vec<ValueId>,
}

/// (recorded, assembled) value ids, and whether the plan stops at a layer.
type RecordingKey = (Vec<ValueId>, Vec<ValueId>, bool);

pub struct Engine {
    graph: Graph,
    /// Records what the VJPs read.
    base: Recorder,
    /// tract's analysed model, kept to build plans that record more (a method asking for a layer's values).
    analysed: Analysed,
    /// Those plans, by the values they add to the base recording.
    extra: Mutex<Vec<(RecordingKey, Arc<Recorder>)>>,
    /// A plan with the graph output only, built on first use: recording keeps tract from fusing each ReLU into
    /// its convolution and from reusing buffers, so the passes that need no reverse pass (classifying, the
    /// deletion and insertion curves, occlusion) run faster on it (−6 % natively for SqueezeNet; README).
    /// None when tract cannot build it; then the base plan serves. Building it costs about as much as two dozen
    /// forward passes (tract's declutter and optimise, ~26 ms natively), so the first forward pass without a
    /// reverse pass runs on the base plan: a CLI command that classifies once never pays for it.
    plain: OnceLock<Option<Forward>>,
    /// Set by the first [`Engine::forward_only`].
    plain_asked: AtomicBool,
    /// The decoded model, kept to build copies with other weights ([`Engine::with_weights`]).
    proto: Arc<tract_onnx::pb::ModelProto>,
    /// Plans from a layer on ([`Engine::forward_from`]), by layer, built on first use.
    cuts: Mutex<Vec<(ValueId, Arc<Forward>)>>,
}

/// What one forward pass leaves for the reverse pass: the output and the recorded activations.
pub struct Activations<'a> {
    graph: &'a Graph,
    input: Tensor,
    /// The graph output; empty after [`Engine::forward_until`], which stops before it.
    output: Tensor,
    truncated: bool,
    recorded: Vec<Option<TValue>>,
    assembled: Vec<Option<Tensor>>,
    /// MaxPool window winners, by pool output.
    winners: Vec<(ValueId, TValue)>,
}

impl Activations<'_> {
    pub fn output(&self) -> &Tensor {
        &self.output
    }

    /// A recorded activation or constant, by ONNX value name.
    pub fn get(&self, name: &str) -> Option<View<'_>> {
        self.graph.value_id(name).and_then(|id| Values::get(self, id))
    }
}

impl Values for Activations<'_> {
    fn get(&self, id: ValueId) -> Option<View<'_>> {
        if id == self.graph.input {
            return Some(self.input.view());
        }
        if id == self.graph.output {
            return (!self.truncated).then(|| self.output.view());
        }
        if let Some(t) = self.graph.consts[id].as_ref() {
            return Some(t.view());
        }
        if let Some(t) = self.assembled[id].as_ref() {
            return Some(t.view());
        }
        self.recorded[id].as_ref().and_then(|t| forward::view(t).ok())
    }

    fn winners(&self, pool_output: ValueId) -> Option<&[u32]> {
        let (_, t) = self.winners.iter().find(|(id, _)| *id == pool_output)?;
        t.try_as_plain_ram().ok()?.as_slice::<u32>().ok()
    }
}

/// Decides how each value the reverse pass reads will be available after a forward pass.
struct Recording<'g> {
    graph: &'g Graph,
    recorded: Vec<ValueId>,
    assembled: Vec<ValueId>,
}

impl Recording<'_> {
    /// What `node`'s VJP reads; for a MaxPool, its output too: the plan finds the pool by the output it records
    /// and records its window winners beside it.
    fn require_reads(&mut self, node: &graph::Node) {
        let needs = node.op.needs();
        for &i in needs.inputs {
            if needs.for_the_other && !self.graph.depends_on_input[node.inputs[1 - i]] {
                continue;
            }
            self.require(node.inputs[i]);
        }
        if needs.output || node.op.shortcuts().window_winners {
            self.require(node.output);
        }
    }

    fn require(&mut self, id: ValueId) {
        let g = self.graph;
        if id == g.input || id == g.output || g.consts[id].is_some() {
            return;
        }
        if self.recorded.contains(&id) || self.assembled.contains(&id) {
            return;
        }
        match g.nodes.iter().find(|n| n.output == id) {
            Some(node) if node.op.shortcuts().concat_axis.is_some() => {
                for &input in &node.inputs {
                    self.require(input);
                }
                self.assembled.push(id);
            }
            _ => self.recorded.push(id),
        }
    }
}

impl Engine {
    /// Loads an ONNX model from its bytes. Fails (never panics) on bytes that are not a model,
    /// and names the op and node of anything the reverse pass cannot differentiate.
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Engine> {
        // Natively, the thread pool (NETLENS_THREADS or the machine's cores) unless the caller set it already.
        crate::threads::init();
        Engine::from_decoded(graph::stream::decode(bytes)?)
    }

    /// As [`Engine::from_onnx_bytes`], with a symbolic image height and width (an export with `dynamic_axes` on
    /// them) fixed to `side`, and saying whether the model had one. The file is read in pieces from wherever it is
    /// (bytes in memory, or the page's `Uint8Array`, which stays in JavaScript's memory): the weights are then in
    /// this memory once (`graph::stream`).
    pub fn from_model_bytes_sized<S: ModelBytes + ?Sized>(src: &S, side: usize) -> Result<(Engine, bool)> {
        crate::threads::init();
        Engine::from_decoded_sized(graph::stream::decode(src)?, side)
    }

    /// As [`Engine::from_model_bytes_sized`], taking the bytes: they are freed as soon as they are decoded, before
    /// the model is built.
    pub fn from_onnx_vec_sized(bytes: Vec<u8>, side: usize) -> Result<(Engine, bool)> {
        crate::threads::init();
        let decoded = graph::stream::decode(&bytes[..])?;
        drop(bytes);
        Engine::from_decoded_sized(decoded, side)
    }

    fn from_decoded_sized(mut decoded: Decoded, side: usize) -> Result<(Engine, bool)> {
        let symbolic = graph::fix_symbolic_sides(&mut decoded.proto, side)?;
        Ok((Engine::from_decoded(decoded)?, symbolic))
    }

    /// The model as [`graph::stream::decode`] gives it: the proto without its float weights (the engine keeps it
    /// so), and those weights as the tensors our graph and tract's model share, for the rare builds that start
    /// from a proto (a plan cut at a layer, a copy with replaced weights): they share the weights too.
    pub(crate) fn separated(&self) -> Result<Decoded> {
        let proto = (*self.proto).clone();
        let mut weights = vec![];
        for t in proto.graph.iter().flat_map(|g| &g.initializer).filter(|t| graph::is_without_data(t)) {
            let c = self.analysed.constant(&t.name).ok_or_else(|| {
                Error::Model(format!("the weights '{}' are neither in the proto nor in tract's model", t.name))
            })?;
            weights.push((t.name.clone(), c.to_tract()?));
        }
        Ok(Decoded { proto, weights })
    }

    /// The model's `metadata_props`, as (key, value) pairs.
    pub fn metadata(&self) -> Vec<(String, String)> {
        self.proto.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect()
    }

    fn from_decoded(Decoded { proto, weights }: Decoded) -> Result<Engine> {
        // tract's analysis tells which nodes compute constants (shape computations): those need no VJP, so
        // unsupported ops are reported by `graph::build` after it. Where tract fails, an op we do not support
        // is the clearer message.
        let analysed = match forward::analyse(&proto, &weights) {
            Ok(a) => a,
            Err(e) => {
                check_ops(&proto)?;
                return Err(e);
            }
        };
        // tract's model holds the weights now: the proto keeps everything but the float weights tract has (our graph
        // takes them from tract; Engine::separated gives them back with the proto when a proto is needed again).
        let proto = graph::without_float_weights(proto, &|name| analysed.has_constant(name));
        let graph = graph::build(&proto, &analysed.shapes(), &|name| analysed.constant(name))?;
        if graph.shape(graph.input) != analysed.input_shape.as_slice() {
            return Err(Error::Model("input shape disagrees with tract's analysis".into()));
        }
        // tract panics planning an op whose output is empty (a MaxPool over a 1-pixel-high input): found by
        // tests/fuzz.rs, refused here with the value's name.
        if let Some(node) =
            graph.nodes.iter().find(|n| graph.depends_on_input[n.output] && graph.shape(n.output).contains(&0))
        {
            return Err(Error::Model(format!(
                "the input {:?} is too small for this model: node '{}' would output an empty {:?}",
                analysed.input_shape,
                node.name,
                graph.shape(node.output)
            )));
        }
        let mut recording = Recording { graph: &graph, recorded: vec![], assembled: vec![] };
        for node in graph.nodes.iter().filter(|n| graph.depends_on_input[n.output]) {
            recording.require_reads(node);
        }
        let base = recorder(&graph, &analysed, recording, false)?;
        Ok(Engine {
            graph,
            base,
            analysed,
            extra: Mutex::new(vec![]),
            plain: OnceLock::new(),
            plain_asked: AtomicBool::new(false),
            proto: Arc::new(proto),
            cuts: Mutex::new(vec![]),
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn input_shape(&self) -> &[usize] {
        self.graph.shape(self.graph.input)
    }

    pub fn output_shape(&self) -> &[usize] {
        self.graph.shape(self.graph.output)
    }

    fn check_input(&self, x: &Tensor) -> Result<()> {
        if x.shape != self.input_shape() {
            return Err(Error::Invalid(format!(
                "input has shape {:?}, the model takes {:?}",
                x.shape,
                self.input_shape()
            )));
        }
        if x.data.iter().any(|v| !v.is_finite()) {
            return Err(Error::Invalid("input holds NaN or infinite values".into()));
        }
        Ok(())
    }

    /// The graph output only.
    pub fn forward_only(&self, x: &Tensor) -> Result<Tensor> {
        self.check_input(x)?;
        let results = self.plain_forward().run(x)?;
        output_tensor(&results)
    }

    /// As [`Engine::forward_only`], calling `after(op_name)` after each node of tract's plan (bench profiling).
    pub fn forward_timed(&self, x: &Tensor, after: &mut dyn FnMut(&str)) -> Result<Tensor> {
        self.check_input(x)?;
        let results = self.plain_forward().run_timed(x, after)?;
        output_tensor(&results)
    }

    /// The plan [`Engine::forward_only`] runs: the graph output first in both.
    fn plain_forward(&self) -> &Forward {
        if self.plain.get().is_none() && !self.plain_asked.swap(true, Ordering::Relaxed) {
            return &self.base.forward;
        }
        let plain = self.plain.get_or_init(|| {
            let output = self.graph.values[self.graph.output].name.clone();
            Forward::new(self.analysed.clone(), vec![output], &[]).ok()
        });
        plain.as_ref().unwrap_or(&self.base.forward)
    }

    /// The graph output and every activation the reverse pass reads.
    pub fn forward(&self, x: &Tensor) -> Result<Activations<'_>> {
        self.record(x, &self.base)
    }

    /// As [`Engine::forward`], also recording the named values (a layer a method reads). Recording more
    /// builds (once, then cached) a plan with those outputs, so the plain forward pass never pays for it.
    pub fn forward_with(&self, x: &Tensor, values: &[&str]) -> Result<Activations<'_>> {
        let ids = values.iter().map(|v| self.named(v)).collect::<Result<Vec<_>>>()?;
        let mut recording = Recording {
            graph: &self.graph,
            recorded: self.base.recorded.clone(),
            assembled: self.base.assembled.clone(),
        };
        for &id in &ids {
            recording.require(id);
        }
        if recording.recorded == self.base.recorded && recording.assembled == self.base.assembled {
            return self.forward(x);
        }
        let rec = self.cached_recorder(recording, false)?;
        self.record(x, &rec)
    }

    /// The forward pass up to `layer` only, recording `layer` and what the VJPs before it read: for objectives
    /// on that layer (feature visualization), whose reverse pass starts there, so shallow layers cost less both
    /// ways. The result has no graph output. The plan is built once per layer and cached.
    pub fn forward_until(&self, x: &Tensor, layer: &str) -> Result<Activations<'_>> {
        let id = self.named(layer)?;
        let Some(last) = self.graph.nodes.iter().position(|n| n.output == id) else {
            return self.forward_with(x, &[layer]);
        };
        let mut recording = Recording { graph: &self.graph, recorded: vec![], assembled: vec![] };
        for node in self.graph.nodes[..=last].iter().filter(|n| self.graph.depends_on_input[n.output]) {
            recording.require_reads(node);
        }
        recording.require(id);
        if recording.recorded.is_empty() {
            return self.forward_with(x, &[layer]);
        }
        let rec = self.cached_recorder(recording, true)?;
        self.record(x, &rec)
    }

    /// The forward pass up to `layer` only, recording `layer` alone: for a method that reads a layer's values and
    /// no gradient (Eigen-CAM, Score-CAM and Ablation-CAM's first pass). The plan is built once per layer and
    /// cached.
    pub fn forward_to(&self, x: &Tensor, layer: &str) -> Result<Activations<'_>> {
        let id = self.named(layer)?;
        let mut recording = Recording { graph: &self.graph, recorded: vec![], assembled: vec![] };
        recording.require(id);
        if recording.recorded.is_empty() && recording.assembled.is_empty() {
            // The graph's input or output: nothing to record before it.
            return self.forward_with(x, &[layer]);
        }
        let rec = self.cached_recorder(recording, true)?;
        self.record(x, &rec)
    }

    fn cached_recorder(&self, recording: Recording, truncated: bool) -> Result<Arc<Recorder>> {
        let key = (recording.recorded.clone(), recording.assembled.clone(), truncated);
        let cached = self
            .extra
            .lock()
            .expect("no panic holds this lock")
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, r)| r.clone());
        if let Some(r) = cached {
            return Ok(r);
        }
        let r = Arc::new(recorder(&self.graph, &self.analysed, recording, truncated)?);
        self.extra.lock().expect("no panic holds this lock").push((key, r.clone()));
        Ok(r)
    }

    fn record(&self, x: &Tensor, rec: &Recorder) -> Result<Activations<'_>> {
        self.check_input(x)?;
        let results = rec.forward.run(x)?;
        let output = if rec.truncated { Tensor::zeros(&[0]) } else { output_tensor(&results)? };
        let n = self.graph.values.len();
        let mut acts = Activations {
            graph: &self.graph,
            input: x.clone(),
            output,
            truncated: rec.truncated,
            recorded: vec![None; n],
            assembled: vec![None; n],
            winners: vec![],
        };
        let skip = usize::from(!rec.truncated);
        let mut results = results.into_iter().skip(skip);
        for (&id, t) in rec.recorded.iter().zip(results.by_ref()) {
            acts.recorded[id] = Some(t);
        }
        acts.winners = rec.winners.iter().copied().zip(results).collect();
        for &id in &rec.assembled {
            let concat = self.assemble(&acts, id)?;
            acts.assembled[id] = Some(concat);
        }
        Ok(acts)
    }

    /// Rebuilds a Concat output from its inputs (already available in `acts`).
    fn assemble(&self, acts: &Activations, id: ValueId) -> Result<Tensor> {
        let node = self.graph.nodes.iter().find(|n| n.output == id).expect("assembled values come from Concat nodes");
        let axis = node.op.shortcuts().concat_axis.expect("only Concat outputs are assembled");
        let shape = self.graph.shape(id);
        let outer: usize = shape[..axis].iter().product();
        let parts = node
            .inputs
            .iter()
            .map(|&i| Values::get(acts, i).ok_or_else(|| Error::Forward(format!("'{}' was not recorded", node.name))))
            .collect::<Result<Vec<_>>>()?;
        let mut data = Vec::with_capacity(shape.iter().product());
        for o in 0..outer {
            for p in &parts {
                let width = p.data.len() / outer;
                data.extend_from_slice(&p.data[o * width..(o + 1) * width]);
            }
        }
        Ok(Tensor::new(shape.to_vec(), data))
    }

    /// The graph output when `layer`'s value is `value` instead of what `x` gives there (everything else still
    /// computed from `x`). The plan is built once per layer and cached.
    pub fn forward_from(&self, x: &Tensor, layer: &str, value: &Tensor) -> Result<Tensor> {
        self.check_input(x)?;
        let id = self.named(layer)?;
        if value.shape != self.graph.shape(id) {
            return Err(Error::Invalid(format!(
                "a value of shape {:?} given for '{layer}', which has shape {:?}",
                value.shape,
                self.graph.shape(id)
            )));
        }
        let cached =
            self.cuts.lock().expect("no panic holds this lock").iter().find(|(v, _)| *v == id).map(|(_, f)| f.clone());
        let plan = match cached {
            Some(plan) => plan,
            None => {
                let model = self.separated()?;
                let plan = Arc::new(forward::cut_at(&model, layer, self.graph.shape(id), self.input_shape())?);
                self.cuts.lock().expect("no panic holds this lock").push((id, plan.clone()));
                plan
            }
        };
        output_tensor(&plan.run_inputs(&[x, value])?)
    }

    /// d objective / d input.
    pub fn backward(&self, acts: &Activations, objective: &Objective) -> Result<Tensor> {
        let (value, grad) = self.seed_gradient(objective)?;
        backward::backward(&self.graph, acts, value, grad)
    }

    /// The gradients `wanted` asks for, by value name (`at`) and the input.
    pub fn gradients(&self, acts: &Activations, objective: &Objective, wanted: &Wanted) -> Result<GradStore> {
        self.gradients_timed(acts, objective, wanted, &mut |_, _| {})
    }

    /// As [`Engine::gradients`], reporting each node's op type after its VJP (for profiling).
    pub fn gradients_timed(
        &self,
        acts: &Activations,
        objective: &Objective,
        wanted: &Wanted,
        timed: &mut dyn FnMut(&str, usize),
    ) -> Result<GradStore> {
        let (value, grad) = self.seed_gradient(objective)?;
        backward::backward_timed(&self.graph, acts, value, grad, wanted, timed)
    }

    /// A value's id by its ONNX name, with an error a page can show.
    pub fn value_id(&self, name: &str) -> Result<ValueId> {
        self.named(name)
    }

    fn named(&self, name: &str) -> Result<ValueId> {
        self.graph.value_id(name).ok_or_else(|| Error::Invalid(format!("the model has no value named '{name}'")))
    }

    fn seed_gradient(&self, objective: &Objective) -> Result<(ValueId, Tensor)> {
        let out = self.graph.output;
        let out_shape = self.graph.shape(out);
        let classes: usize = out_shape.iter().product();
        let one_hot = |pairs: &[(usize, f32)]| -> Result<Tensor> {
            let mut g = Tensor::zeros(out_shape);
            for &(k, w) in pairs {
                if k >= classes {
                    return Err(Error::Invalid(format!("class {k} is out of range 0..{classes}")));
                }
                g.data[k] += w;
            }
            Ok(g)
        };
        Ok(match objective {
            Objective::Class(k) => (out, one_hot(&[(*k, 1.0)])?),
            Objective::Weighted(pairs) => (out, one_hot(pairs)?),
            Objective::OutputGrad(g) => (out, g.clone()),
            Objective::ValueGrad { value, grad } => (self.named(value)?, grad.clone()),
            Objective::Channel { value, channel } => {
                let id = self.named(value)?;
                let shape = self.graph.shape(id);
                if shape.len() < 2 || *channel >= shape[1] {
                    return Err(Error::Invalid(format!("'{value}' of shape {shape:?} has no channel {channel}")));
                }
                let plane: usize = shape[2..].iter().product();
                let mut g = Tensor::zeros(shape);
                g.data[channel * plane..(channel + 1) * plane].iter_mut().for_each(|v| *v = 1.0);
                (id, g)
            }
        })
    }
}

fn output_tensor(results: &[TValue]) -> Result<Tensor> {
    let out = forward::view(results.first().ok_or_else(|| Error::Forward("tract returned no output".into()))?)?;
    if out.data.iter().any(|v| v.is_nan()) {
        return Err(Error::Forward("the model produced NaN".into()));
    }
    Ok(Tensor::new(out.shape.to_vec(), out.data.to_vec()))
}

/// Every op must be one we can differentiate (`vjp::OPS`) or a constant (checked where tract's analysis fails).
fn check_ops(proto: &tract_onnx::pb::ModelProto) -> Result<()> {
    let graph = proto.graph.as_ref().ok_or_else(|| Error::Model("no graph".into()))?;
    for (ix, node) in graph.node.iter().enumerate() {
        let known = node.op_type == "Constant" || vjp::decl(&node.op_type).is_some();
        if !known || !(node.domain.is_empty() || node.domain == "ai.onnx") {
            let name = if node.name.is_empty() { format!("{}#{ix}", node.op_type) } else { node.name.clone() };
            return Err(Error::UnsupportedOp { op: node.op_type.clone(), node: name });
        }
    }
    Ok(())
}

/// The plan for `recording`, its graph output first unless `truncated`. A MaxPool whose window winners the plan
/// cannot record (tract's plan does not keep that pool) has its input recorded instead, for its VJP to find them:
/// that takes a second plan, which no model we know needs.
fn recorder(graph: &Graph, analysed: &Analysed, recording: Recording, truncated: bool) -> Result<Recorder> {
    recorder_with(graph, analysed, recording, truncated, true)
}

/// As [`recorder`]; without `winners` no plan records any (the fallback, tested on its own).
fn recorder_with(
    graph: &Graph,
    analysed: &Analysed,
    mut recording: Recording,
    truncated: bool,
    winners_wanted: bool,
) -> Result<Recorder> {
    let outputs = |recorded: &[ValueId]| -> Vec<ValueId> {
        let output = (!truncated).then_some(graph.output);
        output.into_iter().chain(recorded.iter().copied()).collect()
    };
    let (mut forward, mut winners) = plan(graph, analysed, outputs(&recording.recorded), winners_wanted)?;
    let unrecorded: Vec<ValueId> = graph
        .nodes
        .iter()
        .filter(|n| n.op.shortcuts().window_winners && outputs(&recording.recorded).contains(&n.output))
        .filter(|n| !winners.contains(&n.output))
        .map(|n| n.inputs[0])
        .collect();
    if !unrecorded.is_empty() {
        for id in unrecorded {
            recording.require(id);
        }
        (forward, winners) = plan(graph, analysed, outputs(&recording.recorded), winners_wanted)?;
    }
    let Recording { recorded, assembled, .. } = recording;
    Ok(Recorder { forward, recorded, assembled, truncated, winners })
}

/// A plan with `outputs`, and the window winners of each MaxPool among them where tract's plan keeps the pool:
/// the plan, and the pool outputs whose winners it records.
fn plan(graph: &Graph, analysed: &Analysed, outputs: Vec<ValueId>, winners: bool) -> Result<(Forward, Vec<ValueId>)> {
    let pools: Vec<usize> = (0..outputs.len())
        .filter(|_| winners)
        .filter(|&i| graph.nodes.iter().any(|n| n.output == outputs[i] && n.op.shortcuts().window_winners))
        .collect();
    let names = outputs.iter().map(|&id| graph.values[id].name.clone()).collect();
    let forward = Forward::new(analysed.clone(), names, &pools)?;
    let winners = forward.winners.iter().map(|&i| outputs[i]).collect();
    Ok((forward, winners))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn squeezenet() -> Engine {
        let bytes = std::fs::read(crate::test_data::squeezenet_path()).expect("SqueezeNet in the shared data");
        Engine::from_onnx_bytes(&bytes).expect("SqueezeNet loads")
    }

    /// The engine keeps its proto without the float weights (one copy fewer in the page's memory) and gives them
    /// back exactly, as the very tensors tract's model holds: every initializer is the file's, value for value, and
    /// a model rebuilt from them computes the same logits.
    #[test]
    fn the_kept_proto_has_no_float_weights_and_gives_them_back_exactly() {
        let bytes = std::fs::read(crate::test_data::squeezenet_path()).expect("SqueezeNet in the shared data");
        let original = graph::decode_proto(&bytes).unwrap();
        let engine = Engine::from_onnx_vec_sized(bytes, 224).unwrap().0;
        let kept = engine.proto.graph.as_ref().unwrap();
        let stored: usize = kept.initializer.iter().map(|t| t.raw_data.len() + 4 * t.float_data.len()).sum();
        assert_eq!(stored, 0, "the kept proto holds no weights");
        let separated = engine.separated().unwrap();
        let a = original.graph.as_ref().unwrap();
        assert_eq!(a.initializer.len(), separated.proto.graph.as_ref().unwrap().initializer.len());
        assert_eq!(a.initializer.len(), separated.weights.len(), "SqueezeNet's weights and biases, all of them");
        assert!(a.initializer.len() > 40);
        for x in &a.initializer {
            let (_, y) = separated.weights.iter().find(|(name, _)| name == &x.name).expect("every initializer");
            let shared = engine.analysed.constant(&x.name).unwrap().to_tract().unwrap();
            assert!(Arc::ptr_eq(y, &shared), "'{}' is tract's own tensor, not a copy", x.name);
            let x = graph::load_tensor(x).unwrap();
            let y = y.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap();
            assert!(x.data.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()));
        }
        let rebuilt = Engine::from_decoded(separated).unwrap();
        let x =
            Tensor::new(engine.input_shape().to_vec(), (0..3 * 224 * 224).map(|i| (i % 17) as f32 / 17.0).collect());
        assert_eq!(rebuilt.forward_only(&x).unwrap().data, engine.forward_only(&x).unwrap().data);
    }

    /// A plan that records no window winners records each MaxPool's input instead, and the reverse pass then finds
    /// the same winners: the same gradient, bit for bit. With winners, no pool input is recorded for the pools.
    #[test]
    fn max_pool_without_recorded_winners_reads_its_input() {
        let engine = squeezenet();
        let g = &engine.graph;
        let pools: Vec<&graph::Node> = g.nodes.iter().filter(|n| n.op.shortcuts().window_winners).collect();
        assert_eq!(pools.len(), 3, "SqueezeNet 1.1 has three max pools");
        let outputs: Vec<ValueId> = pools.iter().map(|n| n.output).collect();
        assert_eq!(engine.base.winners, outputs, "the base plan records every pool's winners");
        // Two pools read a Concat output: with winners, nothing reads it, so it is not rebuilt.
        assert!(engine.base.assembled.is_empty(), "assembled {:?}", engine.base.assembled);

        let mut recording = Recording { graph: g, recorded: vec![], assembled: vec![] };
        for node in g.nodes.iter().filter(|n| g.depends_on_input[n.output]) {
            recording.require_reads(node);
        }
        let fallback = recorder_with(g, &engine.analysed, recording, false, false).unwrap();
        assert!(fallback.winners.is_empty());
        for pool in &pools {
            let input = pool.inputs[0];
            let available = fallback.recorded.contains(&input) || fallback.assembled.contains(&input);
            assert!(available, "pool '{}' input not recorded", pool.name);
        }

        let n: usize = engine.input_shape().iter().product();
        let x = Tensor::new(
            engine.input_shape().to_vec(),
            (0..n).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect(),
        );
        let objective = Objective::Class(76);
        let with = engine.backward(&engine.record(&x, &engine.base).unwrap(), &objective).unwrap();
        let without = engine.backward(&engine.record(&x, &fallback).unwrap(), &objective).unwrap();
        assert!(with.data.iter().any(|&v| v != 0.0));
        assert_eq!(with.data, without.data);
    }
}
