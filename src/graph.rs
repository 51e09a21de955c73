//! Our own view of the exported ONNX graph: an op list with attributes and constant weights,
//! which the reverse pass walks backwards. tract runs the same graph forward; shapes come from
//! tract's analysis so the two can never disagree about them.

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::data_resolver::FopenDataResolver;
use tract_onnx::pb::{self, NodeProto};
use tract_onnx::prelude::*;

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::vjp::{self, OpVjp};

pub type ValueId = usize;

#[derive(Clone, Debug)]
pub struct Value {
    pub name: String,
    pub shape: Vec<usize>,
}

/// Spatial window shared by Conv and the pools (2-D only: N, C, H, W).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Padding before each spatial axis (top, left).
    pub pads_begin: [usize; 2],
    /// Padding after (bottom, right): output sizes come from tract, but AveragePool's
    /// count_include_pad divisor depends on it.
    pub pads_end: [usize; 2],
}

impl Window {
    /// Per kernel column kx, for an input `width` wide and an output `out_width` wide: the output columns [lo, hi)
    /// whose input column ox·stride + kx·dilation − pad lies inside the input (lo == hi: none), and the input
    /// column of the first. Conv's col2im and the max pools loop over these without bounds tests.
    pub fn column_spans(&self, width: usize, out_width: usize) -> Vec<(usize, usize, usize)> {
        let (sw, dw, pw) = (self.strides[1], self.dilations[1], self.pads_begin[1]);
        (0..self.kernel[1])
            .map(|kx| {
                let off = (kx * dw) as isize - pw as isize;
                let lo = if off >= 0 { 0 } else { off.unsigned_abs().div_ceil(sw) };
                let hi = if off >= width as isize {
                    0
                } else {
                    ((width as isize - off) as usize).div_ceil(sw).min(out_width)
                };
                (lo, hi.max(lo), ((lo * sw) as isize + off).max(0) as usize)
            })
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    /// The op's parsed attributes and its VJP (declared with its parser in `vjp::OPS`).
    pub op: Arc<dyn OpVjp>,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
}

pub struct Graph {
    pub values: Vec<Value>,
    /// Initializers and Constant nodes, by value id.
    pub consts: Vec<Option<Tensor>>,
    pub nodes: Vec<Node>,
    pub input: ValueId,
    pub output: ValueId,
    /// Whether a value changes when the input changes: only those carry gradients.
    pub depends_on_input: Vec<bool>,
}

/// The ONNX proto decoded once; tract parses the same proto into its own model.
pub fn decode_proto(bytes: &[u8]) -> Result<pb::ModelProto> {
    if bytes.is_empty() {
        return Err(Error::Model("the model file is empty".into()));
    }
    let proto =
        onnx().proto_model_for_read(&mut &*bytes).map_err(|e| Error::Model(format!("not an ONNX model ({e})")))?;
    let Some(graph) = proto.graph.as_ref().filter(|g| !g.node.is_empty()) else {
        return Err(Error::Model("not an ONNX model: it holds no graph".into()));
    };
    // tract panics on an output that nothing produces, so that is caught here first.
    let defined = |name: &str| {
        graph.input.iter().any(|i| i.name == name)
            || graph.initializer.iter().any(|t| t.name == name)
            || graph.node.iter().any(|n| n.output.iter().any(|o| o == name))
    };
    if let Some(out) = graph.output.iter().find(|o| !defined(&o.name)) {
        return Err(Error::Model(format!("the graph output '{}' is not produced by any node", out.name)));
    }
    if graph.output.is_empty() {
        return Err(Error::Model("the graph has no output".into()));
    }
    check_window_attributes(graph)?;
    Ok(proto)
}

/// Largest pad, stride, dilation or kernel side accepted: far beyond any real model, small enough that shape
/// arithmetic cannot ask for terabytes.
const MAX_WINDOW: i64 = 4096;

/// tract panics (index out of bounds) on a Conv or pool whose `pads`/`strides`/… have the wrong number of values,
/// and hangs allocating on absurd ones, and panics on a Transpose `perm` naming an axis that is not there (found
/// by tests/fuzz.rs; inputs in tests/fuzz/): checked here first.
/// `pads` has two values per spatial axis, the others one; the axes come from `kernel_shape`, else from the
/// rank of a constant weight.
fn check_window_attributes(graph: &pb::GraphProto) -> Result<()> {
    const WINDOWED: [&str; 5] = ["Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"];
    // tract indexes a node's first input unchecked (a Transpose without one: found by tests/fuzz.rs).
    const SOURCES: [&str; 4] = ["Constant", "RandomNormal", "RandomUniform", "Range"];
    if let Some(node) = graph.node.iter().find(|n| n.input.is_empty() && !SOURCES.contains(&n.op_type.as_str())) {
        return Err(Error::Model(format!("{} node '{}' has no inputs", node.op_type, node.name)));
    }
    for node in graph.node.iter().filter(|n| n.op_type == "Transpose") {
        // tract indexes the input's axes with `perm` unchecked.
        if let Some(perm) = node.attribute.iter().find(|a| a.name == "perm").map(|a| &a.ints) {
            if perm.is_empty() {
                return Err(Error::Model(format!("Transpose node '{}': 'perm' is empty", node.name)));
            }
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted.iter().enumerate().any(|(i, &p)| p != i as i64) {
                return Err(Error::Model(format!(
                    "Transpose node '{}': 'perm' {perm:?} is not a permutation of the axes",
                    node.name
                )));
            }
        }
    }
    for node in graph.node.iter().filter(|n| WINDOWED.contains(&n.op_type.as_str())) {
        let ints = |name: &str| node.attribute.iter().find(|a| a.name == name).map(|a| a.ints.as_slice());
        let axes = ints("kernel_shape").map(|k| k.len()).or_else(|| {
            let w = node.input.get(1)?;
            graph.initializer.iter().find(|t| &t.name == w).map(|t| t.dims.len().saturating_sub(2))
        });
        let bad = |what: String| Error::Model(format!("{} node '{}': {what}", node.op_type, node.name));
        for (name, per_axis, min) in
            [("pads", 2, 0), ("strides", 1, 1), ("dilations", 1, 1), ("kernel_shape", 1, 1), ("output_padding", 1, 0)]
        {
            let Some(v) = ints(name) else { continue };
            match axes {
                Some(axes) if v.len() != per_axis * axes => {
                    return Err(bad(format!(
                        "'{name}' has {} values, expected {} for {axes} spatial axes",
                        v.len(),
                        per_axis * axes
                    )))
                }
                None if v.len() % per_axis != 0 => {
                    return Err(bad(format!("'{name}' has {} values, expected two per spatial axis", v.len())))
                }
                _ => {}
            }
            if let Some(x) = v.iter().find(|&&x| x < min || x > MAX_WINDOW) {
                return Err(bad(format!("'{name}' holds {x}; expected {min} to {MAX_WINDOW}")));
            }
        }
    }
    Ok(())
}

fn opset(proto: &pb::ModelProto) -> i64 {
    proto.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).unwrap_or(13)
}

