//! The model file decoded field by field, its large float weights going straight into tract's tensors.
//!
//! Why: decoding the whole file at once holds its bytes and the decoded proto's copy of every weight together
//! (2× the file), and tract's parse then makes a third copy while the proto still holds the second. In the page,
//! whose memory never shrinks, that moment set the high-water mark. Here the file is read a field at a time from
//! wherever it is (the page passes its `Uint8Array`, which stays in JavaScript's memory), each large float
//! initializer's data is read straight into a tract tensor, and the proto keeps its name, type and shape only (the
//! form [`super::without_float_weights`] gives). The weights are then in memory once, and never more than once.

use std::sync::Arc;

use prost::encoding::{decode_key, decode_varint, WireType};
use prost::Message;
use tract_onnx::pb;

use crate::error::{Error, Result};

/// A model file's bytes, read in pieces.
pub trait ModelBytes {
    fn byte_len(&self) -> usize;
    /// Copies the bytes from `start` into `out` (the caller keeps `start + out.len()` within `byte_len`).
    fn read_into(&self, start: usize, out: &mut [u8]);
}

impl ModelBytes for [u8] {
    fn byte_len(&self) -> usize {
        self.len()
    }
    fn read_into(&self, start: usize, out: &mut [u8]) {
        out.copy_from_slice(&self[start..start + out.len()]);
    }
}

/// Initializers from this size on are taken out of the proto as tract tensors: every weight matrix of a model
/// worth the trouble, and never a shape or a scale that tract's parse might want to read from the proto.
pub const SEPARATE_FROM_BYTES: usize = 64 << 10;

/// A decoded model: the proto with the large float initializers' data taken out, and those initializers as
/// tract tensors, by name, in file order.
pub struct Decoded {
    pub proto: pb::ModelProto,
    pub weights: Vec<(String, Arc<tract_onnx::prelude::Tensor>)>,
}

/// The field numbers read here (onnx.proto): `ModelProto.graph`, `GraphProto.initializer`, `TensorProto.raw_data`.
const MODEL_GRAPH: u32 = 7;
const GRAPH_INITIALIZER: u32 = 5;
const TENSOR_RAW_DATA: u32 = 9;

fn not_onnx(why: impl std::fmt::Display) -> Error {
    Error::Model(format!("not an ONNX model ({why})"))
}

/// One field of a protobuf message: where it starts (its key), where its payload starts and ends.
struct Field {
    number: u32,
    wire: WireType,
    start: usize,
    payload: usize,
    end: usize,
}

/// The fields of the message held in `src[start..end]`, in order.
fn fields<S: ModelBytes + ?Sized>(
    src: &S,
    start: usize,
    end: usize,
    mut each: impl FnMut(Field) -> Result<()>,
) -> Result<()> {
    let mut at = start;
    // A key and a length are two varints of at most 10 bytes each.
    let mut head = [0u8; 20];
    while at < end {
        let n = (end - at).min(head.len());
        src.read_into(at, &mut head[..n]);
        let mut buf = &head[..n];
        let (number, wire) = decode_key(&mut buf).map_err(not_onnx)?;
        let size = match wire {
            WireType::Varint => {
                decode_varint(&mut buf).map_err(not_onnx)?;
                0
            }
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => decode_varint(&mut buf).map_err(not_onnx)?,
            WireType::StartGroup | WireType::EndGroup => return Err(not_onnx("a protobuf group")),
        };
        let payload = at + (n - buf.len());
        let field_end = usize::try_from(size).ok().and_then(|s| payload.checked_add(s)).filter(|&e| e <= end);
        let Some(field_end) = field_end else {
            return Err(not_onnx("a field runs past the end of the file"));
        };
        // A varint's payload is the varint itself, already consumed: the field ends where it does.
        let field_end = if wire == WireType::Varint { payload } else { field_end };
        each(Field { number, wire, start: at, payload, end: field_end })?;
        at = field_end;
    }
    Ok(())
}

fn read<S: ModelBytes + ?Sized>(src: &S, start: usize, end: usize) -> Vec<u8> {
    let mut out = vec![0u8; end - start];
    src.read_into(start, &mut out);
    out
}

/// Decodes the model in `src`: every field but the initializers as prost decodes them, each initializer on its
/// own (see the module's doc). Checks the proto as [`super::decode_proto`] does.
pub fn decode<S: ModelBytes + ?Sized>(src: &S) -> Result<Decoded> {
    if src.byte_len() == 0 {
        return Err(Error::Model("the model file is empty".into()));
    }
    // Everything but the graph's initializers, as the file has it (concatenated fields decode as one message:
    // protobuf's merge, which is what a decoder of the whole file does with them too).
    let mut model_rest = vec![];
    let mut graph_rest = vec![];
    let mut has_graph = false;
    let mut initializers = vec![];
    let mut weights = vec![];
    fields(src, 0, src.byte_len(), |f| {
        if f.number != MODEL_GRAPH || f.wire != WireType::LengthDelimited {
            model_rest.extend(read(src, f.start, f.end));
            return Ok(());
        }
        has_graph = true;
        fields(src, f.payload, f.end, |g| {
            if g.number != GRAPH_INITIALIZER || g.wire != WireType::LengthDelimited {
                graph_rest.extend(read(src, g.start, g.end));
                return Ok(());
            }
            let (t, tensor) = initializer(src, g.payload, g.end)?;
            if let Some(tensor) = tensor {
                weights.push((t.name.clone(), Arc::new(tensor)));
            }
            initializers.push(t);
            Ok(())
        })
    })?;
    let mut proto = pb::ModelProto::decode(&model_rest[..]).map_err(not_onnx)?;
    if has_graph {
        let mut graph = pb::GraphProto::decode(&graph_rest[..]).map_err(not_onnx)?;
        graph.initializer.extend(initializers);
        proto.graph = Some(graph);
    }
    super::proto::check(&proto)?;
    Ok(Decoded { proto, weights })
}

