//! The VJPs transformers need (issue 24: LayerNormalization, MatMul of two activations, Einsum, Softmax on any
//! rank and axis, Gelu, Exp, ReduceL2, Where) against central finite differences of tract's forward, on small
//! random graphs built in memory, as tests/vjp_fd.rs does for the CNN ops; then the blocks the exports build from
//! them (self-attention, SwinV2's cosine attention, MaxViT's einsum attention).

mod common;

use common::*;
use netlens::Tensor;
use tract_onnx::pb::AttributeProto;

fn gauss(shape: &[usize]) -> impl Fn(u64) -> Tensor {
    let shape = shape.to_vec();
    move |attempt| randn_tensor(&shape, 5000 + attempt)
}

fn smooth() -> FdOptions {
    FdOptions { smooth: true, ..FdOptions::default() }
}

/// A smaller step: softmax and exponentials curve enough for 1e-2 to cost accuracy.
fn fine() -> FdOptions {
    FdOptions { eps: 1e-3, smooth: true, ..FdOptions::default() }
}

/// Seeds the graph output with a random gradient and checks d sum(w ⊙ out) / dx.
fn check_output(label: &str, net: &Net, out: &str, make_x: impl Fn(u64) -> Tensor, opts: FdOptions) {
    let obj = Probe::output_grad(net, out, 7);
    check_fd(label, &net.bytes(out), &obj, make_x, opts);
}

// ------------------------------------------------------------------ LayerNormalization

fn layer_norm_case(label: &str, shape: &[usize], axis: Option<i64>, scale_dims: &[usize], bias: bool, eps: f32) {
    let mut net = Net::new(shape, 17, 101);
    let scale = net.uniform("ln.scale", scale_dims, 0.5, 1.5);
    let mut inputs = vec!["x".to_string(), scale];
    if bias {
        inputs.push(net.randn("ln.bias", scale_dims, 0.3));
    }
    let mut attrs: Vec<AttributeProto> = vec![attr_f("epsilon", eps)];
    if let Some(a) = axis {
        attrs.push(attr_i("axis", a));
    }
    let refs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
    let y = net.node("LayerNormalization", &refs, "ln", attrs);
    check_output(label, &net, &y, gauss(shape), fine());
}

#[test]
fn layer_norm_last_axis_scale_bias() {
    layer_norm_case("layernorm [1,5,8] axis -1, scale and bias", &[1, 5, 8], None, &[8], true, 1e-5);
}

#[test]
fn layer_norm_axis1_two_axes_no_bias() {
    // Normalises over the last two axes together, scale [3,4].
    layer_norm_case("layernorm [2,3,4] axis 1, scale [3,4], no bias", &[2, 3, 4], Some(1), &[3, 4], false, 1e-5);
}

#[test]
fn layer_norm_broadcast_scale_large_epsilon() {
    // A scale of [1, 4] broadcast over the normalised [3, 4], and an epsilon that matters (1e-1 on unit variance).
    layer_norm_case("layernorm [2,3,4] axis -2, scale [1,4], eps 0.1", &[2, 3, 4], Some(-2), &[1, 4], true, 1e-1);
}

#[test]
fn layer_norm_nchw_channels_last() {
    // ConvNeXt's LayerNorm2d as exported: permute to NHWC, LayerNormalization over C, permute back.
    let shape = [1, 4, 3, 3];
    let mut net = Net::new(&shape, 17, 102);
    let p = net.node("Transpose", &["x"], "nhwc", vec![attr_ints("perm", &[0, 2, 3, 1])]);
    let s = net.uniform("ln.scale", &[4], 0.5, 1.5);
    let b = net.randn("ln.bias", &[4], 0.3);
    let l = net.node("LayerNormalization", &[&p, &s, &b], "ln", vec![attr_i("axis", -1), attr_f("epsilon", 1e-6)]);
    let y = net.node("Transpose", &[&l], "nchw", vec![attr_ints("perm", &[0, 3, 1, 2])]);
    check_output("transpose -> layernorm over C -> transpose", &net, &y, gauss(&shape), fine());
}

// ------------------------------------------------------------------ MatMul of activations

#[test]
fn matmul_two_activations_batched() {
    // x · xᵀ per batch element: [2,3,4] · [2,4,3].
    let mut net = Net::new(&[2, 3, 4], 17, 103);
    let t = net.node("Transpose", &["x"], "xt", vec![attr_ints("perm", &[0, 2, 1])]);
    let y = net.node("MatMul", &["x", &t], "gram", vec![]);
    check_output("matmul [2,3,4] · [2,4,3], both operands from the input", &net, &y, gauss(&[2, 3, 4]), smooth());
}

