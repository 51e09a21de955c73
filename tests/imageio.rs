//! Decoding every supported format, the torchvision preprocessing geometry, the tensor round trip, and a
//! clear error (never a panic) for every bad input. Test images are made here in memory; the sample photos
//! come from $NETLENS_SHARED or ../shared.

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Instant;

use image::imageops::FilterType;
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use netlens::imageio::{self, INPUT_SIZE, MIN_SIDE, STD};
use netlens::{Error, Tensor};

fn shared_dir() -> PathBuf {
    match std::env::var_os("NETLENS_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// Every pixel different, so that any shift, flip or channel swap shows.
fn pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7 + y) as u8, (y * 5 + 3 * x) as u8, (x * y + 11) as u8]))
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
    bytes
}

fn image_error(result: netlens::Result<RgbImage>) -> String {
    match result {
        Err(Error::Image(msg)) => msg,
        Err(other) => panic!("expected Error::Image, got {other:?}"),
        Ok(img) => panic!("expected an error, got a {}×{} image", img.width(), img.height()),
    }
}

fn max_channel_diff(a: &RgbImage, b: &RgbImage) -> i32 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| (x as i32 - y as i32).abs()).max().unwrap()
}

// ---------- formats ----------

#[test]
fn lossless_formats_decode_to_the_exact_pixels() {
    let img = pattern(40, 30);
    for format in [ImageFormat::Png, ImageFormat::WebP, ImageFormat::Bmp] {
        let bytes = encode(&DynamicImage::ImageRgb8(img.clone()), format);
        let decoded = imageio::decode(&bytes).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(decoded, img, "{format:?}");
    }
}

#[test]
fn transparent_pixels_are_composited_onto_white() {
    let img = RgbaImage::from_fn(20, 20, |x, _| match x % 4 {
        0 => Rgba([200, 10, 10, 0]),   // fully transparent: white
        1 => Rgba([200, 10, 10, 255]), // opaque: as is
        2 => Rgba([0, 0, 0, 51]),      // 20 % black over white: 255 · 0.8 = 204
        _ => Rgba([100, 200, 0, 102]), // 40 %: 0.4·c + 0.6·255
    });
    let decoded = imageio::decode(&encode(&DynamicImage::ImageRgba8(img), ImageFormat::Png)).unwrap();
    assert_eq!(decoded.get_pixel(0, 0), &Rgb([255, 255, 255]));
    assert_eq!(decoded.get_pixel(1, 0), &Rgb([200, 10, 10]));
    assert_eq!(decoded.get_pixel(2, 0), &Rgb([204, 204, 204]));
    assert_eq!(decoded.get_pixel(3, 0), &Rgb([193, 233, 153]));
}

#[test]
fn sixteen_bit_png_decodes_to_rounded_8_bit_pixels() {
    // Values chosen around rounding boundaries: v16 / 257 = 0.49, 0.51, 127.5 ± a bit, 254.6, 255.
    let samples: [u16; 8] = [0, 126, 131, 32767, 32768, 32896, 65432, 65535];
    let expected = |v: u16| (v as f64 * 255.0 / 65535.0).round() as u8;
    let rgb16: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_fn(32, 16, |x, y| {
        let v = samples[(x as usize + y as usize) % 8];
        Rgb([v, samples[x as usize % 8], 65535 - v])
    });
    let decoded = imageio::decode(&encode(&DynamicImage::ImageRgb16(rgb16.clone()), ImageFormat::Png)).unwrap();
    assert_eq!(decoded.dimensions(), (32, 16));
    for (p16, p8) in rgb16.pixels().zip(decoded.pixels()) {
        for c in 0..3 {
            assert_eq!(p8[c], expected(p16[c]), "16-bit {} became {}", p16[c], p8[c]);
        }
    }
    // 16-bit greyscale too.
    let grey16: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_fn(16, 16, |x, _| Luma([samples[x as usize % 8]]));
    let decoded = imageio::decode(&encode(&DynamicImage::ImageLuma16(grey16.clone()), ImageFormat::Png)).unwrap();
    for (p16, p8) in grey16.pixels().zip(decoded.pixels()) {
        assert_eq!(p8.0, [expected(p16[0]); 3]);
    }
}

