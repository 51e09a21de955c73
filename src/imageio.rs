//! Image bytes in, network tensors out (and back again for display).
//!
//! Preprocessing follows torchvision's ImageNet recipe, `Resize(256)`, `CenterCrop(224)`, `ToTensor()`,
//! `Normalize(MEAN, STD)`, so that the model sees what it saw in PyTorch:
//! - the short side is resized to 256 with an antialiased bilinear filter (`FilterType::Triangle`, PIL's
//!   "bilinear"); the long side becomes `floor(256 · long / short)` as in torchvision;
//! - the 224×224 crop offset is `round((size − 224) / 2)` with Python's round-half-to-even, as in torchvision;
//! - an image that is already 224×224 is used exactly as it is (no resampling at all).
//!
//! Decoding choices:
//! - Transparent pixels are composited onto **white** (a cut-out object on a transparent background reads as
//!   "object on a white page", which ImageNet photos resemble far more than the black that dropping alpha gives).
//! - 16-bit images are converted to 8 bits with rounding (`round(v · 255 / 65535)`).
//! - EXIF orientation is applied, so a phone photo is upright.
//! - GIF: the first frame only.
//! - Size limits are checked from the header, before any pixel buffer is allocated: at most [`MAX_PIXELS`]
//!   pixels and [`MAX_SIDE`] per side (decompression bombs), at least [`MIN_SIDE`] per side.
//! - Extreme panoramas (long side more than [`MAX_ASPECT`] × the short side) are first trimmed to the central
//!   `MAX_ASPECT × short` strip; the centre crop never sees the trimmed parts, and it keeps the resize small.
//!
//! Inverse: a normalised value becomes `clamp(round((x · STD + MEAN) · 255), 0, 255)`; `f32::round`
//! rounds half away from zero (values are non-negative after clamping, so: half up).

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Side of the square the network takes.
pub const INPUT_SIZE: u32 = 224;
/// torchvision's `Resize(256)` before `CenterCrop(224)`.
pub const RESIZE_SHORT_SIDE: u32 = 256;
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// 50 megapixels: above any ordinary camera output, and the decoded buffer (≤ 400 MB even for 16-bit RGBA)
/// still fits in the decoder's default allocation limit.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Longest side accepted (also bounds the resize work for long, thin images).
pub const MAX_SIDE: u32 = 20_000;
/// Smaller images carry too little to classify; they would be blown up from a few pixels.
pub const MIN_SIDE: u32 = 16;
/// Beyond this long:short ratio only the central strip is resized (see module docs).
pub const MAX_ASPECT: u32 = 4;

const SUPPORTED: &str = "PNG, JPEG, WebP, GIF, BMP";

/// Decodes any supported image to upright RGB8, checking the size limits before the full decode.
pub fn decode(bytes: &[u8]) -> Result<RgbImage> {
    decode_min(bytes, MIN_SIDE)
}

/// [`decode`] for pictures netlens made itself (a fooled or adversarial image of a model whose input is under
/// [`MIN_SIDE`], decoded again): no minimum size.
pub fn decode_own(bytes: &[u8]) -> Result<RgbImage> {
    decode_min(bytes, 1)
}

fn decode_min(bytes: &[u8], min_side: u32) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::Image(format!("the file is empty; expected an image ({SUPPORTED})")));
    }
    // The decoders are third-party code fed with untrusted bytes; a panic there must become an error, not a
    // crash of the CLI or the page (where panic=abort cannot catch it, but native callers and tests can).
    match std::panic::catch_unwind(|| decode_inner(bytes, min_side)) {
        Ok(result) => result,
        Err(_) => Err(Error::Image("image is truncated or corrupt: the decoder failed on it".into())),
    }
}