#[test]
fn matmul_broadcast_batch_both_ways() {
    // [2,1,3,4] · [1,2,4,3] → [2,2,3,3]: each operand broadcast along the other's batch axis.
    let mut net = Net::new(&[2, 1, 3, 4], 17, 104);
    let w = net.randn("w", &[4, 4], 0.5);
    let b = net.node("MatMul", &["x", &w], "xw", vec![]);
    let t = net.node("Transpose", &[&b], "bt", vec![attr_ints("perm", &[1, 0, 3, 2])]);
    let y = net.node("MatMul", &["x", &t], "mm", vec![]);
    check_output("matmul [2,1,3,4] · [1,2,4,3] broadcast", &net, &y, gauss(&[2, 1, 3, 4]), smooth());
}

#[test]
fn matmul_constant_times_activation_and_rank_mismatch() {
    // A constant [3,2] · x [2,2,4]: the constant broadcast over x's batch.
    let mut net = Net::new(&[2, 2, 4], 17, 105);
    let w = net.randn("w", &[3, 2], 0.7);
    let y = net.node("MatMul", &[&w, "x"], "wx", vec![]);
    check_output("matmul const [3,2] · x [2,2,4]", &net, &y, gauss(&[2, 2, 4]), smooth());
}

#[test]
fn matmul_one_dimensional_operands() {
    // x [2,3,4] · v [4] → [2,3] and v [3] · x [2,3,4] → [2,4] (numpy's 1-D promotion).
    let mut net = Net::new(&[2, 3, 4], 17, 106);
    let v = net.randn("v", &[4], 0.7);
    let y = net.node("MatMul", &["x", &v], "xv", vec![]);
    check_output("matmul [2,3,4] · [4]", &net, &y, gauss(&[2, 3, 4]), smooth());
    let mut net = Net::new(&[2, 3, 4], 17, 107);
    let u = net.randn("u", &[3], 0.7);
    let y = net.node("MatMul", &[&u, "x"], "ux", vec![]);
    check_output("matmul [3] · [2,3,4]", &net, &y, gauss(&[2, 3, 4]), smooth());
}

/// softmax(Q·Kᵀ/√d)·V with two heads, as torchvision's ViT exports it (Q, K, V from one input projection).
#[test]
fn self_attention_block() {
    let (t, d, h) = (4, 6, 2);
    let mut net = Net::new(&[1, t, d], 17, 108);
    let w = net.randn("qkv.w", &[d, 3 * d], 0.4);
    let qkv = net.node("MatMul", &["x", &w], "qkv", vec![]);
    let shape = net.init_i64("heads_shape", &[5], vec![1, t as i64, 3, h as i64, (d / h) as i64]);
    let r = net.node("Reshape", &[&qkv, &shape], "qkv_r", vec![]);
    let p = net.node("Transpose", &[&r], "qkv_p", vec![attr_ints("perm", &[2, 0, 3, 1, 4])]);
    let (s0, s1, s2, s3) = (
        net.init_i64("s0", &[1], vec![0]),
        net.init_i64("s1", &[1], vec![1]),
        net.init_i64("s2", &[1], vec![2]),
        net.init_i64("s3", &[1], vec![3]),
    );
    let ax = net.init_i64("ax0", &[1], vec![0]);
    let q = net.node("Slice", &[&p, &s0, &s1, &ax], "q", vec![]);
    let k = net.node("Slice", &[&p, &s1, &s2, &ax], "k", vec![]);
    let v = net.node("Slice", &[&p, &s2, &s3, &ax], "v", vec![]);
    let kt = net.node("Transpose", &[&k], "kt", vec![attr_ints("perm", &[0, 1, 2, 4, 3])]);
    let scores = net.node("MatMul", &[&q, &kt], "scores", vec![]);
    let scale = net.init("scale", &[], vec![1.0 / ((d / h) as f32).sqrt()]);
    let scaled = net.node("Mul", &[&scores, &scale], "scaled", vec![]);
    let attn = net.node("Softmax", &[&scaled], "attn", vec![attr_i("axis", -1)]);
    let y = net.node("MatMul", &[&attn, &v], "attn_v", vec![]);
    check_output("self-attention softmax(QKᵀ/√d)·V, 2 heads", &net, &y, gauss(&[1, t, d]), fine());
}