#[test]
fn greyscale_jpeg_becomes_grey_rgb() {
    let grey = ImageBuffer::from_fn(64, 48, |x, y| Luma([(40 + x * 2 + y) as u8]));
    let bytes = encode(&DynamicImage::ImageLuma8(grey.clone()), ImageFormat::Jpeg);
    let decoded = imageio::decode(&bytes).unwrap();
    assert_eq!(decoded.dimensions(), (64, 48));
    for (g, p) in grey.pixels().zip(decoded.pixels()) {
        assert!(p[0] == p[1] && p[1] == p[2], "grey JPEG gave a coloured pixel {p:?}");
        assert!((p[0] as i32 - g[0] as i32).abs() <= 4, "JPEG error too large: {} vs {}", p[0], g[0]);
    }
}

#[test]
fn colour_jpeg_decodes_close_to_the_original() {
    let img = RgbImage::from_fn(64, 64, |x, y| Rgb([(x * 3) as u8, (y * 3) as u8, 128]));
    let decoded = imageio::decode(&encode(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Jpeg)).unwrap();
    assert!(max_channel_diff(&img, &decoded) <= 8);
}

/// A baseline JPEG whose 8×8 blocks are flat, so that only DC coefficients are needed: enough to write a
/// 4-component (CMYK) JPEG by hand, which the `image` crate's encoder cannot produce.
/// `stored[c](bx, by)` is the stored sample of component c in block (bx, by).
fn flat_block_jpeg(
    blocks_w: usize,
    blocks_h: usize,
    adobe_transform: Option<u8>,
    stored: &dyn Fn(usize, usize, usize) -> u8,
) -> Vec<u8> {
    let ncomp = 4;
    let mut out = vec![0xFF, 0xD8];
    if let Some(t) = adobe_transform {
        out.extend_from_slice(&[0xFF, 0xEE, 0, 14, b'A', b'd', b'o', b'b', b'e', 0, 100, 0, 0, 0, 0, t]);
    }
    // Quantisation table of ones: the DC coefficient is stored exactly.
    out.extend_from_slice(&[0xFF, 0xDB, 0, 67, 0]);
    out.extend_from_slice(&[1u8; 64]);
    let (w, h) = ((blocks_w * 8) as u16, (blocks_h * 8) as u16);
    out.extend_from_slice(&[0xFF, 0xC0, 0, 8 + 3 * ncomp as u8, 8]);
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&w.to_be_bytes());
    out.push(ncomp as u8);
    for c in 0..ncomp {
        out.extend_from_slice(&[c as u8 + 1, 0x11, 0]);
    }
    // DC table: the standard luminance DC table (categories 0..=11). AC table: only EOB, code "0".
    let dc_bits: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    let dc_vals: Vec<u8> = (0..12).collect();
    out.extend_from_slice(&[0xFF, 0xC4, 0, (2 + 17 + 12) as u8, 0x00]);
    out.extend_from_slice(&dc_bits);
    out.extend_from_slice(&dc_vals);
    let mut ac_bits = [0u8; 16];
    ac_bits[0] = 1;
    out.extend_from_slice(&[0xFF, 0xC4, 0, 2 + 17 + 1, 0x10]);
    out.extend_from_slice(&ac_bits);
    out.push(0x00);
    out.extend_from_slice(&[0xFF, 0xDA, 0, 6 + 2 * ncomp as u8, ncomp as u8]);
    for c in 0..ncomp {
        out.extend_from_slice(&[c as u8 + 1, 0x00]);
    }
    out.extend_from_slice(&[0, 63, 0]);

    // Canonical Huffman codes of the DC table: (code, length) per category.
    let mut dc_codes = [(0u32, 0u32); 12];
    let (mut code, mut k) = (0u32, 0usize);
    for (len, &count) in dc_bits.iter().enumerate() {
        for _ in 0..count {
            dc_codes[dc_vals[k] as usize] = (code, len as u32 + 1);
            code += 1;
            k += 1;
        }
        code <<= 1;
    }
    let mut bits = BitWriter::default();
    let mut prev_dc = [0i32; 4];
    for by in 0..blocks_h {
        for bx in 0..blocks_w {
            for (c, prev) in prev_dc.iter_mut().enumerate() {
                // A flat block of value v has DC = 8 · (v − 128) after the level shift.
                let dc = 8 * (stored(c, bx, by) as i32 - 128);
                let diff = dc - *prev;
                *prev = dc;
                let cat = 32 - diff.unsigned_abs().leading_zeros();
                let (code, len) = dc_codes[cat as usize];
                bits.put(code, len);
                if cat > 0 {
                    let extra = if diff >= 0 { diff } else { diff + (1 << cat) - 1 };
                    bits.put(extra as u32, cat);
                }
                bits.put(0, 1); // EOB
            }
        }
    }
    out.extend_from_slice(&bits.finish());
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, len: u32) {
        for i in (0..len).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.push_byte();
            }
        }
    }
    fn push_byte(&mut self) {
        let b = self.acc as u8;
        self.bytes.push(b);
        if b == 0xFF {
            self.bytes.push(0x00); // byte stuffing
        }
        self.acc = 0;
        self.n = 0;
    }
    fn finish(mut self) -> Vec<u8> {
        while self.n != 0 {
            self.put(1, 1);
        }
        self.bytes
    }
}