/// The graph input fed by the caller: the first declared input that no initializer fills.
pub fn feed_input(graph: &pb::GraphProto) -> Result<&pb::ValueInfoProto> {
    let inits: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut feeds = graph.input.iter().filter(|i| !inits.contains(&i.name.as_str()));
    let first = feeds.next().ok_or_else(|| Error::Model("the graph has no input".into()))?;
    if let Some(second) = feeds.next() {
        return Err(Error::Model(format!(
            "the graph takes more than one input ('{}', '{}'); netlens needs exactly one image input",
            first.name, second.name
        )));
    }
    Ok(first)
}

/// The declared input shape with symbolic dimensions (the batch `N`) fixed to 1.
pub fn declared_input_shape(input: &pb::ValueInfoProto) -> Result<Vec<usize>> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    use pb::type_proto::Value as Ty;
    let Some(Ty::TensorType(tt)) = input.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(Error::Model(format!("input '{}' is not a tensor", input.name)));
    };
    if tt.elem_type != pb::tensor_proto::DataType::Float as i32 {
        return Err(Error::Model(format!("input '{}' is not float32", input.name)));
    }
    let shape = tt.shape.as_ref().ok_or_else(|| Error::Model(format!("input '{}' has no shape", input.name)))?;
    shape
        .dim
        .iter()
        .map(|d| match d.value {
            // tract's shape arithmetic overflows (and panics) on absurd sizes: found by tests/fuzz.rs.
            Some(Dim::DimValue(v)) if v > MAX_INPUT_DIM => Err(Error::Model(format!(
                "input '{}' declares a dimension of {v}; at most {MAX_INPUT_DIM} is accepted",
                input.name
            ))),
            Some(Dim::DimValue(v)) if v > 0 => Ok(v as usize),
            _ => Ok(1),
        })
        .collect::<Result<Vec<_>>>()
}