// ------------------------------------------------------------------ Einsum

fn einsum_case(label: &str, equation: &str, shapes: &[&[usize]]) {
    // Operand 0 is the input; operand 1 (if any) is the input through a random linear map, so both operands
    // carry gradient when their shapes allow it, else a constant.
    let mut net = Net::new(shapes[0], 17, 109);
    let mut inputs = vec!["x".to_string()];
    if shapes.len() == 2 {
        if shapes[1] == shapes[0] {
            let c = net.randn("c", shapes[0], 1.0);
            inputs.push(net.node("Mul", &["x", &c], "x2", vec![]));
        } else {
            inputs.push(net.randn("b", shapes[1], 0.7));
        }
    }
    let refs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
    let y = net.node("Einsum", &refs, "es", vec![attr_s("equation", equation)]);
    check_output(label, &net, &y, gauss(shapes[0]), smooth());
}

#[test]
fn einsum_maxvit_scores() {
    // MaxViT's q·kᵀ, as PyTorch writes it (spaces, capitals), both operands from the input.
    einsum_case(
        "einsum B G H I D, B G H J D -> B G H I J",
        "B G H I D, B G H J D -> B G H I J",
        &[&[1, 2, 2, 3, 4], &[1, 2, 2, 3, 4]],
    );
}

#[test]
fn einsum_maxvit_weighted_values() {
    einsum_case("einsum bghij,bghjd->bghid", "bghij,bghjd->bghid", &[&[1, 2, 2, 3, 3], &[1, 2, 2, 3, 4]]);
}

#[test]
fn einsum_matmul_transposed_and_implicit() {
    einsum_case("einsum ij,kj->ik", "ij,kj->ik", &[&[3, 4], &[5, 4]]);
    einsum_case("einsum ij,jk (implicit output ik)", "ij,jk", &[&[3, 4], &[4, 2]]);
}

#[test]
fn einsum_label_summed_in_one_operand_and_outer_product() {
    // k appears only in the first operand: summed there; then an outer product with no summed label.
    einsum_case("einsum ijk,jl->il", "ijk,jl->il", &[&[2, 3, 4], &[3, 2]]);
    einsum_case("einsum i,j->ij", "i,j->ij", &[&[3], &[4]]);
}

#[test]
fn einsum_one_operand_transpose_and_sum() {
    einsum_case("einsum ijk->kj (sum over i)", "ijk->kj", &[&[2, 3, 4]]);
}

#[test]
fn einsum_unsupported_forms_are_named() {
    let mut net = Net::new(&[3, 3], 17, 110);
    let y = net.node("Einsum", &["x"], "diag", vec![attr_s("equation", "ii->i")]);
    let err = netlens::engine::Engine::from_onnx_bytes(&net.bytes(&y)).err().expect("a diagonal einsum is refused");
    let msg = err.to_string();
    assert!(msg.contains("diag") && msg.contains("diagonal"), "{msg}");
}

// ------------------------------------------------------------------ Softmax on any rank and axis

fn softmax_case(label: &str, op: &str, shape: &[usize], axis: i64) {
    let mut net = Net::new(shape, 17, 111);
    let y = net.node(op, &["x"], "sm", vec![attr_i("axis", axis)]);
    check_output(label, &net, &y, gauss(shape), fine());
}

#[test]
fn softmax_rank4_last_axis() {
    softmax_case("softmax [1,2,3,4] axis -1 (attention rows)", "Softmax", &[1, 2, 3, 4], -1);
}

#[test]
fn softmax_rank5_middle_axis() {
    softmax_case("softmax [1,2,3,2,2] axis 2", "Softmax", &[1, 2, 3, 2, 2], 2);
}

#[test]
fn log_softmax_rank3_axis_minus2() {
    softmax_case("log-softmax [2,4,3] axis -2", "LogSoftmax", &[2, 4, 3], -2);
}

// ------------------------------------------------------------------ element-wise

fn unary_case(label: &str, op: &str, opset: i64, attrs: Vec<AttributeProto>) {
    let shape = [1, 3, 4, 4];
    let mut net = Net::new(&shape, opset, 112);
    let y = net.node(op, &["x"], "act", attrs);
    check_output(label, &net, &y, gauss(&shape), fine());
}

#[test]
fn exp_on_input() {
    unary_case("exp", "Exp", 17, vec![]);
}

