//! Maps and tensors to RGBA pixels a page or a PNG file can show.
//!
//! Heatmaps use the perceptually uniform INFERNO colormap (black → purple → orange → pale yellow), normalised
//! per map: `t = (v − lo) / (hi − lo)` with `lo = min(0, min v)` and `hi` the 99th percentile of v (nearest rank),
//! values above it saturating. Saliency is heavy-tailed: scaled by its single largest value, a map on a projector
//! is black but for a few dots; the top 1% saturating shows where the network looks. For maps under 100 values
//! the 99th percentile is the maximum. A constant map (e.g. all zeros) and non-finite values give `t = 0`, never NaN.

use std::sync::OnceLock;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use crate::error::{Error, Result};
use crate::preprocess::Preprocess;
use crate::tensor::Tensor;

/// Each value mapped to 0..=1 as described in the module docs.
pub fn normalise(map: &[f32]) -> Vec<f32> {
    let mut finite: Vec<f32> = map.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(0.0f32, f32::min);
    let hi = match finite.len() {
        0 => f32::NEG_INFINITY,
        n => {
            let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n) - 1;
            *finite.select_nth_unstable_by(rank, f32::total_cmp).1
        }
    };
    let span = hi - lo;
    map.iter().map(|&v| if v.is_finite() && span > 0.0 { ((v - lo) / span).clamp(0.0, 1.0) } else { 0.0 }).collect()
}

/// How finely a colour map is sampled: colorous evaluates a cubic B-spline per channel at each call (~45 ns, most of
/// a 224 × 224 panel's time), so each map is evaluated once at STEPS + 1 evenly spaced points and a value takes
/// the nearest. Off the sample points a channel can differ from colorous's by one unit (its slope is at most ~2
/// units per 1/256); at the points (0, ½, 1 among them) it is colorous's exactly.
const STEPS: usize = 4096;

/// A colorous gradient sampled at STEPS + 1 points, once per process.
struct Table {
    gradient: colorous::Gradient,
    colours: OnceLock<Vec<[u8; 3]>>,
}

impl Table {
    const fn of(gradient: colorous::Gradient) -> Table {
        Table { gradient, colours: OnceLock::new() }
    }
    /// The colour at `t` in 0..=1 (clamped; NaN reads 0).
    fn at(&self, t: f32) -> [u8; 3] {
        let colours = self.colours.get_or_init(|| {
            (0..=STEPS)
                .map(|i| {
                    let c = self.gradient.eval_continuous(i as f64 / STEPS as f64);
                    [c.r, c.g, c.b]
                })
                .collect()
        });
        colours[(t.clamp(0.0, 1.0) * STEPS as f32 + 0.5) as usize]
    }
}

static INFERNO: Table = Table::of(colorous::INFERNO);
static RED_BLUE: Table = Table::of(colorous::RED_BLUE);

fn inferno(t: f32) -> [u8; 3] {
    INFERNO.at(t)
}

/// Opaque RGBA, one pixel per colour.
fn opaque(colours: impl ExactSizeIterator<Item = [u8; 3]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(colours.len() * 4);
    for [r, g, b] in colours {
        out.extend_from_slice(&[r, g, b, 255]);
    }
    out
}

/// Opaque RGBA heatmap, one pixel per map value.
pub fn heatmap_rgba(map: &[f32]) -> Vec<u8> {
    opaque(normalise(map).into_iter().map(inferno))
}

/// [`heatmap_rgba`] and [`overlay_rgba`] of the same map, normalised once.
pub fn heatmap_and_overlay_rgba(image_rgba: &[u8], map: &[f32]) -> (Vec<u8>, Vec<u8>) {
    let t = normalise(map);
    let colours: Vec<[u8; 3]> = t.iter().map(|&t| inferno(t)).collect();
    let overlay = blend(image_rgba, colours.iter().copied().zip(t.iter().copied()));
    (opaque(colours.into_iter()), overlay)
}

/// Opaque RGBA heatmap of values already in 0..=1 (clamped), without per-map normalisation: tiles that share a
/// colour scale.
pub fn heatmap_rgba_fixed(values: &[f32]) -> Vec<u8> {
    opaque(values.iter().map(|&v| inferno(if v.is_finite() { v } else { 0.0 })))
}

/// The heatmap blended over the photo, each pixel weighted by its normalised saliency: where the network does
/// not look the photo shows through, where it looks hardest the colormap's bright end covers it.
pub fn overlay_rgba(image_rgba: &[u8], map: &[f32]) -> Vec<u8> {
    blend(image_rgba, normalise(map).into_iter().map(|t| (inferno(t), t)))
}

