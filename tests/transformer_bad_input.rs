//! Bad input on transformer-shaped models (issue 24): an op on an attention path that the reverse pass still has
//! no VJP for is refused when the model loads, in one sentence naming the op and its node (the general cases,
//! Sin and LSTM, are in tests/bad_models.rs; Einsum's unsupported forms in tests/vjp_fd_transformers.rs).

mod common;

use common::*;
use netlens::engine::Engine;
use netlens::{Classifier, Error};

/// Self-attention scores written into by a ScatterND (a cache update some exports do): no VJP for ScatterND.
#[test]
fn scatter_into_attention_scores_is_named_with_its_node() {
    let (t, d) = (5, 4);
    let mut net = Net::new(&[1, t, d], 17, 7);
    let wq = net.randn("Wq", &[d, d], 0.5);
    let wk = net.randn("Wk", &[d, d], 0.5);
    let q = net.node("MatMul", &["x", &wq], "q", vec![]);
    let k = net.node("MatMul", &["x", &wk], "k", vec![]);
    let kt = net.node("Transpose", &[&k], "kt", vec![attr_ints("perm", &[0, 2, 1])]);
    let scores = net.node("MatMul", &[&q, &kt], "scores", vec![]);
    let idx = net.init_i64("idx", &[1, 1, 2], vec![0, 0]);
    let upd = net.init("upd", &[1, t], vec![0.0; t]);
    let masked = net.node("ScatterND", &[&scores, &idx, &upd], "blocks.0.attn.scatter", vec![]);
    let probs = net.node("Softmax", &[&masked], "probs", vec![attr_i("axis", -1)]);
    let y = net.node("MatMul", &[&probs, "x"], "y", vec![]);
    let bytes = net.bytes(&y);
    let e = Engine::from_onnx_bytes(&bytes).err().expect("loaded");
    assert!(
        matches!(&e, Error::UnsupportedOp { op, node } if op == "ScatterND" && node == "blocks.0.attn.scatter"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "unsupported op 'ScatterND' at node 'blocks.0.attn.scatter'");
    assert!(Classifier::from_onnx_bytes(&bytes).is_err());
}
