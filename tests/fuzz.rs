//! Bounded fuzzing (issue 14) with proptest: image decoding + preprocessing (`imageio::load_224`) on mutated real
//! images, small images of every format and random bytes; ONNX loading (`Engine::from_onnx_bytes`, then one
//! forward + backward pass when it loads) on byte- and structure-level mutations of small test graphs and of the
//! real model. The properties: no panic anywhere (a panic hook counts even the ones `imageio::decode` catches,
//! because in the page's wasm a panic is a trap that kills the worker), image errors are `Error::Image`, a
//! decoded image is 224×224, and no single input takes more than a few seconds.
//!
//! `make test` runs the default case counts (~1 minute in total on 2 cores); `make fuzz` multiplies them with
//! `NETLENS_FUZZ_SCALE` (default 1) and takes another seed with `NETLENS_FUZZ_SEED` (default 14). Inputs that
//! once failed are rebuilt in `fuzz_regressions` / `fuzz_regressions_edits` and run every time.

mod common;

use std::cell::Cell;
use std::io::Cursor;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use common::*;
use netlens::engine::{Engine, Objective};
use netlens::{imageio, Error, Tensor};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use prost::Message;
use tract_onnx::pb;

/// Longest any one input may take (a hang is a finding too); generous for a loaded 2-core machine.
const SLOW: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- set-up

thread_local! {
    static PANICS: Cell<usize> = const { Cell::new(0) };
}
static HOOK: Once = Once::new();
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Counts every panic on this thread, caught or not, and keeps its message.
fn install_hook() {
    HOOK.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
            print(info);
        }));
    });
}

fn panics() -> usize {
    PANICS.with(|p| p.get())
}

fn scale() -> f64 {
    std::env::var("NETLENS_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

fn seed() -> u64 {
    std::env::var("NETLENS_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(14)
}

fn runner(cases: u32, salt: u64) -> TestRunner {
    let cases = ((cases as f64) * scale()).round().max(1.0) as u32;
    TestRunner::new(Config {
        cases,
        // Failures are shrunk, printed and then added by hand to fuzz_regressions(_edits) as the edits that make them.
        failure_persistence: None,
        max_shrink_iters: 200,
        max_shrink_time: 60_000,
        rng_seed: RngSeed::Fixed(seed().wrapping_mul(1_000_003) ^ salt),
        ..Config::default()
    })
}

fn report(name: &str, result: Result<(), TestError<impl std::fmt::Debug>>, cases: usize) {
    eprintln!("fuzz {name}: {cases} inputs tried");
    if let Err(e) = result {
        match e {
            TestError::Fail(why, input) => {
                let last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone(); // (the hook locks it too)
                panic!("fuzz {name}: {why}\nminimal input: {input:?}\nlast panic: {last}")
            }
            TestError::Abort(why) => panic!("fuzz {name}: aborted: {why}"),
        }
    }
}

// ---------------------------------------------------------------- mutations

/// One edit of a byte string; positions are taken modulo its length, `head` ones within its first 64 bytes
/// (headers: sizes, chunk lengths, markers).
#[derive(Clone, Debug)]
enum Edit {
    Flip {
        at: u32,
        head: bool,
        bit: u8,
    },
    Set {
        at: u32,
        head: bool,
        value: u8,
    },
    /// A 32-bit value that headers choke on, big-endian at `at`.
    Magic {
        at: u32,
        head: bool,
        which: u8,
    },
    Truncate {
        at: u32,
    },
    Delete {
        at: u32,
        len: u16,
    },
    Insert {
        at: u32,
        bytes: Vec<u8>,
    },
    /// Copies a chunk of the input elsewhere (repeated chunks, markers).
    Splice {
        from: u32,
        to: u32,
        len: u16,
    },
}

const MAGIC: [u32; 8] = [0, 1, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF, 0x1_0000, 224];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<u32>(), any::<bool>(), 0u8..8).prop_map(|(at, head, bit)| Edit::Flip { at, head, bit }),
        3 => (any::<u32>(), any::<bool>(), any::<u8>()).prop_map(|(at, head, value)| Edit::Set { at, head, value }),
        2 => (any::<u32>(), any::<bool>(), 0u8..8).prop_map(|(at, head, which)| Edit::Magic { at, head, which }),
        1 => any::<u32>().prop_map(|at| Edit::Truncate { at }),
        1 => (any::<u32>(), 1u16..512).prop_map(|(at, len)| Edit::Delete { at, len }),
        1 => (any::<u32>(), prop::collection::vec(any::<u8>(), 1..32)).prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        1 => (any::<u32>(), any::<u32>(), 1u16..256).prop_map(|(from, to, len)| Edit::Splice { from, to, len }),
    ]
}

