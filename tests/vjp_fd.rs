//! Every VJP of the reverse pass against central finite differences of tract's forward, on
//! small random graphs built in memory: one test per op and attribute variant, then chains
//! (a SqueezeNet fire module, a model-zoo style classifier head) with every kind of seed.

mod common;

use common::*;
use netlens::engine::{Engine, Objective};
use netlens::Tensor;
use tract_onnx::pb::AttributeProto;

fn gauss(shape: &[usize]) -> impl Fn(u64) -> Tensor {
    let shape = shape.to_vec();
    move |attempt| randn_tensor(&shape, 1000 + attempt)
}

/// For MaxPool as the first op: distinct values 0.05 apart, five FD steps.
fn grid(shape: &[usize]) -> impl Fn(u64) -> Tensor {
    let shape = shape.to_vec();
    move |attempt| shuffled_grid(&shape, 2000 + attempt, 0.05)
}

/// For Relu/Clip as the first op: no element within 5 FD steps of a kink.
fn away(shape: &[usize], scale: f32, kinks: &[f32]) -> impl Fn(u64) -> Tensor {
    let (shape, kinks) = (shape.to_vec(), kinks.to_vec());
    move |attempt| randn_away_from(&shape, 3000 + attempt, scale, &kinks, 0.05)
}

/// Deep piecewise-linear chains have many kinks: a smaller step crosses fewer of them.
fn chain() -> FdOptions {
    FdOptions { eps: 2e-3, attempts: 16, ..FdOptions::default() }
}

fn smooth() -> FdOptions {
    FdOptions { smooth: true, ..FdOptions::default() }
}

/// Seeds the graph output with a random gradient and checks d sum(w ⊙ out) / dx.
fn check_output(label: &str, net: &Net, out: &str, make_x: impl Fn(u64) -> Tensor, opts: FdOptions) {
    let obj = Probe::output_grad(net, out, 7);
    check_fd(label, &net.bytes(out), &obj, make_x, opts);
}

// ------------------------------------------------------------------ Conv

fn conv_case(
    label: &str,
    shape: &[usize],
    cout: usize,
    kernel: [usize; 2],
    bias: bool,
    attrs: Vec<tract_onnx::pb::AttributeProto>,
) {
    let mut net = Net::new(shape, 13, 1);
    let y = net.conv("conv", "x", shape[1], cout, kernel, bias, attrs);
    check_output(label, &net, &y, gauss(shape), smooth());
}

#[test]
fn conv_3x3_pad1_bias() {
    conv_case("conv 3x3 pad 1 bias", &[1, 3, 7, 7], 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
}

#[test]
fn conv_3x3_no_pad_no_bias() {
    conv_case("conv 3x3 no pad", &[1, 3, 7, 7], 4, [3, 3], false, vec![]);
}

#[test]
fn conv_stride2_asymmetric_pads() {
    conv_case(
        "conv stride 2 pads [1,0,0,2]",
        &[1, 3, 7, 7],
        4,
        [3, 3],
        true,
        vec![attr_ints("strides", &[2, 2]), attr_ints("pads", &[1, 0, 0, 2])],
    );
}

#[test]
fn conv_stride2_drops_last_rows() {
    // (8 - 3) / 2 is not whole: the last input row and column feed no output.
    conv_case("conv stride 2 on 8x8", &[1, 2, 8, 8], 3, [3, 3], false, vec![attr_ints("strides", &[2, 2])]);
}

#[test]
fn conv_dilation2() {
    conv_case(
        "conv dilation 2 pad 2",
        &[1, 3, 7, 7],
        4,
        [3, 3],
        false,
        vec![attr_ints("dilations", &[2, 2]), attr_ints("pads", &[2, 2, 2, 2])],
    );
}

#[test]
fn conv_depthwise_group3() {
    conv_case(
        "conv depthwise group 3",
        &[1, 3, 7, 7],
        3,
        [3, 3],
        true,
        vec![attr_i("group", 3), attr_ints("pads", &[1, 1, 1, 1])],
    );
}

#[test]
fn conv_depthwise_multiplier2() {
    conv_case("conv group 3, 2 outputs per group", &[1, 3, 6, 6], 6, [3, 3], true, vec![attr_i("group", 3)]);
}

#[test]
fn conv_group3_two_channels_per_group() {
    conv_case("conv group 3, 6 -> 9", &[1, 6, 5, 5], 9, [3, 3], false, vec![attr_i("group", 3)]);
}

#[test]
fn conv_1x1_no_bias() {
    conv_case("conv 1x1", &[1, 3, 5, 5], 5, [1, 1], false, vec![]);
}

#[test]
fn conv_1x1_stride2_bias() {
    conv_case("conv 1x1 stride 2", &[1, 3, 7, 7], 2, [1, 1], true, vec![attr_ints("strides", &[2, 2])]);
}

#[test]
fn conv_non_square_everything() {
    conv_case(
        "conv 6x9 input, kernel 3x2, strides 2x1, dilations 1x2, pads [1,0,0,1]",
        &[1, 2, 6, 9],
        3,
        [3, 2],
        true,
        vec![attr_ints("strides", &[2, 1]), attr_ints("dilations", &[1, 2]), attr_ints("pads", &[1, 0, 0, 1])],
    );
}

#[test]
fn conv_auto_pad_same_upper() {
    // Kernel 2 on 7 at stride 1 needs one pad: SAME_UPPER puts it after.
    conv_case("conv SAME_UPPER k2", &[1, 2, 7, 7], 3, [2, 2], true, vec![attr_s("auto_pad", "SAME_UPPER")]);
}

#[test]
fn conv_auto_pad_same_lower() {
    conv_case("conv SAME_LOWER k2", &[1, 2, 7, 7], 3, [2, 2], true, vec![attr_s("auto_pad", "SAME_LOWER")]);
}

#[test]
fn conv_auto_pad_same_upper_stride2() {
    conv_case(
        "conv SAME_UPPER k3 s2 on 8x8",
        &[1, 2, 8, 8],
        3,
        [3, 3],
        false,
        vec![attr_s("auto_pad", "SAME_UPPER"), attr_ints("strides", &[2, 2])],
    );
}

#[test]
fn conv_chain_two_layers() {
    // The second Conv's VJP must take the gradient of an activation, not of the input.
    let mut net = Net::new(&[1, 3, 8, 8], 13, 2);
    let a =
        net.conv("c1", "x", 3, 4, [3, 3], true, vec![attr_ints("strides", &[2, 2]), attr_ints("pads", &[1, 1, 1, 1])]);
    let b = net.conv("c2", &a, 4, 5, [3, 3], true, vec![attr_ints("pads", &[0, 1, 1, 0])]);
    check_output("conv -> conv", &net, &b, gauss(&[1, 3, 8, 8]), smooth());
}

#[test]
fn conv_with_dead_output_channels() {
    // Only 2 of the 8 output channels reach the result: the others' gradient planes are all zero, and the VJP
    // leaves them out of its product (as at SqueezeNet's last Conv under a class objective). 3x3 and 1x1 paths.
    for (kernel, pads) in [([3, 3], [1, 1, 1, 1]), ([1, 1], [0, 0, 0, 0])] {
        let mut net = Net::new(&[1, 3, 7, 7], 13, 8);
        let c = net.conv("conv", "x", 3, 8, kernel, true, vec![attr_ints("pads", &pads)]);
        let starts = net.init_i64("starts", &[1], vec![5]);
        let ends = net.init_i64("ends", &[1], vec![7]);
        let axes = net.init_i64("axes", &[1], vec![1]);
        let y = net.node("Slice", &[&c, &starts, &ends, &axes], "sliced", vec![]);
        check_output(&format!("conv {kernel:?} -> 2 of 8 channels"), &net, &y, gauss(&[1, 3, 7, 7]), smooth());
    }
}

// ------------------------------------------------------------------ Relu

#[test]
fn relu_on_input() {
    let mut net = Net::new(&[1, 3, 7, 7], 13, 3);
    let y = net.node("Relu", &["x"], "relu", vec![]);
    check_output("relu", &net, &y, away(&[1, 3, 7, 7], 1.0, &[0.0]), FdOptions::default());
}

#[test]
fn relu_after_conv() {
    let mut net = Net::new(&[1, 3, 7, 7], 13, 4);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let y = net.node("Relu", &[&c], "relu", vec![]);
    check_output("conv -> relu", &net, &y, gauss(&[1, 3, 7, 7]), FdOptions::default());
}

// ------------------------------------------------------------------ MaxPool

fn maxpool_case(label: &str, shape: &[usize], attrs: Vec<tract_onnx::pb::AttributeProto>) {
    let mut net = Net::new(shape, 13, 5);
    let y = net.node("MaxPool", &["x"], "pool", attrs);
    check_output(label, &net, &y, grid(shape), FdOptions::default());
}

#[test]
fn maxpool_k2_s2() {
    maxpool_case(
        "maxpool k2 s2 on 7x7",
        &[1, 2, 7, 7],
        vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])],
    );
}

#[test]
fn maxpool_k3_s1_pad1() {
    maxpool_case(
        "maxpool k3 s1 pad 1",
        &[1, 2, 6, 6],
        vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("pads", &[1, 1, 1, 1])],
    );
}

#[test]
fn maxpool_k2_s3_dilation2_pad1() {
    // A stride above 2 and a dilation: the VJP splits rows into 3 phases and reads taps 2 apart.
    maxpool_case(
        "maxpool k2 s3 dilation 2 pad 1 on 9x10",
        &[1, 2, 9, 10],
        vec![
            attr_ints("kernel_shape", &[2, 2]),
            attr_ints("strides", &[3, 3]),
            attr_ints("dilations", &[2, 2]),
            attr_ints("pads", &[1, 1, 1, 1]),
        ],
    );
}

#[test]
fn maxpool_k3_s2_ceil() {
    maxpool_case(
        "maxpool k3 s2 ceil on 8x8",
        &[1, 2, 8, 8],
        vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_i("ceil_mode", 1)],
    );
}

#[test]
fn maxpool_k3_s2_floor_on_8x8() {
    maxpool_case(
        "maxpool k3 s2 floor on 8x8",
        &[1, 2, 8, 8],
        vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_i("ceil_mode", 0)],
    );
}

