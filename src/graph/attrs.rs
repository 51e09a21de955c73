//! A node's attributes and constant inputs as an op's parser reads them ([`ParseCtx`]).

use tract_onnx::data_resolver::FopenDataResolver;
use tract_onnx::pb::{self, NodeProto};

use super::window::window;
use super::{Builder, ValueId, Window};
use crate::error::{Error, Result};
use crate::tensor::{Tensor, View};

pub(super) fn tract_err(node: &NodeProto, e: impl std::fmt::Display) -> Error {
    Error::Model(format!("node '{}' ({}): {e}", node.name, node.op_type))
}

pub(crate) fn to_tensor(t: &tract_onnx::prelude::Tensor) -> Result<Tensor> {
    let t = t.cast_to::<f32>().map_err(|e| Error::Model(e.to_string()))?;
    let view = t.try_as_plain_ram().map_err(|e| Error::Model(e.to_string()))?;
    let data = view.as_slice::<f32>().map_err(|e| Error::Model(e.to_string()))?.to_vec();
    Ok(Tensor::new(t.shape().to_vec(), data))
}

pub(crate) fn load_tensor(proto: &pb::TensorProto) -> Result<Tensor> {
    let t = tract_onnx::tensor::load_tensor(&FopenDataResolver, proto, None)
        .map_err(|e| Error::Model(format!("initializer '{}': {e}", proto.name)))?;
    to_tensor(&t)
}

pub(super) fn ints(node: &NodeProto, name: &str) -> Result<Option<Vec<i64>>> {
    node.get_attr_opt_vec::<i64>(name).map_err(|e| tract_err(node, e))
}

pub(super) fn int(node: &NodeProto, name: &str, default: i64) -> Result<i64> {
    Ok(node.get_attr_opt::<i64>(name).map_err(|e| tract_err(node, e))?.unwrap_or(default))
}

pub(super) fn float(node: &NodeProto, name: &str, default: f32) -> Result<f32> {
    Ok(node.get_attr_opt::<f32>(name).map_err(|e| tract_err(node, e))?.unwrap_or(default))
}

pub(super) fn pair(node: &NodeProto, name: &str, values: Option<Vec<i64>>, default: usize) -> Result<[usize; 2]> {
    match values {
        None => Ok([default; 2]),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 0) => Ok([v[0] as usize, v[1] as usize]),
        Some(v) => Err(tract_err(node, format!("{name} {v:?}: only 2-D windows are supported"))),
    }
}

pub(super) fn norm_axis(node: &NodeProto, axis: i64, rank: usize) -> Result<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        return Err(tract_err(node, format!("axis {axis} out of range for rank {rank}")));
    }
    Ok(a as usize)
}

pub(super) fn hw(shape: &[usize]) -> [usize; 2] {
    [shape[2], shape[3]]
}

/// What an op's parser sees: its node, the shapes tract analysed, the constants among its inputs.
pub struct ParseCtx<'a> {
    pub node: &'a NodeProto,
    pub(super) builder: &'a Builder<'a>,
    pub(super) inputs: &'a [ValueId],
    pub(super) output: ValueId,
    /// Which of the node's outputs this is (0 unless the op is declared `each_output`).
    pub(super) output_index: usize,
    pub(super) outputs: &'a [ValueId],
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
    pub fn need_const(&self, i: usize) -> Result<View<'a>> {
        self.inputs
            .get(i)
            .and_then(|&id| self.builder.constant(id))
            .ok_or_else(|| self.err(format!("input {i} must be a constant (an initializer) for the reverse pass")))
    }
    /// The constant at position `pos` of the proto's input list, where optional inputs may be left out by an
    /// empty name (so positions, not present inputs, count). `None` when absent.
    pub fn const_at_position(&self, pos: usize) -> Result<Option<View<'a>>> {
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