#[test]
fn gelu_opset20_exact() {
    unary_case("gelu (opset 20, exact)", "Gelu", 20, vec![]);
}

#[test]
fn gelu_opset20_tanh() {
    unary_case("gelu (opset 20, tanh)", "Gelu", 20, vec![attr_s("approximate", "tanh")]);
}

#[test]
fn gelu_from_erf() {
    // nn.GELU() before opset 20: x · (1 + erf(x/√2)) / 2.
    let shape = [1, 3, 4, 4];
    let mut net = Net::new(&shape, 17, 113);
    let r2 = net.init("sqrt2", &[], vec![std::f32::consts::SQRT_2]);
    let one = net.init("one", &[], vec![1.0]);
    let half = net.init("half", &[], vec![0.5]);
    let d = net.node("Div", &["x", &r2], "xd", vec![]);
    let e = net.node("Erf", &[&d], "erf", vec![]);
    let a = net.node("Add", &[&e, &one], "erf1", vec![]);
    let m = net.node("Mul", &["x", &a], "xm", vec![]);
    let y = net.node("Mul", &[&m, &half], "gelu", vec![]);
    check_output("gelu as x·(1+erf(x/√2))/2", &net, &y, gauss(&shape), fine());
}

#[test]
fn tanh_on_input() {
    unary_case("tanh", "Tanh", 17, vec![]);
}

#[test]
fn reduce_l2_keepdims_and_not() {
    let shape = [2, 3, 4];
    let mut net = Net::new(&shape, 17, 114);
    let y = net.node("ReduceL2", &["x"], "l2", vec![attr_ints("axes", &[-1])]);
    check_output("reducel2 [2,3,4] axes [-1] keepdims", &net, &y, gauss(&shape), smooth());
    let mut net = Net::new(&shape, 17, 115);
    let y = net.node("ReduceL2", &["x"], "l2", vec![attr_ints("axes", &[0, 2]), attr_i("keepdims", 0)]);
    check_output("reducel2 [2,3,4] axes [0,2] no keepdims", &net, &y, gauss(&shape), smooth());
}

/// F.normalize(x, dim=-1) as exported (SwinV2's cosine attention): x / expand(clip(‖x‖₂, 1e-12)).
#[test]
fn normalize_as_exported() {
    let shape = [1, 2, 3, 4];
    let mut net = Net::new(&shape, 17, 116);
    let n = net.node("ReduceL2", &["x"], "norm", vec![attr_ints("axes", &[-1])]);
    let lo = net.init("eps", &[], vec![1e-12]);
    let c = net.node("Clip", &[&n, &lo], "norm_c", vec![]);
    let s = net.init_i64("shape", &[4], vec![1, 2, 3, 4]);
    let e = net.node("Expand", &[&c, &s], "norm_e", vec![]);
    let y = net.node("Div", &["x", &e], "normalized", vec![]);
    check_output("x / expand(clip(reducel2(x)))", &net, &y, gauss(&shape), smooth());
}

#[test]
fn where_with_constant_condition() {
    // The condition is built from constants (folded, as exports' masks are); X is the input, Y the input scaled.
    let shape = [2, 3, 4];
    let mut net = Net::new(&shape, 17, 117);
    let mask: Vec<f32> = (0..12).map(|i| (i % 3 == 0) as i32 as f32).collect();
    let m = net.init("mask_f", &[3, 4], mask);
    let cond = net.node("Cast", &[&m], "mask", vec![attr_i("to", 9)]);
    let two = net.init("two", &[1], vec![2.0]);
    let yv = net.node("Mul", &["x", &two], "x2", vec![]);
    let y = net.node("Where", &[&cond, "x", &yv], "sel", vec![]);
    check_output("where(const mask [3,4], x, 2x)", &net, &y, gauss(&shape), smooth());
}

#[test]
fn layer_norm_scale_from_the_input_is_refused_with_its_node() {
    let mut net = Net::new(&[1, 2, 4], 17, 118);
    let s = net.node("ReduceMean", &["x"], "scale_of_x", vec![attr_ints("axes", &[0, 1]), attr_i("keepdims", 0)]);
    let y = net.node("LayerNormalization", &["x", &s], "blocks.0.ln", vec![]);
    let err = netlens::engine::Engine::from_onnx_bytes(&net.bytes(&y)).err().expect("an activation scale is refused");
    let msg = err.to_string();
    assert!(msg.contains("blocks.0.ln") && msg.contains("scale must be a constant"), "{msg}");
}
