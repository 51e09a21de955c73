//! How a picture becomes the network's input, and back: one description per model ([`Preprocess`], owned by the
//! [`Classifier`](crate::network::Classifier)), read from the model's ONNX `metadata_props` when it has them, else
//! a preset. Every method that makes, changes or shows an image tensor goes through it.
//!
//! A tensor value is `(p / 255 · scale − mean_c) / std_c` for an 8-bit pixel value `p` (channel `c` of the
//! tensor; with `bgr` tensor channel 0 is blue). Grey models (C = 1) see the luma of the picture (PIL's
//! `convert("L")`: `(19595 R + 38470 G + 7471 B + 2¹⁵) >> 16`), and show it as a grey RGB picture.
//!
//! Resize: `Crop` is torchvision's `Resize(H·256/224)` + `CenterCrop(H, W)` (SqueezeNet's 256 → 224, exactly as
//! [`imageio::crop_for_network`]); `Squash` resizes the whole picture to H×W (aspect ratio not kept), which suits
//! tiny inputs (MNIST digits, CIFAR objects fill their frame).
//!
//! Metadata keys (all optional; `netlens.*` keys other than these are refused, so a typo is not silently ignored):
//! `netlens.preset` (imagenet | unit | signed | mnist), `netlens.mean`, `netlens.std` (1 or C numbers, comma or
//! space separated; std > 0), `netlens.scale` (the value of a white pixel before mean/std, > 0: 1 for [0, 1], 255
//! for [0, 255]), `netlens.resize` (crop | squash), `netlens.channel_order` (rgb | bgr).

use image::imageops::FilterType;
use image::RgbImage;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::imageio;
use crate::tensor::Tensor;

/// How a picture is brought to the network's H×W.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resize {
    /// Short side to H·256/224, then the centre H×W.
    Crop,
    /// The whole picture resized to H×W.
    Squash,
}

/// Named normalisations (mean, std in [0, 1] units).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// torchvision's ImageNet mean/std (grey: their averages).
    Imagenet,
    /// [0, 1]: mean 0, std 1.
    Unit,
    /// [−1, 1]: mean 0.5, std 0.5.
    Signed,
    /// MNIST: (x − 0.1307) / 0.3081.
    Mnist,
}

pub const PRESETS: [(&str, Preset); 4] =
    [("imagenet", Preset::Imagenet), ("unit", Preset::Unit), ("signed", Preset::Signed), ("mnist", Preset::Mnist)];

/// Sides up to this get [`Resize::Squash`] by default.
pub const SQUASH_MAX_SIDE: usize = 64;
/// The input side sizes the classifier accepts.
pub const MIN_SIDE: usize = 8;
pub const MAX_SIDE: usize = 512;

impl Preset {
    pub fn parse(s: &str) -> Result<Preset> {
        PRESETS.iter().find(|(n, _)| *n == s.trim()).map(|p| p.1).ok_or_else(|| {
            Error::Invalid(format!(
                "unknown preprocessing preset '{s}'; expected one of {}",
                PRESETS.map(|p| p.0).join(", ")
            ))
        })
    }

    pub fn name(self) -> &'static str {
        PRESETS.iter().find(|p| p.1 == self).expect("every preset is listed").0
    }

    /// What the page's form shows for it.
    pub fn label(self) -> &'static str {
        match self {
            Preset::Imagenet => "ImageNet mean/std",
            Preset::Unit => "[0, 1]",
            Preset::Signed => "[−1, 1]",
            Preset::Mnist => "MNIST grey (x − 0.1307) / 0.3081",
        }
    }

    /// (mean, std) per channel for a model with `channels` channels.
    fn mean_std(self, channels: usize) -> (Vec<f32>, Vec<f32>) {
        let (mean, std): (&[f32], &[f32]) = match (self, channels) {
            (Preset::Imagenet, 3) => (&imageio::MEAN, &imageio::STD),
            // The averages of the RGB statistics (what torchvision users write for grey ImageNet models).
            (Preset::Imagenet, _) => (&[0.449], &[0.226]),
            (Preset::Unit, _) => (&[0.0], &[1.0]),
            (Preset::Signed, _) => (&[0.5], &[0.5]),
            (Preset::Mnist, _) => (&[0.1307], &[0.3081]),
        };
        (per_channel(mean, channels), per_channel(std, channels))
    }
}