#[test]
fn cmyk_jpeg_decodes_to_the_right_colours() {
    // Ink amounts (255 = full ink) per 16×16 quadrant: cyan, magenta, yellow + 50 % black, no ink.
    let inks: [[u8; 4]; 4] = [[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 128], [0, 0, 0, 0]];
    // Naive CMYK → RGB: 255 · (1 − ink) · (1 − black).
    let expected = |ink: [u8; 4]| -> [f64; 3] {
        let k = 1.0 - ink[3] as f64 / 255.0;
        [0, 1, 2].map(|c| 255.0 * (1.0 - ink[c] as f64 / 255.0) * k)
    };
    let quadrant = |bx: usize, by: usize| (by / 2) * 2 + bx / 2;
    // Adobe CMYK JPEGs (Photoshop) store inverted samples, 255 − ink, and say so in an APP14 marker.
    let jpeg = flat_block_jpeg(4, 4, Some(0), &|c, bx, by| 255 - inks[quadrant(bx, by)][c]);
    let decoded = imageio::decode(&jpeg).unwrap();
    assert_eq!(decoded.dimensions(), (32, 32));
    for (x, y, p) in decoded.enumerate_pixels() {
        let want = expected(inks[quadrant(x as usize / 8, y as usize / 8)]);
        for c in 0..3 {
            assert!((p[c] as f64 - want[c]).abs() <= 2.0, "pixel ({x},{y}) is {p:?}, expected about {want:?}");
        }
    }
}

#[test]
fn gif_uses_the_first_frame() {
    use image::codecs::gif::GifEncoder;
    use image::Frame;
    let first = RgbaImage::from_fn(24, 20, |x, _| if x < 12 { Rgba([255, 0, 0, 255]) } else { Rgba([0, 255, 0, 255]) });
    let second = RgbaImage::from_pixel(24, 20, Rgba([0, 0, 255, 255]));
    let mut bytes = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut bytes);
        enc.encode_frames(vec![Frame::new(first), Frame::new(second)]).unwrap();
    }
    let decoded = imageio::decode(&bytes).unwrap();
    assert_eq!(decoded.dimensions(), (24, 20));
    assert_eq!(decoded.get_pixel(0, 0), &Rgb([255, 0, 0]));
    assert_eq!(decoded.get_pixel(23, 19), &Rgb([0, 255, 0]));
}

/// Inserts an APP1 Exif segment holding only the orientation tag right after SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut tiff = vec![b'I', b'I', 0x2A, 0, 8, 0, 0, 0]; // little-endian, IFD0 at offset 8
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // count
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_6_rotates_clockwise() {
    // Landscape as stored: left half red, right half blue. Orientation 6 = "rotate 90° clockwise to view",
    // so the viewer sees a portrait with red on top.
    let stored = RgbImage::from_fn(48, 32, |x, _| if x < 24 { Rgb([230, 20, 20]) } else { Rgb([20, 20, 230]) });
    let jpeg = encode(&DynamicImage::ImageRgb8(stored), ImageFormat::Jpeg);
    let plain = imageio::decode(&jpeg).unwrap();
    assert_eq!(plain.dimensions(), (48, 32));

    let rotated = imageio::decode(&with_exif_orientation(&jpeg, 6)).unwrap();
    assert_eq!(rotated.dimensions(), (32, 48));
    let top = rotated.get_pixel(16, 4);
    let bottom = rotated.get_pixel(16, 43);
    assert!(top[0] > 200 && top[2] < 60, "top should be red, is {top:?}");
    assert!(bottom[2] > 200 && bottom[0] < 60, "bottom should be blue, is {bottom:?}");
    // Orientation 3 (180°): red on the right.
    let turned = imageio::decode(&with_exif_orientation(&jpeg, 3)).unwrap();
    assert_eq!(turned.dimensions(), (48, 32));
    assert!(turned.get_pixel(44, 16)[0] > 200 && turned.get_pixel(4, 16)[2] > 200);
}

