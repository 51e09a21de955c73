//! Pad (constant, reflect, edge; the modes tract runs): every output element copies one input element or is the constant, so the
//! gradient is scattered back onto the elements each output copied.

use std::sync::Arc;

use super::layout::AxisMaps;
use super::reshape::Select;
use super::{OpDecl, OpVjp};
use crate::error::Result;
use crate::graph::ParseCtx;

pub const PAD: OpDecl = OpDecl { names: &["Pad"], parse: parse_pad, each_output: false };

fn parse_pad(ctx: &ParseCtx) -> Result<Arc<dyn OpVjp>> {
    let shape = ctx.input_shape(0);
    let out = ctx.output_shape();
    let rank = shape.len();
    let mode = ctx.string("mode")?.unwrap_or_else(|| "constant".into());
    // Before opset 11 the pads are an attribute ('paddings' in opset 1); from 11 a constant input.
    let pads: Vec<i64> = if ctx.opset() < 11 {
        match ctx.ints("pads")? {
            Some(p) => p,
            None => ctx.ints("paddings")?.ok_or_else(|| ctx.err("Pad without 'pads'"))?,
        }
    } else {
        let p = ctx.const_at_position(1)?.ok_or_else(|| ctx.err("Pad without its 'pads' input"))?;
        p.data.iter().map(|&v| v as i64).collect()
    };
    // Opset 18's axes input is not read: tract 0.23 cannot infer the output shape with it.
    let axes: Vec<usize> = (0..rank).collect();
    if pads.len() != 2 * axes.len() {
        return Err(ctx.err(format!("{} pads for {} axes", pads.len(), axes.len())));
    }
    // tract 0.23 panics running a Pad with negative pads (cropping), so they are refused here, before any plan.
    if pads.iter().any(|&p| p < 0) {
        return Err(ctx.err(format!("negative pads {pads:?} (cropping) are not supported")));
    }
    let (mut begin, mut end) = (vec![0i64; rank], vec![0i64; rank]);
    for (k, &a) in axes.iter().enumerate() {
        (begin[a], end[a]) = (pads[k], pads[k + axes.len()]);
    }
    let mut maps: AxisMaps = vec![];
    for a in 0..rank {
        let dim = shape[a] as i64;
        if out[a] as i64 != dim + begin[a] + end[a] {
            return Err(ctx.err(format!("pads {pads:?} do not give the output shape {out:?}")));
        }
        let map = (0..out[a] as i64)
            .map(|o| {
                let i = o - begin[a];
                if (0..dim).contains(&i) {
                    return Ok(Some(i as usize));
                }
                Ok(match mode.as_str() {
                    "constant" => None,
                    "edge" => Some(i.clamp(0, dim - 1) as usize),
                    "reflect" if dim == 1 => Some(0),
                    "reflect" => {
                        // Mirror about the first and last elements (period 2·(dim − 1)).
                        let period = 2 * (dim - 1);
                        let r = i.rem_euclid(period);
                        Some(if r < dim { r } else { period - r } as usize)
                    }
                    other => return Err(ctx.err(format!("Pad mode '{other}' is not supported"))),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        maps.push(map);
    }
    Ok(Arc::new(Select { maps }))
}