/// Fixes a symbolic H and W (dims 2 and 3 of a 4-D feed input, given as a name or not at all) to `side`, so
/// that tract analyses the model at that size. Returns whether there was one.
pub fn fix_symbolic_sides(proto: &mut pb::ModelProto, side: usize) -> Result<bool> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    use pb::type_proto::Value as Ty;
    let Some(g) = proto.graph.as_mut() else { return Ok(false) };
    let name = feed_input(g)?.name.clone();
    let input = g.input.iter_mut().find(|i| i.name == name).expect("feed_input found it");
    let Some(Ty::TensorType(tt)) = input.r#type.as_mut().and_then(|t| t.value.as_mut()) else { return Ok(false) };
    let Some(shape) = tt.shape.as_mut().filter(|s| s.dim.len() == 4) else { return Ok(false) };
    let mut fixed = false;
    for d in &mut shape.dim[2..] {
        if !matches!(d.value, Some(Dim::DimValue(v)) if v > 0) {
            d.value = Some(Dim::DimValue(side as i64));
            fixed = true;
        }
    }
    Ok(fixed)
}

/// Largest input dimension accepted (an image side, channels, batch).
pub const MAX_INPUT_DIM: i64 = 1 << 16;

pub struct Builder<'a> {
    opset: i64,
    ids: HashMap<String, ValueId>,
    values: Vec<Value>,
    consts: Vec<Option<Tensor>>,
    shapes: &'a HashMap<String, Vec<usize>>,
}

impl Builder<'_> {
    fn value(&mut self, name: &str) -> Result<ValueId> {
        if let Some(&id) = self.ids.get(name) {
            return Ok(id);
        }
        let shape = self
            .shapes
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Model(format!("tract could not infer the shape of '{name}'")))?;
        let id = self.values.len();
        self.values.push(Value { name: name.to_string(), shape });
        self.consts.push(None);
        self.ids.insert(name.to_string(), id);
        Ok(id)
    }

    fn constant(&self, id: ValueId) -> Option<&Tensor> {
        self.consts[id].as_ref()
    }
}

fn tract_err(node: &NodeProto, e: impl std::fmt::Display) -> Error {
    Error::Model(format!("node '{}' ({}): {e}", node.name, node.op_type))
}

pub(crate) fn to_tensor(t: &tract_onnx::prelude::Tensor) -> Result<Tensor> {
    let t = t.cast_to::<f32>().map_err(|e| Error::Model(e.to_string()))?;
    let view = t.try_as_plain_ram().map_err(|e| Error::Model(e.to_string()))?;
    let data = view.as_slice::<f32>().map_err(|e| Error::Model(e.to_string()))?.to_vec();
    Ok(Tensor::new(t.shape().to_vec(), data))
}

fn load_tensor(proto: &pb::TensorProto) -> Result<Tensor> {
    let t = tract_onnx::tensor::load_tensor(&FopenDataResolver, proto, None)
        .map_err(|e| Error::Model(format!("initializer '{}': {e}", proto.name)))?;
    to_tensor(&t)
}

fn ints(node: &NodeProto, name: &str) -> Result<Option<Vec<i64>>> {
    node.get_attr_opt_vec::<i64>(name).map_err(|e| tract_err(node, e))
}

fn int(node: &NodeProto, name: &str, default: i64) -> Result<i64> {
    Ok(node.get_attr_opt::<i64>(name).map_err(|e| tract_err(node, e))?.unwrap_or(default))
}

fn float(node: &NodeProto, name: &str, default: f32) -> Result<f32> {
    Ok(node.get_attr_opt::<f32>(name).map_err(|e| tract_err(node, e))?.unwrap_or(default))
}

fn pair(node: &NodeProto, name: &str, values: Option<Vec<i64>>, default: usize) -> Result<[usize; 2]> {
    match values {
        None => Ok([default; 2]),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 0) => Ok([v[0] as usize, v[1] as usize]),
        Some(v) => Err(tract_err(node, format!("{name} {v:?}: only 2-D windows are supported"))),
    }
}

