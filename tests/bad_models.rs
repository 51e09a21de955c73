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
    let y = net.node("Sin", &["x"], "sin_1", vec![]);
    assert_unsupported("Sin on the input", &net.bytes(&y), "Sin", "sin_1");
}

#[test]
fn unsupported_op_between_supported_ones() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 2);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![]);
    let e = net.node("Sin", &[&c], "features.3.sin", vec![]);
    let g = net.node("GlobalAveragePool", &[&e], "gap", vec![]);
    let y = net.node("Flatten", &[&g], "logits", vec![]);
    assert_unsupported("conv -> Sin -> gap", &net.bytes(&y), "Sin", "features.3.sin");
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
fn classifier_other_input_sizes() {
    // Any side from 8 to 512 is a classifier now (issue 11); sides outside are refused with both numbers.
    let net = Classifier::from_onnx_bytes(&tiny_classifier(32, 32)).expect("a 32x32 model is a classifier");
    assert_eq!(net.input_shape(), [1, 3, 32, 32]);
    for (h, w) in [(4, 32), (32, 600)] {
        match Classifier::from_onnx_bytes(&tiny_classifier(h, w)) {
            Err(Error::Model(msg)) => {
                eprintln!("{msg}");
                assert!(msg.contains(&format!("{h}×{w}")) && msg.contains("8 to 512"), "{msg}");
            }
            Err(e) => panic!("expected Error::Model, got {e:?}"),
            Ok(_) => panic!("a {h}x{w} model was accepted"),
        }
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

// Issue 11: models people bring (see also two_graph_inputs, unsupported_lstm, truncated_real_model above).

#[test]
fn two_inputs_named_in_the_message() {
    let mut net = Net::new(&[1, 3, 8, 8], 13, 30);
    let c = net.conv("conv", "x", 3, 3, [1, 1], true, vec![]);
    let y = net.node("Mul", &[&c, "mask"], "masked", vec![]);
    let mut model = net.model(&y);
    let g = model.graph.as_mut().unwrap();
    g.input.push(value_info("mask", Some(&[1, 3, 8, 8])));
    let e = load_err("image and mask inputs", &prost::Message::encode_to_vec(&model));
    let msg = e.to_string();
    assert!(msg.contains("'x'") && msg.contains("'mask'") && msg.contains("one"), "{msg}");
}

#[test]
fn five_d_input() {
    // A 3-D convolution: the reverse pass does 2-D windows only, and says so naming the node.
    let mut net = Net::new(&[1, 3, 4, 8, 8], 13, 31);
    let w = net.randn("w", &[2, 3, 3, 3, 3], 0.2);
    let y = net.node("Conv", &["x", &w], "conv3d", vec![attr_ints("kernel_shape", &[3, 3, 3])]);
    let msg = load_err("Conv3d on a 5-D input", &net.bytes(&y)).to_string();
    assert!(msg.contains("conv3d") && msg.contains("rank-5"), "{msg}");
    // Element-wise ops are fine on any rank, so such a model is an engine but not an image classifier.
    let mut net = Net::new(&[1, 3, 4, 8, 8], 13, 32);
    let r = net.node("Relu", &["x"], "relu", vec![]);
    let y = net.node("ReduceMean", &[&r], "pooled", vec![attr_ints("axes", &[2, 3, 4]), attr_i("keepdims", 0)]);
    let engine = Engine::from_onnx_bytes(&net.bytes(&y)).expect("an element-wise 5-D model loads as an engine");
    let msg = engine.graph().check_image_classifier().expect_err("not an image classifier").to_string();
    eprintln!("5-D input: {msg}");
    assert!(msg.contains("5 dimensions") && msg.contains("N×C×H×W"), "{msg}");
}

#[test]
fn image_classifier_contract() {
    let ok = |shape: &[usize]| {
        let mut net = Net::new(shape, 13, 33);
        let c = net.conv("conv", "x", shape[1], 4, [1, 1], true, vec![]);
        let g = net.node("GlobalAveragePool", &[&c], "gap", vec![]);
        let y = net.node("Flatten", &[&g], "logits", vec![]);
        Engine::from_onnx_bytes(&net.bytes(&y)).unwrap().graph().check_image_classifier()
    };
    assert_eq!(ok(&[1, 1, 28, 28]).unwrap(), 4);
    assert_eq!(ok(&[1, 3, 32, 32]).unwrap(), 4);
    for (shape, says) in [
        (vec![2, 3, 32, 32], "batch"),
        (vec![1, 4, 32, 32], "channels"),
        (vec![1, 3, 4, 32], "sides"),
        (vec![1, 3, 600, 32], "sides"),
    ] {
        let msg = ok(&shape).expect_err("refused").to_string();
        eprintln!("{shape:?}: {msg}");
        assert!(msg.contains(says), "{shape:?}: {msg}");
    }
    // Not class scores: a feature map out.
    let mut net = Net::new(&[1, 3, 16, 16], 13, 34);
    let y = net.conv("conv", "x", 3, 4, [1, 1], true, vec![]);
    let msg = Engine::from_onnx_bytes(&net.bytes(&y)).unwrap().graph().check_image_classifier().unwrap_err();
    assert!(msg.to_string().contains("[1, K]"), "{msg}");
}

#[test]
fn lstm_after_conv_names_op_and_node() {
    // A CNN front end feeding an LSTM over the rows: every op before it is supported.
    let mut net = Net::new(&[1, 1, 6, 6], 13, 35);
    let c = net.conv("features.0", "x", 1, 2, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let r = net.node("Relu", &[&c], "features.1", vec![]);
    let shape = net.init_i64("seq_shape", &[3], vec![6, 1, 12]);
    let t = net.node("Transpose", &[&r], "to_rows", vec![attr_ints("perm", &[2, 0, 1, 3])]);
    let s = net.node("Reshape", &[&t, &shape], "rows", vec![]);
    let w = net.randn("W", &[1, 8, 12], 0.3);
    let rr = net.randn("R", &[1, 8, 2], 0.3);
    let y = net.node("LSTM", &[&s, &w, &rr], "rnn.lstm", vec![attr_i("hidden_size", 2)]);
    assert_unsupported("conv -> LSTM", &net.bytes(&y), "LSTM", "rnn.lstm");
}

#[test]
fn unsupported_op_on_constants_only_is_folded() {
    // Sin has no VJP, but on weights alone tract computes it once at load: it is a constant, not an error.
    let mut net = Net::new(&[1, 3, 4, 4], 13, 36);
    let k = net.randn("k", &[3, 1, 1], 1.0);
    let e = net.node("Sin", &[&k], "sin_of_weights", vec![]);
    let y = net.node("Mul", &["x", &e], "scaled", vec![]);
    let engine = Engine::from_onnx_bytes(&net.bytes(&y)).expect("Sin of a constant is a constant");
    assert_eq!(engine.graph().nodes.len(), 1, "only the Mul is left");
    // On an activation it is still unsupported, also behind a shape computation tract folds.
    let mut net = Net::new(&[1, 3, 4, 4], 13, 37);
    let s = net.node("Shape", &["x"], "shape", vec![]);
    let r = net.node("Reshape", &["x", &s], "same", vec![]);
    let y = net.node("Sin", &[&r], "features.sin", vec![]);
    assert_unsupported("Shape + Reshape -> Sin", &net.bytes(&y), "Sin", "features.sin");
}

#[test]
fn operands_that_must_be_constant() {
    let mut net = Net::new(&[1, 3, 4, 4], 13, 38);
    let two = net.init("two", &[], vec![2.0]);
    let y = net.node("Pow", &[&two, "x"], "two_to_the_x", vec![]);
    let msg = load_err("Pow with an input-dependent exponent", &net.bytes(&y)).to_string();
    assert!(msg.contains("two_to_the_x") && msg.contains("exponent"), "{msg}");

    let mut net = Net::new(&[1, 3, 4, 4], 13, 39);
    let w = net.randn("slope", &[1, 3, 4, 4], 1.0);
    let y = net.node("PRelu", &[&w, "x"], "prelu_of_weights", vec![]);
    let msg = load_err("PRelu with an input-dependent slope", &net.bytes(&y)).to_string();
    assert!(msg.contains("prelu_of_weights") && msg.contains("constant"), "{msg}");
}

#[test]
fn negative_pads_refused() {
    // tract 0.23 panics running them; the reverse pass refuses them before any plan is built.
    let mut net = Net::new(&[1, 2, 4, 5], 13, 40);
    let p = net.init_i64("pads", &[8], vec![0, 0, -1, 1, 0, 0, 2, -1]);
    let y = net.node("Pad", &["x", &p], "crop", vec![]);
    let msg = load_err("negative pads", &net.bytes(&y)).to_string();
    assert!(msg.contains("crop") && msg.contains("negative pads"), "{msg}");
}

#[test]
fn truncated_zoo_models() {
    for arch in ["cifarnet", "mobilenet_v2"] {
        let bytes = read_shared(&format!("models/zoo/{arch}.onnx"));
        for cut in [100, bytes.len() / 3, bytes.len() - 7] {
            load_err(&format!("{arch} cut at {cut} of {}", bytes.len()), &bytes[..cut]);
        }
    }
}
