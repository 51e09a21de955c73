//! A dense row-major float32 tensor: the one currency between stages.

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A borrowed tensor: the recorded activations stay in tract's buffers and are read in place.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub shape: &'a [usize],
    pub data: &'a [f32],
}

impl View<'_> {
    /// An owned copy.
    pub fn to_tensor(&self) -> Tensor {
        Tensor::new(self.shape.to_vec(), self.data.to_vec())
    }
}

impl Tensor {
    pub fn view(&self) -> View<'_> {
        View { shape: &self.shape, data: &self.data }
    }

    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape {shape:?} does not hold {} values", data.len());
        Tensor { shape, data }
    }

    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor { shape: shape.to_vec(), data: vec![0.0; shape.iter().product()] }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Same values under another shape (Flatten, Reshape and their VJPs).
    pub fn reshaped(mut self, shape: &[usize]) -> Tensor {
        assert_eq!(shape.iter().product::<usize>(), self.data.len());
        self.shape = shape.to_vec();
        self
    }

    /// Euclidean norm, accumulated in f64 so that 150k-element sums stay exact enough.
    pub fn l2_norm(&self) -> f32 {
        self.data.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt() as f32
    }

    pub fn argmax(&self) -> usize {
        argmax(&self.data)
    }
}

/// Index of the largest value (first one on ties; NaN never wins).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] || values[best].is_nan() {
            best = i;
        }
    }
    best
}

/// The `k` largest values as (index, value), largest first, ties by index: top-5 of class probabilities
/// everywhere (methods' progress, the CLI's `classify`, the page's bars).
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    order.into_iter().take(k).map(|c| (c, values[c])).collect()
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|&l| ((l - max) as f64).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|&e| (e / sum) as f32).collect()
}

/// Splits `row` into its `stride` phases (columns p, p + stride, …), each `row.len().div_ceil(stride)` long in
/// `phases` (a phase shorter than that is padded with 0): a strided window's taps across a row of windows are
/// then contiguous. Pools use it; stride 2 (the common one) has a loop the compiler vectorizes.
#[inline]
pub fn split_phases(row: &[f32], stride: usize, phases: &mut [f32]) {
    let len = row.len().div_ceil(stride);
    if stride == 2 {
        let (even, odd) = phases.split_at_mut(len);
        let pairs = row.chunks_exact(2);
        if let [last] = pairs.remainder() {
            even[len - 1] = *last;
            odd[len - 1] = 0.0;
        }
        for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(pairs) {
            *e = pair[0];
            *o = pair[1];
        }
        return;
    }
    for (p, phase) in phases.chunks_exact_mut(len).take(stride).enumerate() {
        let mut taps = row[p.min(row.len())..].iter().step_by(stride);
        for dst in phase.iter_mut() {
            *dst = taps.next().copied().unwrap_or(0.0);
        }
    }
}

/// Zeroes `slice` and returns it as initialised floats (a buffer written piece by piece, each piece zeroed by the
/// task that then writes it).
pub fn zero_init(slice: &mut [std::mem::MaybeUninit<f32>]) -> &mut [f32] {
    slice.fill(std::mem::MaybeUninit::new(0.0));
    // SAFETY: every element was just written, and MaybeUninit<f32> has f32's layout.
    unsafe { &mut *(slice as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) }
}
