//! The forward MaxPool netlens swaps into tract's plan (src/forward/maxpool.rs) against tract's own MaxPool on the
//! same ONNX graph: stride 1, 2 and 3, padding, dilation, ceil mode, odd sizes, and ties (many equal values).

mod common;

use common::*;
use netlens::engine::Engine;
use netlens::Tensor;
use tract_onnx::pb::AttributeProto;
use tract_onnx::prelude::*;

fn check(label: &str, shape: &[usize], attrs: Vec<AttributeProto>, ties: bool) {
    let mut net = Net::new(shape, 13, 5);
    let y = net.node("MaxPool", &["x"], "pool", attrs);
    let bytes = net.bytes(&y);
    let n: usize = shape.iter().product();
    // A fixed pseudo-random input; with `ties`, values from a set of 3 (as after a ReLU: many equal maxima).
    let data: Vec<f32> = (0..n)
        .map(|i| {
            let v = ((i as u64).wrapping_mul(2654435761) % 1000) as f32 / 100.0 - 5.0;
            if ties {
                (v / 3.0).round().max(0.0)
            } else {
                v
            }
        })
        .collect();
    let ours =
        Engine::from_onnx_bytes(&bytes).unwrap().forward_only(&Tensor::new(shape.to_vec(), data.clone())).unwrap();

    let model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).unwrap().into_optimized().unwrap();
    let plan = model.into_runnable().unwrap();
    let x = tract_onnx::prelude::Tensor::from_shape(shape, &data).unwrap();
    let theirs = plan.run(tvec!(x.into())).unwrap().remove(0);
    let theirs = theirs.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
    assert_eq!(ours.shape, theirs_shape(&plan), "{label}: shape");
    assert_eq!(ours.data, theirs, "{label}: values");
}

fn theirs_shape(plan: &TypedRunnableModel) -> Vec<usize> {
    let model = plan.model();
    let fact = model.outlet_fact(model.output_outlets().unwrap()[0]).unwrap();
    fact.shape.as_concrete().unwrap().to_vec()
}

#[test]
fn matches_tracts_max_pool() {
    let k = |a: i64, b: i64| attr_ints("kernel_shape", &[a, b]);
    let s = |a: i64, b: i64| attr_ints("strides", &[a, b]);
    for ties in [false, true] {
        check("k3 s2 (SqueezeNet)", &[1, 4, 13, 13], vec![k(3, 3), s(2, 2)], ties);
        check("k3 s2 ceil on 8x8", &[1, 2, 8, 8], vec![k(3, 3), s(2, 2), attr_i("ceil_mode", 1)], ties);
        check("k3 s1 pad 1", &[1, 2, 6, 7], vec![k(3, 3), attr_ints("pads", &[1, 1, 1, 1])], ties);
        check("k2 s2 on 7x7", &[2, 3, 7, 7], vec![k(2, 2), s(2, 2)], ties);
        check("k3 s2 pads 1 0 0 1", &[1, 2, 9, 10], vec![k(3, 3), s(2, 2), attr_ints("pads", &[1, 0, 0, 1])], ties);
        check(
            "k2 s3 dilation 2 pad 1 on 9x10",
            &[1, 2, 9, 10],
            vec![k(2, 2), s(3, 3), attr_ints("dilations", &[2, 2]), attr_ints("pads", &[1, 1, 1, 1])],
            ties,
        );
        check("k3x2 s2x1 non-square", &[1, 2, 11, 6], vec![k(3, 2), s(2, 1)], ties);
    }
}

/// The pools' de-interleave (both passes use it): phase p holds columns p, p + stride, …, padded with 0.
#[test]
fn split_phases_reads_every_stride_th_column() {
    for stride in [2, 3, 4] {
        for len in [1usize, 2, 3, 5, 8, 55, 111] {
            let row: Vec<f32> = (0..len).map(|i| i as f32 + 1.0).collect();
            let phase_len = len.div_ceil(stride);
            let mut phases = vec![f32::NAN; phase_len * stride];
            netlens::tensor::split_phases(&row, stride, &mut phases);
            for p in 0..stride {
                for j in 0..phase_len {
                    let want = row.get(p + j * stride).copied().unwrap_or(0.0);
                    assert_eq!(phases[p * phase_len + j], want, "stride {stride}, length {len}, phase {p}, slot {j}");
                }
            }
        }
    }
}