#[test]
fn maxpool_k2_s2_ceil() {
    maxpool_case(
        "maxpool k2 s2 ceil on 7x7",
        &[1, 2, 7, 7],
        vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2]), attr_i("ceil_mode", 1)],
    );
}

#[test]
fn maxpool_k3_s2_ceil_pad1() {
    maxpool_case(
        "maxpool k3 s2 ceil pad 1 on 8x8",
        &[1, 2, 8, 8],
        vec![
            attr_ints("kernel_shape", &[3, 3]),
            attr_ints("strides", &[2, 2]),
            attr_ints("pads", &[1, 1, 1, 1]),
            attr_i("ceil_mode", 1),
        ],
    );
}

#[test]
fn maxpool_asymmetric_pads() {
    maxpool_case(
        "maxpool k3 s2 pads [0,1,1,0]",
        &[1, 2, 7, 7],
        vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_ints("pads", &[0, 1, 1, 0])],
    );
}

#[test]
fn maxpool_non_square() {
    maxpool_case(
        "maxpool k [2,3] s [1,2] on 5x7",
        &[1, 2, 5, 7],
        vec![attr_ints("kernel_shape", &[2, 3]), attr_ints("strides", &[1, 2])],
    );
}

#[test]
fn maxpool_dilation2() {
    maxpool_case(
        "maxpool k2 dilation 2",
        &[1, 1, 6, 6],
        vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("dilations", &[2, 2])],
    );
}

#[test]
fn maxpool_after_conv_relu() {
    // SqueezeNet's stem: zeros from Relu tie inside pool windows; the gradient there is zero
    // either way, so only positive ties would be kinks (the FD check resamples those).
    let mut net = Net::new(&[1, 3, 9, 9], 13, 6);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![]);
    let r = net.node("Relu", &[&c], "relu", vec![]);
    let y = net.node(
        "MaxPool",
        &[&r],
        "pool",
        vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_i("ceil_mode", 1)],
    );
    check_output("conv -> relu -> maxpool ceil", &net, &y, gauss(&[1, 3, 9, 9]), FdOptions::default());
}

// ------------------------------------------------------------------ AveragePool

fn avgpool_case(label: &str, shape: &[usize], attrs: Vec<tract_onnx::pb::AttributeProto>) {
    let mut net = Net::new(shape, 13, 7);
    let y = net.node("AveragePool", &["x"], "pool", attrs);
    check_output(label, &net, &y, gauss(shape), smooth());
}

#[test]
fn avgpool_pad1_exclude_pad() {
    avgpool_case(
        "avgpool k3 s1 pad 1 count_include_pad 0",
        &[1, 2, 6, 6],
        vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("pads", &[1, 1, 1, 1]), attr_i("count_include_pad", 0)],
    );
}

#[test]
fn avgpool_pad1_include_pad() {
    avgpool_case(
        "avgpool k3 s1 pad 1 count_include_pad 1",
        &[1, 2, 6, 6],
        vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("pads", &[1, 1, 1, 1]), attr_i("count_include_pad", 1)],
    );
}

#[test]
fn avgpool_k2_s2_no_pad() {
    avgpool_case(
        "avgpool k2 s2 on 7x7",
        &[1, 2, 7, 7],
        vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])],
    );
}

#[test]
fn avgpool_ceil_exclude_pad() {
    avgpool_case(
        "avgpool k2 s2 ceil on 7x7 count_include_pad 0",
        &[1, 2, 7, 7],
        vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2]), attr_i("ceil_mode", 1)],
    );
}

#[test]
fn avgpool_ceil_include_pad() {
    avgpool_case(
        "avgpool k2 s2 ceil on 7x7 count_include_pad 1",
        &[1, 2, 7, 7],
        vec![
            attr_ints("kernel_shape", &[2, 2]),
            attr_ints("strides", &[2, 2]),
            attr_i("ceil_mode", 1),
            attr_i("count_include_pad", 1),
        ],
    );
}

#[test]
fn avgpool_ceil_asymmetric_pads_include_pad() {
    avgpool_case(
        "avgpool k3 s2 pads [1,0,0,1] ceil count_include_pad 1 on 8x8",
        &[1, 2, 8, 8],
        vec![
            attr_ints("kernel_shape", &[3, 3]),
            attr_ints("strides", &[2, 2]),
            attr_ints("pads", &[1, 0, 0, 1]),
            attr_i("ceil_mode", 1),
            attr_i("count_include_pad", 1),
        ],
    );
}

#[test]
fn avgpool_asymmetric_pads_exclude_pad() {
    avgpool_case(
        "avgpool k3 s2 pads [0,1,1,0] count_include_pad 0",
        &[1, 2, 7, 7],
        vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_ints("pads", &[0, 1, 1, 0])],
    );
}

#[test]
fn avgpool_whole_plane() {
    avgpool_case("avgpool kernel = whole 5x4 plane", &[1, 3, 5, 4], vec![attr_ints("kernel_shape", &[5, 4])]);
}

// ------------------------------------------------------------------ GlobalAveragePool

#[test]
fn global_average_pool() {
    let mut net = Net::new(&[1, 3, 5, 4], 13, 8);
    let y = net.node("GlobalAveragePool", &["x"], "gap", vec![]);
    check_output("global average pool", &net, &y, gauss(&[1, 3, 5, 4]), smooth());
}

#[test]
fn global_average_pool_after_conv() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 9);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![]);
    let y = net.node("GlobalAveragePool", &[&c], "gap", vec![]);
    check_output("conv -> global average pool", &net, &y, gauss(&[1, 3, 6, 6]), smooth());
}

// ------------------------------------------------------------------ Concat

#[test]
fn concat_axis1_three_branches() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 10);
    let a = net.conv("a", "x", 3, 2, [1, 1], true, vec![]);
    let b = net.conv("b", "x", 3, 3, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    // The input itself is the third branch: its gradient gets a direct share too.
    let y = net.node("Concat", &[&a, "x", &b], "cat", vec![attr_i("axis", 1)]);
    check_output("concat axis 1 of conv1x1, x, conv3x3", &net, &y, gauss(&[1, 3, 6, 6]), smooth());
}