/// Reads kernel/strides/dilations/pads (incl. auto_pad) of a 2-D window.
fn window(node: &NodeProto, kernel: [usize; 2], in_hw: [usize; 2], out_hw: [usize; 2]) -> Result<Window> {
    let strides = pair(node, "strides", ints(node, "strides")?, 1)?;
    let dilations = pair(node, "dilations", ints(node, "dilations")?, 1)?;
    let auto_pad = node.get_attr_opt::<String>("auto_pad").map_err(|e| tract_err(node, e))?.unwrap_or_default();
    let (pads_begin, pads_end) = match auto_pad.as_str() {
        "" | "NOTSET" => match ints(node, "pads")? {
            None => ([0, 0], [0, 0]),
            Some(p) if p.len() == 4 && p.iter().all(|&x| x >= 0) => {
                ([p[0] as usize, p[1] as usize], [p[2] as usize, p[3] as usize])
            }
            Some(p) => return Err(tract_err(node, format!("pads {p:?}: only 2-D windows are supported"))),
        },
        "VALID" => ([0, 0], [0, 0]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let (mut begin, mut end) = ([0; 2], [0; 2]);
            for a in 0..2 {
                let span = (kernel[a] - 1) * dilations[a] + 1;
                let total = ((out_hw[a] - 1) * strides[a] + span).saturating_sub(in_hw[a]);
                let small = total / 2;
                (begin[a], end[a]) =
                    if auto_pad == "SAME_UPPER" { (small, total - small) } else { (total - small, small) };
            }
            (begin, end)
        }
        other => return Err(tract_err(node, format!("auto_pad '{other}' is not an ONNX value"))),
    };
    Ok(Window { kernel, strides, dilations, pads_begin, pads_end })
}

fn norm_axis(node: &NodeProto, axis: i64, rank: usize) -> Result<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        return Err(tract_err(node, format!("axis {axis} out of range for rank {rank}")));
    }
    Ok(a as usize)
}

fn hw(shape: &[usize]) -> [usize; 2] {
    [shape[2], shape[3]]
}

/// What an op's parser sees: its node, the shapes tract analysed, the constants among its inputs.
pub struct ParseCtx<'a> {
    pub node: &'a NodeProto,
    builder: &'a Builder<'a>,
    inputs: &'a [ValueId],
    output: ValueId,
    /// Which of the node's outputs this is (0 unless the op is declared `each_output`).
    output_index: usize,
    outputs: &'a [ValueId],
}

impl<'a> ParseCtx<'a> {
    pub fn opset(&self) -> i64 {
        self.builder.opset
    }
    pub fn input_shape(&self, i: usize) -> &'a [usize] {
        &self.builder.values[self.inputs[i]].shape
    }
    pub fn output_shape(&self) -> &'a [usize] {
        &self.builder.values[self.output].shape
    }
    /// Which output of the node is being parsed (ops declared `each_output`, such as Split).
    pub fn output_index(&self) -> usize {
        self.output_index
    }
    /// The shape of the node's output `k` (ops declared `each_output`).
    pub fn output_shape_of(&self, k: usize) -> &'a [usize] {
        &self.builder.values[self.outputs[k]].shape
    }
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }
    /// An error naming this node.
    pub fn err(&self, msg: impl std::fmt::Display) -> Error {
        tract_err(self.node, msg)
    }
    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        ints(self.node, name)
    }
    pub fn int(&self, name: &str, default: i64) -> Result<i64> {
        int(self.node, name, default)
    }
    pub fn float(&self, name: &str, default: f32) -> Result<f32> {
        float(self.node, name, default)
    }
    pub fn string(&self, name: &str) -> Result<Option<String>> {
        self.node.get_attr_opt::<String>(name).map_err(|e| tract_err(self.node, e))
    }
    /// A two-element attribute (kernel_shape, strides, ...) of a 2-D window.
    pub fn pair(&self, name: &str, default: usize) -> Result<[usize; 2]> {
        pair(self.node, name, ints(self.node, name)?, default)
    }
    /// kernel/strides/dilations/pads (incl. auto_pad) of a 2-D window over input 0.
    pub fn window(&self, kernel: [usize; 2]) -> Result<Window> {
        window(self.node, kernel, hw(self.input_shape(0)), hw(self.output_shape()))
    }
    pub fn axis(&self, axis: i64, rank: usize) -> Result<usize> {
        norm_axis(self.node, axis, rank)
    }
    /// Input 0 must be N, C, H, W.
    pub fn rank4(&self) -> Result<()> {
        let rank = self.input_shape(0).len();
        if rank == 4 {
            Ok(())
        } else {
            Err(self.err(format!("{} on a rank-{rank} input: only 2-D (N,C,H,W) is supported", self.node.op_type)))
        }
    }
    /// Input `i` (among the present inputs) must be a constant.
    pub fn need_const(&self, i: usize) -> Result<&'a Tensor> {
        self.inputs
            .get(i)
            .and_then(|&id| self.builder.constant(id))
            .ok_or_else(|| self.err(format!("input {i} must be a constant (an initializer) for the reverse pass")))
    }
    /// The constant at position `pos` of the proto's input list, where optional inputs may be left out by an
    /// empty name (so positions, not present inputs, count). `None` when absent.
    pub fn const_at_position(&self, pos: usize) -> Result<Option<&'a Tensor>> {
        match self.node.input.get(pos).filter(|n| !n.is_empty()) {
            None => Ok(None),
            Some(name) => self
                .builder
                .ids
                .get(name)
                .and_then(|&id| self.builder.constant(id))
                .map(Some)
                .ok_or_else(|| self.err(format!("input '{name}' must be a constant"))),
        }
    }
}