// ---------- preprocessing geometry ----------

#[test]
fn an_image_of_exactly_224_is_used_as_is() {
    let img = pattern(224, 224);
    let bytes = encode(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Png);
    assert_eq!(imageio::load_224(&bytes).unwrap(), img);
    assert_eq!(imageio::crop_for_network(&img), img);
}

#[test]
fn short_side_256_is_centre_cropped_without_resampling() {
    let img = pattern(256, 300);
    // torchvision: Resize(256) keeps it (short side already 256): int(256·300/256) = 300;
    // CenterCrop: left = round(32/2) = 16, top = round(76/2) = 38.
    let out = imageio::crop_for_network(&img);
    let expected = image::imageops::crop_imm(&img, 16, 38, 224, 224).to_image();
    assert_eq!(out, expected);
}

#[test]
fn resize_and_crop_follow_torchvision_geometry() {
    // Geometry worked out by hand from torchvision's formulas:
    // 640×480 → Resize(256) → int(256·640/480) = 341 × 256 → CenterCrop(224): left = round(58.5) = 58
    // (Python rounds half to even), top = round(16.0) = 16.
    type Size = (u32, u32);
    // (source size, resized size, crop offset)
    let cases: [(Size, Size, Size); 4] = [
        ((640, 480), (341, 256), (58, 16)),
        ((480, 640), (256, 341), (16, 58)),
        // Upscaling a small image: 100×50 → 512×256, left = 144, top = 16.
        ((100, 50), (512, 256), (144, 16)),
        // 333×500 → 256 × int(384.38) = 384, top = round(80.0) = 80.
        ((333, 500), (256, 384), (16, 80)),
    ];
    for ((w, h), (rw, rh), (left, top)) in cases {
        let img = pattern(w, h);
        let out = imageio::crop_for_network(&img);
        assert_eq!(out.dimensions(), (INPUT_SIZE, INPUT_SIZE));
        let resized = image::imageops::resize(&img, rw, rh, FilterType::Triangle);
        let expected = image::imageops::crop_imm(&resized, left, top, 224, 224).to_image();
        assert_eq!(out, expected, "{w}×{h}");
    }
}

#[test]
fn crop_keeps_the_centre_of_the_picture() {
    // Smooth ramps survive bilinear resampling, so the output pixel at (i, j) must show the source position
    // that maps to it: x_src = (left + i + 0.5) · scale − 0.5.
    let (w, h) = (400u32, 300u32);
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 255 / (w - 1)) as u8, (y * 255 / (h - 1)) as u8, 0]));
    let out = imageio::crop_for_network(&img);
    // 400×300 → 341×256 (int(341.33)); left = round(58.5) = 58, top = 16; scale = 300/256.
    let scale_x = 400.0 / 341.0;
    let scale_y = 300.0 / 256.0;
    for &(i, j) in &[(0u32, 0u32), (112, 112), (223, 223), (50, 200)] {
        let xs = (58.0 + i as f64 + 0.5) * scale_x - 0.5;
        let ys = (16.0 + j as f64 + 0.5) * scale_y - 0.5;
        let p = out.get_pixel(i, j);
        assert!((p[0] as f64 - xs * 255.0 / 399.0).abs() <= 1.5, "x ramp at {i}: {} vs {}", p[0], xs * 255.0 / 399.0);
        assert!((p[1] as f64 - ys * 255.0 / 299.0).abs() <= 1.5, "y ramp at {j}: {} vs {}", p[1], ys * 255.0 / 299.0);
    }
}

#[test]
fn panoramas_still_give_224() {
    for (w, h) in [(16, 4000), (4000, 16), (2000, 100), (17, 16)] {
        let out = imageio::crop_for_network(&pattern(w, h));
        assert_eq!(out.dimensions(), (224, 224), "{w}×{h}");
    }
}

// ---------- tensors ----------

