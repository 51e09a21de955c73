//! The 2-D window Conv and the pools share, and how a node's attributes give it.

use tract_onnx::pb::NodeProto;

use super::attrs::{ints, pair, tract_err};
use crate::error::Result;

/// Spatial window shared by Conv and the pools (2-D only: N, C, H, W).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Padding before each spatial axis (top, left).
    pub pads_begin: [usize; 2],
    /// Padding after (bottom, right): output sizes come from tract, but AveragePool's
    /// count_include_pad divisor depends on it.
    pub pads_end: [usize; 2],
}

impl Window {
    /// Per kernel column kx, for an input `width` wide and an output `out_width` wide: the output columns [lo, hi)
    /// whose input column ox·stride + kx·dilation − pad lies inside the input (lo == hi: none), and the input
    /// column of the first. Conv's col2im and the max pools loop over these without bounds tests.
    pub fn column_spans(&self, width: usize, out_width: usize) -> Vec<(usize, usize, usize)> {
        let (sw, dw, pw) = (self.strides[1], self.dilations[1], self.pads_begin[1]);
        (0..self.kernel[1])
            .map(|kx| {
                let off = (kx * dw) as isize - pw as isize;
                let lo = if off >= 0 { 0 } else { off.unsigned_abs().div_ceil(sw) };
                let hi = if off >= width as isize {
                    0
                } else {
                    ((width as isize - off) as usize).div_ceil(sw).min(out_width)
                };
                (lo, hi.max(lo), ((lo * sw) as isize + off).max(0) as usize)
            })
            .collect()
    }
}

/// Reads kernel/strides/dilations/pads (incl. auto_pad) of a 2-D window.
pub(super) fn window(node: &NodeProto, kernel: [usize; 2], in_hw: [usize; 2], out_hw: [usize; 2]) -> Result<Window> {
    let strides = pair(node, "strides", ints(node, "strides")?, 1)?;
    let dilations = pair(node, "dilations", ints(node, "dilations")?, 1)?;
    let auto_pad = node.get_attr_opt::<String>("auto_pad").map_err(|e| tract_err(node, e))?.unwrap_or_default();
    let (pads_begin, pads_end) = match auto_pad.as_str() {
        "" | "NOTSET" => match ints(node, "pads")? {
            None => ([0, 0], [0, 0]),
            Some(p) if p.len() == 4 && p.iter().all(|&x| x >= 0) => {
                ([p[0] as usize, p[1] as usize], [p[2] as usize, p[3] as usize])
            }
            Some(p) => return Err(tract_err(node, format!("pads {p:?}: only 2-D windows are supported"))),
        },
        "VALID" => ([0, 0], [0, 0]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let (mut begin, mut end) = ([0; 2], [0; 2]);
            for a in 0..2 {
                let span = (kernel[a] - 1) * dilations[a] + 1;
                let total = ((out_hw[a] - 1) * strides[a] + span).saturating_sub(in_hw[a]);
                let small = total / 2;
                (begin[a], end[a]) =
                    if auto_pad == "SAME_UPPER" { (small, total - small) } else { (total - small, small) };
            }
            (begin, end)
        }
        other => return Err(tract_err(node, format!("auto_pad '{other}' is not an ONNX value"))),
    };
    Ok(Window { kernel, strides, dilations, pads_begin, pads_end })
}
