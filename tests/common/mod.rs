//! Helpers shared by the engine tests: where the shared data lives, .npy reading, seeded random
//! numbers, ONNX models built in memory, and the finite-difference gradient check.
//!
//! Each test binary uses only some of these.
#![allow(dead_code)]

use std::path::PathBuf;

use netlens::engine::{Engine, Objective};
use netlens::Tensor;
use prost::Message;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tract_onnx::pb::{
    self, tensor_shape_proto::dimension::Value as DimValue, type_proto, AttributeProto, GraphProto, ModelProto,
    NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

// ---------------------------------------------------------------- shared data

/// The data folder that must never be committed: `$NETLENS_SHARED`, else `<repo>/../shared`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("NETLENS_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("shared"),
    }
}

pub fn shared_file(rel: &str) -> PathBuf {
    shared_dir().join(rel)
}

pub fn read_shared(rel: &str) -> Vec<u8> {
    let path = shared_file(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {} ({e}); set NETLENS_SHARED", path.display()))
}

/// A float32 .npy file as a tensor (C order only, which is all numpy writes by default).
pub fn read_npy(rel: &str) -> Tensor {
    let bytes = read_shared(rel);
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap_or_else(|e| panic!("{rel}: not a .npy file ({e})"));
    assert_eq!(npy.order(), npyz::Order::C, "{rel}: Fortran order is not expected");
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let data: Vec<f32> = npy.into_vec::<f32>().unwrap_or_else(|e| panic!("{rel}: not float32 ({e})"));
    Tensor::new(shape, data)
}

pub fn squeezenet_bytes() -> Vec<u8> {
    read_shared("models/squeezenet1_1.onnx")
}

// ---------------------------------------------------------------- random numbers

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let v: f64 = StandardNormal.sample(rng);
    v as f32
}

pub fn randn(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| scale * normal(rng)).collect()
}

pub fn randn_tensor(shape: &[usize], seed: u64) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape.to_vec(), randn(&mut rng(seed), n, 1.0))
}

/// Gaussian values pushed at least `gap` away from `kinks` (Relu at 0, Clip at its bounds),
/// so a finite-difference step smaller than `gap` never crosses one.
pub fn randn_away_from(shape: &[usize], seed: u64, scale: f32, kinks: &[f32], gap: f32) -> Tensor {
    let mut r = rng(seed);
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| loop {
            let v = scale * normal(&mut r);
            if kinks.iter().all(|k| (v - k).abs() >= gap) {
                break v;
            }
        })
        .collect();
    Tensor::new(shape.to_vec(), data)
}

/// Distinct values spaced `step` apart, in random order: no two elements of any pooling window
/// come closer than `step`, so MaxPool has no ties for a step-sized perturbation to flip.
pub fn shuffled_grid(shape: &[usize], seed: u64, step: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let mut idx: Vec<usize> = (0..n).collect();
    let mut r = rng(seed);
    for i in (1..n).rev() {
        let j = r.gen_range(0..=i);
        idx.swap(i, j);
    }
    let data = idx.iter().map(|&k| (k as f32 - n as f32 / 2.0) * step).collect();
    Tensor::new(shape.to_vec(), data)
}

// ---------------------------------------------------------------- ONNX models in memory