#[test]
fn tensor_layout_and_normalisation() {
    let mut img = RgbImage::from_pixel(4, 3, Rgb([0, 0, 0]));
    img.put_pixel(2, 1, Rgb([255, 51, 0]));
    let t = imageio::rgb_to_tensor(&img);
    assert_eq!(t.shape, vec![1, 3, 3, 4]);
    let at = |c: usize, y: usize, x: usize| t.data[c * 12 + y * 4 + x];
    assert!((at(0, 1, 2) - (1.0 - 0.485) / 0.229).abs() < 1e-6);
    assert!((at(1, 1, 2) - (0.2 - 0.456) / 0.224).abs() < 1e-6);
    assert!((at(2, 1, 2) - (0.0 - 0.406) / 0.225).abs() < 1e-6);
    assert!((at(0, 0, 0) - (-0.485 / 0.229)).abs() < 1e-6);
    // valid_range is what black and white pixels become.
    let bw = RgbImage::from_fn(2, 1, |x, _| if x == 0 { Rgb([0; 3]) } else { Rgb([255; 3]) });
    let t = imageio::rgb_to_tensor(&bw);
    for c in 0..3 {
        assert_eq!(imageio::valid_range(c), (t.data[c * 2], t.data[c * 2 + 1]));
    }
}

#[test]
fn every_8_bit_value_round_trips_exactly() {
    let img = RgbImage::from_fn(256, 1, |x, _| Rgb([x as u8, 255 - x as u8, (x * 7 % 256) as u8]));
    let t = imageio::rgb_to_tensor(&img);
    assert_eq!(imageio::tensor_to_rgb(&t), img);
    assert_eq!(imageio::quantize(&t), t);
    let rgba = imageio::tensor_to_rgba(&t);
    assert_eq!(rgba.len(), 256 * 4);
    assert!(rgba.chunks(4).zip(img.pixels()).all(|(q, p)| q[..3] == p.0 && q[3] == 255));
    assert_eq!(imageio::rgb_to_rgba(&img), rgba);
}

#[test]
fn quantize_moves_each_value_by_at_most_half_a_pixel_and_clamps() {
    // Deterministic pseudo-random values across and beyond the valid range.
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    let (h, w) = (20usize, 30usize);
    let mut data = vec![0.0; 3 * h * w];
    for c in 0..3 {
        let (lo, hi) = imageio::valid_range(c);
        for v in &mut data[c * h * w..(c + 1) * h * w] {
            *v = lo - 0.3 + (hi - lo + 0.6) * next();
        }
    }
    let t = Tensor::new(vec![1, 3, h, w], data);
    let q = imageio::quantize(&t);
    for (c, std) in STD.iter().enumerate() {
        let (lo, hi) = imageio::valid_range(c);
        let half_step = 0.5 / 255.0 / std;
        for i in c * h * w..(c + 1) * h * w {
            let clamped = t.data[i].clamp(lo, hi);
            assert!((q.data[i] - clamped).abs() <= half_step + 1e-5, "{} -> {}", t.data[i], q.data[i]);
        }
    }
    // Below pixel 0 / above 255 clamp to them.
    let img = imageio::tensor_to_rgb(&Tensor::new(vec![1, 3, 1, 2], vec![-10.0, 10.0, -10.0, 10.0, f32::NAN, 10.0]));
    assert_eq!(img.get_pixel(0, 0), &Rgb([0, 0, 0]));
    assert_eq!(img.get_pixel(1, 0), &Rgb([255, 255, 255]));
}

// ---------- bad inputs ----------

#[test]
fn empty_text_and_random_bytes_are_not_images() {
    let msg = image_error(imageio::decode(&[]));
    assert!(msg.contains("empty"), "{msg}");
    let msg = image_error(imageio::decode(b"class,name\n281,tabby\n"));
    assert!(msg.contains("not an image we can read (PNG, JPEG, WebP, GIF, BMP)"), "{msg}");
    let msg = image_error(imageio::decode(b"II*\0\x08\0\0\0 pretend tiff"));
    assert!(msg.contains("not an image we can read") && msg.contains("TIFF"), "{msg}");
    let mut state = 12345u32;
    for len in [1usize, 7, 16, 100, 5000] {
        for _ in 0..20 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(1664525).wrapping_add(1013904223);
                    (state >> 24) as u8
                })
                .collect();
            image_error(imageio::decode(&bytes));
        }
    }
}