/// Each photo pixel mixed with a colour by a weight in 0..=1 (one (colour, weight) per pixel).
fn blend(image_rgba: &[u8], colours: impl ExactSizeIterator<Item = ([u8; 3], f32)>) -> Vec<u8> {
    assert_eq!(
        image_rgba.len(),
        colours.len() * 4,
        "overlay: the image has {} bytes for {} map values",
        image_rgba.len(),
        colours.len()
    );
    let mut out = Vec::with_capacity(image_rgba.len());
    for (px, (colour, t)) in image_rgba.chunks_exact(4).zip(colours) {
        // Rounded as `+ 0.5` then truncated (the value is clamped non-negative first): `f32::round` is a libm call
        // on targets without SSE4.1.
        let mix = |c: usize| ((px[c] as f32 * (1.0 - t) + colour[c] as f32 * t).clamp(0.0, 255.0) + 0.5) as u8;
        out.extend_from_slice(&[mix(0), mix(1), mix(2), 255]);
    }
    out
}

/// Each value mapped to −1..=1 by the 99th percentile of |v| (values beyond it saturate), for signed maps.
pub fn normalise_signed(map: &[f32]) -> Vec<f32> {
    let abs: Vec<f32> = map.iter().map(|v| v.abs()).collect();
    let t = normalise(&abs);
    map.iter().zip(t).map(|(&v, t)| if v < 0.0 { -t } else { t }).collect()
}

/// Diverging colormap for signed maps: blue (−) → white (0) → red (+) (ColorBrewer RdBu, via colorous).
fn diverging(s: f32) -> [u8; 3] {
    RED_BLUE.at(0.5 - 0.5 * s)
}

/// Opaque RGBA of a signed map: blue where it lowers the score, red where it raises it, white at 0.
pub fn diverging_rgba(map: &[f32]) -> Vec<u8> {
    opaque(normalise_signed(map).into_iter().map(diverging))
}

/// A signed map over the photo: the diverging colour covers the photo in proportion to |value|.
pub fn overlay_diverging_rgba(image_rgba: &[u8], map: &[f32]) -> Vec<u8> {
    blend(image_rgba, normalise_signed(map).into_iter().map(|s| (diverging(s), s.abs())))
}

/// [`diverging_rgba`] and [`overlay_diverging_rgba`] of the same map, normalised once.
pub fn diverging_and_overlay_rgba(image_rgba: &[u8], map: &[f32]) -> (Vec<u8>, Vec<u8>) {
    let s = normalise_signed(map);
    let colours: Vec<[u8; 3]> = s.iter().map(|&s| diverging(s)).collect();
    let overlay = blend(image_rgba, colours.iter().copied().zip(s.iter().map(|s| s.abs())));
    (opaque(colours.into_iter()), overlay)
}

/// `128 + gain · (changed − original)` per channel, in 0–255 pixel units, clamped and rounded: grey where
/// nothing changed. Gain 10 makes a fooling image's few-pixel-unit perturbation visible. SqueezeNet's
/// preprocessing; [`diff_rgba_for`] takes the model's.
pub fn diff_rgba(original: &Tensor, changed: &Tensor, gain: f32) -> Vec<u8> {
    diff_rgba_for(&Preprocess::imagenet(), original, changed, gain)
}

/// [`diff_rgba`] for tensors made by `pre` (a grey model's difference is drawn grey).
pub fn diff_rgba_for(pre: &Preprocess, original: &Tensor, changed: &Tensor, gain: f32) -> Vec<u8> {
    assert_eq!(original.shape, changed.shape, "diff of tensors with different shapes");
    assert!(
        original.shape.len() == 4 && original.shape[..2] == [1, pre.channels],
        "expected [1, {}, H, W], got {:?}",
        pre.channels,
        original.shape
    );
    let plane = original.shape[2] * original.shape[3];
    let mut out = Vec::with_capacity(plane * 4);
    for i in 0..plane {
        for rgb in 0..3 {
            let c = if pre.channels == 1 {
                0
            } else if pre.bgr {
                2 - rgb
            } else {
                rgb
            };
            let k = c * plane + i;
            let d = pre.to_pixel_value(changed.data[k], c) - pre.to_pixel_value(original.data[k], c);
            let v = 128.0 + gain * d;
            out.push(if v.is_nan() { 128 } else { v.round().clamp(0.0, 255.0) as u8 });
        }
        out.push(255);
    }
    out
}

/// PNG file bytes of an RGBA buffer.
pub fn encode_png_rgba(rgba: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    if rgba.len() as u64 != w as u64 * h as u64 * 4 {
        return Err(Error::Invalid(format!("PNG: {} bytes do not make a {w}×{h} RGBA image", rgba.len())));
    }
    let mut bytes = Vec::new();
    PngEncoder::new(&mut bytes)
        .write_image(rgba, w, h, ExtendedColorType::Rgba8)
        .map_err(|e| Error::Invalid(format!("PNG encoding failed: {e}")))?;
    Ok(bytes)
}