/// The initializer (a `TensorProto`) in `src[start..end]`, and its data as a tract tensor when it is a large float
/// one: then read from the file straight into the tensor (one copy; a 100 MB layer was in memory three times
/// while prost decoded it and tract converted it) and left out of the proto, which keeps its name, type and shape.
fn initializer<S: ModelBytes + ?Sized>(
    src: &S,
    start: usize,
    end: usize,
) -> Result<(pb::TensorProto, Option<tract_onnx::prelude::Tensor>)> {
    let mut rest = vec![];
    // As prost would: the last `raw_data` field is the one that counts.
    let mut raw = None;
    fields(src, start, end, |f| {
        if f.number == TENSOR_RAW_DATA && f.wire == WireType::LengthDelimited {
            raw = Some((f.payload, f.end));
        } else {
            rest.extend(read(src, f.start, f.end));
        }
        Ok(())
    })?;
    let mut t = pb::TensorProto::decode(&rest[..]).map_err(not_onnx)?;
    let Some((raw_start, raw_end)) = raw else { return Ok((t, None)) };
    if let Some(shape) = separable(&t, raw_end - raw_start) {
        let mut tensor = tract_onnx::prelude::Tensor::zero::<f32>(&shape)
            .map_err(|e| Error::Model(format!("initializer '{}': {e}", t.name)))?;
        // Little-endian, as ONNX stores it and as every target netlens builds for is.
        src.read_into(raw_start, tensor.as_bytes_mut());
        return Ok((t, Some(tensor)));
    }
    t.raw_data = read(src, raw_start, raw_end);
    Ok((t, None))
}

/// The shape of a float initializer of `raw_bytes` bytes of data that is kept apart from the proto: large, in the
/// file itself, its shape matching its size (anything else stays in the proto, for tract to read or refuse).
fn separable(t: &pb::TensorProto, raw_bytes: usize) -> Option<Vec<usize>> {
    if !super::proto::float_in_file(t) || raw_bytes < SEPARATE_FROM_BYTES {
        return None;
    }
    let shape = t.dims.iter().map(|&d| usize::try_from(d).ok()).collect::<Option<Vec<_>>>()?;
    let len = shape.iter().try_fold(4usize, |n, &d| n.checked_mul(d))?;
    (len == raw_bytes).then_some(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every model of the shared data: the proto decoded here is prost's decode of the whole file with the
    /// separated initializers' data taken out, and each separated tensor holds that data, byte for byte.
    #[test]
    fn decoding_in_pieces_is_decoding_whole_with_the_weights_apart() {
        let mut files = vec![crate::test_data::squeezenet_path()];
        files.extend(crate::test_data::zoo_models("zoo"));
        files.extend(crate::test_data::zoo_models("zoo-transformers"));
        let mut separated = 0;
        for path in files {
            let bytes = std::fs::read(&path).unwrap();
            let whole = super::super::decode_proto(&bytes).unwrap();
            let Decoded { proto, weights } = decode(&bytes[..]).unwrap();
            let mut expected = whole.clone();
            let g = expected.graph.as_mut().unwrap();
            for (name, tensor) in &weights {
                let t = g.initializer.iter_mut().find(|t| &t.name == name).expect("a separated initializer");
                assert!(t.raw_data.len() >= SEPARATE_FROM_BYTES);
                assert_eq!(tensor.shape(), t.dims.iter().map(|&d| d as usize).collect::<Vec<_>>().as_slice());
                let data = tensor.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap();
                let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
                assert!(raw == t.raw_data, "{}: '{name}' differs from the file", path.display());
                t.raw_data.clear();
            }
            assert!(proto == expected, "{}: the proto differs from prost's", path.display());
            separated += weights.len();
        }
        assert!(separated > 20, "the weights of the larger models are separated");
    }

    /// A file cut anywhere, or holding what ONNX never writes, gets the sentence a whole-file decode gives.
    #[test]
    fn a_broken_file_is_refused_with_a_sentence() {
        let bytes = std::fs::read(crate::test_data::squeezenet_path()).unwrap();
        for cut in [1, 2, 3, 40, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            let e = decode(&bytes[..cut]).err().unwrap_or_else(|| panic!("cut at {cut}: decoded"));
            assert!(e.to_string().starts_with("model: not an ONNX model"), "cut at {cut}: {e}");
        }
        // Field 1 with wire type 3 (a group), then a key with field number 0.
        for (bytes, why) in [(&[0x0b_u8, 0][..], "a protobuf group"), (&[0x00, 0x01][..], "invalid")] {
            let e = decode(bytes).err().unwrap().to_string();
            assert!(e.starts_with("model: not an ONNX model (") && e.contains(why), "{e}");
        }
        assert_eq!(decode(&[][..]).err().unwrap().to_string(), "model: the model file is empty");
    }
}