pub fn attr_i(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn attr_f(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}

pub fn attr_s(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// A float32 tensor attribute (Constant's `value`, ConstantOfShape's `value`).
pub fn attr_tensor(name: &str, dims: &[usize], data: Vec<f32>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Tensor as i32,
        t: Some(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            float_data: data,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn value_info(name: &str, shape: Option<&[usize]>) -> ValueInfoProto {
    let shape = shape.map(|s| TensorShapeProto {
        dim: s
            .iter()
            .map(|&d| pb::tensor_shape_proto::Dimension {
                value: Some(DimValue::DimValue(d as i64)),
                ..Default::default()
            })
            .collect(),
    });
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A graph under construction: one float input `x`, weights as initializers, named nodes
/// (each node is named after its first output, so error messages and seeds can use either).
pub struct Net {
    pub input_shape: Vec<usize>,
    pub opset: i64,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    rng: ChaCha8Rng,
    /// Conv biases drawn from [0.05, 0.5) instead of N(0, 0.3²): keeps Relu units of deep
    /// chains alive, so every class and channel the tests seed depends on the input.
    pub positive_bias: bool,
}

impl Net {
    pub fn new(input_shape: &[usize], opset: i64, seed: u64) -> Net {
        Net {
            input_shape: input_shape.to_vec(),
            opset,
            nodes: vec![],
            inits: vec![],
            rng: rng(seed ^ 0x5eed),
            positive_bias: false,
        }
    }

    pub fn init(&mut self, name: &str, dims: &[usize], data: Vec<f32>) -> String {
        assert_eq!(dims.iter().product::<usize>(), data.len());
        self.inits.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            float_data: data,
            ..Default::default()
        });
        name.into()
    }

    pub fn init_i64(&mut self, name: &str, dims: &[usize], data: Vec<i64>) -> String {
        self.inits.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: pb::tensor_proto::DataType::Int64 as i32,
            int64_data: data,
            ..Default::default()
        });
        name.into()
    }

    /// Gaussian weights with standard deviation `scale`.
    pub fn randn(&mut self, name: &str, dims: &[usize], scale: f32) -> String {
        let data = randn(&mut self.rng, dims.iter().product(), scale);
        self.init(name, dims, data)
    }

    /// Uniform weights in [lo, hi) (BatchNorm variances, scales).
    pub fn uniform(&mut self, name: &str, dims: &[usize], lo: f32, hi: f32) -> String {
        let data = (0..dims.iter().product()).map(|_| self.rng.gen_range(lo..hi)).collect();
        self.init(name, dims, data)
    }

    pub fn node(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> String {
        self.nodes.push(NodeProto {
            name: output.into(),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute: attrs,
            ..Default::default()
        });
        output.into()
    }

    /// A node with several outputs (Split), named after its first.
    pub fn node_multi(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            name: outputs[0].into(),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        });
    }

    /// Conv with He-style random weights (and a bias when `bias`), named `name`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        name: &str,
        input: &str,
        cin: usize,
        cout: usize,
        kernel: [usize; 2],
        bias: bool,
        mut attrs: Vec<AttributeProto>,
    ) -> String {
        let group = attrs.iter().find(|a| a.name == "group").map_or(1, |a| a.i as usize);
        let fan_in = cin / group * kernel[0] * kernel[1];
        let w = self.randn(
            &format!("{name}.weight"),
            &[cout, cin / group, kernel[0], kernel[1]],
            (2.0 / fan_in as f32).sqrt(),
        );
        let mut inputs = vec![input.to_string(), w];
        if bias {
            let b = format!("{name}.bias");
            inputs.push(if self.positive_bias {
                self.uniform(&b, &[cout], 0.05, 0.5)
            } else {
                self.randn(&b, &[cout], 0.3)
            });
        }
        attrs.push(attr_ints("kernel_shape", &[kernel[0] as i64, kernel[1] as i64]));
        let refs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
        self.node("Conv", &refs, name, attrs)
    }

    /// The model with `output` as its only graph output.
    pub fn model(&self, output: &str) -> ModelProto {
        ModelProto {
            ir_version: 7,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: self.opset }],
            producer_name: "netlens-tests".into(),
            graph: Some(GraphProto {
                name: "test".into(),
                node: self.nodes.clone(),
                initializer: self.inits.clone(),
                input: vec![value_info("x", Some(&self.input_shape))],
                output: vec![value_info(output, None)],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub fn bytes(&self, output: &str) -> Vec<u8> {
        self.model(output).encode_to_vec()
    }
}

// ---------------------------------------------------------------- finite differences

/// A scalar objective s(x) = sum(w ⊙ v(x)) where v is the output of `probe` (a model whose
/// graph output is the value the seed names), with the seed that asks the engine for ds/dx.
pub struct Probe {
    pub objective: Objective,
    pub probe: Vec<u8>,
    pub w: Vec<f32>,
}

impl Probe {
    /// The seed is an explicit random gradient on the graph output.
    pub fn output_grad(net: &Net, output: &str, seed: u64) -> Probe {
        let out_shape = value_shape(net, output);
        let n = out_shape.iter().product();
        let w = randn(&mut rng(seed), n, 1.0);
        Probe {
            objective: Objective::OutputGrad(Tensor::new(out_shape.to_vec(), w.clone())),
            probe: net.bytes(output),
            w,
        }
    }

    /// One logit of a [1, K] graph output.
    pub fn class(net: &Net, output: &str, k: usize) -> Probe {
        let classes = value_shape(net, output)[1];
        let mut w = vec![0.0; classes];
        w[k] = 1.0;
        Probe { objective: Objective::Class(k), probe: net.bytes(output), w }
    }

    /// A weighted sum of logits of a [1, K] graph output.
    pub fn weighted(net: &Net, output: &str, terms: &[(usize, f32)]) -> Probe {
        let classes = value_shape(net, output)[1];
        let mut w = vec![0.0; classes];
        for &(k, c) in terms {
            w[k] += c;
        }
        Probe { objective: Objective::Weighted(terms.to_vec()), probe: net.bytes(output), w }
    }

    /// The sum of one channel of an intermediate [1, C, ...] value.
    pub fn channel(net: &Net, value: &str, channel: usize) -> Probe {
        let shape = value_shape(net, value);
        let plane: usize = shape[2..].iter().product();
        let w = (0..shape.iter().product::<usize>())
            .map(|i| if (i / plane) % shape[1] == channel { 1.0 } else { 0.0 })
            .collect();
        Probe { objective: Objective::Channel { value: value.into(), channel }, probe: net.bytes(value), w }
    }

    /// A random explicit gradient on an intermediate value.
    pub fn value_grad(net: &Net, value: &str, seed: u64) -> Probe {
        let shape = value_shape(net, value);
        let w = randn(&mut rng(seed), shape.iter().product(), 1.0);
        Probe {
            objective: Objective::ValueGrad { value: value.into(), grad: Tensor::new(shape.clone(), w.clone()) },
            probe: net.bytes(value),
            w,
        }
    }
}

/// The shape of `value` when `net` runs on its input shape (tract's forward, through the engine).
pub fn value_shape(net: &Net, value: &str) -> Vec<usize> {
    let probe = Engine::from_onnx_bytes(&net.bytes(value)).unwrap_or_else(|e| panic!("probe for '{value}': {e}"));
    probe.forward_only(&Tensor::zeros(&net.input_shape)).expect("forward_only").shape
}

pub struct FdOptions {
    pub eps: f32,
    /// Relative part of the tolerance: |ours − fd| ≤ rel·max|fd| + abs.
    pub rel: f64,
    pub abs: f64,
    pub attempts: u64,
    /// The graph has no kinks (no Relu, MaxPool, Clip): skip the one-sided-difference check,
    /// which would otherwise read smooth curvature as a kink.
    pub smooth: bool,
}

impl Default for FdOptions {
    fn default() -> FdOptions {
        FdOptions { eps: 1e-2, rel: 1e-2, abs: 1e-3, attempts: 8, smooth: false }
    }
}

fn objective(engine: &Engine, x: &Tensor, w: &[f32]) -> f64 {
    let v = engine.forward_only(x).expect("forward_only");
    assert_eq!(v.data.len(), w.len(), "objective weights do not match the probed value's size {:?}", v.shape);
    v.data.iter().zip(w).map(|(&v, &w)| v as f64 * w as f64).sum()
}

/// Checks the engine's gradient of `obj` against central differences of tract's forward, at
/// the first input from `make_x(attempt)` where no coordinate step crosses a kink.
///
/// A kink (Relu/Clip boundary, MaxPool tie) inside [x − eps, x + eps] along coordinate i shows
/// as disagreeing one-sided differences; such an input is resampled rather than any element
/// skipped, so every element is always compared.
pub fn check_fd(label: &str, model: &[u8], obj: &Probe, make_x: impl Fn(u64) -> Tensor, opts: FdOptions) {
    let engine = Engine::from_onnx_bytes(model).unwrap_or_else(|e| panic!("{label}: model does not load: {e}"));
    let probe = Engine::from_onnx_bytes(&obj.probe).unwrap_or_else(|e| panic!("{label}: probe does not load: {e}"));
    let eps = opts.eps;
    let mut last_kinks = String::new();
    for attempt in 0..opts.attempts {
        let x = make_x(attempt);
        assert_eq!(engine.input_shape(), &x.shape[..], "{label}: input shape");

        let f0 = objective(&probe, &x, &obj.w);
        let n = x.len();
        let (mut central, mut jump) = (vec![0f64; n], vec![0f64; n]);
        for i in 0..n {
            let mut xp = x.clone();
            xp.data[i] += eps;
            let mut xm = x.clone();
            xm.data[i] -= eps;
            // The perturbation actually representable in f32.
            let (hp, hm) = ((xp.data[i] - x.data[i]) as f64, (x.data[i] - xm.data[i]) as f64);
            let (fp, fm) = (objective(&probe, &xp, &obj.w), objective(&probe, &xm, &obj.w));
            central[i] = (fp - fm) / (hp + hm);
            jump[i] = ((fp - f0) / hp - (f0 - fm) / hm).abs();
        }
        let max_fd = central.iter().fold(0f64, |m, v| m.max(v.abs()));
        let tol = opts.rel * max_fd + opts.abs;
        // Crossing one kink puts the central difference off by half the slope jump; keep that
        // below a quarter of the tolerance.
        let kinked: Vec<usize> = if opts.smooth { vec![] } else { (0..n).filter(|&i| jump[i] > tol / 2.0).collect() };
        if !kinked.is_empty() {
            last_kinks = format!("{} elements, e.g. #{} jump {:.3e}", kinked.len(), kinked[0], jump[kinked[0]]);
            continue;
        }

        let acts = engine.forward(&x).unwrap_or_else(|e| panic!("{label}: forward: {e}"));
        let direct = engine.forward_only(&x).expect("forward_only");
        assert_eq!(acts.output().shape, direct.shape, "{label}: forward output shape");
        let out_diff = acts.output().data.iter().zip(&direct.data).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            out_diff <= 1e-5 * (1.0 + direct.data.iter().fold(0f32, |m, v| m.max(v.abs()))),
            "{label}: forward() and forward_only() disagree by {out_diff}"
        );

        let g = engine.backward(&acts, &obj.objective).unwrap_or_else(|e| panic!("{label}: backward: {e}"));
        assert_eq!(g.shape, x.shape, "{label}: gradient shape");
        assert!(max_fd > 1e-2, "{label}: the objective barely depends on the input (max |fd| = {max_fd:.3e}); the test would prove nothing");

        let (mut worst, mut worst_err) = (0, -1f64);
        for (i, (&ours, &fd)) in g.data.iter().zip(&central).enumerate().take(n) {
            let err = (ours as f64 - fd).abs();
            if err > worst_err || err.is_nan() {
                worst = i;
                worst_err = if err.is_nan() { f64::INFINITY } else { err };
            }
        }
        let nonzero = central.iter().filter(|v| v.abs() > tol).count();
        eprintln!(
            "{label}: max|fd| {max_fd:.4e}, worst |ours-fd| {worst_err:.3e} at {worst} (tol {tol:.3e}), {nonzero}/{n} elements above tol, attempt {attempt}"
        );
        assert!(
            worst_err <= tol,
            "{label}: gradient mismatch at element {worst} (index {:?} of {:?}): ours {:.6}, finite differences {:.6}, |diff| {:.3e} > tol {:.3e} (max|fd| {:.4e})\n  first values ours {:?}\n  first values fd   {:?}",
            unravel(worst, &x.shape),
            x.shape,
            g.data[worst],
            central[worst],
            worst_err,
            tol,
            max_fd,
            &g.data[..n.min(8)],
            central[..n.min(8)].iter().map(|&v| v as f32).collect::<Vec<_>>()
        );
        return;
    }
    panic!("{label}: no kink-free input found in {} attempts ({last_kinks})", opts.attempts);
}

pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for a in (0..shape.len()).rev() {
        idx[a] = i % shape[a];
        i /= shape[a];
    }
    idx
}

// ---------------------------------------------------------------- references

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

pub fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |m, x| m.max(x.abs()))
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// The preprocessing the reference used, written out here rather than taken from the crate:
/// pixels as they are, /255, ImageNet mean/std, NCHW.
pub fn png_224_to_tensor(rel: &str) -> Tensor {
    let img = image::load_from_memory_with_format(&read_shared(rel), image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .to_rgb8();
    assert_eq!(img.dimensions(), (224, 224), "{rel} must be a 224x224 crop");
    let mut data = vec![0f32; 3 * 224 * 224];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            data[c * 224 * 224 + y as usize * 224 + x as usize] = (p[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
    Tensor::new(vec![1, 3, 224, 224], data)
}