#[test]
fn concat_axis3() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 11);
    let a = net.conv("a", "x", 3, 3, [1, 1], true, vec![]);
    let y = net.node("Concat", &["x", &a], "cat", vec![attr_i("axis", 3)]);
    check_output("concat axis 3", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

#[test]
fn concat_negative_axis() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 12);
    let a = net.conv("a", "x", 3, 3, [3, 3], false, vec![attr_ints("pads", &[0, 1, 0, 1])]);
    let y = net.node("Concat", &[&a, "x"], "cat", vec![attr_i("axis", -2)]);
    check_output("concat axis -2", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

// ------------------------------------------------------------------ Flatten, Reshape, Identity, Dropout

#[test]
fn flatten_axis1_then_gemm() {
    let mut net = Net::new(&[1, 3, 4, 4], 13, 13);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let f = net.node("Flatten", &[&c], "flat", vec![attr_i("axis", 1)]);
    let w = net.randn("fc.weight", &[5, 64], 0.2);
    let b = net.randn("fc.bias", &[5], 0.2);
    let y = net.node("Gemm", &[&f, &w, &b], "fc", vec![attr_i("transB", 1)]);
    check_output("conv -> flatten -> gemm", &net, &y, gauss(&[1, 3, 4, 4]), smooth());
}

#[test]
fn flatten_axis2() {
    let mut net = Net::new(&[1, 3, 4, 4], 13, 14);
    let c = net.conv("conv", "x", 3, 2, [1, 1], true, vec![]);
    let y = net.node("Flatten", &[&c], "flat", vec![attr_i("axis", 2)]);
    check_output("conv -> flatten axis 2", &net, &y, gauss(&[1, 3, 4, 4]), smooth());
}

#[test]
fn reshape_zero_and_minus_one() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 15);
    let c = net.conv("conv", "x", 3, 4, [1, 1], true, vec![]);
    let s = net.init_i64("shape", &[3], vec![0, -1, 5]);
    let y = net.node("Reshape", &[&c, &s], "reshaped", vec![]);
    check_output("conv -> reshape [0,-1,5]", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

#[test]
fn reshape_then_conv_sees_new_layout() {
    // A reshape in the middle: the next op's VJP hands back a gradient in the new shape.
    let mut net = Net::new(&[1, 4, 3, 6], 13, 16);
    let s = net.init_i64("shape", &[4], vec![1, 2, 6, -1]);
    let r = net.node("Reshape", &["x", &s], "reshaped", vec![]);
    let y = net.conv("conv", &r, 2, 3, [3, 3], true, vec![]);
    check_output("reshape [1,2,6,-1] -> conv", &net, &y, gauss(&[1, 4, 3, 6]), smooth());
}

#[test]
fn identity() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 17);
    let c = net.conv("conv", "x", 3, 2, [3, 3], true, vec![]);
    let y = net.node("Identity", &[&c], "same", vec![]);
    check_output("conv -> identity", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

#[test]
fn dropout_opset7_ratio_attribute() {
    let mut net = Net::new(&[1, 3, 5, 5], 7, 18);
    let c = net.conv("conv", "x", 3, 2, [3, 3], true, vec![]);
    let y = net.node("Dropout", &[&c], "drop", vec![attr_f("ratio", 0.3)]);
    check_output("opset 7 dropout ratio 0.3 (identity at inference)", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

#[test]
fn dropout_opset13() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 19);
    let c = net.conv("conv", "x", 3, 2, [3, 3], true, vec![]);
    let y = net.node("Dropout", &[&c], "drop", vec![]);
    check_output("opset 13 dropout", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

#[test]
fn dropout_opset13_ratio_input() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 20);
    let c = net.conv("conv", "x", 3, 2, [3, 3], true, vec![]);
    let ratio = net.init("ratio", &[], vec![0.5]);
    let y = net.node("Dropout", &[&c, &ratio], "drop", vec![]);
    check_output("opset 13 dropout with ratio input", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

// ------------------------------------------------------------------ Add

#[test]
fn add_two_activations_same_shape() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 21);
    let a = net.conv("a", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let b = net.conv("b", "x", 3, 4, [1, 1], false, vec![]);
    let y = net.node("Add", &[&a, &b], "sum", vec![]);
    check_output("add conv3x3 + conv1x1", &net, &y, gauss(&[1, 3, 6, 6]), smooth());
}

#[test]
fn add_residual_with_input() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 22);
    let a = net.conv("a", "x", 3, 3, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let y = net.node("Add", &["x", &a], "sum", vec![]);
    check_output("residual x + conv(x)", &net, &y, gauss(&[1, 3, 6, 6]), smooth());
}

#[test]
fn add_same_value_twice() {
    let mut net = Net::new(&[1, 2, 4, 4], 13, 23);
    let a = net.conv("a", "x", 2, 3, [1, 1], true, vec![]);
    let y = net.node("Add", &[&a, &a], "twice", vec![]);
    check_output("add a + a", &net, &y, gauss(&[1, 2, 4, 4]), smooth());
}

#[test]
fn add_broadcast_constant_c11() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 24);
    let a = net.conv("a", "x", 3, 4, [3, 3], false, vec![]);
    let bias = net.randn("bias", &[4, 1, 1], 1.0);
    let y = net.node("Add", &[&a, &bias], "sum", vec![]);
    check_output("add [1,4,3,3] + const [4,1,1]", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

#[test]
fn add_broadcast_constant_first() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 25);
    let bias = net.randn("bias", &[3, 1, 1], 1.0);
    let y = net.node("Add", &[&bias, "x"], "sum", vec![]);
    check_output("add const [3,1,1] + x", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

#[test]
fn add_broadcast_two_activations() {
    // [1,4,H,W] + [1,4,1,1] where both depend on x: the small operand's VJP must sum over H, W.
    let mut net = Net::new(&[1, 3, 6, 6], 13, 26);
    let a = net.conv("a", "x", 3, 4, [3, 3], true, vec![]);
    let b = net.conv("b", "x", 3, 4, [1, 1], true, vec![]);
    let g = net.node("GlobalAveragePool", &[&b], "gap", vec![]);
    let y = net.node("Add", &[&g, &a], "sum", vec![]);
    check_output("add gap(conv) [1,4,1,1] + conv [1,4,4,4]", &net, &y, gauss(&[1, 3, 6, 6]), smooth());
}

// ------------------------------------------------------------------ Gemm, MatMul

#[test]
fn gemm_plain() {
    let mut net = Net::new(&[2, 5], 13, 27);
    let b = net.randn("B", &[5, 4], 0.5);
    let y = net.node("Gemm", &["x", &b], "fc", vec![]);
    check_output("gemm transB 0 no C", &net, &y, gauss(&[2, 5]), smooth());
}

#[test]
fn gemm_trans_b_alpha_beta_bias() {
    let mut net = Net::new(&[2, 5], 13, 28);
    let b = net.randn("B", &[4, 5], 0.5);
    let c = net.randn("C", &[4], 0.5);
    let y =
        net.node("Gemm", &["x", &b, &c], "fc", vec![attr_i("transB", 1), attr_f("alpha", 0.7), attr_f("beta", 1.3)]);
    check_output("gemm transB 1 alpha 0.7 beta 1.3 C[4]", &net, &y, gauss(&[2, 5]), smooth());
}

#[test]
fn gemm_trans_a() {
    let mut net = Net::new(&[5, 2], 13, 29);
    let b = net.randn("B", &[5, 4], 0.5);
    let c = net.randn("C", &[2, 4], 0.5);
    let y = net.node("Gemm", &["x", &b, &c], "fc", vec![attr_i("transA", 1), attr_f("alpha", -1.5)]);
    check_output("gemm transA 1 alpha -1.5 C[2,4]", &net, &y, gauss(&[5, 2]), smooth());
}

#[test]
fn gemm_both_transposed() {
    let mut net = Net::new(&[5, 2], 13, 30);
    let b = net.randn("B", &[3, 5], 0.5);
    let y = net.node("Gemm", &["x", &b], "fc", vec![attr_i("transA", 1), attr_i("transB", 1)]);
    check_output("gemm transA 1 transB 1", &net, &y, gauss(&[5, 2]), smooth());
}

#[test]
fn matmul() {
    let mut net = Net::new(&[2, 5], 13, 31);
    let w = net.randn("W", &[5, 3], 0.5);
    let y = net.node("MatMul", &["x", &w], "mm", vec![]);
    check_output("matmul [2,5] x [5,3]", &net, &y, gauss(&[2, 5]), smooth());
}

// ------------------------------------------------------------------ BatchNormalization

fn batchnorm(net: &mut Net, name: &str, input: &str, c: usize) -> String {
    let scale = net.randn(&format!("{name}.scale"), &[c], 1.0);
    let b = net.randn(&format!("{name}.B"), &[c], 0.5);
    let mean = net.randn(&format!("{name}.mean"), &[c], 0.5);
    let var = net.uniform(&format!("{name}.var"), &[c], 0.2, 2.0);
    net.node("BatchNormalization", &[input, &scale, &b, &mean, &var], name, vec![attr_f("epsilon", 1e-3)])
}

#[test]
fn batchnorm_on_input() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 32);
    let y = batchnorm(&mut net, "bn", "x", 3);
    check_output("batchnorm", &net, &y, gauss(&[1, 3, 5, 5]), smooth());
}

#[test]
fn conv_batchnorm_relu() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 33);
    let c = net.conv("conv", "x", 3, 4, [3, 3], false, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let b = batchnorm(&mut net, "bn", &c, 4);
    let y = net.node("Relu", &[&b], "relu", vec![]);
    check_output("conv -> batchnorm -> relu", &net, &y, gauss(&[1, 3, 6, 6]), FdOptions::default());
}

// ------------------------------------------------------------------ Clip

#[test]
fn clip_opset6_attributes() {
    let mut net = Net::new(&[1, 3, 5, 5], 6, 34);
    let y = net.node("Clip", &["x"], "clip", vec![attr_f("min", -0.5), attr_f("max", 0.8)]);
    check_output(
        "opset 6 clip min -0.5 max 0.8",
        &net,
        &y,
        away(&[1, 3, 5, 5], 1.0, &[-0.5, 0.8]),
        FdOptions::default(),
    );
}

#[test]
fn clip_opset13_relu6_inputs() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 35);
    let lo = net.init("lo", &[], vec![0.0]);
    let hi = net.init("hi", &[], vec![6.0]);
    let y = net.node("Clip", &["x", &lo, &hi], "relu6", vec![]);
    check_output("opset 13 clip [0, 6] (ReLU6)", &net, &y, away(&[1, 3, 5, 5], 4.0, &[0.0, 6.0]), FdOptions::default());
}

#[test]
fn clip_opset11_after_conv() {
    let mut net = Net::new(&[1, 3, 6, 6], 11, 36);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![]);
    let lo = net.init("lo", &[], vec![-0.3]);
    let hi = net.init("hi", &[], vec![0.4]);
    let y = net.node("Clip", &[&c, &lo, &hi], "clip", vec![]);
    check_output("opset 11 conv -> clip [-0.3, 0.4]", &net, &y, gauss(&[1, 3, 6, 6]), FdOptions::default());
}

#[test]
fn clip_opset13_min_only() {
    let mut net = Net::new(&[1, 3, 5, 5], 13, 37);
    let lo = net.init("lo", &[], vec![0.25]);
    let y = net.node("Clip", &["x", &lo], "clip", vec![]);
    check_output("opset 13 clip min 0.25 only", &net, &y, away(&[1, 3, 5, 5], 1.0, &[0.25]), FdOptions::default());
}

#[test]
fn clip_opset13_max_only_empty_min() {
    // The min input is omitted by an empty name: the single constant is the max.
    let mut net = Net::new(&[1, 3, 5, 5], 13, 38);
    let hi = net.init("hi", &[], vec![0.25]);
    let y = net.node("Clip", &["x", "", &hi], "clip", vec![]);
    check_output(
        "opset 13 clip max 0.25 only (min = '')",
        &net,
        &y,
        away(&[1, 3, 5, 5], 1.0, &[0.25]),
        FdOptions::default(),
    );
}

// ------------------------------------------------------------------ Softmax, LogSoftmax

fn softmax_case(label: &str, op: &str, opset: i64, shape: &[usize], axis: Option<i64>) {
    let mut net = Net::new(shape, opset, 39);
    let attrs = axis.map(|a| vec![attr_i("axis", a)]).unwrap_or_default();
    let y = net.node(op, &["x"], "sm", attrs);
    let opts = FdOptions { eps: 1e-3, ..smooth() };
    check_output(
        label,
        &net,
        &y,
        |a| Tensor::new(shape.to_vec(), randn_tensor(shape, 4000 + a).data.iter().map(|v| 2.0 * v).collect()),
        opts,
    );
}

#[test]
fn softmax_axis1() {
    softmax_case("softmax axis 1 on [2,5]", "Softmax", 13, &[2, 5], Some(1));
}

#[test]
fn log_softmax_axis1() {
    softmax_case("log-softmax axis 1 on [2,5]", "LogSoftmax", 13, &[2, 5], Some(1));
}

#[test]
fn softmax_opset13_axis1_on_4d() {
    // From opset 13 the axis is a real axis: rows over channels at each (h, w).
    softmax_case("opset 13 softmax axis 1 on [1,3,2,2]", "Softmax", 13, &[1, 3, 2, 2], Some(1));
}

#[test]
fn softmax_opset11_axis1_on_4d() {
    // Before opset 13 the input is coerced to 2-D at the axis: one row of 12.
    softmax_case("opset 11 softmax axis 1 on [1,3,2,2]", "Softmax", 11, &[1, 3, 2, 2], Some(1));
}

#[test]
fn log_softmax_opset13_default_axis() {
    softmax_case("opset 13 log-softmax default axis on [2,3,4]", "LogSoftmax", 13, &[2, 3, 4], None);
}

