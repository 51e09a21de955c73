//! Models and calls that must fail with a clear error, never a panic: garbage bytes, graphs
//! with ops the reverse pass does not know, the wrong shapes for a classifier, bad seeds, NaN.

mod common;

use common::*;
use netlens::engine::{Engine, Objective};
use netlens::{Classifier, Error, Tensor};
use rand::RngCore;

fn load_err(label: &str, bytes: &[u8]) -> Error {
    match Engine::from_onnx_bytes(bytes) {
        Ok(_) => panic!("{label}: loaded, expected an error"),
        Err(e) => {
            eprintln!("{label}: {e}");
            assert!(!e.to_string().trim().is_empty(), "{label}: empty message");
            if Classifier::from_onnx_bytes(bytes).is_ok() {
                panic!("{label}: Classifier loaded it");
            }
            e
        }
    }
}

#[test]
fn empty_bytes() {
    assert!(matches!(load_err("empty", &[]), Error::Model(_)));
}

#[test]
fn random_bytes() {
    for seed in 0..4 {
        let mut bytes = vec![0u8; 64 << seed];
        rng(seed).fill_bytes(&mut bytes);
        assert!(matches!(load_err(&format!("{} random bytes", bytes.len()), &bytes), Error::Model(_)));
    }
}

#[test]
fn text_file() {
    load_err("text", b"this is not an ONNX model\n");
}

#[test]
fn truncated_real_model() {
    let bytes = squeezenet_bytes();
    for cut in [16, 4096, bytes.len() / 2, bytes.len() - 1] {
        load_err(&format!("squeezenet cut at {cut} of {}", bytes.len()), &bytes[..cut]);
    }
}

#[test]
fn model_without_nodes() {
    let net = Net::new(&[1, 3, 4, 4], 13, 0);
    load_err("graph with no nodes", &net.bytes("x"));
}

#[test]
fn output_never_produced() {
    let mut net = Net::new(&[1, 3, 4, 4], 13, 0);
    net.node("Relu", &["x"], "relu", vec![]);
    load_err("output names no value", &net.bytes("nowhere"));
}

#[test]
fn node_reads_an_undefined_value() {
    let mut net = Net::new(&[1, 3, 4, 4], 13, 0);
    let y = net.node("Add", &["x", "ghost"], "sum", vec![]);
    load_err("input 'ghost' never defined", &net.bytes(&y));
}

fn assert_unsupported(label: &str, bytes: &[u8], op: &str, node: &str) {
    let e = load_err(label, bytes);
    let msg = e.to_string();
    assert!(
        matches!(&e, Error::UnsupportedOp { op: o, node: n } if o == op && n == node),
        "{label}: expected UnsupportedOp {{ {op}, {node} }}, got {e:?}"
    );
    assert_eq!(msg, format!("unsupported op '{op}' at node '{node}'"));
}

#[test]
fn unsupported_op_first() {
    let mut net = Net::new(&[1, 3, 4, 4], 13, 1);
    let y = net.node("Erf", &["x"], "erf_1", vec![]);
    assert_unsupported("Erf on the input", &net.bytes(&y), "Erf", "erf_1");
}

#[test]
fn unsupported_op_between_supported_ones() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 2);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![]);
    let e = net.node("Erf", &[&c], "features.3.erf", vec![]);
    let g = net.node("GlobalAveragePool", &[&e], "gap", vec![]);
    let y = net.node("Flatten", &[&g], "logits", vec![]);
    assert_unsupported("conv -> Erf -> gap", &net.bytes(&y), "Erf", "features.3.erf");
}

#[test]
fn unsupported_lstm() {
    // tract runs LSTM forward; the reverse pass has no VJP for it.
    let (seq, input, hidden) = (2, 3, 2);
    let mut net = Net::new(&[seq, 1, input], 13, 3);
    let w = net.randn("W", &[1, 4 * hidden, input], 0.5);
    let r = net.randn("R", &[1, 4 * hidden, hidden], 0.5);
    let y = net.node("LSTM", &["x", &w, &r], "lstm_y", vec![attr_i("hidden_size", hidden as i64)]);
    assert_unsupported("LSTM", &net.bytes(&y), "LSTM", "lstm_y");
}

#[test]
fn op_tract_does_not_know() {
    let mut net = Net::new(&[1, 3, 4, 4], 13, 4);
    let y = net.node("NoSuchOp", &["x"], "mystery", vec![]);
    let e = load_err("unknown op", &net.bytes(&y));
    assert!(e.to_string().contains("NoSuchOp"), "the message should name the op: {e}");
}