fn pos(at: u32, head: bool, len: usize) -> usize {
    let span = if head { len.min(64) } else { len };
    if span == 0 {
        0
    } else {
        at as usize % span
    }
}

fn apply(bytes: &mut Vec<u8>, e: &Edit) {
    let len = bytes.len();
    if len == 0 {
        if let Edit::Insert { bytes: b, .. } = e {
            bytes.extend_from_slice(b);
        }
        return;
    }
    match *e {
        Edit::Flip { at, head, bit } => bytes[pos(at, head, len)] ^= 1 << bit,
        Edit::Set { at, head, value } => bytes[pos(at, head, len)] = value,
        Edit::Magic { at, head, which } => {
            let i = pos(at, head, len);
            for (k, b) in MAGIC[which as usize % MAGIC.len()].to_be_bytes().iter().enumerate() {
                if i + k < len {
                    bytes[i + k] = *b;
                }
            }
        }
        Edit::Truncate { at } => bytes.truncate(at as usize % len),
        Edit::Delete { at, len: n } => {
            let i = at as usize % len;
            bytes.drain(i..(i + n as usize).min(len));
        }
        Edit::Insert { at, bytes: ref b } => {
            let i = at as usize % (len + 1);
            bytes.splice(i..i, b.iter().copied());
        }
        Edit::Splice { from, to, len: n } => {
            let f = from as usize % len;
            let chunk: Vec<u8> = bytes[f..(f + n as usize).min(len)].to_vec();
            let t = to as usize % len;
            let end = (t + chunk.len()).min(len);
            bytes[t..end].copy_from_slice(&chunk[..end - t]);
        }
    }
}

fn mutated(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for e in edits {
        apply(&mut bytes, e);
    }
    bytes
}

// ---------------------------------------------------------------- images

/// Small images of every format the page reads (quick to decode, so many cases), plus the real samples.
fn image_corpus() -> Vec<(String, Vec<u8>)> {
    use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
    let mut out = vec![];
    let rgb = RgbImage::from_fn(40, 24, |x, y| Rgb([(x * 6) as u8, (y * 10) as u8, ((x ^ y) * 8) as u8]));
    let rgba = RgbaImage::from_fn(20, 33, |x, y| Rgba([(x * 12) as u8, (y * 7) as u8, 90, ((x + y) * 6) as u8]));
    for (name, format) in [
        ("png", ImageFormat::Png),
        ("jpeg", ImageFormat::Jpeg),
        ("gif", ImageFormat::Gif),
        ("bmp", ImageFormat::Bmp),
        ("webp", ImageFormat::WebP),
    ] {
        let mut buf = Cursor::new(vec![]);
        rgb.write_to(&mut buf, format).unwrap_or_else(|e| panic!("encode {name}: {e}"));
        out.push((format!("40x24.{name}"), buf.into_inner()));
        if format != ImageFormat::Jpeg {
            let mut buf = Cursor::new(vec![]);
            rgba.write_to(&mut buf, format).unwrap_or_else(|e| panic!("encode rgba {name}: {e}"));
            out.push((format!("20x33-alpha.{name}"), buf.into_inner()));
        }
    }
    for name in ["chelsea.png", "coffee.png", "rocket.jpg"] {
        out.push((name.into(), read_shared(&format!("images/{name}"))));
    }
    out
}