fn decode_inner(bytes: &[u8], min_side: u32) -> Result<RgbImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(format!("could not read the image: {e}")))?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif | ImageFormat::Bmp)) => f,
        Some(other) => {
            return Err(Error::Image(format!(
                "not an image we can read ({SUPPORTED}); this looks like {}",
                format_name(other)
            )))
        }
        None => return Err(Error::Image(format!("not an image we can read ({SUPPORTED})"))),
    };
    // The PNG decoder sizes its row buffer from the header and refuses absurd widths with a bare "memory
    // limit" error; reading IHDR ourselves gives the same answer with the image's size in it.
    if let Some((w, h)) = png_header_dimensions(bytes) {
        check_size(w, h, min_side)?;
    }
    if format == ImageFormat::Jpeg && !jpeg_has_end_marker(bytes) {
        // zune-jpeg fills a cut-off JPEG with grey and reports success; a half-downloaded photo must not be
        // classified as if it were whole.
        return Err(Error::Image(
            "image is truncated or corrupt (JPEG): the data stops before the end-of-image marker".into(),
        ));
    }
    // Header phase: no dimension limit yet, so that an oversized image gets our message with its size.
    // No decoder allocates the pixel buffer before `read_image`.
    let mut header_limits = Limits::default();
    header_limits.max_image_width = None;
    header_limits.max_image_height = None;
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(|e| describe(format, e))?;
    let (w, h) = decoder.dimensions();
    check_size(w, h, min_side)?;

    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    decoder.set_limits(limits).map_err(|e| describe(format, e))?;
    // A broken EXIF block is not worth refusing a photo over: keep it as stored.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| describe(format, e))?;
    image.apply_orientation(orientation);
    Ok(to_rgb_on_white(image))
}

fn png_header_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    Some((be(16), be(20)))
}

/// Walks the marker segments up to the first scan, then looks for EOI (FFD9). Entropy-coded data cannot
/// contain FFD9 (an FF there is always followed by 00 or a marker between scans), and skipping the segments
/// skips EXIF thumbnails with their own EOI; data appended after EOI (motion photos) does not matter.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return true; // not a layout we understand: leave the verdict to the decoder
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xDA {
            return bytes[i..].windows(2).any(|w| w == [0xFF, 0xD9]);
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        i += 2 + len;
    }
    false
}

fn check_size(w: u32, h: u32, min_side: u32) -> Result<()> {
    let pixels = w as u64 * h as u64;
    if pixels > MAX_PIXELS || w > MAX_SIDE || h > MAX_SIDE {
        return Err(Error::Image(format!(
            "image is {w}×{h} = {}; the limit is {} and at most {MAX_SIDE} pixels per side",
            megapixels(pixels),
            megapixels(MAX_PIXELS)
        )));
    }
    if w < min_side || h < min_side {
        return Err(Error::Image(format!(
            "image is only {w}×{h} pixels; it needs at least {min_side} pixels per side"
        )));
    }
    Ok(())
}

fn megapixels(pixels: u64) -> String {
    if pixels >= 1_000_000_000 {
        format!("{:.1} gigapixels", pixels as f64 / 1e9)
    } else {
        format!("{:.1} megapixels", pixels as f64 / 1e6)
    }
}

fn format_name(format: ImageFormat) -> String {
    format!("{format:?}").to_uppercase()
}

fn describe(format: ImageFormat, e: ImageError) -> Error {
    let name = format_name(format);
    match e {
        ImageError::Limits(l) => Error::Image(format!(
            "{name} image is too large to decode ({l}); the limit is {} and at most {MAX_SIDE} pixels per side",
            megapixels(MAX_PIXELS)
        )),
        ImageError::Unsupported(u) => Error::Image(format!("{name} variant we cannot read: {u}")),
        other => Error::Image(format!("image is truncated or corrupt ({name}): {other}")),
    }
}

/// A camera frame's raw RGBA pixels (the page's live mode, `width`×`height`, row-major) as the RGB8 picture a
/// decoded file would give: the same size limits, alpha composited onto white as for a PNG. Its resize and crop
/// are then the model's ([`crate::preprocess::Preprocess::fit`]), exactly as for a dropped image.
pub fn from_rgba(rgba: &[u8], width: u32, height: u32) -> Result<RgbImage> {
    check_size(width, height, MIN_SIDE)?;
    let expected = width as usize * height as usize * 4;
    if rgba.len() != expected {
        return Err(Error::Image(format!("a {width}×{height} frame has {expected} RGBA bytes, not {}", rgba.len())));
    }
    let image = image::RgbaImage::from_raw(width, height, rgba.to_vec()).expect("length checked above");
    Ok(to_rgb_on_white(DynamicImage::ImageRgba8(image)))
}

