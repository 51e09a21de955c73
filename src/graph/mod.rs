//! Our own view of the exported ONNX graph: an op list with attributes and constant weights,
//! which the reverse pass walks backwards. tract runs the same graph forward; shapes come from
//! tract's analysis so the two can never disagree about them. Split by job: [`proto`] reads and checks the ONNX
//! proto, [`attrs`] parses a node's attributes for its op ([`ParseCtx`]), [`window`] is the geometry Conv and the
//! pools share; this file builds the op list (constants folded from tract's analysis) and answers questions on it.

mod attrs;
mod proto;
pub mod stream;
mod window;

pub use attrs::ParseCtx;
pub(crate) use attrs::{load_tensor, to_tensor};
pub use proto::{
    declared_input_shape, decode_proto, feed_input, fix_symbolic_sides, is_without_data, without_float_weights,
    MAX_INPUT_DIM,
};
pub use window::Window;

use attrs::tract_err;
use proto::opset;

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::pb::{self, NodeProto};

use crate::error::{Error, Result};
use crate::tensor::{Tensor, View};
use crate::vjp::{self, OpVjp};

pub type ValueId = usize;

#[derive(Clone, Debug)]
pub struct Value {
    pub name: String,
    pub shape: Vec<usize>,
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

/// A constant of the graph. Weights are tract's own tensors, shared rather than copied: the forward plan is built
/// from tract's model and the VJPs read the same memory (a ViT-B/16's 330 MB of weights were in memory once more
/// for the reverse pass). Values tract does not hold as float32 are converted into a tensor of ours.
#[derive(Clone, Debug)]
pub enum Const {
    Shared(Arc<tract_onnx::prelude::Tensor>),
    Owned(Tensor),
}

impl Const {
    /// tract's tensor, shared when it is plain float32 (any other type is converted).
    pub fn of_tract(t: Arc<tract_onnx::prelude::Tensor>) -> Result<Const> {
        if float_slice(&t).is_some() {
            Ok(Const::Shared(t))
        } else {
            to_tensor(&t).map(Const::Owned)
        }
    }

    /// As tract's tensor: the shared one itself, a converted one copied.
    pub fn to_tract(&self) -> Result<Arc<tract_onnx::prelude::Tensor>> {
        match self {
            Const::Shared(t) => Ok(t.clone()),
            Const::Owned(t) => tract_onnx::prelude::Tensor::from_shape(&t.shape, &t.data)
                .map(Arc::new)
                .map_err(|e| Error::Model(format!("{e}"))),
        }
    }

    pub fn view(&self) -> View<'_> {
        match self {
            Const::Owned(t) => t.view(),
            Const::Shared(t) => View { shape: t.shape(), data: float_slice(t).expect("checked in of_tract") },
        }
    }
}

fn float_slice(t: &tract_onnx::prelude::Tensor) -> Option<&[f32]> {
    t.try_as_plain_ram().ok()?.as_slice::<f32>().ok()
}

pub struct Graph {
    pub values: Vec<Value>,
    /// Initializers and Constant nodes, by value id.
    pub consts: Vec<Option<Const>>,
    pub nodes: Vec<Node>,
    pub input: ValueId,
    pub output: ValueId,
    /// Whether a value changes when the input changes: only those carry gradients.
    pub depends_on_input: Vec<bool>,
}

pub struct Builder<'a> {
    opset: i64,
    ids: HashMap<String, ValueId>,
    values: Vec<Value>,
    consts: Vec<Option<Const>>,
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

    fn constant(&self, id: ValueId) -> Option<View<'_>> {
        self.consts[id].as_ref().map(Const::view)
    }
}

/// Builds our op list from the decoded proto, with every value's shape as tract analysed it. `konst` gives the
/// values tract's analysis computed without the input (Constant nodes, shape computations such as Shape → Gather →
/// Unsqueeze → Concat, weights transformed by ops): such nodes become constants of our graph, whatever their op.
pub fn build(
    proto: &pb::ModelProto,
    shapes: &HashMap<String, Vec<usize>>,
    konst: &dyn Fn(&str) -> Option<Const>,
) -> Result<Graph> {
    let g = proto.graph.as_ref().ok_or_else(|| Error::Model("no graph".into()))?;
    let mut b = Builder { opset: opset(proto), ids: HashMap::new(), values: vec![], consts: vec![], shapes };

    for init in &g.initializer {
        // From tract's analysis where it holds the value (the engine's proto no longer has those weights).
        let t = match konst(&init.name) {
            Some(t) => t,
            None => Const::Owned(load_tensor(init)?),
        };
        let id = b.values.len();
        b.values.push(Value { name: init.name.clone(), shape: t.view().shape.to_vec() });
        b.consts.push(Some(t));
        b.ids.insert(init.name.clone(), id);
    }
    let input = b.value(&feed_input(g)?.name)?;

    // Nodes tract folded to constants, by index, with their outputs' values.
    let mut folded: Vec<Option<Vec<(String, Const)>>> = Vec::with_capacity(g.node.len());
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
                b.values.push(Value { name: name.clone(), shape: t.view().shape.to_vec() });
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
            b.consts.push(Some(Const::Owned(t)));
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