#[test]
fn truncated_and_corrupted_files_give_clear_errors() {
    let img = DynamicImage::ImageRgb8(pattern(64, 48));
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Bmp] {
        let bytes = encode(&img, format);
        for cut in [8, 30, bytes.len() / 2] {
            let msg = image_error(imageio::decode(&bytes[..cut]));
            assert!(
                msg.contains("truncated or corrupt") || msg.contains("not an image"),
                "{format:?} cut at {cut}: {msg}"
            );
        }
        // Flipped bytes anywhere: Ok or a clear error, never a panic out of decode().
        let mut state = 99u32;
        for _ in 0..200 {
            let mut bad = bytes.clone();
            for _ in 0..4 {
                state = state.wrapping_mul(1664525).wrapping_add(1013904223);
                let i = (state as usize >> 8) % bad.len();
                bad[i] ^= (state >> 3) as u8 | 1;
            }
            match imageio::decode(&bad) {
                Ok(_) | Err(Error::Image(_)) => {}
                Err(other) => panic!("{format:?}: wrong error kind {other:?}"),
            }
        }
    }
    let png = encode(&img, ImageFormat::Png);
    let msg = image_error(imageio::decode(&png[..png.len() / 2]));
    assert!(msg.starts_with("image is truncated or corrupt"), "{msg}");
}

#[test]
fn tiny_images_are_rejected() {
    for (w, h) in [(1, 1), (MIN_SIDE - 1, 300), (300, 2)] {
        let bytes = encode(&DynamicImage::ImageRgb8(pattern(w, h)), ImageFormat::Png);
        let msg = image_error(imageio::decode(&bytes));
        assert!(msg.contains(&format!("{w}×{h}")) && msg.contains("at least"), "{msg}");
    }
    assert!(imageio::decode(&encode(&DynamicImage::ImageRgb8(pattern(MIN_SIDE, MIN_SIDE)), ImageFormat::Png)).is_ok());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A valid small PNG whose IHDR is rewritten to claim `w`×`h` (with a correct CRC, so only the size is wrong).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = encode(&DynamicImage::ImageRgb8(pattern(32, 32)), ImageFormat::Png);
    assert_eq!(&png[12..16], b"IHDR");
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn pixel_count_bombs_are_rejected_from_the_header() {
    let start = Instant::now();
    let msg = image_error(imageio::decode(&png_claiming(100_000, 100_000)));
    let took = start.elapsed();
    assert!(msg.contains("100000×100000") && msg.contains("10.0 gigapixels") && msg.contains("limit"), "{msg}");
    // Decoding (or even allocating) 30 GB could not happen this fast.
    assert!(took.as_millis() < 200, "took {took:?}");

    // Within the pixel budget but one side too long; and just over the pixel budget.
    for (w, h) in [(30_000, 100), (8_000, 6_300), (i32::MAX as u32, i32::MAX as u32)] {
        let msg = image_error(imageio::decode(&png_claiming(w, h)));
        assert!(msg.contains(&format!("{w}×{h}")) && msg.contains("limit"), "{msg}");
    }

    // JPEG: patch the frame header (SOF0) to 60000×60000.
    let mut jpeg = encode(&DynamicImage::ImageRgb8(pattern(32, 32)), ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline JPEG");
    jpeg[sof + 5..sof + 7].copy_from_slice(&60000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&60000u16.to_be_bytes());
    let start = Instant::now();
    let msg = image_error(imageio::decode(&jpeg));
    assert!(msg.contains("60000×60000") && msg.contains("limit"), "{msg}");
    assert!(start.elapsed().as_millis() < 200);

    // BMP: width and height fields of the info header.
    let mut bmp = encode(&DynamicImage::ImageRgb8(pattern(32, 32)), ImageFormat::Bmp);
    bmp[18..22].copy_from_slice(&50_000i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&50_000i32.to_le_bytes());
    let start = Instant::now();
    image_error(imageio::decode(&bmp));
    assert!(start.elapsed().as_millis() < 200);
}

// ---------- the sample photos ----------

#[test]
fn sample_photos_decode_and_crop_to_224() {
    let dir = shared_dir().join("images");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("sample images at {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_lowercase();
        if !["png", "jpg", "jpeg"].contains(&ext.as_str()) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let full = imageio::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(full.width() >= MIN_SIDE && full.height() >= MIN_SIDE);
        let img = imageio::load_224(&bytes).unwrap();
        assert_eq!(img.dimensions(), (224, 224), "{}", path.display());
        // A real photo is not a flat colour.
        let t = imageio::rgb_to_tensor(&img);
        let mean = t.data.iter().sum::<f32>() / t.len() as f32;
        let var = t.data.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / t.len() as f32;
        assert!(var > 0.05, "{}: variance {var}", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "expected the 5 sample photos in {}, found {seen}", dir.display());
}