/// A tiny classifier: 1x1 conv, global average pool, flatten: [N,3,H,W] -> [1,4].
fn tiny_classifier(h: usize, w: usize) -> Vec<u8> {
    let mut net = Net::new(&[1, 3, h, w], 13, 5);
    let c = net.conv("conv", "x", 3, 4, [1, 1], true, vec![]);
    let g = net.node("GlobalAveragePool", &[&c], "gap", vec![]);
    let y = net.node("Flatten", &[&g], "logits", vec![]);
    net.bytes(&y)
}

#[test]
fn classifier_wrong_input_shape() {
    let bytes = tiny_classifier(32, 32);
    Engine::from_onnx_bytes(&bytes).expect("a 32x32 model is a fine engine");
    match Classifier::from_onnx_bytes(&bytes) {
        Err(Error::Model(msg)) => {
            eprintln!("{msg}");
            assert!(msg.contains("224") && msg.contains("32"), "the message should give both shapes: {msg}");
        }
        Err(e) => panic!("expected Error::Model, got {e:?}"),
        Ok(_) => panic!("a 32x32 model was accepted as an ImageNet classifier"),
    }
}

#[test]
fn classifier_output_not_class_scores() {
    let mut net = Net::new(&[1, 3, 224, 224], 13, 6);
    let y = net.conv("conv", "x", 3, 2, [1, 1], true, vec![]);
    match Classifier::from_onnx_bytes(&net.bytes(&y)) {
        Err(Error::Model(msg)) => eprintln!("{msg}"),
        Err(e) => panic!("expected Error::Model, got {e:?}"),
        Ok(_) => panic!("a [1,2,224,224] output was accepted as class scores"),
    }
}

#[test]
fn nan_and_infinite_inputs() {
    let net = Classifier::from_onnx_bytes(&tiny_classifier(224, 224)).expect("tiny classifier");
    let good = randn_tensor(&[1, 3, 224, 224], 7);
    net.logits(&good).expect("finite input works");
    for (what, v) in [("NaN", f32::NAN), ("+inf", f32::INFINITY), ("-inf", f32::NEG_INFINITY)] {
        let mut x = good.clone();
        x.data[1234] = v;
        assert!(net.logits(&x).is_err(), "logits with {what}");
        assert!(net.logits_and_grad(&x, 0).is_err(), "logits_and_grad with {what}");
        assert!(net.logits_and_seed_grad(&x, &Objective::Weighted(vec![(0, 1.0)])).is_err(), "seed grad with {what}");
        assert!(netlens::methods::saliency::saliency(&net, &x, None).is_err(), "saliency with {what}");
        // The engine itself may compute NaN or refuse, but must not panic.
        let engine = net.engine();
        if let Ok(acts) = engine.forward(&x) {
            let _ = engine.backward(&acts, &Objective::Class(0));
        }
    }
}

#[test]
fn bad_input_shapes() {
    let net = Classifier::from_onnx_bytes(&tiny_classifier(224, 224)).expect("tiny classifier");
    for shape in [vec![1, 3, 32, 32], vec![3, 224, 224], vec![1, 1, 224, 224], vec![2, 3, 224, 224]] {
        let x = Tensor::zeros(&shape);
        assert!(net.logits(&x).is_err(), "logits of {shape:?}");
        assert!(net.logits_and_grad(&x, 0).is_err(), "logits_and_grad of {shape:?}");
        assert!(net.engine().forward(&x).is_err(), "engine forward of {shape:?}");
        assert!(net.engine().forward_only(&x).is_err(), "engine forward_only of {shape:?}");
    }
}

#[test]
fn bad_seeds() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 8);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![]);
    let r = net.node("Relu", &[&c], "relu", vec![]);
    let g = net.node("GlobalAveragePool", &[&r], "gap", vec![]);
    let y = net.node("Flatten", &[&g], "logits", vec![]);
    let engine = Engine::from_onnx_bytes(&net.bytes(&y)).expect("small net");
    assert_eq!(engine.output_shape(), [1, 4]);
    let acts = engine.forward(&randn_tensor(&[1, 3, 6, 6], 9)).unwrap();
    engine.backward(&acts, &Objective::Class(3)).expect("the last class is fine");
    let bad = [
        ("class out of range", Objective::Class(4)),
        ("weighted class out of range", Objective::Weighted(vec![(0, 1.0), (9, 1.0)])),
        ("output gradient of the wrong shape", Objective::OutputGrad(Tensor::zeros(&[1, 5]))),
        ("unknown value", Objective::Channel { value: "no_such_value".into(), channel: 0 }),
        ("channel out of range", Objective::Channel { value: "relu".into(), channel: 4 }),
        (
            "value gradient of the wrong shape",
            Objective::ValueGrad { value: "relu".into(), grad: Tensor::zeros(&[1, 4, 3, 3]) },
        ),
        (
            "value gradient on an unknown value",
            Objective::ValueGrad { value: "nope".into(), grad: Tensor::zeros(&[1, 4]) },
        ),
    ];
    for (what, seed) in bad {
        match engine.backward(&acts, &seed) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => eprintln!("{what}: {e}"),
        }
    }
}