/// The property for one input: no panic, an `Error::Image` or a 224×224 image, in reasonable time.
fn check_image(bytes: &[u8]) -> Result<(), TestCaseError> {
    let before = panics();
    let t0 = Instant::now();
    let result = std::panic::catch_unwind(|| imageio::load_224(bytes));
    let took = t0.elapsed();
    prop_assert_eq!(panics(), before, "a panic while decoding (a trap in the page's wasm)");
    match result {
        Err(_) => return Err(TestCaseError::fail("load_224 panicked")),
        Ok(Ok(img)) => prop_assert_eq!(img.dimensions(), (224, 224)),
        Ok(Err(Error::Image(msg))) => prop_assert!(!msg.trim().is_empty(), "an empty message"),
        Ok(Err(other)) => return Err(TestCaseError::fail(format!("not an image error: {other:?}"))),
    }
    prop_assert!(took < SLOW, "took {took:?}");
    Ok(())
}

#[test]
fn fuzz_images_mutated() {
    install_hook();
    let corpus = image_corpus();
    let cases = 8000;
    let tried = Cell::new(0usize);
    let strategy = (0..corpus.len(), prop::collection::vec(edit(), 1..6));
    let result = runner(cases, 1).run(&strategy, |(which, edits)| {
        tried.set(tried.get() + 1);
        check_image(&mutated(&corpus[which].1, &edits))
    });
    report("images (mutated)", result, tried.get());
}

#[test]
fn fuzz_images_random_bytes() {
    install_hook();
    // Each format's signature, then random bytes: the decoder gets past format detection.
    let magics: [&[u8]; 7] = [
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        b"\xff\xd8\xff\xe0",
        b"GIF89a",
        b"BM",
        b"RIFF\0\0\0\0WEBPVP8 ",
        b"",
        b"<svg",
    ];
    let tried = Cell::new(0usize);
    let strategy = (0..magics.len(), prop::collection::vec(any::<u8>(), 0..2048));
    let result = runner(8000, 2).run(&strategy, |(which, tail)| {
        tried.set(tried.get() + 1);
        let mut bytes = magics[which].to_vec();
        bytes.extend_from_slice(&tail);
        check_image(&bytes)
    });
    report("images (random bytes)", result, tried.get());
}

// ---------------------------------------------------------------- ONNX models