/// Builds our op list from the decoded proto, with every value's shape as tract analysed it. `konst` gives the
/// values tract's analysis computed without the input (Constant nodes, shape computations such as Shape → Gather →
/// Unsqueeze → Concat, weights transformed by ops): such nodes become constants of our graph, whatever their op.
pub fn build(
    proto: &pb::ModelProto,
    shapes: &HashMap<String, Vec<usize>>,
    konst: &dyn Fn(&str) -> Option<Tensor>,
) -> Result<Graph> {
    let g = proto.graph.as_ref().ok_or_else(|| Error::Model("no graph".into()))?;
    let mut b = Builder { opset: opset(proto), ids: HashMap::new(), values: vec![], consts: vec![], shapes };

    for init in &g.initializer {
        let t = load_tensor(init)?;
        let id = b.values.len();
        b.values.push(Value { name: init.name.clone(), shape: t.shape.clone() });
        b.consts.push(Some(t));
        b.ids.insert(init.name.clone(), id);
    }
    let input = b.value(&feed_input(g)?.name)?;

    // Nodes tract folded to constants, by index, with their outputs' values.
    let mut folded: Vec<Option<Vec<(String, Tensor)>>> = Vec::with_capacity(g.node.len());
    for (ix, node) in g.node.iter().enumerate() {
        let outputs: Vec<&String> = node.output.iter().filter(|o| !o.is_empty()).collect();
        let values = (!outputs.is_empty())
            .then(|| outputs.iter().map(|&o| konst(o).map(|t| (o.clone(), t))).collect::<Option<Vec<_>>>())
            .flatten();
        // Anything else must be an op with a VJP: reported before any node is parsed.
        if values.is_none() && node.op_type != "Constant" && known(node).is_none() {
            let name = if node.name.is_empty() { format!("{}#{ix}", node.op_type) } else { node.name.clone() };
            return Err(Error::UnsupportedOp { op: node.op_type.clone(), node: name });
        }
        folded.push(values);
    }

    let mut nodes = vec![];
    for (ix, node) in g.node.iter().enumerate() {
        if let Some(values) = folded[ix].take() {
            for (name, t) in values {
                let id = b.values.len();
                b.values.push(Value { name: name.clone(), shape: t.shape.clone() });
                b.consts.push(Some(t));
                b.ids.insert(name, id);
            }
            continue;
        }
        let name = if node.name.is_empty() { format!("{}#{ix}", node.op_type) } else { node.name.clone() };
        let mut node = node.clone();
        node.name = name;
        let outputs: Vec<&String> = node.output.iter().filter(|o| !o.is_empty()).collect();
        let out_name = outputs.first().ok_or_else(|| tract_err(&node, "node has no output"))?.to_string();
        if node.op_type == "Constant" {
            let t = node
                .get_attr_opt::<&pb::TensorProto>("value")
                .map_err(|e| tract_err(&node, e))?
                .ok_or_else(|| tract_err(&node, "Constant without a tensor 'value' is not supported"))?;
            let t = load_tensor(t)?;
            let id = b.values.len();
            b.values.push(Value { name: out_name.clone(), shape: t.shape.clone() });
            b.consts.push(Some(t));
            b.ids.insert(out_name, id);
            continue;
        }
        let mut inputs = vec![];
        for name in node.input.iter().filter(|i| !i.is_empty()) {
            let id = *b.ids.get(name).ok_or_else(|| {
                tract_err(
                    &node,
                    format!("input '{name}' is not produced before this node (graph not topologically sorted?)"),
                )
            })?;
            inputs.push(id);
        }
        let decl =
            known(&node).ok_or_else(|| Error::UnsupportedOp { op: node.op_type.clone(), node: node.name.clone() })?;
        let out_names: Vec<String> = if decl.each_output {
            if node.output.iter().any(|o| o.is_empty()) {
                return Err(tract_err(&node, "every output must be named"));
            }
            node.output.clone()
        } else {
            vec![out_name]
        };
        let out_ids = out_names.iter().map(|o| b.value(o)).collect::<Result<Vec<_>>>()?;
        for (k, &output) in out_ids.iter().enumerate() {
            let ctx =
                ParseCtx { node: &node, builder: &b, inputs: &inputs, output, output_index: k, outputs: &out_ids };
            let op = (decl.parse)(&ctx)?;
            nodes.push(Node {
                name: node.name.clone(),
                op_type: node.op_type.clone(),
                op,
                inputs: inputs.clone(),
                output,
            });
        }
    }
    let out_name = &g.output.first().ok_or_else(|| Error::Model("the graph has no output".into()))?.name;
    let output = *b.ids.get(out_name).ok_or_else(|| Error::Model(format!("output '{out_name}' is never produced")))?;

    let mut depends_on_input = vec![false; b.values.len()];
    depends_on_input[input] = true;
    for n in &nodes {
        if n.inputs.iter().any(|&i| depends_on_input[i]) {
            depends_on_input[n.output] = true;
        }
    }
    Ok(Graph { values: b.values, consts: b.consts, nodes, input, output, depends_on_input })
}

