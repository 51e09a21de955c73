//! tract's MaxPool scans one window after another (a compare chain per window: ~20 % of the page's forward). This op
//! works on whole rows instead, which vectorizes: for each output row, the max down the window's input rows, then
//! each tap of the window across that row of maxima. It replaces tract's 2-D float MaxPool (NCHW, no index output)
//! in the typed model, before tract optimises it.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::MaxPool;
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct RowMaxPool {
    kernel: [usize; 2],
    strides: [usize; 2],
    dilations: [usize; 2],
    pads_begin: [usize; 2],
    /// [N, C, OH, OW]
    output: [usize; 4],
}

impl Op for RowMaxPool {
    fn name(&self) -> StaticName {
        "RowMaxPool".into()
    }
    op_as_typed_op!();
}

impl EvalOp for RowMaxPool {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let x = input.try_as_plain_ram()?.as_slice::<f32>()?;
        let shape = input.shape();
        let [n, c, oh, ow] = self.output;
        let mut out = vec![0.0f32; n * c * oh * ow];
        self.run(x, [shape[2], shape[3]], &mut out);
        Ok(tvec!(tract_onnx::prelude::Tensor::from_shape(&self.output, &out)?.into_tvalue()))
    }
}

impl TypedOp for RowMaxPool {
    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(self.output)))
    }
    as_op!();
}

impl RowMaxPool {
    /// The op for tract's `pool` applied to an input of shape `input`, if it is one this op covers.
    fn from_tract(pool: &MaxPool, input: &[usize]) -> Option<RowMaxPool> {
        let spec = &pool.pool_spec;
        if pool.with_index_outputs.is_some() || spec.data_format != DataFormat::NCHW || input.len() != 4 {
            return None;
        }
        if spec.kernel_shape.len() != 2 {
            return None;
        }
        let padding = spec.computed_padding(&input[2..]);
        let (dilations, strides) = (spec.dilations(), spec.strides());
        Some(RowMaxPool {
            kernel: [spec.kernel_shape[0], spec.kernel_shape[1]],
            strides: [strides[0], strides[1]],
            dilations: [dilations[0], dilations[1]],
            pads_begin: [padding[0].pad_before, padding[1].pad_before],
            output: [input[0], input[1], padding[0].convoluted, padding[1].convoluted],
        })
    }

    fn run(&self, x: &[f32], [h, wd]: [usize; 2], out: &mut [f32]) {
        let [_, _, oh, ow] = self.output;
        let [sh, sw] = self.strides;
        let [dh, dw] = self.dilations;
        let [ph, pw] = self.pads_begin;
        // Per kernel row and output row: the input row, if inside. Per kernel column: the output columns [lo, hi)
        // whose tap lies inside, and the input column of the first.
        let spans: Vec<(usize, usize, usize)> = (0..self.kernel[1])
            .map(|kx| {
                let off = (kx * dw) as isize - pw as isize;
                let lo = if off >= 0 { 0 } else { off.unsigned_abs().div_ceil(sw) };
                let hi = if off >= wd as isize { 0 } else { ((wd as isize - off) as usize).div_ceil(sw).min(ow) };
                (lo, hi.max(lo), ((lo * sw) as isize + off).max(0) as usize)
            })
            .filter(|s| s.0 < s.1)
            .collect();
        let phase_len = wd.div_ceil(sw);
        // Planes are independent: split over them (each output is computed as with one thread).
        let per_chunk = crate::threads::units_per_chunk(out.len() / (oh * ow), h * wd);
        crate::threads::for_each_chunk(out, per_chunk * oh * ow, |i, out| {
            let x = &x[i * per_chunk * h * wd..];
            let mut phases = vec![0.0f32; if sw > 1 { phase_len * sw } else { 0 }];
            let mut column = vec![0.0f32; wd];
            for (x, out) in x.chunks_exact(h * wd).zip(out.chunks_exact_mut(oh * ow)) {
                for (oy, best) in out.chunks_exact_mut(ow).enumerate() {
                    // The max down the window's rows first (contiguous, vectorizes), then across its columns: one
                    // de-interleave per output row instead of one per window row.
                    // Padding never wins: a window with no tap inside keeps -inf, as tract's does.
                    column.fill(f32::NEG_INFINITY);
                    for ky in 0..self.kernel[0] {
                        let iy = (oy * sh + ky * dh) as isize - ph as isize;
                        if iy < 0 || iy as usize >= h {
                            continue;
                        }
                        let row = &x[iy as usize * wd..(iy as usize + 1) * wd];
                        for (c, &v) in column.iter_mut().zip(row) {
                            *c = if v > *c { v } else { *c };
                        }
                    }
                    if sw > 1 {
                        crate::tensor::split_phases(&column, sw, &mut phases);
                    }
                    best.fill(f32::NEG_INFINITY);
                    for &(lo, hi, first) in &spans {
                        let taps = if sw > 1 {
                            let start = (first % sw) * phase_len + first / sw;
                            &phases[start..start + (hi - lo)]
                        } else {
                            &column[first..first + (hi - lo)]
                        };
                        for (b, &v) in best[lo..hi].iter_mut().zip(taps) {
                            *b = if v > *b { v } else { *b };
                        }
                    }
                }
            }
        });
    }
}

/// Replaces every MaxPool of `model` that [`RowMaxPool`] covers.
pub fn replace_max_pools(model: &mut TypedModel) -> TractResult<()> {
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(pool) = node.op_as::<MaxPool>() else { continue };
        let fact = model.outlet_fact(node.inputs[0])?;
        if fact.datum_type != f32::datum_type() {
            continue;
        }
        let Some(shape) = fact.shape.as_concrete().map(|s| s.to_vec()) else { continue };
        let Some(op) = RowMaxPool::from_tract(pool, &shape) else { continue };
        let patch = TypedModelPatch::replace_single_op(model, node, &node.inputs, op)?;
        patch.apply(model)?;
    }
    Ok(())
}