/// RGB8, compositing any alpha onto white in one rounding step from the source depth.
fn to_rgb_on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba16();
    let (w, h) = rgba.dimensions();
    let max = 65535.0f64;
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = src[3] as f64;
        for c in 0..3 {
            let v = (src[c] as f64 * a + max * (max - a)) / (max * max) * 255.0;
            dst[c] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// torchvision `Resize(256)` + `CenterCrop(224)`; a 224×224 image is returned unchanged.
pub fn crop_for_network(image: &RgbImage) -> RgbImage {
    crop_to(image, INPUT_SIZE, INPUT_SIZE)
}

/// `Resize(side · 256 / 224)` + `CenterCrop(h, w)` for a network input of w×h (224 → 256 as torchvision's
/// ImageNet recipe; a non-square input is covered at (w, h) · 256 / 224); an image of exactly w×h is returned
/// unchanged.
pub fn crop_to(image: &RgbImage, cw: u32, ch: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    if (w, h) == (cw, ch) {
        return image.clone();
    }
    let trimmed;
    let image = if w.max(h) > MAX_ASPECT * w.min(h) {
        let keep = MAX_ASPECT * w.min(h);
        trimmed = if w > h {
            image::imageops::crop_imm(image, (w - keep) / 2, 0, keep, h).to_image()
        } else {
            image::imageops::crop_imm(image, 0, (h - keep) / 2, w, keep).to_image()
        };
        &trimmed
    } else {
        image
    };
    let (rw, rh) = if cw == ch {
        resized_size_to(image.width(), image.height(), crop_short_side(cw))
    } else {
        let (tw, th) = (crop_short_side(cw) as f64, crop_short_side(ch) as f64);
        let s = (tw / image.width() as f64).max(th / image.height() as f64);
        (((image.width() as f64 * s) as u32).max(cw), ((image.height() as f64 * s) as u32).max(ch))
    };
    let resized = if (rw, rh) == image.dimensions() {
        image.clone()
    } else {
        image::imageops::resize(image, rw, rh, FilterType::Triangle)
    };
    let (cw, ch) = (cw.min(rw), ch.min(rh));
    let left = centre_offset(rw, cw);
    let top = centre_offset(rh, ch);
    image::imageops::crop_imm(&resized, left, top, cw, ch).to_image()
}

/// The short side a crop to `side` starts from: torchvision's 256 for 224, `side · 256 / 224` in general.
pub fn crop_short_side(side: u32) -> u32 {
    side * RESIZE_SHORT_SIDE / INPUT_SIZE
}

/// Output size of torchvision's `Resize(256)`: short side 256, long side truncated like `int(256 * long / short)`.
pub fn resized_size(w: u32, h: u32) -> (u32, u32) {
    resized_size_to(w, h, RESIZE_SHORT_SIDE)
}

/// torchvision's `Resize(short)`: short side `short`, long side `int(short * long / short_side)`.
pub fn resized_size_to(w: u32, h: u32, short: u32) -> (u32, u32) {
    let s = short as u64;
    if w <= h {
        (short, (s * h as u64 / w.max(1) as u64) as u32)
    } else {
        ((s * w as u64 / h.max(1) as u64) as u32, short)
    }
}

/// torchvision's `int(round((size - crop) / 2.0))`; Python rounds halves to even.
pub fn centre_offset(size: u32, crop: u32) -> u32 {
    let d = size.saturating_sub(crop);
    let half = d / 2;
    if d.is_multiple_of(2) || half.is_multiple_of(2) {
        half
    } else {
        half + 1
    }
}

/// Decode + crop: the 224×224 picture the network will see.
pub fn load_224(bytes: &[u8]) -> Result<RgbImage> {
    Ok(crop_for_network(&decode(bytes)?))
}

/// `[1, 3, H, W]`, `(p / 255 − MEAN) / STD`, the same float ops in the same order as torchvision.
pub fn rgb_to_tensor(image: &RgbImage) -> Tensor {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let plane = w * h;
    let mut data = vec![0.0f32; 3 * plane];
    for (i, p) in image.pixels().enumerate() {
        for c in 0..3 {
            data[c * plane + i] = (p[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
    Tensor::new(vec![1, 3, h, w], data)
}

/// Pixel value (0–255 scale, unclamped and unrounded) of a normalised value in channel `c`.
pub fn to_pixel_value(x: f32, c: usize) -> f32 {
    (x * STD[c] + MEAN[c]) * 255.0
}

/// A pixel value rounded and clamped to 0–255.
pub fn to_u8(v: f32) -> u8 {
    // NaN maps to 0 rather than poisoning the picture.
    if v.is_nan() {
        0
    } else {
        v.round().clamp(0.0, 255.0) as u8
    }
}

fn image_dims(t: &Tensor) -> (usize, usize) {
    assert!(
        t.shape.len() == 4 && t.shape[0] == 1 && t.shape[1] == 3,
        "expected an image tensor [1, 3, H, W], got {:?}",
        t.shape
    );
    (t.shape[3], t.shape[2])
}

/// Inverse of [`rgb_to_tensor`], clamped to 0–255 and rounded to the nearest integer.
pub fn tensor_to_rgb(t: &Tensor) -> RgbImage {
    let (w, h) = image_dims(t);
    let plane = w * h;
    let mut out = RgbImage::new(w as u32, h as u32);
    for (i, p) in out.pixels_mut().enumerate() {
        for c in 0..3 {
            p[c] = to_u8(to_pixel_value(t.data[c * plane + i], c));
        }
    }
    out
}

/// Opaque RGBA bytes of a tensor, for a canvas.
pub fn tensor_to_rgba(t: &Tensor) -> Vec<u8> {
    rgb_to_rgba(&tensor_to_rgb(t))
}

/// The tensor a saved 8-bit PNG of `t` would give back.
pub fn quantize(t: &Tensor) -> Tensor {
    rgb_to_tensor(&tensor_to_rgb(t))
}

/// Normalised values of pixel 0 and pixel 255 in `channel`: the box an image tensor must stay in.
pub fn valid_range(channel: usize) -> (f32, f32) {
    ((0.0 - MEAN[channel]) / STD[channel], (1.0 - MEAN[channel]) / STD[channel])
}

pub fn rgb_to_rgba(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::with_capacity(image.as_raw().len() / 3 * 4);
    for p in image.pixels() {
        out.extend_from_slice(&[p[0], p[1], p[2], 255]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centre_offset_rounds_half_to_even_like_python() {
        // Python: round(0.5)=0, round(1.5)=2, round(2.5)=2, round(58.5)=58, round(16.0)=16
        assert_eq!(centre_offset(225, 224), 0);
        assert_eq!(centre_offset(227, 224), 2);
        assert_eq!(centre_offset(229, 224), 2);
        assert_eq!(centre_offset(341, 224), 58);
        assert_eq!(centre_offset(256, 224), 16);
    }

    #[test]
    fn resized_size_truncates_like_torchvision() {
        // int(256 * 640 / 480) = int(341.33) = 341
        assert_eq!(resized_size(640, 480), (341, 256));
        assert_eq!(resized_size(480, 640), (256, 341));
        // int(256 * 333 / 500) as the long side of a portrait: int(256*500/333) = int(384.38) = 384
        assert_eq!(resized_size(333, 500), (256, 384));
    }

    /// A frame's raw pixels and the same pixels as a PNG file give the same picture (the live mode's frames are
    /// preprocessed exactly as a dropped image); a wrong length or a too-small frame is refused with a message.
    #[test]
    fn frame_pixels_decode_as_the_same_png() {
        let (w, h) = (40u32, 30u32);
        let rgba: Vec<u8> = (0..w * h * 4).map(|i| if i % 4 == 3 { 255 } else { (i * 37 % 251) as u8 }).collect();
        let mut png = Vec::new();
        image::RgbaImage::from_raw(w, h, rgba.clone())
            .unwrap()
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let from_file = decode(&png).unwrap();
        let from_frame = from_rgba(&rgba, w, h).unwrap();
        assert_eq!(from_frame.as_raw(), from_file.as_raw());
        assert_eq!(crop_for_network(&from_frame).as_raw(), crop_for_network(&from_file).as_raw());
        let short = from_rgba(&rgba[4..], w, h).unwrap_err().to_string();
        assert!(short.contains("RGBA bytes"), "{short}");
        let tiny = from_rgba(&[0; 8 * 8 * 4], 8, 8).unwrap_err().to_string();
        assert!(tiny.contains("at least"), "{tiny}");
    }
}
