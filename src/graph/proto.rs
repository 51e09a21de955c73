//! The ONNX proto: decoded once, checked where tract would panic or hang, its feed input and its shape.

use tract_onnx::pb;

use crate::error::{Error, Result};

/// The ONNX proto decoded whole, as it is in the file (an engine decodes with [`super::stream::decode`], which
/// takes the large weights out as it goes); tract parses the same proto into its own model.
pub fn decode_proto(bytes: &[u8]) -> Result<pb::ModelProto> {
    if bytes.is_empty() {
        return Err(Error::Model("the model file is empty".into()));
    }
    // prost from the slice itself: tract-onnx's reader copies the whole file into a buffer first.
    let proto = <pb::ModelProto as prost::Message>::decode(bytes)
        .map_err(|e| Error::Model(format!("not an ONNX model ({e})")))?;
    check(&proto)?;
    Ok(proto)
}

/// The checks every decoded proto passes before tract sees it.
pub(super) fn check(proto: &pb::ModelProto) -> Result<()> {
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
    Ok(())
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

pub(super) fn opset(proto: &pb::ModelProto) -> i64 {
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

/// Whether an initializer is float data kept in the file itself (not external): the kind our graph holds exactly
/// (f32), so that a proto can do without it.
pub(super) fn float_in_file(t: &pb::TensorProto) -> bool {
    t.data_type == pb::tensor_proto::DataType::Float as i32 && t.external_data.is_empty()
}

fn has_data(t: &pb::TensorProto) -> bool {
    !t.raw_data.is_empty() || !t.float_data.is_empty()
}

/// The proto without the data of the float initializers `held` says are held elsewhere (names, types and shapes
/// kept): what an engine keeps once tract's model holds the weights. [`with_float_weights`] puts them back.
pub fn without_float_weights(mut proto: pb::ModelProto, held: &dyn Fn(&str) -> bool) -> pb::ModelProto {
    if let Some(g) = proto.graph.as_mut() {
        for t in g.initializer.iter_mut().filter(|t| float_in_file(t) && has_data(t) && held(&t.name)) {
            t.raw_data = Vec::new();
            t.float_data = Vec::new();
        }
    }
    proto
}

/// Whether [`without_float_weights`] (or the decoder) took this initializer's data out.
pub fn is_without_data(t: &pb::TensorProto) -> bool {
    float_in_file(t) && !has_data(t) && t.dims.iter().product::<i64>() > 0
}