impl Resize {
    pub const ALL: [Resize; 2] = [Resize::Crop, Resize::Squash];

    pub fn parse(s: &str) -> Result<Resize> {
        Resize::ALL
            .into_iter()
            .find(|r| r.name() == s.trim())
            .ok_or_else(|| Error::Invalid(format!("unknown resize '{}'; expected crop or squash", s.trim())))
    }

    pub fn name(self) -> &'static str {
        match self {
            Resize::Crop => "crop",
            Resize::Squash => "squash",
        }
    }

    /// What the page's form shows for it.
    pub fn label(self) -> &'static str {
        match self {
            Resize::Crop => "short side, centre crop",
            Resize::Squash => "squash to the input size",
        }
    }
}

/// A chosen input side from text (a link's, a form's): digits only, from [`MIN_SIDE`] to [`MAX_SIDE`].
pub fn parse_side(text: &str) -> Result<usize> {
    let t = text.trim();
    t.parse::<usize>()
        .ok()
        .filter(|side| t.bytes().all(|b| b.is_ascii_digit()) && (MIN_SIDE..=MAX_SIDE).contains(side))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "Input size must be a whole number of pixels from {MIN_SIDE} to {MAX_SIDE}, got '{t}'"
            ))
        })
}

/// The preprocessing a user may choose for a model without metadata, as the page offers it (schema key
/// `preprocessing`): each field's name in [`Choice::from_json`], its share-link key, label, values and default.
/// The page builds its form from this and checks a link's or the form's values with [`check_choice`]; none of it
/// is written in JS.
pub fn choice_schema() -> serde_json::Value {
    use serde_json::json;
    let presets: Vec<_> = PRESETS.iter().map(|(v, p)| json!({ "value": v, "label": p.label() })).collect();
    let resizes: Vec<_> = Resize::ALL.iter().map(|r| json!({ "value": r.name(), "label": r.label() })).collect();
    json!([
        { "field": "preset", "link": "model.pre", "label": "Normalisation", "options": presets,
          "default": Preset::Imagenet.name() },
        { "field": "resize", "link": "model.resize", "label": "Resize", "options": resizes,
          "default": Resize::Crop.name() },
        { "field": "side", "link": "model.size", "label": "Input size (px)", "min": MIN_SIDE, "max": MAX_SIDE,
          "default": crate::network::DEFAULT_SIDE },
    ])
}

/// One preprocessing choice's value from text (a link's, the page's form's), as [`Choice::from_json`] takes it;
/// a sentence naming what is wrong otherwise.
pub fn check_choice(field: &str, text: &str) -> Result<serde_json::Value> {
    match field {
        "preset" => Ok(Preset::parse(text)?.name().into()),
        "resize" => Ok(Resize::parse(text)?.name().into()),
        "side" => Ok(parse_side(text)?.into()),
        other => {
            Err(Error::Invalid(format!("unknown preprocessing choice '{other}'; expected preset, resize or side")))
        }
    }
}

fn per_channel(v: &[f32], channels: usize) -> Vec<f32> {
    if v.len() == channels {
        v.to_vec()
    } else {
        vec![v[0]; channels]
    }
}

/// Where a model's preprocessing came from (the page shows it, and offers its form unless it is `Metadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The model's `netlens.*` metadata.
    Metadata,
    /// The user's choice (CLI flags, the page's form).
    Chosen,
    /// Neither: the default for the model's channels.
    Default,
}

