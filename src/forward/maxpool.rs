//! tract's MaxPool scans one window after another (a compare chain per window: ~20 % of the page's forward). This op
//! works on whole rows instead, which vectorizes: for each output row, the max down the window's input rows, then
//! each tap of the window across that row of maxima. It replaces tract's 2-D float MaxPool (NCHW, no index output)
//! in the typed model, before tract optimises it.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::MaxPool;
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};

use crate::graph::Window;
use crate::window_max::Pool2d;

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct RowMaxPool {
    pool: Pool2d,
    /// [N, C]
    planes: [usize; 2],
    /// Also output each window's winner (u32, src/window_max.rs) for the reverse pass, pooling as it does.
    winners: bool,
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
        let shape = self.output_shape();
        let mut out = vec![0.0f32; shape.iter().product()];
        if !self.winners {
            self.run(x, &mut out);
            return Ok(tvec!(owned(&shape, out)?));
        }
        let mut winners = vec![0u32; out.len()];
        self.pool.winners(x, &mut out, &mut winners);
        Ok(tvec!(owned(&shape, out)?, owned(&shape, winners)?))
    }
}

/// The buffer as a tensor, without the copy `Tensor::from_shape` makes.
fn owned<T: Datum>(shape: &[usize], data: Vec<T>) -> TractResult<TValue> {
    Ok(tract_ndarray::ArrayD::from_shape_vec(shape, data)?.into_tvalue())
}

impl TypedOp for RowMaxPool {
    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = self.output_shape();
        Ok(if self.winners { tvec!(f32::fact(shape), u32::fact(shape)) } else { tvec!(f32::fact(shape)) })
    }
    as_op!();
}

impl RowMaxPool {
    /// The op for tract's `pool` applied to an input of shape `input`, if it is one this op covers.
    fn from_tract(pool: &MaxPool, input: &[usize], winners: bool) -> Option<RowMaxPool> {
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
            pool: Pool2d {
                window: Window {
                    kernel: [spec.kernel_shape[0], spec.kernel_shape[1]],
                    strides: [strides[0], strides[1]],
                    dilations: [dilations[0], dilations[1]],
                    pads_begin: [padding[0].pad_before, padding[1].pad_before],
                    pads_end: [padding[0].pad_after, padding[1].pad_after],
                },
                input: [input[2], input[3]],
                output: [padding[0].convoluted, padding[1].convoluted],
            },
            planes: [input[0], input[1]],
            winners,
        })
    }

    fn output_shape(&self) -> [usize; 4] {
        [self.planes[0], self.planes[1], self.pool.output[0], self.pool.output[1]]
    }

    /// The pool alone: per output row, the max down the window's rows first, then across its columns.
    fn run(&self, x: &[f32], out: &mut [f32]) {
        let Window { kernel, strides: [sh, sw], dilations: [dh, _], pads_begin: [ph, _], .. } = self.pool.window;
        let [h, wd] = self.pool.input;
        let [oh, ow] = self.pool.output;
        if oh * ow == 0 {
            return;
        }
        let spans: Vec<(usize, usize, usize)> =
            self.pool.window.column_spans(wd, ow).into_iter().filter(|s| s.0 < s.1).collect();
        let phase_len = wd.div_ceil(sw);
        // A 3-wide, stride-2 window with every window inside the row (SqueezeNet's, AlexNet's, GoogLeNet's pools).
        let three_by_two = self.pool.window.kernel[1] == 3
            && sw == 2
            && self.pool.window.dilations[1] == 1
            && spans == [(0, ow, 0), (0, ow, 1), (0, ow, 2)];
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
                    for ky in 0..kernel[0] {
                        let iy = (oy * sh + ky * dh) as isize - ph as isize;
                        if iy < 0 || iy as usize >= h {
                            continue;
                        }
                        let row = &x[iy as usize * wd..(iy as usize + 1) * wd];
                        max_into(&mut column, row);
                    }
                    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                    if three_by_two {
                        max3_stride2(&column, best);
                        continue;
                    }
                    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
                    let _ = three_by_two;
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

/// `column[i]` becomes `row[i]` where that is larger (as `if v > c { v } else { c }`, bit for bit).
#[inline]
fn max_into(column: &mut [f32], row: &[f32]) {
    let n = column.len().min(row.len());
    // The SIMD part: the first n rounded down to 4.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let i = {
        use std::arch::wasm32::*;
        let end = n / 4 * 4;
        for i in (0..end).step_by(4) {
            // SAFETY: i + 4 ≤ n, and both slices are at least n long; wasm needs no alignment.
            unsafe {
                let c = column.as_mut_ptr().add(i) as *mut v128;
                v128_store(c, f32x4_pmax(v128_load(c), v128_load(row.as_ptr().add(i) as *const v128)));
            }
        }
        end
    };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let i = 0;
    for (c, &v) in column[i..n].iter_mut().zip(&row[i..n]) {
        *c = if v > *c { v } else { *c };
    }
}

