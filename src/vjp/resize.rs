//! Resize (opset 10+; nearest, linear, cubic; every coordinate mode but tf_crop_and_resize): each resized axis is
//! a fixed linear map, which tract plans per axis. The plans are built here with tract's own planner
//! (`tract_core::ops::nn::resize::plan_axis`, the same taps and weights its forward pass uses), and the VJP applies
//! their transposes, axis by axis in reverse order.

use std::sync::Arc;

use tract_onnx::tract_core::ops::nn::resize::{
    cubic_weights, linear_weights, plan_axis, window_size, AxisPlan, CoordTransformer, Interpolator,
};

use super::{OpDecl, OpVjp, Step};
use crate::error::Result;
use crate::graph::ParseCtx;
use crate::tensor::Tensor;

pub const RESIZE: OpDecl = OpDecl { names: &["Resize"], parse: parse_resize, each_output: false };

#[derive(Debug)]
struct Resize {
    /// Per axis, the plan from the input length to the output length (None: the axis is left as it is).
    plans: Vec<Option<AxisPlan>>,
}

/// ONNX's nearest_mode: which neighbour a fractional source coordinate takes (as tract-onnx-opl decides it).
fn prefers_right(mode: &str, ratio: f32) -> bool {
    match mode {
        "floor" => false,
        "ceil" => true,
        "round_prefer_ceil" => ratio >= 0.5,
        _ => ratio > 0.5,
    }
}

fn parse_resize(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let (input, output) = (ctx.input_shape(0), ctx.output_shape());
    let rank = input.len();
    let opset = ctx.opset();
    if opset < 10 {
        return Err(ctx.err("Resize before opset 10 is not supported"));
    }
    let string =
        |name: &str, default: &str| -> Result<String> { Ok(ctx.string(name)?.unwrap_or_else(|| default.to_string())) };
    let coord_name =
        if opset == 10 { "asymmetric".to_string() } else { string("coordinate_transformation_mode", "half_pixel")? };
    if coord_name == "tf_crop_and_resize" {
        return Err(ctx.err("Resize in tf_crop_and_resize mode is not supported"));
    }
    let coord = CoordTransformer::parse(&coord_name).map_err(|e| ctx.err(e))?;
    let interpolator = Interpolator::parse(&string("mode", "nearest")?).map_err(|e| ctx.err(e))?;
    let nearest = string("nearest_mode", "round_prefer_floor")?;
    if !["floor", "ceil", "round_prefer_floor", "round_prefer_ceil"].contains(&nearest.as_str()) {
        return Err(ctx.err(format!("nearest_mode '{nearest}' is not an ONNX value")));
    }
    let cubic_a = ctx.float("cubic_coeff_a", -0.75)?;
    let exclude = ctx.int("exclude_outside", 0)? != 0;
    let antialias = opset >= 18 && ctx.int("antialias", 0)? != 0;
    if opset >= 18 && string("keep_aspect_ratio_policy", "stretch")? != "stretch" {
        return Err(ctx.err("Resize with keep_aspect_ratio_policy other than 'stretch' is not supported"));
    }
    let axes: Vec<usize> = match ctx.ints("axes")? {
        Some(a) if opset >= 18 => a.iter().map(|&v| ctx.axis(v, rank)).collect::<Result<_>>()?,
        _ => (0..rank).collect(),
    };
    // The scales tract uses: the scales input where it gives one per axis, else output / input lengths.
    let scales_at = if opset == 10 { 1 } else { 2 };
    let given = ctx.const_at_position(scales_at)?.filter(|s| !s.data.is_empty() && s.data.len() == axes.len());
    let mut scales = vec![1.0f32; rank];
    for (k, &a) in axes.iter().enumerate() {
        scales[a] = match given {
            Some(s) => s.data[k],
            None => output[a] as f32 / input[a] as f32,
        };
    }
    let plans = (0..rank)
        .map(|a| {
            let (len_in, len_out, scale) = (input[a], output[a], scales[a]);
            if len_in == len_out && scale == 1.0 {
                return None;
            }
            let window = window_size(&interpolator, antialias, scale);
            let coord = |x| Some(coord.transform(x, scale, len_in, len_out));
            Some(match interpolator {
                Interpolator::Linear => {
                    plan_axis(len_in, len_out, window, exclude, coord, |r, w| linear_weights(r, scale, antialias, w))
                }
                Interpolator::Cubic => plan_axis(len_in, len_out, window, exclude, coord, |r, w| {
                    cubic_weights(r, scale, cubic_a, antialias, w)
                }),
                Interpolator::Nearest => plan_axis(len_in, len_out, window, exclude, coord, |r, w| {
                    let right = r == 1.0 || prefers_right(&nearest, r);
                    w[0] = !right as u8 as f32;
                    w[1] = right as u8 as f32;
                }),
            })
        })
        .collect();
    Ok(Arc::new(Resize { plans }))
}

impl OpVjp for Resize {
    fn vjp(&self, step: &Step, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let input = step.input_shape(0);
        let mut g = grad.clone();
        for (axis, plan) in self.plans.iter().enumerate().rev() {
            let Some(plan) = plan else { continue };
            g = transpose_axis(&g, axis, input[axis], plan);
        }
        Ok(step.first(g))
    }
}

/// The adjoint of tract's `resample_axis`: every output row's gradient goes back to the taps it read, weighted.
fn transpose_axis(g: &Tensor, axis: usize, len_in: usize, plan: &AxisPlan) -> Tensor {
    let len_out = g.shape[axis];
    let inner: usize = g.shape[axis + 1..].iter().product();
    let mut shape = g.shape.clone();
    shape[axis] = len_in;
    let mut dx = Tensor::zeros(&shape);
    if inner == 0 || len_out == 0 {
        return dx;
    }
    let window = plan.window;
    for (src, dst) in g.data.chunks_exact(len_out * inner).zip(dx.data.chunks_exact_mut(len_in * inner)) {
        for (x, row) in src.chunks_exact(inner).enumerate() {
            if plan.extrapolated[x] {
                continue;
            }
            let taps = plan.indices[x * window..][..window].iter().zip(&plan.weights[x * window..][..window]);
            for (&i, &w) in taps.filter(|(_, w)| **w != 0.0) {
                for (d, s) in dst[i * inner..][..inner].iter_mut().zip(row) {
                    *d += w * s;
                }
            }
        }
    }
    dx
}