#[test]
fn gemm_softmax_head() {
    let mut net = Net::new(&[1, 6], 13, 40);
    let b = net.randn("B", &[4, 6], 0.7);
    let c = net.randn("C", &[4], 0.3);
    let z = net.node("Gemm", &["x", &b, &c], "fc", vec![attr_i("transB", 1)]);
    let y = net.node("Softmax", &[&z], "prob", vec![attr_i("axis", 1)]);
    let obj = Probe::class(&net, &y, 2);
    check_fd(
        "gemm -> softmax, Objective::Class(2)",
        &net.bytes(&y),
        &obj,
        gauss(&[1, 6]),
        FdOptions { eps: 1e-3, ..smooth() },
    );
}

// ------------------------------------------------------------------ chains and seeds

/// SqueezeNet in miniature: stem conv, fire module (squeeze 1x1, expand 1x1 + 3x3, concat),
/// maxpool with ceil_mode, global average pool, flatten.
fn fire_net() -> Net {
    let mut net = Net::new(&[1, 3, 15, 15], 13, 41);
    net.positive_bias = true;
    let c = net.conv("stem", "x", 3, 4, [3, 3], true, vec![attr_ints("strides", &[2, 2])]);
    let r = net.node("Relu", &[&c], "stem_relu", vec![]);
    let s = net.conv("squeeze", &r, 4, 3, [1, 1], true, vec![]);
    let s = net.node("Relu", &[&s], "squeeze_relu", vec![]);
    let e1 = net.conv("expand1x1", &s, 3, 3, [1, 1], true, vec![]);
    let e1 = net.node("Relu", &[&e1], "expand1x1_relu", vec![]);
    let e3 = net.conv("expand3x3", &s, 3, 3, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let e3 = net.node("Relu", &[&e3], "expand3x3_relu", vec![]);
    let cat = net.node("Concat", &[&e1, &e3], "fire_concat", vec![attr_i("axis", 1)]);
    let p = net.node(
        "MaxPool",
        &[&cat],
        "pool",
        vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_i("ceil_mode", 1)],
    );
    let g = net.node("GlobalAveragePool", &[&p], "gap", vec![]);
    net.node("Flatten", &[&g], "logits", vec![attr_i("axis", 1)]);
    net
}

#[test]
fn fire_module_output_grad() {
    let net = fire_net();
    check_output("fire module, Objective::OutputGrad", &net, "logits", gauss(&[1, 3, 15, 15]), chain());
}

#[test]
fn fire_module_class_seed() {
    let net = fire_net();
    for k in [1, 4] {
        let obj = Probe::class(&net, "logits", k);
        check_fd(
            &format!("fire module, Objective::Class({k})"),
            &net.bytes("logits"),
            &obj,
            gauss(&[1, 3, 15, 15]),
            chain(),
        );
    }
}

#[test]
fn fire_module_weighted_seed() {
    let net = fire_net();
    let obj = Probe::weighted(&net, "logits", &[(0, 0.5), (3, -1.25), (5, 2.0), (0, 0.25)]);
    check_fd("fire module, Objective::Weighted", &net.bytes("logits"), &obj, gauss(&[1, 3, 15, 15]), chain());
}

#[test]
fn fire_module_channel_seeds() {
    let net = fire_net();
    for (value, channel) in [("fire_concat", 4), ("expand1x1_relu", 0), ("stem", 2), ("pool", 5)] {
        let obj = Probe::channel(&net, value, channel);
        check_fd(
            &format!("fire module, Objective::Channel {{ {value}, {channel} }}"),
            &net.bytes("logits"),
            &obj,
            gauss(&[1, 3, 15, 15]),
            chain(),
        );
    }
}

#[test]
fn fire_module_value_grad_seed() {
    let net = fire_net();
    let obj = Probe::value_grad(&net, "squeeze_relu", 8);
    check_fd(
        "fire module, Objective::ValueGrad on squeeze_relu",
        &net.bytes("logits"),
        &obj,
        gauss(&[1, 3, 15, 15]),
        chain(),
    );
}

/// The public model zoo's squeezenet1.1-7 head (MXNet export, opset 7): Dropout, final Conv,
/// Relu, an AveragePool over the whole plane, Reshape to [1, -1].
#[test]
fn model_zoo_head_opset7_avgpool_reshape() {
    let mut net = Net::new(&[1, 3, 9, 9], 7, 42);
    net.positive_bias = true;
    let c = net.conv("features", "x", 3, 6, [3, 3], true, vec![attr_ints("strides", &[2, 2])]);
    let r = net.node("Relu", &[&c], "features_relu", vec![]);
    let d = net.node("Dropout", &[&r], "drop", vec![attr_f("ratio", 0.5)]);
    let f = net.conv("final_conv", &d, 6, 10, [1, 1], true, vec![]);
    let f = net.node("Relu", &[&f], "final_relu", vec![]);
    let p = net.node("AveragePool", &[&f], "pool", vec![attr_ints("kernel_shape", &[4, 4])]);
    let s = net.init_i64("shape", &[2], vec![1, -1]);
    let y = net.node("Reshape", &[&p, &s], "logits", vec![]);
    let x = gauss(&[1, 3, 9, 9]);
    check_output("zoo head opset 7, Objective::OutputGrad", &net, &y, &x, chain());
    let obj = Probe::class(&net, &y, 3);
    check_fd("zoo head opset 7, Objective::Class(3)", &net.bytes(&y), &obj, &x, chain());
}

#[test]
fn model_zoo_head_opset13_gap_reshape() {
    let mut net = Net::new(&[1, 3, 9, 9], 13, 43);
    net.positive_bias = true;
    let c = net.conv("features", "x", 3, 6, [3, 3], true, vec![attr_ints("strides", &[2, 2])]);
    let r = net.node("Relu", &[&c], "features_relu", vec![]);
    let d = net.node("Dropout", &[&r], "drop", vec![]);
    let f = net.conv("final_conv", &d, 6, 10, [1, 1], true, vec![]);
    let f = net.node("Relu", &[&f], "final_relu", vec![]);
    let p = net.node("GlobalAveragePool", &[&f], "pool", vec![]);
    let s = net.init_i64("shape", &[2], vec![1, -1]);
    let y = net.node("Reshape", &[&p, &s], "logits", vec![]);
    let obj = Probe::weighted(&net, &y, &[(1, 1.0), (7, -0.5)]);
    check_fd("zoo head opset 13 GAP, Objective::Weighted", &net.bytes(&y), &obj, gauss(&[1, 3, 9, 9]), chain());
}

/// A ReLU output read by a Concat (which can apply the ReLU's mask) and by a Conv (which does not): the ReLU's
/// own VJP must still run. And one read twice by a Concat only: the Concat masks both contributions.
#[test]
fn relu_read_by_masking_and_other_consumers() {
    let mut net = Net::new(&[1, 3, 8, 8], 13, 45);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let r = net.node("Relu", &[&c], "relu", vec![]);
    let cat = net.node("Concat", &[&r, "x", &r], "cat", vec![attr_i("axis", 1)]);
    let c2 = net.conv("conv2", &r, 4, 2, [3, 3], true, vec![]);
    let g1 = net.node("GlobalAveragePool", &[&cat], "gap1", vec![]);
    let g2 = net.node("GlobalAveragePool", &[&c2], "gap2", vec![]);
    let y = net.node("Concat", &[&g1, &g2], "both", vec![attr_i("axis", 1)]);
    check_output("relu -> concat (masks) and conv (does not)", &net, &y, gauss(&[1, 3, 8, 8]), chain());

    let mut net = Net::new(&[1, 3, 8, 8], 13, 46);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let r = net.node("Relu", &[&c], "relu", vec![]);
    let y = net.node("Concat", &[&r, &r], "cat", vec![attr_i("axis", 2)]);
    check_output("relu read twice by one concat", &net, &y, gauss(&[1, 3, 8, 8]), chain());
}

// ------------------------------------------------------------------ gradients at intermediate values

/// The part of `net` after `from`: a model whose input is the value `from` (same weights).
fn tail_model(net: &Net, from: &str, shape: &[usize], output: &str) -> Vec<u8> {
    use prost::Message;
    let mut m = net.model(output);
    let g = m.graph.as_mut().expect("graph");
    let at = g.node.iter().position(|n| n.output[0] == from).expect("a node makes the value");
    g.node.drain(..=at);
    g.input = vec![value_info(from, Some(shape))];
    m.encode_to_vec()
}

/// The gradient store's gradient at an intermediate value (what Grad-CAM reads) against central differences of
/// tract's forward pass of the network's tail, perturbing that value directly. `fire_concat` is a Concat output
/// the engine rebuilds from its branches; `squeeze_relu` is recorded by tract.
#[test]
fn gradients_at_intermediate_values_match_finite_differences() {
    check_value_gradients(&fire_net(), &[1, 3, 15, 15], &["fire_concat", "squeeze_relu"]);
}