/// `best[ox]` = the max of `column[2·ox]`, `column[2·ox + 1]`, `column[2·ox + 2]`, taken as the general loop in
/// [`RowMaxPool::run`] takes them (from -inf, left to right, a tap replacing the max only if larger: the same
/// value bit for bit, NaN included), four outputs at a time with wasm SIMD: one de-interleave by shuffles instead
/// of the general loop's scalar split into stride phases. With [`max_into`], SqueezeNet's three pools in the
/// page's 2-thread forward: 0.63 → 0.52 ms (of ~11).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn max3_stride2(column: &[f32], best: &mut [f32]) {
    use std::arch::wasm32::*;
    let ow = best.len();
    assert!(column.len() > 2 * ow);
    let take = |best: f32, v: f32| if v > best { v } else { best };
    let mut ox = 0;
    // Four outputs read column[2·ox .. 2·ox + 10).
    while ox + 4 <= ow && 2 * ox + 10 <= column.len() {
        // SAFETY: the loads end at 2·ox + 10 ≤ column.len(), the store at ox + 4 ≤ best.len(); wasm loads and
        // stores need no alignment.
        unsafe {
            let p = column.as_ptr().add(2 * ox);
            let (a, b) = (v128_load(p as *const v128), v128_load(p.add(4) as *const v128));
            let (c, d) = (v128_load(p.add(2) as *const v128), v128_load(p.add(6) as *const v128));
            let left = i32x4_shuffle::<0, 2, 4, 6>(a, b);
            let middle = i32x4_shuffle::<1, 3, 5, 7>(a, b);
            let right = i32x4_shuffle::<0, 2, 4, 6>(c, d);
            // f32x4_pmax(m, v) is `m < v ? v : m`: `take` lane by lane.
            let m = f32x4_pmax(f32x4_pmax(f32x4_pmax(f32x4_splat(f32::NEG_INFINITY), left), middle), right);
            v128_store(best.as_mut_ptr().add(ox) as *mut v128, m);
        }
        ox += 4;
    }
    for (ox, b) in best.iter_mut().enumerate().skip(ox) {
        *b = column[2 * ox..2 * ox + 3].iter().fold(f32::NEG_INFINITY, |m, &v| take(m, v));
    }
}

/// Replaces every MaxPool of `model` that [`RowMaxPool`] covers. The pools producing the model outputs listed in
/// `winners_of` (indices into `model.output_outlets()`) also output their window winners, appended to the model's
/// outputs in that order; returns the indices whose pools do (a pool tract fused into something else does not).
pub fn replace_max_pools(model: &mut TypedModel, winners_of: &[usize]) -> TractResult<Vec<usize>> {
    let wanted: Vec<OutletId> =
        winners_of.iter().map(|&i| model.output_outlets().map(|o| o[i])).collect::<TractResult<_>>()?;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(pool) = node.op_as::<MaxPool>() else { continue };
        let fact = model.outlet_fact(node.inputs[0])?;
        if fact.datum_type != f32::datum_type() {
            continue;
        }
        let Some(shape) = fact.shape.as_concrete().map(|s| s.to_vec()) else { continue };
        let winners = wanted.contains(&OutletId::new(id, 0));
        let Some(op) = RowMaxPool::from_tract(pool, &shape, winners) else { continue };
        // By hand rather than `replace_single_op`, which expects as many outputs as the node had.
        let mut patch = TypedModelPatch::default();
        let input = patch.tap_model(model, node.inputs[0])?;
        let wires = patch.wire_node(&node.name, op, &[input])?;
        patch.shunt_outside(model, OutletId::new(id, 0), wires[0])?;
        patch.apply(model)?;
    }
    let mut outputs = model.output_outlets()?.to_vec();
    let mut found = vec![];
    for &i in winners_of {
        let outlet = outputs[i];
        if outlet.slot == 0 && model.node(outlet.node).op_as::<RowMaxPool>().is_some_and(|p| p.winners) {
            outputs.push(OutletId::new(outlet.node, 1));
            found.push(i);
        }
    }
    model.select_output_outlets(&outputs)?;
    Ok(found)
}
