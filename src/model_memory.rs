//! Whether a model fits the page's memory, asked before its bytes are decoded: a wasm module's memory only grows,
//! up to its build's maximum, and an allocation past it traps (the engine restarts) instead of saying why.

use crate::error::{Error, Result};

/// What the engine holds at its peak per byte of a model's file, loading it and running one saliency map: the
/// weights once (read from the page's array straight into tract's tensors, shared by tract's model, its plans and
/// the reverse pass), the activations, and a large model's weight matrix packed as its product runs. `make
/// bench-memory` (docs/models.md): the page's wasm memory after loading and a saliency map is 1.56× the file for a
/// ViT-B/16 (346 MB) and 2.25× for SqueezeNet with one 100 MB layer (that matrix's packed copy is the difference);
/// 2.5 leaves a margin.
pub const PEAK_PER_FILE_BYTE: f64 = 2.5;

/// `Err` with one sentence when a model file of `file_bytes` would need more than the `available` bytes the
/// page's memory can still take (`maximum` in all, for the sentence; `threads`: the threaded build).
pub fn check_fits(file_bytes: usize, available: usize, maximum: usize, threads: bool) -> Result<()> {
    let needed = file_bytes as f64 * PEAK_PER_FILE_BYTE;
    if needed <= available as f64 {
        return Ok(());
    }
    let gb = |b: f64| b / 1e9;
    // Two decimals where one would print the same number twice ("needs 1.1 GB … can take only 1.1 GB more").
    let digits = if format!("{:.1}", gb(needed)) == format!("{:.1}", gb(available as f64)) { 2 } else { 1 };
    let other =
        if threads { "; the single-thread engine (?threads=1 in the page's address) can have 4.3 GB" } else { "" };
    Err(Error::Invalid(format!(
        "it is too large for this page's memory: a {:.0} MB model needs about {:.digits$} GB here \
         ({PEAK_PER_FILE_BYTE}× its size while it is built and run), and the engine can take only {:.digits$} GB \
         more (it can have {:.1} GB in all{other})",
        file_bytes as f64 / 1e6,
        gb(needed),
        gb(available as f64),
        gb(maximum as f64),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_fits_or_gets_one_sentence_with_the_numbers() {
        const GIB: usize = 1 << 30;
        // A ViT-B/16 (346 MB) beside SqueezeNet in the threaded build: fits.
        assert!(check_fits(346_000_000, 2 * GIB - 150_000_000, 2 * GIB, true).is_ok());
        // A second one while the first is still held (a switch keeps the old model until the new one works), with
        // less memory left than a first one takes.
        let msg = check_fits(346_000_000, 2 * GIB - 1_300_000_000, 2 * GIB, true).unwrap_err().to_string();
        assert!(msg.contains("a 346 MB model needs about 0.9 GB here (2.5× its size"), "{msg}");
        assert!(msg.contains("can take only 0.8 GB more (it can have 2.1 GB in all; the single-thread"), "{msg}");
        // Close to the limit: two decimals, so the two numbers differ as they do.
        let msg = check_fits(348_000_000, 860_000_000, 2 * GIB, true).unwrap_err().to_string();
        assert!(msg.contains("needs about 0.87 GB here") && msg.contains("can take only 0.86 GB more"), "{msg}");
        let msg = check_fits(1_000_000_000, 2 * GIB, 4 * GIB, false).unwrap_err().to_string();
        assert!(msg.contains("needs about 2.5 GB") && !msg.contains("single-thread"), "{msg}");
    }
}
