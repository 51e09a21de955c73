//! The forward MaxPool netlens swaps into tract's plan (src/forward/maxpool.rs) against tract's own MaxPool on the
//! same ONNX graph: stride 1, 2 and 3, padding, dilation, ceil mode, odd sizes, and ties (many equal values); both
//! its modes (pooling alone, and pooling while recording each window's winner for the reverse pass). The winners,
//! and the gradient the reverse pass routes through them, against a plain first-maximum scan written here.

mod common;

use common::*;
use netlens::engine::{Engine, Objective};
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
    let engine = Engine::from_onnx_bytes(&bytes).unwrap();
    let x = Tensor::new(shape.to_vec(), data.clone());
    // The first pass without a reverse pass runs on the recording plan (its pool also records the winners); the
    // second builds the plain plan (its pool only pools).
    let recording = engine.forward_only(&x).unwrap();
    let ours = engine.forward_only(&x).unwrap();
    assert_eq!(recording.data, ours.data, "{label}: the recording pool's values");
    check_gradient(label, &engine, &x, attrs_of(&bytes));

    let model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).unwrap().into_optimized().unwrap();
    let plan = model.into_runnable().unwrap();
    let x = tract_onnx::prelude::Tensor::from_shape(shape, &data).unwrap();
    let theirs = plan.run(tvec!(x.into())).unwrap().remove(0);
    let theirs = theirs.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
    assert_eq!(ours.shape, theirs_shape(&plan), "{label}: shape");
    assert_eq!(ours.data, theirs, "{label}: values");
}

/// The pool's attributes as the test built them: (kernel, strides, dilations, pads_begin).
fn attrs_of(bytes: &[u8]) -> [[usize; 2]; 4] {
    use prost::Message;
    let model = tract_onnx::pb::ModelProto::decode(bytes).unwrap();
    let node = &model.graph.unwrap().node[0];
    let ints = |name: &str, default: [usize; 2]| {
        node.attribute.iter().find(|a| a.name == name).map_or(default, |a| [a.ints[0] as usize, a.ints[1] as usize])
    };
    [ints("kernel_shape", [1, 1]), ints("strides", [1, 1]), ints("dilations", [1, 1]), ints("pads", [0, 0])]
}

/// The reverse pass routes each output's gradient to its window's first maximum in scan order (rows top to
/// bottom, each left to right; padding never wins), found here window by window, tap by tap.
fn check_gradient(label: &str, engine: &Engine, x: &Tensor, [kernel, strides, dilations, pads]: [[usize; 2]; 4]) {
    let acts = engine.forward(x).unwrap();
    let out = acts.output().clone();
    let [h, w] = [x.shape[2], x.shape[3]];
    let [oh, ow] = [out.shape[2], out.shape[3]];
    // A distinct weight per output, so that a gradient routed to the wrong input shows.
    let g: Vec<f32> = (0..out.data.len()).map(|i| 1.0 + (i % 7) as f32 * 0.25).collect();
    let mut want = vec![0.0f32; x.data.len()];
    for plane in 0..x.shape[0] * x.shape[1] {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best: Option<(f32, usize)> = None;
                for ky in 0..kernel[0] {
                    for kx in 0..kernel[1] {
                        let iy = (oy * strides[0] + ky * dilations[0]) as isize - pads[0] as isize;
                        let ix = (ox * strides[1] + kx * dilations[1]) as isize - pads[1] as isize;
                        if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                            continue;
                        }
                        let at = plane * h * w + iy as usize * w + ix as usize;
                        if best.is_none_or(|(v, _)| x.data[at] > v) {
                            best = Some((x.data[at], at));
                        }
                    }
                }
                let o = plane * oh * ow + oy * ow + ox;
                let (max, at) = best.expect("every window here has a tap inside");
                assert_eq!(out.data[o], max, "{label}: max of window {o}");
                want[at] += g[o];
            }
        }
    }
    let objective = Objective::OutputGrad(Tensor::new(out.shape.clone(), g));
    let got = engine.backward(&acts, &objective).unwrap();
    assert_eq!(got.data, want, "{label}: gradient");
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