/// The declaration of a node's op, if it is a standard ONNX op the reverse pass supports.
fn known(node: &NodeProto) -> Option<&'static vjp::OpDecl> {
    let standard = node.domain.is_empty() || node.domain == "ai.onnx";
    vjp::decl(&node.op_type).filter(|_| standard)
}

impl Graph {
    /// What an image classifier must be for the page's methods: one N×C×H×W input with N = 1, C = 1 (grey) or 3,
    /// H and W from 8 to 512, and class scores [1, K] or [K] out, K ≥ 2. Returns K.
    pub fn check_image_classifier(&self) -> Result<usize> {
        let input = self.shape(self.input);
        let name = &self.values[self.input].name;
        if input.len() != 4 {
            return Err(Error::Model(format!(
                "input '{name}' has {} dimensions {input:?}; an image classifier takes N×C×H×W",
                input.len()
            )));
        }
        let (n, c, h, w) = (input[0], input[1], input[2], input[3]);
        if n != 1 {
            return Err(Error::Model(format!("input '{name}' has a batch of {n}; netlens runs one image (N = 1)")));
        }
        if c != 1 && c != 3 {
            return Err(Error::Model(format!("input '{name}' has {c} channels; netlens needs 1 (grey) or 3 (RGB)")));
        }
        if !(8..=512).contains(&h) || !(8..=512).contains(&w) {
            return Err(Error::Model(format!("input '{name}' is {h}×{w}; netlens needs sides from 8 to 512")));
        }
        let out = self.shape(self.output);
        let classes = match out {
            [k] | [1, k] if *k >= 2 => *k,
            _ => {
                return Err(Error::Model(format!(
                    "expected class scores of shape [1, K] or [K], the model gives {out:?}"
                )))
            }
        };
        Ok(classes)
    }

    pub fn value_id(&self, name: &str) -> Option<ValueId> {
        self.values.iter().position(|v| v.name == name)
    }

    pub fn shape(&self, id: ValueId) -> &[usize] {
        &self.values[id].shape
    }
}
