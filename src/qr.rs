//! QR codes for share links (the page's "Show QR"): the `qrcode` crate encodes and renders SVG; nothing here is
//! a hand-written encoder.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The most bytes any QR code holds (version 40, error correction L, byte mode).
pub const MAX_BYTES: usize = 2953;

/// An SVG QR code of `text`, one SVG unit per module with the standard 4-module quiet zone, black on white.
/// Error correction M (it survives a projector's glare and a phone held at an angle), or L when the text is too
/// long for M. An error names the limit when the text fits no QR code.
pub fn svg(text: &str) -> Result<String, String> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M)
        .or_else(|_| QrCode::with_error_correction_level(text, EcLevel::L))
        .map_err(|e| format!("{} bytes do not fit in a QR code (at most {MAX_BYTES}): {e}", text.len()))?;
    Ok(code.render::<svg::Color>().module_dimensions(1, 1).quiet_zone(true).build())
}

/// `qrSvg(text)` for the page: the SVG text, or a `JsError` with [`svg`]'s message.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = qrSvg)]
pub fn qr_svg(text: &str) -> Result<String, wasm_bindgen::JsError> {
    svg(text).map_err(|e| wasm_bindgen::JsError::new(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The side of the SVG in modules, from its `viewBox="0 0 w h"`.
    fn side(svg: &str) -> u32 {
        let at = svg.find("viewBox=\"0 0 ").expect("a viewBox") + "viewBox=\"0 0 ".len();
        let w: String = svg[at..].chars().take_while(char::is_ascii_digit).collect();
        w.parse().unwrap()
    }

    #[test]
    fn a_share_link_is_one_square_svg() {
        let link = "https://example.org/course/netlens/#v=1&img=chelsea&panel=fooling&fool.target=76";
        let s = svg(link).unwrap();
        assert!(s.starts_with("<?xml") && s.ends_with("</svg>"), "{s}");
        // Versions are 17 + 4v modules wide, plus a 4-module quiet zone each side.
        let n = side(&s);
        assert!(n >= 21 + 8 && (n - 8 - 17).is_multiple_of(4), "side {n}");
        assert!(s.contains("fill=\"#000\"") && s.contains("fill=\"#fff\""));
    }

    #[test]
    fn longer_text_gives_a_larger_code_and_too_long_is_an_error() {
        let short = side(&svg("https://example.org/#a").unwrap());
        let long = side(&svg(&format!("https://example.org/#{}", "x".repeat(1500))).unwrap());
        assert!(long > short);
        // Too long for M but not for L still works.
        assert!(svg(&"x".repeat(2900)).is_ok());
        let err = svg(&"x".repeat(MAX_BYTES + 1)).unwrap_err();
        assert!(err.contains("2954 bytes") && err.contains("at most 2953"), "{err}");
    }
}