/// ReLU outputs read only by ops that apply the ReLU's mask themselves (MaxPool, GlobalAveragePool), so the
/// reverse pass skips the ReLU's own VJP: a gradient kept at such a value is the one before the mask (where the
/// ReLU output is zero it is still the pool's share, not zero).
#[test]
fn gradients_kept_at_relu_outputs_whose_mask_the_consumers_apply() {
    let mut net = Net::new(&[1, 3, 11, 11], 13, 47);
    net.positive_bias = true;
    let c = net.conv("conv1", "x", 3, 4, [3, 3], true, vec![]);
    let r = net.node("Relu", &[&c], "relu1", vec![]);
    let p = net.node("MaxPool", &[&r], "pool", vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
    let c = net.conv("conv2", &p, 4, 5, [1, 1], true, vec![]);
    let r = net.node("Relu", &[&c], "relu2", vec![]);
    let g = net.node("GlobalAveragePool", &[&r], "gap", vec![]);
    net.node("Flatten", &[&g], "logits", vec![attr_i("axis", 1)]);
    check_value_gradients(&net, &[1, 3, 11, 11], &["relu1", "relu2"]);
}

/// For each value: the gradient the store keeps against central differences of the network's tail from it.
fn check_value_gradients(net: &Net, input_shape: &[usize], values: &[&str]) {
    use netlens::backward::Wanted;
    let engine = Engine::from_onnx_bytes(&net.bytes("logits")).unwrap();
    let x = gauss(input_shape)(0);
    for &value in values {
        let id = engine.value_id(value).unwrap();
        let acts = engine.forward_with(&x, &[value]).unwrap();
        let h = acts.get(value).unwrap_or_else(|| panic!("{value} was not recorded"));
        let h = Tensor::new(h.shape.to_vec(), h.data.to_vec());
        let tail = Engine::from_onnx_bytes(&tail_model(net, value, &h.shape, "logits")).unwrap();
        // The tail computes the same logits from the recorded value.
        let direct = tail.forward_only(&h).unwrap();
        let diff = max_abs_diff(&direct.data, &acts.output().data);
        assert!(diff <= 1e-5, "{value}: the tail's logits differ by {diff}");
        for k in [1, 4] {
            let wanted = Wanted { at: vec![id], input: true, rules: Default::default() };
            let mut store = engine.gradients(&acts, &Objective::Class(k), &wanted).unwrap();
            let ours = store.take(id).expect("the value's gradient was asked for");
            assert_eq!(ours.shape, h.shape);
            let input = store.take(engine.graph().input).expect("the input gradient was asked for");
            assert_eq!(
                input.data,
                engine.backward(&acts, &Objective::Class(k)).unwrap().data,
                "{value}: same input gradient"
            );
            // ReLU outputs hold exact zeros, and a MaxPool window of zeros is a tie that no resampling removes:
            // there the two one-sided differences disagree, and the gradient must equal one of them (the
            // reverse pass routes a tie to the first maximum, as PyTorch does). Elsewhere it must equal both.
            let eps = 1e-3f64;
            let f = |t: &Tensor| tail.forward_only(t).unwrap().data[k] as f64;
            let f0 = f(&h);
            let (mut worst, mut scale, mut kinks) = (0f64, 0f64, 0);
            for i in 0..h.len() {
                let mut plus = h.clone();
                plus.data[i] += eps as f32;
                let mut minus = h.clone();
                minus.data[i] -= eps as f32;
                let (up, down) = ((f(&plus) - f0) / eps, (f0 - f(&minus)) / eps);
                let g = ours.data[i] as f64;
                scale = scale.max(up.abs()).max(down.abs());
                let err = if (up - down).abs() <= 1e-3 {
                    (g - (up + down) / 2.0).abs()
                } else {
                    kinks += 1;
                    (g - up).abs().min((g - down).abs())
                };
                worst = worst.max(err);
            }
            eprintln!(
                "{value}, class {k}: max|fd| {scale:.4}, max|ours − fd| {worst:.2e}, {kinks} of {} elements on a kink",
                h.len()
            );
            assert!(scale > 1e-3, "{value}: the logit barely depends on it; the test would prove nothing");
            assert!(kinks < h.len() / 2, "{value}: {kinks} kinks of {}", h.len());
            assert!(
                worst <= 1e-2 * scale + 1e-4,
                "{value}, class {k}: max|ours − fd| {worst:.3e} vs max|fd| {scale:.3e}"
            );
        }
    }
}

// ------------------------------------------------------------------ activations (issue 11: exported CNNs)

/// One activation on the input, checked where no element lies within 5 FD steps of its kinks.
/// The step is 1e-3: the exponential sides of Elu/Selu curve enough for a 1e-2 step to look like a kink.
fn activation_case(label: &str, op: &str, attrs: Vec<tract_onnx::pb::AttributeProto>, scale: f32, kinks: &[f32]) {
    let shape = [1, 3, 5, 5];
    let mut net = Net::new(&shape, 13, 50);
    let y = net.node(op, &["x"], "act", attrs);
    let opts = if kinks.is_empty() { smooth() } else { FdOptions { eps: 1e-3, ..FdOptions::default() } };
    check_output(label, &net, &y, away(&shape, scale, kinks), opts);
}

#[test]
fn sigmoid_after_conv() {
    let mut net = Net::new(&[1, 3, 6, 6], 13, 51);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let y = net.node("Sigmoid", &[&c], "sigmoid", vec![]);
    check_output("conv -> sigmoid", &net, &y, gauss(&[1, 3, 6, 6]), smooth());
}

#[test]
fn tanh_on_input() {
    activation_case("tanh", "Tanh", vec![], 1.5, &[]);
}

#[test]
fn leaky_relu_default_and_alpha() {
    activation_case("leaky relu default alpha 0.01", "LeakyRelu", vec![], 1.0, &[0.0]);
    activation_case("leaky relu alpha 0.2", "LeakyRelu", vec![attr_f("alpha", 0.2)], 1.0, &[0.0]);
}

#[test]
fn elu_default_and_alpha() {
    activation_case("elu alpha 1", "Elu", vec![], 1.0, &[0.0]);
    activation_case("elu alpha 0.5", "Elu", vec![attr_f("alpha", 0.5)], 1.0, &[0.0]);
}

#[test]
fn selu_default_and_attributes() {
    activation_case("selu", "Selu", vec![], 1.0, &[0.0]);
    activation_case("selu alpha 2 gamma 0.5", "Selu", vec![attr_f("alpha", 2.0), attr_f("gamma", 0.5)], 1.0, &[0.0]);
}

#[test]
fn hard_sigmoid_default_and_pytorch_attributes() {
    // Defaults α 0.2, β 0.5: flat outside [−2.5, 2.5]; PyTorch exports α 1/6 (flat outside [−3, 3]).
    activation_case("hard sigmoid default", "HardSigmoid", vec![], 2.5, &[-2.5, 2.5]);
    activation_case(
        "hard sigmoid alpha 1/6",
        "HardSigmoid",
        vec![attr_f("alpha", 1.0 / 6.0), attr_f("beta", 0.5)],
        3.0,
        &[-3.0, 3.0],
    );
}

#[test]
fn hard_swish() {
    activation_case("hard swish", "HardSwish", vec![], 3.0, &[-3.0, 3.0]);
}

#[test]
fn neg() {
    activation_case("neg", "Neg", vec![], 1.0, &[]);
}

#[test]
fn sqrt_of_positive_values() {
    let shape = [1, 3, 4, 4];
    let mut net = Net::new(&shape, 13, 52);
    let y = net.node("Sqrt", &["x"], "sqrt", vec![]);
    let positive = move |a| {
        let t = randn_tensor(&shape, 1100 + a);
        Tensor::new(t.shape, t.data.iter().map(|v| v.abs() + 0.5).collect())
    };
    check_output("sqrt", &net, &y, positive, smooth());
}

#[test]
fn prelu_per_channel_and_scalar_slope() {
    for (label, dims) in [("prelu slope [3,1,1]", vec![3, 1, 1]), ("prelu scalar slope [1]", vec![1])] {
        let shape = [1, 3, 5, 5];
        let mut net = Net::new(&shape, 13, 53);
        let n: usize = dims.iter().product();
        let s = net.init("slope", &dims, (0..n).map(|i| 0.1 + 0.3 * i as f32).collect());
        let y = net.node("PRelu", &["x", &s], "prelu", vec![]);
        check_output(label, &net, &y, away(&shape, 1.0, &[0.0]), FdOptions::default());
    }
}

// ------------------------------------------------------------------ arithmetic with broadcasting

#[test]
fn silu_mul_of_two_activations() {
    // SiLU as PyTorch exports it: x · sigmoid(x), both factors depending on the input.
    let mut net = Net::new(&[1, 3, 6, 6], 13, 54);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let s = net.node("Sigmoid", &[&c], "sig", vec![]);
    let y = net.node("Mul", &[&c, &s], "silu", vec![]);
    check_output("conv -> silu (Sigmoid + Mul)", &net, &y, gauss(&[1, 3, 6, 6]), smooth());
}

#[test]
fn mul_broadcast_constant_either_side() {
    let shape = [1, 3, 5, 5];
    let mut net = Net::new(&shape, 13, 55);
    let a = net.randn("a", &[3, 1, 1], 1.0);
    let b = net.randn("b", &[1, 1, 5], 1.0);
    let m = net.node("Mul", &["x", &a], "m1", vec![]);
    let y = net.node("Mul", &[&b, &m], "m2", vec![]);
    check_output("mul by [3,1,1] then [1,1,5] first", &net, &y, gauss(&shape), smooth());
}

#[test]
fn mul_broadcast_two_activations() {
    // [1,3,5,5] · [1,1,5,5], both from the input: the second operand's gradient sums over channels.
    let shape = [1, 3, 5, 5];
    let mut net = Net::new(&shape, 13, 56);
    let gate = net.conv("gate", "x", 3, 1, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let y = net.node("Mul", &["x", &gate], "gated", vec![]);
    check_output("mul [1,3,5,5] by activation [1,1,5,5]", &net, &y, gauss(&shape), smooth());
}

#[test]
fn sub_broadcast_both_sides() {
    // x − mean over channels (both operands depend on the input), then a constant minus that.
    let shape = [1, 3, 4, 5];
    let mut net = Net::new(&shape, 13, 57);
    let m = net.node("ReduceMean", &["x"], "mean", vec![attr_ints("axes", &[1])]);
    let d = net.node("Sub", &["x", &m], "centred", vec![]);
    let k = net.randn("k", &[5], 1.0);
    let y = net.node("Sub", &[&k, &d], "flipped", vec![]);
    check_output("k − (x − mean_c x)", &net, &y, gauss(&shape), smooth());
}

#[test]
fn div_by_activation_and_by_constant() {
    // conv(x) / (Σ_c x² + 1): numerator [1,4,5,5], denominator [1,1,5,5], both from the input.
    let shape = [1, 3, 5, 5];
    let mut net = Net::new(&shape, 13, 58);
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let sq = net.node("Mul", &["x", "x"], "sq", vec![]);
    let axes = net.init_i64("axes", &[1], vec![1]);
    let s = net.node("ReduceSum", &[&sq, &axes], "sumsq", vec![]);
    let one = net.init("one", &[1], vec![1.0]);
    let den = net.node("Add", &[&s, &one], "den", vec![]);
    let q = net.node("Div", &[&c, &den], "q", vec![]);
    let k = net.uniform("k", &[4, 1, 1], 0.5, 2.0);
    let y = net.node("Div", &[&q, &k], "scaled", vec![]);
    check_output("conv / (sum_c x² + 1) / k", &net, &y, gauss(&shape), smooth());
}

#[test]
fn pow_constant_exponents() {
    let shape = [1, 3, 4, 4];
    for (label, dims, p) in [
        ("pow 2", vec![], vec![2.0]),
        ("pow 3", vec![1], vec![3.0]),
        ("pow per channel [2, 3, 1]", vec![3, 1, 1], vec![2.0, 3.0, 1.0]),
    ] {
        let mut net = Net::new(&shape, 13, 59);
        let e = net.init("p", &dims, p);
        let y = net.node("Pow", &["x", &e], "pow", vec![]);
        check_output(label, &net, &y, gauss(&shape), smooth());
    }
    let mut net = Net::new(&shape, 13, 60);
    let e = net.init("p", &[], vec![0.5]);
    let y = net.node("Pow", &["x", &e], "pow", vec![]);
    let positive = move |a| {
        let t = randn_tensor(&shape, 1200 + a);
        Tensor::new(t.shape, t.data.iter().map(|v| v.abs() + 0.5).collect())
    };
    check_output("pow 0.5", &net, &y, positive, smooth());
}

#[test]
fn batchnorm_and_instance_norm_as_primitives() {
    // (x − mean) / Sqrt(var + eps) · γ + β with constant statistics: Sqrt(var + eps) is folded to a constant.
    let shape = [1, 3, 4, 4];
    let mut net = Net::new(&shape, 13, 61);
    let mean = net.randn("mean", &[3, 1, 1], 0.5);
    let var = net.uniform("var", &[3, 1, 1], 0.5, 2.0);
    let eps = net.init("eps", &[], vec![1e-5]);
    let gamma = net.randn("gamma", &[3, 1, 1], 1.0);
    let beta = net.randn("beta", &[3, 1, 1], 1.0);
    let ve = net.node("Add", &[&var, &eps], "var_eps", vec![]);
    let sd = net.node("Sqrt", &[&ve], "sd", vec![]);
    let d = net.node("Sub", &["x", &mean], "bn_centred", vec![]);
    let n = net.node("Div", &[&d, &sd], "bn_normed", vec![]);
    let g = net.node("Mul", &[&n, &gamma], "bn_scaled", vec![]);
    let bn = net.node("Add", &[&g, &beta], "bn", vec![]);
    // Instance norm on top: every statistic depends on the input (ReduceMean, Pow, Sqrt, Div).
    let m = net.node("ReduceMean", &[&bn], "in_mean", vec![attr_ints("axes", &[2, 3])]);
    let c = net.node("Sub", &[&bn, &m], "in_centred", vec![]);
    let two = net.init("two", &[], vec![2.0]);
    let sq = net.node("Pow", &[&c, &two], "in_sq", vec![]);
    let v = net.node("ReduceMean", &[&sq], "in_var", vec![attr_ints("axes", &[2, 3])]);
    let ve = net.node("Add", &[&v, &eps], "in_var_eps", vec![]);
    let sd = net.node("Sqrt", &[&ve], "in_sd", vec![]);
    let y = net.node("Div", &[&c, &sd], "in", vec![]);
    let engine = Engine::from_onnx_bytes(&net.bytes(&y)).unwrap();
    let sd_id = engine.value_id("sd").unwrap();
    assert!(engine.graph().consts[sd_id].is_some(), "Sqrt(var + eps) is folded to a constant");
    check_output(
        "batchnorm + instance norm as primitives",
        &net,
        &y,
        gauss(&shape),
        FdOptions { eps: 1e-3, ..smooth() },
    );
}

// ------------------------------------------------------------------ reductions

#[test]
fn reduce_mean_axes_attribute_keepdims_0() {
    let shape = [1, 3, 4, 5];
    let mut net = Net::new(&shape, 13, 62);
    let y = net.node("ReduceMean", &["x"], "mean", vec![attr_ints("axes", &[1, -1]), attr_i("keepdims", 0)]);
    check_output("reduce mean axes [1,-1] keepdims 0", &net, &y, gauss(&shape), smooth());
}

#[test]
fn reduce_sum_axes_input_and_all_axes() {
    let shape = [1, 3, 4, 5];
    let mut net = Net::new(&shape, 13, 63);
    let axes = net.init_i64("axes", &[2], vec![2, 3]);
    let s = net.node("ReduceSum", &["x", &axes], "sum_hw", vec![]);
    check_output("reduce sum axes input [2,3] keepdims 1", &net, &s, gauss(&shape), smooth());
    let mut net = Net::new(&shape, 13, 64);
    let y = net.node("ReduceSum", &["x"], "sum_all", vec![attr_i("keepdims", 0)]);
    check_output("reduce sum of everything", &net, &y, gauss(&shape), smooth());
}

#[test]
fn reduce_mean_opset18_axes_input() {
    let shape = [1, 3, 4, 5];
    let mut net = Net::new(&shape, 18, 65);
    let axes = net.init_i64("axes", &[1], vec![-2]);
    let y = net.node("ReduceMean", &["x", &axes], "mean_h", vec![]);
    check_output("opset 18 reduce mean axes input [-2]", &net, &y, gauss(&shape), smooth());
}

// ------------------------------------------------------------------ LRN

#[test]
fn lrn_odd_and_even_sizes() {
    let shape = [1, 5, 3, 3];
    for (label, attrs) in [
        ("lrn size 3 alpha 0.5", vec![attr_i("size", 3), attr_f("alpha", 0.5), attr_f("beta", 0.75)]),
        (
            "lrn size 4 alpha 1 beta 0.5 bias 2",
            vec![attr_i("size", 4), attr_f("alpha", 1.0), attr_f("beta", 0.5), attr_f("bias", 2.0)],
        ),
        ("lrn size 5 defaults", vec![attr_i("size", 5)]),
    ] {
        let mut net = Net::new(&shape, 13, 66);
        let y = net.node("LRN", &["x"], "lrn", attrs);
        check_output(label, &net, &y, gauss(&shape), smooth());
    }
}

// ------------------------------------------------------------------ moving values

#[test]
fn transpose_perm_and_default() {
    let shape = [1, 2, 3, 4];
    let mut net = Net::new(&shape, 13, 67);
    let t = net.node("Transpose", &["x"], "nhwc", vec![attr_ints("perm", &[0, 2, 3, 1])]);
    let k = net.randn("k", &[4, 2], 1.0);
    let y = net.node("Mul", &[&t, &k], "weighted", vec![]);
    check_output("transpose [0,2,3,1] then mul", &net, &y, gauss(&shape), smooth());
    let mut net = Net::new(&shape, 13, 68);
    let y = net.node("Transpose", &["x"], "reversed", vec![]);
    check_output("transpose default (reversed axes)", &net, &y, gauss(&shape), smooth());
}

#[test]
fn slice_opset13_inputs_negative_steps_and_clamping() {
    let shape = [1, 4, 6, 7];
    let mut net = Net::new(&shape, 13, 69);
    // Channels 1..3, rows from the end backwards in steps of 2, columns from 2 to "infinity".
    let starts = net.init_i64("starts", &[3], vec![1, -1, 2]);
    let ends = net.init_i64("ends", &[3], vec![3, i64::MIN, i64::MAX]);
    let axes = net.init_i64("axes", &[3], vec![1, 2, -1]);
    let steps = net.init_i64("steps", &[3], vec![1, -2, 1]);
    let y = net.node("Slice", &["x", &starts, &ends, &axes, &steps], "sliced", vec![]);
    check_output("slice with axes, negative step, clamped ends", &net, &y, gauss(&shape), smooth());
    let mut net = Net::new(&shape, 13, 70);
    let starts = net.init_i64("starts", &[2], vec![0, 1]);
    let ends = net.init_i64("ends", &[2], vec![1, 4]);
    let y = net.node("Slice", &["x", &starts, &ends], "sliced2", vec![]);
    check_output("slice without axes or steps", &net, &y, gauss(&shape), smooth());
}

#[test]
fn slice_opset9_attributes() {
    let shape = [1, 4, 6, 7];
    let mut net = Net::new(&shape, 9, 71);
    let y = net.node(
        "Slice",
        &["x"],
        "sliced",
        vec![attr_ints("starts", &[1, -3]), attr_ints("ends", &[100, -1]), attr_ints("axes", &[2, 3])],
    );
    check_output("opset 9 slice attributes", &net, &y, gauss(&shape), smooth());
}

/// Both outputs of a Split feed the result, so the input gradient is the sum of their two scattered parts.
#[test]
fn split_opset13_sizes_input_and_equal_parts() {
    let shape = [1, 4, 3, 3];
    let mut net = Net::new(&shape, 13, 72);
    let sizes = net.init_i64("sizes", &[2], vec![1, 3]);
    net.node_multi("Split", &["x", &sizes], &["head", "tail"], vec![attr_i("axis", 1)]);
    let y = net.node("Mul", &["head", "tail"], "mixed", vec![]);
    check_output("split [1,3] on channels, head · tail", &net, &y, gauss(&shape), smooth());

    // Equal parts: 4 columns in two, 3 rows in three; every output used.
    let mut net = Net::new(&[1, 4, 3, 4], 13, 74);
    net.node_multi("Split", &["x"], &["left", "right"], vec![attr_i("axis", -1)]);
    net.node_multi("Split", &["x"], &["top", "mid", "bottom"], vec![attr_i("axis", 2)]);
    net.node("Sub", &["bottom", "top"], "rows", vec![]);
    let w = net.randn("w", &[1, 4, 1, 4], 1.0);
    net.node("Mul", &["mid", &w], "mid_w", vec![]);
    net.node("Add", &["rows", "mid_w"], "acc", vec![]);
    let l = net.node("Mul", &["left", "right"], "lr", vec![]);
    let fa = net.node("Flatten", &["acc"], "acc_flat", vec![]);
    let fl = net.node("Flatten", &[&l], "lr_flat", vec![]);
    let y = net.node("Concat", &[&fa, &fl], "cat", vec![attr_i("axis", 1)]);
    check_output("equal splits on two axes, every output used", &net, &y, gauss(&[1, 4, 3, 4]), smooth());
}

#[test]
fn split_opset11_attribute() {
    let shape = [1, 5, 2, 2];
    let mut net = Net::new(&shape, 11, 75);
    net.node_multi("Split", &["x"], &["a", "b", "c"], vec![attr_i("axis", 1), attr_ints("split", &[2, 1, 2])]);
    let k = net.randn("k", &[1, 2, 2, 2], 1.0);
    let ak = net.node("Mul", &["a", &k], "ak", vec![]);
    let ck = net.node("Sub", &[&ak, "c"], "ack", vec![]);
    let y = net.node("Mul", &[&ck, "b"], "out", vec![]);
    check_output("opset 11 split attribute [2,1,2]", &net, &y, gauss(&shape), smooth());
}

#[test]
fn gather_constant_indices() {
    let shape = [1, 4, 3, 5];
    let mut net = Net::new(&shape, 13, 76);
    let idx = net.init_i64("idx", &[4], vec![2, 0, -1, 0]);
    let y = net.node("Gather", &["x", &idx], "picked", vec![attr_i("axis", 1)]);
    check_output("gather channels [2,0,-1,0] (repeats)", &net, &y, gauss(&shape), smooth());
    let mut net = Net::new(&shape, 13, 77);
    let idx = net.init_i64("idx", &[2, 2], vec![4, 1, 1, 3]);
    let y = net.node("Gather", &["x", &idx], "picked2", vec![attr_i("axis", -1)]);
    check_output("gather 2-D indices on the last axis", &net, &y, gauss(&shape), smooth());
    let mut net = Net::new(&[2, 3, 4], 13, 78);
    let idx = net.init_i64("idx", &[], vec![1]);
    let y = net.node("Gather", &["x", &idx], "row", vec![]);
    check_output("gather a scalar index (rank drops)", &net, &y, gauss(&[2, 3, 4]), smooth());
}

#[test]
fn expand_constant_shape() {
    let shape = [1, 3, 1, 5];
    let mut net = Net::new(&shape, 13, 79);
    let s = net.init_i64("shape", &[4], vec![1, 3, 4, 5]);
    let y = net.node("Expand", &["x", &s], "expanded", vec![]);
    check_output("expand [1,3,1,5] -> [1,3,4,5]", &net, &y, gauss(&shape), smooth());
}

fn pad_case(label: &str, opset: i64, mode: &str, pads: &[i64], value: Option<f32>) {
    let shape = [1, 2, 4, 5];
    let mut net = Net::new(&shape, opset, 80);
    let mut attrs = vec![attr_s("mode", mode)];
    let y = if opset < 11 {
        attrs.push(attr_ints("pads", pads));
        if let Some(v) = value {
            attrs.push(attr_f("value", v));
        }
        net.node("Pad", &["x"], "padded", attrs)
    } else {
        let p = net.init_i64("pads", &[pads.len()], pads.to_vec());
        let mut inputs = vec!["x".to_string(), p];
        if let Some(v) = value {
            inputs.push(net.init("value", &[], vec![v]));
        }
        let refs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
        net.node("Pad", &refs, "padded", attrs)
    };
    // A Conv after the pad, so that padded borders reach several outputs.
    let c = net.conv("conv", &y, 2, 3, [3, 3], true, vec![]);
    check_output(label, &net, &c, gauss(&shape), smooth());
}

#[test]
fn pad_constant_reflect_edge() {
    pad_case("pad constant 0.7, opset 13 pads input", 13, "constant", &[0, 0, 1, 2, 0, 0, 2, 1], Some(0.7));
    pad_case("pad reflect, opset 13", 13, "reflect", &[0, 0, 2, 3, 0, 0, 3, 2], None);
    pad_case("pad edge, opset 13", 13, "edge", &[0, 0, 2, 1, 0, 0, 1, 3], None);
}

#[test]
fn pad_opset2_attribute() {
    pad_case("opset 2 pad reflect attribute", 2, "reflect", &[0, 0, 1, 1, 0, 0, 1, 1], None);
    pad_case("opset 2 pad constant attribute", 2, "constant", &[0, 0, 2, 0, 0, 0, 0, 2], Some(-0.3));
}

// ------------------------------------------------------------------ shape computations tract folds

/// PyTorch's `x.view(x.size(0), -1)` export: Shape → Gather → Unsqueeze → Concat → Reshape, plus a
/// ConstantOfShape and a Constant with a float attribute. None of these needs a VJP: tract folds them.
#[test]
fn shape_computations_are_constants() {
    let shape = [1, 3, 5, 5];
    let mut net = Net::new(&shape, 13, 81);
    net.positive_bias = true;
    let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![]);
    let r = net.node("Relu", &[&c], "relu", vec![]);
    let s = net.node("Shape", &[&r], "shape", vec![]);
    let zero = net.init_i64("zero", &[], vec![0]);
    let n = net.node("Gather", &[&s, &zero], "batch", vec![attr_i("axis", 0)]);
    let ax = net.init_i64("ax0", &[1], vec![0]);
    let u = net.node("Unsqueeze", &[&n, &ax], "batch1", vec![]);
    let minus = net.init_i64("minus_one", &[1], vec![-1]);
    let cat = net.node("Concat", &[&u, &minus], "new_shape", vec![attr_i("axis", 0)]);
    let f = net.node("Reshape", &[&r, &cat], "flat", vec![]);
    let fs = net.node("Shape", &[&f], "flat_shape", vec![]);
    let ones = net.node("ConstantOfShape", &[&fs], "ones", vec![attr_tensor("value", &[1], vec![0.5])]);
    let half = net.node("Constant", &[], "half", vec![attr_f("value_float", 0.25)]);
    let a = net.node("Add", &[&f, &ones], "shifted", vec![]);
    let y = net.node("Mul", &[&a, &half], "scaled", vec![]);
    let engine = Engine::from_onnx_bytes(&net.bytes(&y)).unwrap_or_else(|e| panic!("shape computations: {e}"));
    let ops: Vec<&str> = engine.graph().nodes.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(ops, ["Conv", "Relu", "Reshape", "Add", "Mul"], "shape computations left in the graph");
    check_output("view(n, -1) via Shape/Gather/Unsqueeze/Concat", &net, &y, gauss(&shape), chain());
}

// ------------------------------------------------------------------ ConvTranspose, Cast

fn conv_transpose_case(label: &str, shape: &[usize], cout: usize, group: usize, mut attrs: Vec<AttributeProto>) {
    let mut net = Net::new(shape, 13, 83);
    let w = net.randn("w", &[shape[1], cout / group, 3, 3], 0.4);
    let b = net.randn("b", &[cout], 0.3);
    attrs.push(attr_ints("kernel_shape", &[3, 3]));
    attrs.push(attr_i("group", group as i64));
    let y = net.node("ConvTranspose", &["x", &w, &b], "up", attrs);
    check_output(label, &net, &y, gauss(shape), smooth());
}

#[test]
fn conv_transpose_variants() {
    conv_transpose_case("conv transpose 3x3, no pads", &[1, 2, 4, 4], 3, 1, vec![]);
    conv_transpose_case(
        "conv transpose stride 2, pads 1, output_padding 1",
        &[1, 2, 4, 5],
        3,
        1,
        vec![attr_ints("strides", &[2, 2]), attr_ints("pads", &[1, 1, 1, 1]), attr_ints("output_padding", &[1, 1])],
    );
    conv_transpose_case(
        "conv transpose strides 2x1, dilations 1x2, pads [1,0,0,2]",
        &[1, 2, 4, 4],
        3,
        1,
        vec![attr_ints("strides", &[2, 1]), attr_ints("dilations", &[1, 2]), attr_ints("pads", &[1, 0, 0, 2])],
    );
    conv_transpose_case("conv transpose group 2", &[1, 4, 4, 4], 6, 2, vec![attr_ints("strides", &[2, 2])]);
    conv_transpose_case(
        "conv transpose SAME_UPPER stride 2",
        &[1, 2, 3, 4],
        3,
        1,
        vec![attr_s("auto_pad", "SAME_UPPER"), attr_ints("strides", &[2, 2])],
    );
    conv_transpose_case(
        "conv transpose SAME_LOWER stride 2",
        &[1, 2, 3, 4],
        3,
        1,
        vec![attr_s("auto_pad", "SAME_LOWER"), attr_ints("strides", &[2, 2])],
    );
    conv_transpose_case(
        "conv transpose output_shape 9x10 stride 2 pads 1",
        &[1, 2, 4, 4],
        3,
        1,
        vec![attr_ints("output_shape", &[9, 10]), attr_ints("strides", &[2, 2]), attr_ints("pads", &[1, 1, 1, 1])],
    );
}

#[test]
fn cast_to_float_is_identity() {
    let shape = [1, 3, 4, 4];
    let mut net = Net::new(&shape, 13, 84);
    let c = net.node("Cast", &["x"], "same", vec![attr_i("to", 1)]);
    let k = net.randn("k", &[3, 1, 1], 1.0);
    let y = net.node("Mul", &[&c, &k], "scaled", vec![]);
    check_output("cast to float then mul", &net, &y, gauss(&shape), smooth());
}

// ------------------------------------------------------------------ Resize

/// Resize of a [1,2,4,5] input by `scales` (float) or `sizes` (int64), then a Conv so outputs mix.
fn resize_case(label: &str, opset: i64, scales: Option<&[f32]>, sizes: Option<&[i64]>, attrs: Vec<AttributeProto>) {
    let shape = [1, 2, 4, 5];
    let mut net = Net::new(&shape, opset, 85);
    let mut inputs = vec!["x".to_string()];
    if opset == 10 {
        inputs.push(net.init("scales", &[4], scales.expect("opset 10 takes scales").to_vec()));
    } else {
        inputs.push(String::new());
        match (scales, sizes) {
            (Some(s), _) => inputs.push(net.init("scales", &[s.len()], s.to_vec())),
            (None, Some(s)) => {
                inputs.push(String::new());
                inputs.push(net.init_i64("sizes", &[s.len()], s.to_vec()));
            }
            _ => unreachable!(),
        }
    }
    let refs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
    let y = net.node("Resize", &refs, "resized", attrs);
    let c = net.conv("conv", &y, 2, 3, [3, 3], true, vec![]);
    check_output(label, &net, &c, gauss(&shape), smooth());
}

#[test]
fn resize_nearest_variants() {
    // PyTorch's F.interpolate(scale_factor=2, mode="nearest") export.
    resize_case(
        "resize nearest ×2, asymmetric, floor",
        13,
        Some(&[1.0, 1.0, 2.0, 2.0]),
        None,
        vec![attr_s("coordinate_transformation_mode", "asymmetric"), attr_s("nearest_mode", "floor")],
    );
    resize_case("resize nearest to 7×8, defaults", 13, None, Some(&[1, 2, 7, 8]), vec![]);
    resize_case(
        "resize nearest to 3×3, round_prefer_ceil",
        13,
        None,
        Some(&[1, 2, 3, 3]),
        vec![attr_s("nearest_mode", "round_prefer_ceil")],
    );
    resize_case(
        "resize nearest ×1.5, ceil",
        13,
        Some(&[1.0, 1.0, 1.5, 1.5]),
        None,
        vec![attr_s("nearest_mode", "ceil")],
    );
    resize_case("opset 10 resize nearest ×2", 10, Some(&[1.0, 1.0, 2.0, 2.0]), None, vec![]);
}

#[test]
fn resize_linear_and_cubic() {
    resize_case(
        "resize linear ×2, pytorch_half_pixel (bilinear, align_corners=False)",
        13,
        Some(&[1.0, 1.0, 2.0, 2.0]),
        None,
        vec![attr_s("mode", "linear"), attr_s("coordinate_transformation_mode", "pytorch_half_pixel")],
    );
    resize_case(
        "resize linear to 6×9, align_corners",
        13,
        None,
        Some(&[1, 2, 6, 9]),
        vec![attr_s("mode", "linear"), attr_s("coordinate_transformation_mode", "align_corners")],
    );
    resize_case("resize linear down to 3×4, half_pixel", 13, None, Some(&[1, 2, 3, 4]), vec![attr_s("mode", "linear")]);
    resize_case("resize cubic ×2, half_pixel", 13, Some(&[1.0, 1.0, 2.0, 2.0]), None, vec![attr_s("mode", "cubic")]);
    resize_case(
        "resize cubic to 6×7, exclude_outside, a = -0.5",
        13,
        None,
        Some(&[1, 2, 6, 7]),
        vec![attr_s("mode", "cubic"), attr_i("exclude_outside", 1), attr_f("cubic_coeff_a", -0.5)],
    );
}

#[test]
fn resize_opset18_axes_and_antialias() {
    let shape = [1, 2, 6, 7];
    let mut net = Net::new(&shape, 18, 86);
    let scales = net.init("scales", &[2], vec![0.5, 0.6]);
    let y = net.node(
        "Resize",
        &["x", "", &scales],
        "resized",
        vec![attr_s("mode", "linear"), attr_i("antialias", 1), attr_ints("axes", &[2, 3])],
    );
    check_output("opset 18 resize linear antialias, axes [2,3], ×0.5×0.6", &net, &y, gauss(&shape), smooth());
}

// ------------------------------------------------------------------ ConvNeXt-style: LayerNorm, Linear on NHWC, GELU

#[test]
fn erf_on_input() {
    activation_case("erf", "Erf", vec![], 1.0, &[]);
}

#[test]
fn matmul_nd_times_2d() {
    // A Linear layer on an N-D activation: [1,3,4,5] · [5,6] (the leading axes are rows), both operands' gradients.
    let shape = [1, 3, 4, 5];
    let mut net = Net::new(&shape, 13, 87);
    let w = net.randn("w", &[5, 6], 0.5);
    let y = net.node("MatMul", &["x", &w], "linear", vec![]);
    check_output("matmul [1,3,4,5] x [5,6]", &net, &y, gauss(&shape), smooth());
    let mut net = Net::new(&[2, 5], 13, 88);
    let t = net.node("Transpose", &["x"], "xt", vec![]);
    let y = net.node("MatMul", &["x", &t], "gram", vec![]);
    check_output("matmul x · xᵀ (both operands from the input)", &net, &y, gauss(&[2, 5]), smooth());
}

/// A ConvNeXt block as PyTorch exports it: depthwise Conv, permute to NHWC, LayerNorm as primitives, Linear (MatMul
/// + Add), GELU as x · (1 + erf(x/√2)) / 2, Linear, permute back, residual Add.
#[test]
fn convnext_block() {
    let shape = [1, 4, 5, 5];
    let mut net = Net::new(&shape, 13, 89);
    let d = net.conv("dw", "x", 4, 4, [3, 3], true, vec![attr_i("group", 4), attr_ints("pads", &[1, 1, 1, 1])]);
    let p = net.node("Transpose", &[&d], "nhwc", vec![attr_ints("perm", &[0, 2, 3, 1])]);
    let m = net.node("ReduceMean", &[&p], "ln_mean", vec![attr_ints("axes", &[-1])]);
    let c = net.node("Sub", &[&p, &m], "ln_centred", vec![]);
    let two = net.init("two", &[], vec![2.0]);
    let sq = net.node("Pow", &[&c, &two], "ln_sq", vec![]);
    let v = net.node("ReduceMean", &[&sq], "ln_var", vec![attr_ints("axes", &[-1])]);
    let eps = net.init("eps", &[], vec![1e-6]);
    let ve = net.node("Add", &[&v, &eps], "ln_var_eps", vec![]);
    let sd = net.node("Sqrt", &[&ve], "ln_sd", vec![]);
    let n = net.node("Div", &[&c, &sd], "ln_norm", vec![]);
    let g = net.randn("ln_g", &[4], 1.0);
    let n = net.node("Mul", &[&n, &g], "ln_scaled", vec![]);
    let w1 = net.randn("w1", &[4, 8], 0.5);
    let b1 = net.randn("b1", &[8], 0.3);
    let h = net.node("MatMul", &[&n, &w1], "fc1", vec![]);
    let h = net.node("Add", &[&h, &b1], "fc1_bias", vec![]);
    let r2 = net.init("sqrt2", &[], vec![std::f32::consts::SQRT_2]);
    let one = net.init("one", &[], vec![1.0]);
    let half = net.init("half", &[], vec![0.5]);
    let z = net.node("Div", &[&h, &r2], "gelu_scaled", vec![]);
    let e = net.node("Erf", &[&z], "gelu_erf", vec![]);
    let e = net.node("Add", &[&e, &one], "gelu_1p", vec![]);
    let gl = net.node("Mul", &[&h, &e], "gelu_mul", vec![]);
    let gl = net.node("Mul", &[&gl, &half], "gelu", vec![]);
    let w2 = net.randn("w2", &[8, 4], 0.5);
    let o = net.node("MatMul", &[&gl, &w2], "fc2", vec![]);
    let o = net.node("Transpose", &[&o], "nchw", vec![attr_ints("perm", &[0, 3, 1, 2])]);
    let y = net.node("Add", &["x", &o], "block", vec![]);
    check_output("ConvNeXt block", &net, &y, gauss(&shape), FdOptions { eps: 1e-3, ..smooth() });
}

/// `forward_until` stops at a layer: the layer's values and every gradient seeded there are those of the full
/// recording forward pass, and the graph output is not there.
#[test]
fn a_forward_pass_that_stops_at_a_layer_gives_the_same_gradients() {
    use netlens::backward::Wanted;
    let net = fire_net();
    let engine = Engine::from_onnx_bytes(&net.bytes("logits")).unwrap();
    let x = gauss(&[1, 3, 15, 15])(0);
    for value in ["fire_concat", "squeeze_relu", "stem_relu"] {
        let full = engine.forward_with(&x, &[value]).unwrap();
        let until = engine.forward_until(&x, value).unwrap();
        assert_eq!(until.get(value).unwrap().data, full.get(value).unwrap().data, "{value}: its values");
        assert!(until.get("logits").is_none(), "{value}: a truncated pass has no graph output");
        let shape = full.get(value).unwrap().shape.to_vec();
        let grad = randn_tensor(&shape, 3);
        let objective = Objective::ValueGrad { value: value.into(), grad };
        let a = engine.gradients(&full, &objective, &Wanted::input()).unwrap().take(engine.graph().input).unwrap();
        let b = engine.gradients(&until, &objective, &Wanted::input()).unwrap().take(engine.graph().input).unwrap();
        assert_eq!(a.data, b.data, "{value}: the input gradient");
    }
}

/// `forward_to` (a layer's values and nothing else, for the CAMs without gradients) gives the values the full
/// recording pass has there — a Concat it rebuilds, a ReLU, the first layer — and the graph output when asked
/// for it.
#[test]
fn a_forward_pass_to_a_layer_gives_its_values() {
    let net = fire_net();
    let engine = Engine::from_onnx_bytes(&net.bytes("logits")).unwrap();
    let x = gauss(&[1, 3, 15, 15])(0);
    for value in ["fire_concat", "squeeze_relu", "stem_relu", "logits"] {
        let full = engine.forward_with(&x, &[value]).unwrap();
        let to = engine.forward_to(&x, value).unwrap();
        assert_eq!(to.get(value).unwrap().data, full.get(value).unwrap().data, "{value}: its values");
    }
    assert!(engine.forward_to(&x, "squeeze_relu").unwrap().get("logits").is_none(), "it stops at the layer");
}

/// A product's operand is recorded only for the other operand's gradient: x·W with W a weight keeps nothing of x
/// (the weights' gradient is never asked for), x·xᵀ keeps both operands. The gradients through both are checked
/// by finite differences above (`matmul_nd_times_2d`).
#[test]
fn a_product_records_an_operand_only_for_the_other_ones_gradient() {
    let mut net = Net::new(&[2, 5], 13, 90);
    let b = net.randn("b", &[5], 0.5);
    let h = net.node("Add", &["x", &b], "h", vec![]);
    let w = net.randn("w", &[5, 3], 0.5);
    let linear = net.node("MatMul", &[&h, &w], "linear", vec![]);
    let t = net.node("Transpose", &[&linear], "linear_t", vec![]);
    let gram = net.node("MatMul", &[&linear, &t], "gram", vec![]);
    let engine = Engine::from_onnx_bytes(&net.bytes(&gram)).unwrap();
    let acts = engine.forward(&gauss(&[2, 5])(0)).unwrap();
    assert!(acts.get("h").is_none(), "x·W's x is not kept");
    assert!(acts.get("linear").is_some() && acts.get("linear_t").is_some(), "x·xᵀ keeps both operands");
}
