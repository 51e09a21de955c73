//! "Does it survive sharing?": the adversarial image as the PNG a student downloads, and as JPEG at quality 90
//! and 75 (the `image` crate's encoder), each decoded again for the network.

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder};

use super::Pixels;
use crate::error::{Error, Result};
use crate::imageio;
use crate::preprocess::Preprocess;
use crate::render;

/// JPEG bytes of an RGBA picture (alpha dropped) at `quality` (1–100).
pub fn encode_jpeg(rgba: &[u8], w: u32, h: u32, quality: u8) -> Result<Vec<u8>> {
    let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .write_image(&rgb, w, h, ExtendedColorType::Rgb8)
        .map_err(|e| Error::Invalid(format!("JPEG encoding failed: {e}")))?;
    Ok(bytes)
}

/// The picture after each way of sharing it: (label, pixel values decoded again).
/// `pre` is the model's preprocessing (its channels; a grey picture stays grey through JPEG to within rounding).
pub fn reencoded(pre: &Preprocess, rgba: &[u8], w: u32, h: u32) -> Result<Vec<(String, Pixels)>> {
    let decode = |bytes: &[u8]| -> Result<Pixels> {
        let rgb = imageio::decode_own(bytes)?;
        Ok(pre.pixels_of_rgba(&imageio::rgb_to_rgba(&pre.fit(&rgb))))
    };
    let mut out = vec![("as PNG".to_string(), decode(&render::encode_png_rgba(rgba, w, h)?)?)];
    for q in [90u8, 75] {
        out.push((format!("as JPEG q{q}"), decode(&encode_jpeg(rgba, w, h, q)?)?));
    }
    Ok(out)
}