/// What a user may choose for a model without metadata (the CLI's flags, the page's form).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Choice {
    pub preset: Option<Preset>,
    pub resize: Option<Resize>,
    /// The side a symbolic H/W is fixed to (default 224).
    pub side: Option<usize>,
}

impl Choice {
    /// `{"preset": "mnist", "resize": "squash", "side": 32}` (every key optional; empty text: no choice), as the
    /// page's form sends it.
    pub fn from_json(text: &str) -> Result<Choice> {
        if text.trim().is_empty() {
            return Ok(Choice::default());
        }
        let bad = |why: String| Error::Invalid(format!("preprocessing choice: {why}"));
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON ({e})")))?;
        let obj = v.as_object().ok_or_else(|| bad("expected an object".into()))?;
        let mut choice = Choice::default();
        for (key, value) in obj {
            match (key.as_str(), value) {
                (_, serde_json::Value::Null) => {}
                ("preset", serde_json::Value::String(s)) => choice.preset = Some(Preset::parse(s)?),
                ("resize", serde_json::Value::String(s)) => choice.resize = Some(Resize::parse(s)?),
                ("side", v) if v.is_u64() => choice.side = Some(parse_side(&v.to_string())?),
                (k, v) => return Err(bad(format!("'{k}' = {v} is not a preset, resize or side"))),
            }
        }
        Ok(choice)
    }
}

/// One model's preprocessing (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Preprocess {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub scale: f32,
    pub bgr: bool,
    pub resize: Resize,
    /// The preset the mean/std came from, when they came from one.
    pub preset: Option<Preset>,
    pub source: Source,
}

pub const METADATA_KEYS: [&str; 6] =
    ["netlens.preset", "netlens.mean", "netlens.std", "netlens.scale", "netlens.resize", "netlens.channel_order"];

fn numbers(key: &str, text: &str, channels: usize) -> Result<Vec<f32>> {
    let bad = |why: &str| Error::Model(format!("metadata {key} = '{text}': {why}"));
    let v = text
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f32>().ok().filter(|x| x.is_finite()).ok_or_else(|| bad("not a list of numbers")))
        .collect::<Result<Vec<f32>>>()?;
    if v.len() != 1 && v.len() != channels {
        return Err(bad(&format!("expected 1 or {channels} numbers (one per channel), got {}", v.len())));
    }
    Ok(per_channel(&v, channels))
}

impl Preprocess {
    /// SqueezeNet's: 1×3×224×224, ImageNet mean/std, crop.
    pub fn imagenet() -> Preprocess {
        Preprocess::preset(Preset::Imagenet, 3, 224, 224, Resize::Crop, Source::Default)
    }

    fn preset(preset: Preset, channels: usize, height: usize, width: usize, resize: Resize, source: Source) -> Self {
        let (mean, std) = preset.mean_std(channels);
        Preprocess { channels, height, width, mean, std, scale: 1.0, bgr: false, resize, preset: Some(preset), source }
    }