/// Small graphs in the shapes the tests use: a classifier (Conv, Relu, MaxPool, Concat, GAP, Flatten, Gemm)
/// and a chain with reshapes and pointwise ops.
fn small_graphs() -> Vec<Vec<u8>> {
    let mut out = vec![];
    {
        let mut net = Net::new(&[1, 3, 16, 16], 13, 1);
        let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
        let r = net.node("Relu", &[&c], "relu", vec![]);
        let p =
            net.node("MaxPool", &[&r], "pool", vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
        let a = net.conv("e1", &p, 4, 3, [1, 1], true, vec![]);
        let b = net.conv("e3", &p, 4, 3, [3, 3], true, vec![attr_ints("pads", &[1, 1, 1, 1])]);
        let cat = net.node("Concat", &[&a, &b], "cat", vec![attr_i("axis", 1)]);
        let g = net.node("GlobalAveragePool", &[&cat], "gap", vec![]);
        let f = net.node("Flatten", &[&g], "flat", vec![]);
        let w = net.randn("fc.w", &[5, 6], 0.5);
        let bias = net.randn("fc.b", &[5], 0.1);
        let y = net.node("Gemm", &[&f, &w, &bias], "logits", vec![attr_i("transB", 1)]);
        out.push(net.bytes(&y));
    }
    {
        let mut net = Net::new(&[1, 3, 8, 8], 13, 2);
        let s = net.node("Sigmoid", &["x"], "sig", vec![]);
        let t = net.node("Transpose", &[&s], "tr", vec![attr_ints("perm", &[0, 1, 3, 2])]);
        let shape = net.init_i64("shape", &[2], vec![1, 192]);
        let r = net.node("Reshape", &[&t, &shape], "flat", vec![]);
        let w = net.randn("w", &[192, 10], 0.1);
        let m = net.node("MatMul", &[&r, &w], "mm", vec![]);
        let y = net.node("Tanh", &[&m], "logits", vec![]);
        out.push(net.bytes(&y));
    }
    out
}

/// Loads; when that works, one forward and one backward pass on a seeded input. No panic, in reasonable time.
fn check_model(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(dir) = std::env::var("NETLENS_FUZZ_KEEP") {
        // Each model is written before it runs: what was last written is what killed a crashed run.
        let name = std::thread::current().name().unwrap_or("main").replace("::", "-");
        let _ = std::fs::write(format!("{dir}/{name}.onnx"), bytes);
    }
    let before = panics();
    let t0 = Instant::now();
    let result = std::panic::catch_unwind(|| -> netlens::Result<()> {
        let engine = Engine::from_onnx_bytes(bytes)?;
        let shape = engine.input_shape().to_vec();
        if shape.iter().product::<usize>() > 4_000_000 {
            return Ok(()); // a mutated input shape: running it tests nothing but memory
        }
        let x = randn_tensor(&shape, 7);
        let acts = engine.forward(&x)?;
        let out = acts.output();
        if !out.data.is_empty() {
            let mut g = Tensor::new(out.shape.clone(), vec![0.0; out.data.len()]);
            g.data[0] = 1.0;
            let _ = engine.backward(&acts, &Objective::OutputGrad(g))?;
        }
        Ok(())
    });
    let took = t0.elapsed();
    match result {
        Err(_) => {
            let last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone();
            return Err(TestCaseError::fail(format!("panicked: {last}")));
        }
        Ok(Ok(())) => {}
        Ok(Err(e)) => prop_assert!(!e.to_string().trim().is_empty(), "an empty message"),
    }
    prop_assert_eq!(panics(), before, "a panic while loading or running the model");
    prop_assert!(took < SLOW, "took {took:?}");
    Ok(())
}

#[test]
fn fuzz_onnx_small_bytes() {
    install_hook();
    let graphs = small_graphs();
    let tried = Cell::new(0usize);
    let strategy = (0..graphs.len(), prop::collection::vec(edit(), 1..4));
    let result = runner(4000, 3).run(&strategy, |(which, edits)| {
        tried.set(tried.get() + 1);
        check_model(&mutated(&graphs[which], &edits))
    });
    report("onnx small graphs (bytes)", result, tried.get());
}

/// One structural edit of a model: what a broken exporter or a hand-edited file does.
#[derive(Clone, Debug)]
enum ModelEdit {
    /// An int attribute (or one entry of an ints attribute) of node `node` set to a value.
    AttrInt {
        node: u16,
        attr: u8,
        index: u8,
        value: i64,
    },
    /// One dimension of initializer `init` set to a value.
    InitDim {
        init: u16,
        dim: u8,
        value: i64,
    },
    /// Initializer data cut to `keep` of its values.
    InitCut {
        init: u16,
        keep: u16,
    },
    /// Node `node` becomes another op.
    OpType {
        node: u16,
        op: u8,
    },
    /// One input of node `node` named after another value.
    Rewire {
        node: u16,
        input: u8,
        to: u16,
    },
    RemoveNode {
        node: u16,
    },
    /// One dimension of the graph input.
    InputDim {
        dim: u8,
        value: i64,
    },
    /// The opset version.
    Opset {
        version: u8,
    },
}

const OPS: [&str; 16] = [
    "Relu",
    "Conv",
    "MaxPool",
    "AveragePool",
    "Concat",
    "Gemm",
    "Flatten",
    "Reshape",
    "Softmax",
    "Add",
    "Mul",
    "Transpose",
    "Dropout",
    "GlobalAveragePool",
    "Identity",
    "Sum",
];
const INTS: [i64; 10] = [0, 1, 2, 3, -1, -2, 7, 64, 1 << 20, i64::MAX];

fn model_edit() -> impl Strategy<Value = ModelEdit> {
    let v = (0..INTS.len()).prop_map(|i| INTS[i]);
    prop_oneof![
        4 => (any::<u16>(), any::<u8>(), any::<u8>(), v.clone())
            .prop_map(|(node, attr, index, value)| ModelEdit::AttrInt { node, attr, index, value }),
        2 => (any::<u16>(), any::<u8>(), v.clone()).prop_map(|(init, dim, value)| ModelEdit::InitDim { init, dim, value }),
        1 => (any::<u16>(), any::<u16>()).prop_map(|(init, keep)| ModelEdit::InitCut { init, keep }),
        2 => (any::<u16>(), 0..OPS.len() as u8).prop_map(|(node, op)| ModelEdit::OpType { node, op }),
        2 => (any::<u16>(), any::<u8>(), any::<u16>()).prop_map(|(node, input, to)| ModelEdit::Rewire { node, input, to }),
        1 => any::<u16>().prop_map(|node| ModelEdit::RemoveNode { node }),
        1 => (0u8..4, v).prop_map(|(dim, value)| ModelEdit::InputDim { dim, value }),
        1 => (1u8..25).prop_map(|version| ModelEdit::Opset { version }),
    ]
}

fn apply_model(m: &mut pb::ModelProto, e: &ModelEdit) {
    let Some(g) = m.graph.as_mut() else { return };
    let nodes = g.node.len().max(1);
    let inits = g.initializer.len().max(1);
    match *e {
        ModelEdit::AttrInt { node, attr, index, value } => {
            if let Some(n) = g.node.get_mut(node as usize % nodes) {
                let count = n.attribute.len();
                if count > 0 {
                    let a = &mut n.attribute[attr as usize % count];
                    if a.ints.is_empty() {
                        a.i = value;
                    } else {
                        let len = a.ints.len();
                        a.ints[index as usize % len] = value;
                    }
                }
            }
        }
        ModelEdit::InitDim { init, dim, value } => {
            if let Some(t) = g.initializer.get_mut(init as usize % inits) {
                let len = t.dims.len();
                if len > 0 {
                    t.dims[dim as usize % len] = value;
                }
            }
        }
        ModelEdit::InitCut { init, keep } => {
            if let Some(t) = g.initializer.get_mut(init as usize % inits) {
                let keep = keep as usize;
                t.float_data.truncate(keep);
                t.int64_data.truncate(keep);
                t.raw_data.truncate(keep * 4);
            }
        }
        ModelEdit::OpType { node, op } => {
            if let Some(n) = g.node.get_mut(node as usize % nodes) {
                n.op_type = OPS[op as usize % OPS.len()].into();
            }
        }
        ModelEdit::Rewire { node, input, to } => {
            let names: Vec<String> = g.node.iter().flat_map(|n| n.output.clone()).chain(["x".into()]).collect();
            if let Some(n) = g.node.get_mut(node as usize % nodes) {
                let len = n.input.len();
                if len > 0 {
                    n.input[input as usize % len] = names[to as usize % names.len()].clone();
                }
            }
        }
        ModelEdit::RemoveNode { node } => {
            if !g.node.is_empty() {
                g.node.remove(node as usize % nodes);
            }
        }
        ModelEdit::InputDim { dim, value } => {
            use pb::tensor_shape_proto::dimension::Value as Dim;
            use pb::type_proto::Value as Type;
            if let Some(Type::TensorType(t)) = g.input.first_mut().and_then(|i| i.r#type.as_mut()?.value.as_mut()) {
                if let Some(shape) = t.shape.as_mut() {
                    let len = shape.dim.len();
                    if len > 0 {
                        shape.dim[dim as usize % len].value = Some(Dim::DimValue(value));
                    }
                }
            }
        }
        ModelEdit::Opset { version } => {
            if let Some(o) = m.opset_import.first_mut() {
                o.version = version as i64;
            }
        }
    }
}

fn structural(seed: &pb::ModelProto, edits: &[ModelEdit]) -> Vec<u8> {
    let mut m = seed.clone();
    for e in edits {
        apply_model(&mut m, e);
    }
    m.encode_to_vec()
}

#[test]
fn fuzz_onnx_small_structure() {
    install_hook();
    let graphs: Vec<pb::ModelProto> =
        small_graphs().iter().map(|b| pb::ModelProto::decode(&b[..]).expect("our own graph decodes")).collect();
    let tried = Cell::new(0usize);
    let strategy = (0..graphs.len(), prop::collection::vec(model_edit(), 1..4));
    let result = runner(4000, 4).run(&strategy, |(which, edits)| {
        tried.set(tried.get() + 1);
        check_model(&structural(&graphs[which], &edits))
    });
    report("onnx small graphs (structure)", result, tried.get());
}

#[test]
fn fuzz_onnx_real_model() {
    install_hook();
    let bytes = squeezenet_bytes();
    let proto = pb::ModelProto::decode(&bytes[..]).expect("the real model decodes");
    let tried = Cell::new(0usize);
    // Each case loads the 5 MB model (and runs it when it loads): few cases, half structural, half bytes.
    let strategy = prop_oneof![
        prop::collection::vec(model_edit(), 1..3).prop_map(|e| (e, vec![])),
        prop::collection::vec(edit(), 1..4).prop_map(|e| (vec![], e)),
    ];
    let result = runner(120, 5).run(&strategy, |(model_edits, byte_edits)| {
        tried.set(tried.get() + 1);
        let b = if model_edits.is_empty() { mutated(&bytes, &byte_edits) } else { structural(&proto, &model_edits) };
        check_model(&b)
    });
    report("onnx real model", result, tried.get());
}

// ---------------------------------------------------------------- regressions

/// Failing inputs a fuzz run found on small graphs, rebuilt here rather than checked in as model files: a Conv
/// whose `pads` has 2 values, one with 3 values and a pad of 128 (tract panicked, or allocated without bound),
/// and a Transpose whose `perm` names an axis that is not there. Each must now give a clean answer.
#[test]
fn fuzz_regressions() {
    install_hook();
    let conv = |pads: &[i64]| {
        let mut net = Net::new(&[1, 3, 16, 16], 13, 1);
        let c = net.conv("conv", "x", 3, 4, [3, 3], true, vec![attr_ints("pads", pads)]);
        let g = net.node("GlobalAveragePool", &[&c], "gap", vec![]);
        let f = net.node("Flatten", &[&g], "logits", vec![]);
        net.bytes(&f)
    };
    let transpose = {
        let mut net = Net::new(&[1, 3, 8, 8], 13, 2);
        let t = net.node("Transpose", &["x"], "tr", vec![attr_ints("perm", &[0, 1, 3, 7])]);
        let shape = net.init_i64("shape", &[2], vec![1, 192]);
        let f = net.node("Reshape", &[&t, &shape], "logits", vec![]);
        net.bytes(&f)
    };
    let cases = [
        ("conv pads of 2 values", conv(&[1, 1])),
        ("conv pads of 3 values, 128", conv(&[1, 1, 128])),
        ("transpose perm out of range", transpose),
    ];
    for (label, bytes) in cases {
        if let Err(e) = check_model(&bytes) {
            panic!("{label}: {e}");
        }
        assert!(netlens::engine::Engine::from_onnx_bytes(&bytes).is_err(), "{label}: such a model must be refused");
    }
}

/// The minimal inputs of failures found on generated graphs and on the real model (which is not checked in),
/// as the edits that make them.
#[test]
fn fuzz_regressions_edits() {
    install_hook();
    let small = small_graphs();
    let protos: Vec<pb::ModelProto> = small.iter().map(|b| pb::ModelProto::decode(&b[..]).unwrap()).collect();
    let real = pb::ModelProto::decode(&squeezenet_bytes()[..]).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // tract: "chunk size must be non-zero" planning a MaxPool over a 1-pixel-high input.
        ("real model, input height 0 (read as 1)", structural(&real, &[ModelEdit::InputDim { dim: 2, value: 0 }])),
        // tract: shape arithmetic overflow ("dims >= 0" assertion) on a huge input side.
        (
            "small graph, input height i64::MAX",
            structural(
                &protos[0],
                &[ModelEdit::InputDim { dim: 2, value: 0 }, ModelEdit::InputDim { dim: 2, value: i64::MAX }],
            ),
        ),
        // tract: index out of bounds in a Transpose left without its input (one flipped bit).
        ("small graph, one bit flipped", mutated(&small[1], &[Edit::Flip { at: 596376686, head: true, bit: 4 }])),
    ];
    for (label, bytes) in cases {
        if let Err(e) = check_model(&bytes) {
            panic!("{label}: {e}");
        }
    }
}
