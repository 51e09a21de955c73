//! What the commands write: PNG pictures, side-by-side strips, float32 .npy arrays; output paths checked first.

use std::path::{Path, PathBuf};

use netlens::render;
use netlens::tensor::Tensor;

use super::{run_err, Failure, Outcome};

/// Fail before the work, not after it, when an output cannot be written where asked.
pub fn check_outputs(paths: &[Option<&PathBuf>]) -> Outcome<()> {
    for path in paths.iter().flatten() {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(Failure::Usage(format!(
                    "cannot write '{}': no folder '{}'",
                    path.display(),
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

pub fn write_png(path: &Path, rgba: &[u8], w: u32, h: u32) -> Outcome<()> {
    let png = render::encode_png_rgba(rgba, w, h).map_err(run_err(format!("cannot encode '{}'", path.display())))?;
    std::fs::write(path, png).map_err(run_err(format!("cannot write '{}'", path.display())))
}

/// Side by side, each `w` x `h` RGBA.
pub fn hstack(panels: &[&[u8]], w: u32, h: u32) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    let mut out = Vec::with_capacity(panels.len() * w * h * 4);
    for row in 0..h {
        for p in panels {
            out.extend_from_slice(&p[row * w * 4..(row + 1) * w * 4]);
        }
    }
    out
}

/// float32, C order, with the tensor's own shape.
pub fn write_npy(path: &Path, t: &Tensor) -> Outcome<()> {
    use npyz::WriterBuilder;
    let file = std::fs::File::create(path).map_err(run_err(format!("cannot write '{}'", path.display())))?;
    let write = || -> std::io::Result<()> {
        let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape)
            .writer(std::io::BufWriter::new(file))
            .begin_nd()?;
        writer.extend(t.data.iter().copied())?;
        writer.finish()
    };
    write().map_err(run_err(format!("cannot write '{}'", path.display())))
}