    /// From the model's `metadata_props` (key, value pairs), else the user's choice, else the defaults (ImageNet
    /// for 3 channels, MNIST for grey; squash for sides up to [`SQUASH_MAX_SIDE`], else crop).
    pub fn resolve(
        metadata: &[(String, String)],
        choice: &Choice,
        channels: usize,
        height: usize,
        width: usize,
    ) -> Result<Preprocess> {
        let ours: Vec<&(String, String)> = metadata.iter().filter(|(k, _)| k.starts_with("netlens.")).collect();
        if let Some((k, _)) = ours.iter().find(|(k, _)| !METADATA_KEYS.contains(&k.as_str())) {
            return Err(Error::Model(format!(
                "unknown metadata key '{k}'; netlens reads {}",
                METADATA_KEYS.join(", ")
            )));
        }
        let get = |key: &str| ours.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let meta_err = |key: &str, e: Error| Error::Model(format!("metadata {key}: {e}"));
        let meta_preset =
            get("netlens.preset").map(Preset::parse).transpose().map_err(|e| meta_err("netlens.preset", e))?;
        let default_preset = if channels == 1 { Preset::Mnist } else { Preset::Imagenet };
        let preset = meta_preset.or(choice.preset).unwrap_or(default_preset);
        let (mut mean, mut std) = preset.mean_std(channels);
        let mut from_preset = true;
        if let Some(text) = get("netlens.mean") {
            mean = numbers("netlens.mean", text, channels)?;
            from_preset = false;
        }
        if let Some(text) = get("netlens.std") {
            std = numbers("netlens.std", text, channels)?;
            if std.iter().any(|&s| s <= 0.0) {
                return Err(Error::Model(format!("metadata netlens.std = '{text}': every std must be above 0")));
            }
            from_preset = false;
        }
        let scale = match get("netlens.scale") {
            None => 1.0,
            Some(text) => text.trim().parse::<f32>().ok().filter(|s| s.is_finite() && *s > 0.0).ok_or_else(|| {
                Error::Model(format!("metadata netlens.scale = '{text}': expected a number above 0 (1 or 255)"))
            })?,
        };
        let resize = get("netlens.resize")
            .map(Resize::parse)
            .transpose()
            .map_err(|e| meta_err("netlens.resize", e))?
            .or(choice.resize)
            .unwrap_or(if height.max(width) <= SQUASH_MAX_SIDE { Resize::Squash } else { Resize::Crop });
        let bgr = match get("netlens.channel_order").map(str::trim) {
            None | Some("rgb") => false,
            Some("bgr") if channels == 3 => true,
            Some(other) => {
                return Err(Error::Model(format!(
                    "metadata netlens.channel_order = '{other}': expected rgb or bgr (bgr needs 3 channels)"
                )))
            }
        };
        let source = if !ours.is_empty() {
            Source::Metadata
        } else if choice.preset.is_some() || choice.resize.is_some() {
            Source::Chosen
        } else {
            Source::Default
        };
        let preset = from_preset.then_some(preset);
        Ok(Preprocess { channels, height, width, mean, std, scale, bgr, resize, preset, source })
    }

    /// [1, C, H, W].
    pub fn shape(&self) -> [usize; 4] {
        [1, self.channels, self.height, self.width]
    }