#[test]
fn classifier_class_out_of_range() {
    let net = Classifier::from_onnx_bytes(&tiny_classifier(224, 224)).expect("tiny classifier");
    assert_eq!(net.num_classes(), 4);
    let x = randn_tensor(&[1, 3, 224, 224], 10);
    assert!(net.logits_and_grad(&x, 4).is_err());
    assert!(net.check_class(4).is_err());
    assert!(netlens::methods::saliency::saliency(&net, &x, Some(1000)).is_err());
}

// Decodable but malformed graphs: the places where a loader is tempted to index and unwrap.

#[test]
fn maxpool_without_kernel_shape() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 11);
    let y = net.node("MaxPool", &["x"], "pool", vec![]);
    load_err("MaxPool without kernel_shape", &net.bytes(&y));
}

#[test]
fn conv_weights_do_not_match_channels() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 12);
    let w = net.randn("w", &[4, 5, 3, 3], 0.1);
    let y = net.node("Conv", &["x", &w], "conv", vec![]);
    load_err("Conv with 5-channel weights on a 3-channel input", &net.bytes(&y));
}

#[test]
fn conv_weights_wrong_rank() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 13);
    let w = net.randn("w", &[4, 3], 0.1);
    let y = net.node("Conv", &["x", &w], "conv", vec![]);
    load_err("Conv with rank-2 weights", &net.bytes(&y));
}

#[test]
fn reshape_to_impossible_shape() {
    let mut net = Net::new(&[1, 3, 4, 4], 13, 14);
    let s = net.init_i64("shape", &[2], vec![7, -1]);
    let y = net.node("Reshape", &["x", &s], "r", vec![]);
    load_err("Reshape 48 values to [7, -1]", &net.bytes(&y));
}

#[test]
fn concat_of_mismatched_shapes() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 15);
    let c = net.conv("conv", "x", 3, 2, [3, 3], true, vec![]);
    let y = net.node("Concat", &["x", &c], "cat", vec![attr_i("axis", 1)]);
    load_err("Concat of 6x6 and 4x4 planes", &net.bytes(&y));
}

#[test]
fn gemm_of_mismatched_shapes() {
    let mut net = Net::new(&[2, 5], 13, 16);
    let b = net.randn("B", &[6, 3], 0.1);
    let y = net.node("Gemm", &["x", &b], "fc", vec![]);
    load_err("Gemm [2,5] x [6,3]", &net.bytes(&y));
}

#[test]
fn initializer_with_too_few_values() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 17);
    let w = net.init("w", &[4, 3, 3, 3], vec![0.5; 4 * 3 * 3 * 3]);
    let y = net.node("Conv", &["x", &w], "conv", vec![]);
    let mut model = net.model(&y);
    model.graph.as_mut().unwrap().initializer[0].float_data.truncate(10);
    load_err("initializer declares 108 values, holds 10", &prost::Message::encode_to_vec(&model));
}

#[test]
fn input_without_shape_or_type() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 18);
    let y = net.node("Relu", &["x"], "relu", vec![]);
    let mut model = net.model(&y);
    model.graph.as_mut().unwrap().input[0].r#type = None;
    load_err("input without a type", &prost::Message::encode_to_vec(&model));
}

#[test]
fn integer_input() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 19);
    let y = net.node("Relu", &["x"], "relu", vec![]);
    let mut model = net.model(&y);
    if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
        model.graph.as_mut().unwrap().input[0].r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.elem_type = tract_onnx::pb::tensor_proto::DataType::Int64 as i32;
    }
    load_err("int64 input", &prost::Message::encode_to_vec(&model));
}

#[test]
fn two_graph_inputs() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 20);
    let y = net.node("Add", &["x", "x2"], "sum", vec![]);
    let mut model = net.model(&y);
    let g = model.graph.as_mut().unwrap();
    let mut second = g.input[0].clone();
    second.name = "x2".into();
    g.input.push(second);
    load_err("two inputs", &prost::Message::encode_to_vec(&model));
}

#[test]
fn node_without_outputs() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 21);
    net.node("Relu", &["x"], "relu", vec![]);
    let y = net.node("Relu", &["relu"], "relu2", vec![]);
    let mut model = net.model(&y);
    model.graph.as_mut().unwrap().node[0].output.clear();
    load_err("a node with no outputs", &prost::Message::encode_to_vec(&model));
}

#[test]
fn cyclic_graph() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 22);
    net.node("Add", &["x", "b"], "a", vec![]);
    let y = net.node("Relu", &["a"], "b", vec![]);
    load_err("a -> b -> a", &net.bytes(&y));
}