    /// Values per tensor: C·H·W.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn plane(&self) -> usize {
        self.height * self.width
    }

    /// The picture channel (R, G, B = 0, 1, 2) tensor channel `c` holds.
    fn source_channel(&self, c: usize) -> usize {
        if self.bgr {
            2 - c
        } else {
            c
        }
    }

    /// Decode + resize: the picture the network sees (grey models: already grey).
    pub fn load(&self, bytes: &[u8]) -> Result<RgbImage> {
        Ok(self.fit(&imageio::decode(bytes)?))
    }

    /// Resize (crop or squash) to H×W; grey models get their grey conversion.
    pub fn fit(&self, image: &RgbImage) -> RgbImage {
        let (h, w) = (self.height as u32, self.width as u32);
        let sized = match self.resize {
            Resize::Crop => imageio::crop_to(image, w, h),
            Resize::Squash if image.dimensions() == (w, h) => image.clone(),
            Resize::Squash => image::imageops::resize(image, w, h, FilterType::Triangle),
        };
        if self.channels == 1 {
            grey(&sized)
        } else {
            sized
        }
    }

    /// The network's input for a picture of H×W.
    pub fn to_tensor(&self, image: &RgbImage) -> Tensor {
        let (w, h) = (image.width() as usize, image.height() as usize);
        let plane = w * h;
        let mut data = vec![0.0f32; self.channels * plane];
        for (i, p) in image.pixels().enumerate() {
            for c in 0..self.channels {
                // Multiplying by a scale of 1 is exact: SqueezeNet's values are torchvision's, bit for bit.
                data[c * plane + i] =
                    (p[self.source_channel(c)] as f32 / 255.0 * self.scale - self.mean[c]) / self.std[c];
            }
        }
        Tensor::new(vec![1, self.channels, h, w], data)
    }

    /// Pixel value (0–255 scale, unclamped and unrounded) of a normalised value in tensor channel `c`.
    pub fn to_pixel_value(&self, x: f32, c: usize) -> f32 {
        (x * self.std[c] + self.mean[c]) / self.scale * 255.0
    }

    /// Normalised values of pixel 0 and pixel 255 in tensor channel `c`: the box an image tensor stays in.
    pub fn valid_range(&self, c: usize) -> (f32, f32) {
        ((0.0 * self.scale - self.mean[c]) / self.std[c], (self.scale - self.mean[c]) / self.std[c])
    }

    /// d (normalised value) / d (pixel value) in tensor channel `c`.
    pub fn per_pixel(&self, c: usize) -> f32 {
        self.scale / (255.0 * self.std[c])
    }

    /// Clamp every value to what a pixel can represent.
    pub fn clamp(&self, x: &mut Tensor) {
        let plane = x.len() / self.channels;
        for (c, chunk) in x.data.chunks_mut(plane).enumerate() {
            let (lo, hi) = self.valid_range(c);
            chunk.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
        }
    }

    /// Inverse of [`Preprocess::to_tensor`], clamped to 0–255 and rounded; grey shown as grey RGB.
    pub fn tensor_to_rgb(&self, t: &Tensor) -> RgbImage {
        assert!(
            t.shape.len() == 4 && t.shape[0] == 1 && t.shape[1] == self.channels,
            "expected an image tensor [1, {}, H, W], got {:?}",
            self.channels,
            t.shape
        );
        let (h, w) = (t.shape[2], t.shape[3]);
        let plane = w * h;
        let mut out = RgbImage::new(w as u32, h as u32);
        for (i, p) in out.pixels_mut().enumerate() {
            for c in 0..self.channels {
                let v = imageio::to_u8(self.to_pixel_value(t.data[c * plane + i], c));
                if self.channels == 1 {
                    p.0 = [v; 3];
                } else {
                    p[self.source_channel(c)] = v;
                }
            }
        }
        out
    }

    /// Opaque RGBA bytes of a tensor, for a canvas.
    pub fn tensor_to_rgba(&self, t: &Tensor) -> Vec<u8> {
        imageio::rgb_to_rgba(&self.tensor_to_rgb(t))
    }

    /// The tensor a saved 8-bit PNG of `t` would give back.
    pub fn quantize(&self, t: &Tensor) -> Tensor {
        self.to_tensor(&self.tensor_to_rgb(t))
    }

    /// Pixel values (0..=255, f32) of an RGBA picture, [1, C, H, W] in tensor channel order (grey: its R, which
    /// is its grey for pictures this preprocessing made).
    pub fn pixels_of_rgba(&self, rgba: &[u8]) -> Tensor {
        let plane = self.plane();
        let mut data = vec![0f32; self.channels * plane];
        for (i, px) in rgba.chunks_exact(4).enumerate().take(plane) {
            for c in 0..self.channels {
                data[c * plane + i] = px[self.source_channel(c)] as f32;
            }
        }
        Tensor::new(self.shape().to_vec(), data)
    }

    /// RGBA of pixel values (rounded, clamped).
    pub fn rgba_of_pixels(&self, p: &Tensor) -> Vec<u8> {
        let plane = p.len() / self.channels;
        let mut out = vec![255u8; plane * 4];
        for i in 0..plane {
            for c in 0..self.channels {
                let v = p.data[c * plane + i].round().clamp(0.0, 255.0) as u8;
                if self.channels == 1 {
                    out[i * 4..i * 4 + 3].fill(v);
                } else {
                    out[i * 4 + self.source_channel(c)] = v;
                }
            }
        }
        out
    }

    /// The network input for pixel values [1, C, H, W] (0..=255).
    pub fn from_pixels(&self, p: &Tensor) -> Tensor {
        let plane = p.len() / self.channels;
        let data = p
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| (v / 255.0 * self.scale - self.mean[i / plane]) / self.std[i / plane])
            .collect();
        Tensor::new(p.shape.clone(), data)
    }

    /// The network input for an RGB image in [0, 1] ([1, 3, H, W], feature visualization's image space).
    pub fn from_unit_rgb(&self, img: &Tensor) -> Tensor {
        let plane = img.len() / 3;
        let src = |c: usize, i: usize| img.data[self.source_channel(c) * plane + i];
        let mut data = vec![0f32; self.channels * plane];
        for c in 0..self.channels {
            for i in 0..plane {
                let v = if self.channels == 1 {
                    LUMA[0] * img.data[i] + LUMA[1] * img.data[plane + i] + LUMA[2] * img.data[2 * plane + i]
                } else {
                    src(c, i)
                };
                data[c * plane + i] = (v * self.scale - self.mean[c]) / self.std[c];
            }
        }
        Tensor::new(vec![1, self.channels, img.shape[2], img.shape[3]], data)
    }

    /// The vector-Jacobian product of [`Preprocess::from_unit_rgb`]: a gradient on the network input becomes one
    /// on the [0, 1] RGB image.
    pub fn unit_rgb_grad(&self, g: &Tensor) -> Tensor {
        let plane = g.len() / self.channels;
        let mut out = vec![0f32; 3 * plane];
        for c in 0..self.channels {
            for i in 0..plane {
                let v = g.data[c * plane + i] / self.std[c] * self.scale;
                if self.channels == 1 {
                    (0..3).for_each(|k| out[k * plane + i] = v * LUMA[k]);
                } else {
                    out[self.source_channel(c) * plane + i] = v;
                }
            }
        }
        Tensor::new(vec![1, 3, g.shape[2], g.shape[3]], out)
    }

    /// A picture as an RGB image in [0, 1] ([1, 3, H, W]) from a network input.
    pub fn to_unit_rgb(&self, t: &Tensor) -> Tensor {
        let rgb = self.tensor_to_rgb(t);
        let plane = self.plane();
        let mut data = vec![0f32; 3 * plane];
        for (i, p) in rgb.pixels().enumerate() {
            (0..3).for_each(|c| data[c * plane + i] = p[c] as f32 / 255.0);
        }
        Tensor::new(vec![1, 3, self.height, self.width], data)
    }

    /// One line for the page and the CLI: "ImageNet mean/std, crop" or the numbers.
    pub fn describe(&self) -> String {
        let norm = match self.preset {
            Some(p) if self.scale == 1.0 => format!("{} preset", p.name()),
            _ => format!("mean {:?}, std {:?}, scale {}", self.mean, self.std, self.scale),
        };
        let resize = match self.resize {
            Resize::Crop => {
                format!("short side {}, centre crop", imageio::crop_short_side(self.height.min(self.width) as u32))
            }
            Resize::Squash => format!("squashed to {}×{}", self.height, self.width),
        };
        let order = if self.bgr { ", BGR" } else { "" };
        let grey = if self.channels == 1 { ", grey" } else { "" };
        format!("{norm}{grey}{order}; {resize}")
    }
}

/// ITU-R 601 luma weights (PIL's `convert("L")`), as floats for [0, 1] images.
const LUMA: [f32; 3] = [19595.0 / 65536.0, 38470.0 / 65536.0, 7471.0 / 65536.0];

/// PIL's `convert("L")` of an RGB8 picture, as grey RGB.
pub fn grey(image: &RgbImage) -> RgbImage {
    let mut out = image.clone();
    for p in out.pixels_mut() {
        let l = ((19595 * p[0] as u32 + 38470 * p[1] as u32 + 7471 * p[2] as u32 + 0x8000) >> 16) as u8;
        p.0 = [l; 3];
    }
    out
}
